//! Who is calling: HS256 JWTs with `sub`, `role` and a required `exp` (§2).
//!
//! Only this module reads tokens. It answers with a [`User`]; what that user
//! may see is decided by routing (`hub`) and the API handlers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use protocol::Role;
use serde::{Deserialize, Serialize};

use crate::core::viewer::User;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    role: Role,
    exp: u64,
}

/// Why a token was refused. Every variant is an HTTP 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: send `Authorization: Bearer <JWT>` (or `?token=` on /ws)")]
    Missing,
    #[error("the token has expired: sign in again")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

impl AuthError {
    /// The stable error code sent to the client.
    pub fn code(&self) -> protocol::ErrorCode {
        match self {
            AuthError::Missing => protocol::ErrorCode::MissingToken,
            AuthError::Expired => protocol::ErrorCode::TokenExpired,
            AuthError::Invalid(_) => protocol::ErrorCode::InvalidToken,
        }
    }
}

/// Verifies and issues tokens with one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        // An expired token is expired: no grace period, so that the 4001 close
        // on live connections and the 401 on new ones agree to the second.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Checks signature, algorithm and expiry, and reads the caller.
    pub fn verify(&self, token: &str) -> Result<User, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    _ => AuthError::Invalid(e.to_string()),
                }
            })?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty `sub`".into()));
        }
        Ok(User {
            id: claims.sub,
            role: claims.role,
            expires_at: claims.exp,
        })
    }

    /// Signs a token for `user_id` valid for `ttl` (demo login and tests).
    pub fn issue(&self, user_id: &str, role: Role, ttl: Duration) -> String {
        let exp = now_secs() + ttl.as_secs();
        self.issue_until(user_id, role, exp)
    }

    /// Signs a token that expires at `exp` (seconds since the epoch).
    pub fn issue_until(&self, user_id: &str, role: Role, exp: u64) -> String {
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            exp,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
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
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-0123456789";

    #[test]
    fn a_valid_token_names_its_user_and_role() {
        let keys = Keys::new(SECRET);
        let user = keys
            .verify(&keys.issue("alice", Role::User, Duration::from_secs(60)))
            .unwrap();
        assert_eq!((user.id.as_str(), user.role), ("alice", Role::User));
        let admin = keys
            .verify(&keys.issue("root", Role::Admin, Duration::from_secs(60)))
            .unwrap();
        assert!(admin.is_admin());
    }

    #[test]
    fn role_defaults_to_user() {
        #[derive(Serialize)]
        struct NoRole<'a> {
            sub: &'a str,
            exp: u64,
        }
        let token = encode(
            &Header::new(Algorithm::HS256),
            &NoRole {
                sub: "bob",
                exp: now_secs() + 60,
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(Keys::new(SECRET).verify(&token).unwrap().role, Role::User);
    }

    #[test]
    fn every_kind_of_bad_token_is_refused() {
        let keys = Keys::new(SECRET);
        let other = Keys::new(b"another-secret-0123456789");
        let expired = keys.issue_until("alice", Role::User, now_secs() - 1);
        let no_exp = encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "alice"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let none_alg = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
        // The right secret, another algorithm: only HS256 is accepted.
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"sub": "alice", "exp": now_secs() + 60}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(keys.verify(""), Err(AuthError::Missing));
        assert_eq!(keys.verify(&expired), Err(AuthError::Expired));
        for bad in [
            "garbage".to_owned(),
            other.issue("alice", Role::Admin, Duration::from_secs(60)),
            no_exp,
            none_alg.to_owned(),
            hs512,
        ] {
            assert!(
                matches!(keys.verify(&bad), Err(AuthError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bearer_header_is_parsed() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert!(bearer(Some("Basic abc")).is_err());
    }
}
