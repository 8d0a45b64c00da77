//! The relay's own tokens: HS256 with `sub`, `role` and a required `exp`
//! (§2 of the contract), signed with `--jwt-secret` and verified with it or
//! any `--jwt-previous-secret` (a rotation: tokens signed with the old
//! secret keep working until they expire).
//!
//! Every token it signs names its secret in the header's `kid`: a digest
//! of the secret ([`key_id`]), never the secret. The browser marks its
//! offline cache with the token's header, so orders cached under another
//! relay secret (another deployment, or one before a rotation) are not shown
//! as this one's. Verifying ignores the `kid`: tokens signed elsewhere with
//! the secret, without one, keep working.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use protocol::Role;
use serde::Serialize;
use serde_json::{Map, Value};

use super::now_secs;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: Role,
    exp: u64,
}

/// Signs with one secret, verifies with it and the previous ones.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    /// The signing secret's [`key_id`].
    kid: String,
    /// The current secret first.
    decoding: Vec<DecodingKey>,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            kid: key_id(secret),
            decoding: vec![DecodingKey::from_secret(secret)],
        }
    }

    /// Also accepts tokens signed with these secrets (never signs with them).
    pub fn with_previous<S: AsRef<[u8]>>(mut self, previous: &[S]) -> Keys {
        self.decoding.extend(
            previous
                .iter()
                .map(|s| DecodingKey::from_secret(s.as_ref())),
        );
        self
    }

    /// The claims of an HS256 token signed with one of the secrets.
    /// `validation` says the rest (expiry, leeway).
    pub(super) fn claims(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<Map<String, Value>, jsonwebtoken::errors::Error> {
        let mut last = None;
        for key in &self.decoding {
            match decode::<Map<String, Value>>(token, key, validation) {
                Ok(data) => return Ok(data.claims),
                // Only a wrong signature means "try the next secret"; an
                // expired or malformed token is that with every secret.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ErrorKind::InvalidSignature.into()))
    }

    /// Signs a token for `user_id` valid for `ttl` (demo login and tests).
    pub fn issue(&self, user_id: &str, role: Role, ttl: Duration) -> String {
        let exp = now_secs() + ttl.as_secs();
        self.issue_until(user_id, role, exp)
    }

    /// Signs a token that expires at `exp` (seconds since the epoch).
    pub fn issue_until(&self, user_id: &str, role: Role, exp: u64) -> String {
        let claims = Claims {
            sub: user_id,
            role,
            exp,
        };
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        encode(&header, &claims, &self.encoding).expect("HS256 signing cannot fail")
    }
}

/// The `kid` of tokens signed with `secret`: `hs-` and 16 hex digits of a
/// labelled SHA-256 of it. It tells secrets apart without revealing one: the
/// digest is no easier to search than the token's own HMAC, which anyone
/// holding a token can already test guesses against.
pub fn key_id(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"order-relay token key id\0")
        .chain_update(secret)
        .finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("hs-{hex}")
}
