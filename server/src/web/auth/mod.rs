//! Who is calling: every token the relay accepts is read here, and
//! nowhere else. It answers with a [`User`]; what that user may see is
//! decided by routing (`hub`) and the API handlers.
//!
//! Two kinds of token (docs/PROTOCOL.md §2):
//! - **HS256**, the relay's own (§2 of the contract): signed with
//!   `--jwt-secret` or a `--jwt-previous-secret` ([`hs256`]), `sub`, `role`
//!   and `exp`, no clock leeway: an expired token is expired, so the 4001
//!   close and the 401 agree to the second.
//! - **Signed by the shop's identity provider** (RS256/384/512,
//!   PS256/384/512, ES256/384, EdDSA): the key is chosen by `kid` from the
//!   provider's JWKS ([`provider`], [`jwks`]), `iss` and `aud` are checked
//!   when configured, with `--jwt-leeway-secs` of clock leeway.
//!
//! The header's `alg` only chooses *where* to look; a key verifies only the
//! algorithms of its own type, and `none` is never one, so a token cannot
//! pick a weaker check than its key's.
//! The user id and admin come from the claims by the shop's rules
//! ([`crate::core::claims`]), the same for both kinds.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde_json::{Map, Value};

use crate::core::claims::ClaimRules;
use crate::core::viewer::User;

mod hs256;
pub mod jwks;
pub mod provider;

pub use hs256::Keys;
pub use provider::{Provider, ProviderSettings};

/// Why a token was refused. Every variant is an HTTP 401 but
/// `KeysUnavailable`, which is the relay's problem, not the caller's (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: send `Authorization: Bearer <JWT>` (on /ws: an `auth` first frame, or `?token=`)")]
    Missing,
    #[error("the token has expired: sign in again")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the identity provider's keys are not available ({0}): retry shortly")]
    KeysUnavailable(String),
}

impl AuthError {
    /// The stable error code sent to the client.
    pub fn code(&self) -> protocol::ErrorCode {
        match self {
            AuthError::Missing => protocol::ErrorCode::MissingToken,
            AuthError::Expired => protocol::ErrorCode::TokenExpired,
            AuthError::Invalid(_) => protocol::ErrorCode::InvalidToken,
            AuthError::KeysUnavailable(_) => protocol::ErrorCode::NotReady,
        }
    }
}

/// What a provider's token must say, besides its signature.
#[derive(Debug, Clone, Default)]
pub struct ProviderRules {
    /// `iss` must be this (`--jwt-issuer`).
    pub issuer: Option<String>,
    /// `aud` must hold one of these (`--jwt-audience`).
    pub audience: Vec<String>,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

/// Verifies every token the relay is handed.
pub struct Verifier {
    keys: Option<Keys>,
    provider: Option<(Arc<Provider>, ProviderRules)>,
    claims: ClaimRules,
}

impl Verifier {
    /// The relay's own HS256 tokens only, read by the default claim rules
    /// (`sub`, `role=admin`).
    pub fn hs256(keys: Keys) -> Verifier {
        Verifier {
            keys: Some(keys),
            provider: None,
            claims: ClaimRules::default(),
        }
    }

    pub fn new(
        keys: Option<Keys>,
        provider: Option<(Arc<Provider>, ProviderRules)>,
        claims: ClaimRules,
    ) -> Verifier {
        Verifier {
            keys,
            provider,
            claims,
        }
    }

    /// What signs the relay's own tokens (the demo login), if it has a secret.
    pub fn keys(&self) -> Option<&Keys> {
        self.keys.as_ref()
    }

    /// The identity provider, if one is configured.
    pub fn provider(&self) -> Option<&Arc<Provider>> {
        self.provider.as_ref().map(|(provider, _)| provider)
    }

    /// Checks signature, algorithm, expiry (and, for a provider's token,
    /// issuer and audience), and reads the caller.
    pub async fn verify(&self, token: &str) -> Result<User, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header = decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let (claims, leeway) = match header.alg {
            Algorithm::HS256 => {
                let keys = self.keys.as_ref().ok_or_else(|| {
                    AuthError::Invalid("HS256 tokens are not accepted here (no --jwt-secret): use the identity provider's".into())
                })?;
                let claims = keys
                    .claims(token, &validation(Algorithm::HS256, 0))
                    .map_err(refused)?;
                (claims, 0)
            }
            Algorithm::HS384 | Algorithm::HS512 => {
                return Err(AuthError::Invalid(format!(
                    "{:?} is not accepted: shared-secret tokens are HS256",
                    header.alg
                )))
            }
            alg => {
                let (provider, rules) = self.provider.as_ref().ok_or_else(|| {
                    AuthError::Invalid(format!(
                        "{alg:?} tokens need an identity provider (--jwt-issuer or --jwt-jwks-url)"
                    ))
                })?;
                let key = provider.key_for(header.kid.as_deref(), alg).await?;
                let mut validation = validation(alg, rules.leeway_secs);
                validation.validate_nbf = true;
                if let Some(issuer) = &rules.issuer {
                    validation.set_issuer(&[issuer]);
                    validation.required_spec_claims.insert("iss".into());
                }
                if !rules.audience.is_empty() {
                    validation.set_audience(&rules.audience);
                    validation.validate_aud = true;
                    validation.required_spec_claims.insert("aud".into());
                }
                let claims = decode::<Map<String, Value>>(token, &key, &validation)
                    .map_err(refused)?
                    .claims;
                (claims, rules.leeway_secs)
            }
        };
        let exp = claims
            .get("exp")
            .and_then(seconds)
            .ok_or_else(|| AuthError::Invalid("`exp` is not a time".into()))?;
        // The moment the relay stops accepting it: live connections close then.
        self.claims
            .user(&claims, exp.saturating_add(leeway))
            .map_err(AuthError::Invalid)
    }
}

/// Signature, `alg` and `exp` always; `aud` only when one is configured (a
/// token that carries one is otherwise fine).
fn validation(alg: Algorithm, leeway: u64) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = leeway;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    validation
}

/// A NumericDate (RFC 7519): seconds, possibly with a fraction.
fn seconds(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|s| *s >= 0.0).map(|s| s as u64))
}

fn refused(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer (`iss`)".into()),
        ErrorKind::InvalidAudience => AuthError::Invalid("not meant for this relay (`aud`)".into()),
        ErrorKind::ImmatureSignature => AuthError::Invalid("not valid yet (`nbf`)".into()),
        ErrorKind::MissingRequiredClaim(claim) => AuthError::Invalid(format!("no `{claim}` claim")),
        _ => AuthError::Invalid(e.to_string()),
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| AuthError::Invalid("the Authorization header must be `Bearer <JWT>`".into()))
}

#[cfg(test)]
mod tests;
