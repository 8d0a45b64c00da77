//! The JWKS reader against keys made by Node's crypto (`test_keys/`: test
//! keys only, never used elsewhere): which key verifies which algorithm.

use jsonwebtoken::{decode, encode, Algorithm, EncodingKey, Header, Validation};
use serde_json::{json, Value};

use super::*;

pub(crate) const JWKS: &str = include_str!("../test_keys/jwks.json");

/// A signing key of `test_keys/` and the algorithm it signs with.
pub(crate) fn signer(name: &str) -> (EncodingKey, Algorithm) {
    let pem = match name {
        "rsa" => include_str!("../test_keys/rsa.pem"),
        "p256" => include_str!("../test_keys/p256.pem"),
        "p384" => include_str!("../test_keys/p384.pem"),
        "ed25519" => include_str!("../test_keys/ed25519.pem"),
        other => panic!("no test key {other}"),
    };
    match name {
        "rsa" => (
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            Algorithm::RS256,
        ),
        "p256" => (
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            Algorithm::ES256,
        ),
        "p384" => (
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            Algorithm::ES384,
        ),
        _ => (
            EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            Algorithm::EdDSA,
        ),
    }
}

/// A token signed by test key `name` with `alg`, under `kid`.
pub(crate) fn token(name: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let (key, _) = signer(name);
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).unwrap()
}

fn verifies(set: &KeySet, token: &str) -> bool {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let Lookup::Found(key) = set.find(header.kid.as_deref(), header.alg) else {
        return false;
    };
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    decode::<Value>(token, key, &validation).is_ok()
}

#[test]
fn each_key_verifies_the_algorithms_of_its_type() {
    let set = KeySet::parse(JWKS.as_bytes()).unwrap();
    assert_eq!((set.len(), set.skipped.len()), (4, 0));
    let claims = json!({"sub": "alice"});
    for (name, alg) in [
        ("rsa", Algorithm::RS256),
        ("rsa", Algorithm::RS512),
        ("rsa", Algorithm::PS256),
        ("p256", Algorithm::ES256),
        ("p384", Algorithm::ES384),
        ("ed25519", Algorithm::EdDSA),
    ] {
        assert!(
            verifies(&set, &token(name, alg, Some(name), &claims)),
            "{name} {alg:?}"
        );
    }
    // The right key under another key's kid: that key does not verify it.
    assert!(!verifies(
        &set,
        &token("p256", Algorithm::ES256, Some("p384"), &claims)
    ));
    assert!(matches!(
        set.find(Some("p384"), Algorithm::ES256),
        Lookup::WrongAlgorithm
    ));
    assert!(matches!(
        set.find(Some("rsa"), Algorithm::HS256),
        Lookup::WrongAlgorithm
    ));
    assert!(matches!(
        set.find(Some("ed25519"), Algorithm::RS256),
        Lookup::WrongAlgorithm
    ));
    assert!(matches!(
        set.find(Some("made-up"), Algorithm::RS256),
        Lookup::Unknown
    ));
}

#[test]
fn without_a_kid_only_a_single_fitting_key_is_used() {
    let set = KeySet::parse(JWKS.as_bytes()).unwrap();
    let claims = json!({"sub": "alice"});
    assert!(verifies(
        &set,
        &token("p256", Algorithm::ES256, None, &claims)
    ));
    assert!(matches!(set.find(None, Algorithm::HS256), Lookup::Unknown));
    // Two RSA keys: no guessing.
    let mut doc: Value = serde_json::from_str(JWKS).unwrap();
    let mut second = doc["keys"][0].clone();
    second["kid"] = json!("rsa-2");
    doc["keys"].as_array_mut().unwrap().push(second);
    let two = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert!(matches!(two.find(None, Algorithm::RS256), Lookup::Unknown));
    assert!(matches!(
        two.find(Some("rsa-2"), Algorithm::RS256),
        Lookup::Found(_)
    ));
}

#[test]
fn a_keys_alg_narrows_what_it_verifies() {
    let mut doc: Value = serde_json::from_str(JWKS).unwrap();
    doc["keys"][0]["alg"] = json!("PS256");
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    let claims = json!({"sub": "alice"});
    assert!(verifies(
        &set,
        &token("rsa", Algorithm::PS256, Some("rsa"), &claims)
    ));
    assert!(!verifies(
        &set,
        &token("rsa", Algorithm::RS256, Some("rsa"), &claims)
    ));
}

#[test]
fn keys_that_must_not_verify_are_skipped_with_a_reason() {
    let mut doc: Value = serde_json::from_str(JWKS).unwrap();
    let keys = doc["keys"].as_array_mut().unwrap();
    keys.push(json!({"kty": "oct", "kid": "secret", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}));
    let mut enc = keys[0].clone();
    enc["kid"] = json!("enc");
    enc["use"] = json!("enc");
    keys.push(enc);
    let mut wrong_alg = keys[1].clone();
    wrong_alg["kid"] = json!("p256-as-rsa");
    wrong_alg["alg"] = json!("RS256");
    keys.push(wrong_alg);
    keys.push(json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}));
    keys.push(json!({"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}));
    keys.push(json!({"kty": "XYZ", "kid": "future"}));
    keys.push(json!("not an object"));
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 4, "{:?}", set.skipped);
    let skipped = set.skipped.join("\n");
    for reason in [
        "key `secret`: a symmetric (`oct`) key is never taken",
        "key `enc`: not a signature key",
        "key `p256-as-rsa`: `alg` RS256 does not fit",
        "key `p521`: EC curve P521 is not supported",
        "key `oaep`: `alg` RSA_OAEP is not a signature algorithm",
        "key `future`: not a JWK we know",
        "key 10: not a JWK we know",
    ] {
        assert!(
            skipped.contains(reason),
            "{reason} missing from:\n{skipped}"
        );
    }
    assert!(matches!(
        set.find(Some("secret"), Algorithm::HS256),
        Lookup::Unknown
    ));
}

#[test]
fn a_document_without_usable_keys_is_an_error() {
    for (body, want) in [
        ("", "not a JWKS"),
        ("[]", "not a JWKS"),
        (r#"{"keys": 5}"#, "not a JWKS"),
        (r#"{"keys": []}"#, "the list is empty"),
        (r#"{"keys": [{"kty": "oct", "k": "AA"}]}"#, "symmetric"),
        ("<html>502 Bad Gateway</html>", "not a JWKS"),
    ] {
        let error = KeySet::parse(body.as_bytes())
            .err()
            .expect(body)
            .to_string();
        assert!(error.contains(want), "{body}: {error}");
    }
}

#[test]
fn a_huge_set_is_cut_at_the_limit() {
    let doc: Value = serde_json::from_str(JWKS).unwrap();
    let key = doc["keys"][1].clone();
    let keys: Vec<Value> = (0..MAX_KEYS + 5)
        .map(|i| {
            let mut k = key.clone();
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    let set = KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), MAX_KEYS);
    assert!(set.skipped[0].contains("ignored"));
}
