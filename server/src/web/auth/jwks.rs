//! An identity provider's published keys (a JWKS, RFC 7517) and which of
//! them may verify which token. Pure: parsing and choosing; fetching is
//! [`super::provider`]'s.
//!
//! Algorithm confusion is impossible by construction: each key verifies only
//! the algorithms of its own type (RSA: RS256/384/512 and PS256/384/512;
//! EC P-256: ES256; EC P-384: ES384; OKP Ed25519: EdDSA), narrowed to its
//! `alg` when it names one. Symmetric (`oct`) keys and encryption keys
//! (`use: enc`) in a JWKS are skipped: a public document cannot hold a
//! secret, so an HS256 token is never checked against a published key.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// Most keys read from one JWKS: a provider publishes a handful; a huge set
/// is a mistake or an attack, and every unknown `kid` would be looked up in it.
pub const MAX_KEYS: usize = 100;

/// One key that may verify tokens.
struct VerifyingKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    /// Keys left out, and why (logged once per fetch).
    pub skipped: Vec<String>,
}

/// Which key verifies a token, or why none does.
pub enum Lookup<'a> {
    Found(&'a DecodingKey),
    /// No key has this `kid` (or, without a `kid`, none or several keys take
    /// this algorithm): the provider may have rotated; a refresh may help.
    Unknown,
    /// The key with this `kid` does not verify this algorithm: the token is
    /// forged or broken, and no refresh changes that.
    WrongAlgorithm,
}

/// Why a JWKS document could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS (a JSON object with a `keys` list): {0}")]
    NotJwks(String),
    #[error("the JWKS holds no key that can verify signatures ({0})")]
    NoUsableKey(String),
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Value>,
}

impl KeySet {
    /// Reads a JWKS. Keys that cannot verify tokens are skipped, with the
    /// reason kept in `skipped`; a document with no usable key is an error,
    /// so a broken answer never replaces a good set.
    pub fn parse(body: &[u8]) -> Result<KeySet, JwksError> {
        let document: Document =
            serde_json::from_slice(body).map_err(|e| JwksError::NotJwks(e.to_string()))?;
        let mut set = KeySet::default();
        for (index, value) in document.keys.into_iter().enumerate() {
            if set.keys.len() == MAX_KEYS {
                set.skipped
                    .push(format!("keys after the first {MAX_KEYS} are ignored"));
                break;
            }
            let name = value
                .get("kid")
                .and_then(Value::as_str)
                .map_or_else(|| format!("key {index}"), |kid| format!("key `{kid}`"));
            match verifying_key(value) {
                Ok(key) => set.keys.push(key),
                Err(why) => set.skipped.push(format!("{name}: {why}")),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKey(if set.skipped.is_empty() {
                "the list is empty".into()
            } else {
                set.skipped.join("; ")
            }));
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token signed with `alg` under `kid`. Without a `kid`,
    /// the one key that takes `alg`, if there is exactly one.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => match self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(key) if key.algorithms.contains(&alg) => Lookup::Found(&key.key),
                Some(_) => Lookup::WrongAlgorithm,
                None => Lookup::Unknown,
            },
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(&key.key),
                    _ => Lookup::Unknown,
                }
            }
        }
    }
}

fn verifying_key(value: Value) -> Result<VerifyingKey, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a JWK we know ({e})"))?;
    if let Some(usage) = &jwk.common.public_key_use {
        if *usage != PublicKeyUse::Signature {
            return Err("not a signature key (`use` is not `sig`)".into());
        }
    }
    let by_type = algorithms_of(&jwk.algorithm)?;
    let algorithms = match &jwk.common.key_algorithm {
        None => by_type,
        Some(alg) => {
            let alg = signing_algorithm(alg)
                .ok_or_else(|| format!("`alg` {alg:?} is not a signature algorithm"))?;
            if !by_type.contains(&alg) {
                return Err(format!("`alg` {alg:?} does not fit the key's type"));
            }
            vec![alg]
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unreadable key ({e})"))?;
    Ok(VerifyingKey {
        kid: jwk.common.key_id,
        algorithms,
        key,
    })
}

/// What a key of this type can verify. Never a symmetric algorithm.
fn algorithms_of(params: &AlgorithmParameters) -> Result<Vec<Algorithm>, String> {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => Ok(vec![RS256, RS384, RS512, PS256, PS384, PS512]),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Ok(vec![ES256]),
            EllipticCurve::P384 => Ok(vec![ES384]),
            ref other => Err(format!(
                "EC curve {other:?} is not supported (P-256, P-384)"
            )),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => Ok(vec![EdDSA]),
            ref other => Err(format!("OKP curve {other:?} is not supported (Ed25519)")),
        },
        AlgorithmParameters::OctetKey(_) => {
            Err("a symmetric (`oct`) key is never taken from a JWKS".into())
        }
    }
}

fn signing_algorithm(alg: &KeyAlgorithm) -> Option<Algorithm> {
    use Algorithm::*;
    Some(match alg {
        KeyAlgorithm::RS256 => RS256,
        KeyAlgorithm::RS384 => RS384,
        KeyAlgorithm::RS512 => RS512,
        KeyAlgorithm::PS256 => PS256,
        KeyAlgorithm::PS384 => PS384,
        KeyAlgorithm::PS512 => PS512,
        KeyAlgorithm::ES256 => ES256,
        KeyAlgorithm::ES384 => ES384,
        KeyAlgorithm::EdDSA => EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests;
