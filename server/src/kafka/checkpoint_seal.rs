//! Checkpoint records are sealed: every record the writer puts in the state
//! topic carries an HMAC-SHA256 of its payload in the `relay-mac` header,
//! under a key only the relays hold (`--checkpoint-key`, or one derived
//! from the JWT secret). The reader checks the seal before it decodes
//! anything, so a record written by anyone else who can produce to the
//! topic (a forged order for a buyer, an absurd count, a position past the
//! log) is skipped and counted, never trusted.
//!
//! A part names its checkpoint's id inside its sealed payload, so sealed
//! parts of one checkpoint cannot be passed off as another's. Re-sending an
//! old sealed checkpoint is possible for a topic writer; it only makes a
//! starting relay begin further back and read forward from there (its
//! position is checked against the log, §1.9 of docs/PROTOCOL.md).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The Kafka header that carries a record's seal (hex HMAC-SHA256).
pub const HEADER: &str = "relay-mac";

/// What the derived key is derived for: a key distinct from the JWT
/// secret, so a token signature is never a valid seal and the other way
/// round.
const DERIVATION: &[u8] = b"order-relay checkpoint seal v1";

/// The key checkpoints are sealed with.
#[derive(Clone)]
pub struct SealKey(Vec<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A dedicated key (`--checkpoint-key`).
    pub fn new(key: &[u8]) -> SealKey {
        SealKey(key.to_vec())
    }

    /// A key derived from the JWT secret: HMAC-SHA256(secret, purpose).
    pub fn derived_from(jwt_secret: &[u8]) -> SealKey {
        SealKey(mac(jwt_secret, DERIVATION).to_vec())
    }

    /// The seal of a record's payload, as the header carries it.
    pub fn seal(&self, payload: &[u8]) -> String {
        hex(&mac(&self.0, payload))
    }

    /// Whether `seal` (a header's value, if any) is this key's seal of
    /// `payload`. Compared in constant time.
    pub fn verify(&self, payload: &[u8], seal: Option<&[u8]>) -> bool {
        let Some(bytes) = seal.and_then(unhex) else {
            return false;
        };
        let Ok(mut check) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return false;
        };
        check.update(payload);
        check.verify_slice(&bytes).is_ok()
    }
}

fn mac(key: &[u8], payload: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_and_payload_verify() {
        let key = SealKey::new(b"relays only");
        let seal = key.seal(b"{\"kind\":\"commit\"}");
        assert!(key.verify(b"{\"kind\":\"commit\"}", Some(seal.as_bytes())));
        assert!(!key.verify(b"{\"kind\":\"commit\" }", Some(seal.as_bytes())));
        assert!(
            !SealKey::new(b"someone else").verify(b"{\"kind\":\"commit\"}", Some(seal.as_bytes()))
        );
        assert!(!key.verify(b"x", None));
        assert!(!key.verify(b"x", Some(b"zz")));
        assert!(!key.verify(b"x", Some(&[b'g'; 64])));
    }

    #[test]
    fn the_derived_key_is_not_the_jwt_secret() {
        let secret = b"jwt secret";
        let derived = SealKey::derived_from(secret);
        assert_ne!(derived.0, secret.to_vec());
        let payload = b"p";
        assert!(!SealKey::new(secret).verify(payload, Some(derived.seal(payload).as_bytes())));
        assert!(derived.verify(
            payload,
            Some(SealKey::derived_from(secret).seal(payload).as_bytes())
        ));
    }
}
