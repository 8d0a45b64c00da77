//! The verifier: the relay's own HS256 tokens (with a rotation), and
//! provider tokens against a JWKS served over real HTTP on loopback by a
//! small axum app that can rotate, fail and count its fetches. (The real
//! identity provider, oidc-provider, is driven by server/tests/identity.rs.)

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use protocol::Role;
use serde_json::{json, Value};

use super::jwks::tests::{token, JWKS};
use super::*;
use crate::core::claims::AdminRule;
use crate::metrics::{JwksFetch, Metrics};

const SECRET: &[u8] = b"test-secret-0123456789";
const ISSUER: &str = "https://id.shop.example";

/// A JWKS endpoint whose answer the test changes.
struct Jwks {
    url: String,
    body: Arc<Mutex<Option<String>>>,
    fetches: Arc<AtomicU32>,
}

impl Jwks {
    async fn serve(body: &str) -> Jwks {
        let current = Arc::new(Mutex::new(Some(body.to_owned())));
        let fetches = Arc::new(AtomicU32::new(0));
        let (answer, count) = (Arc::clone(&current), Arc::clone(&fetches));
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (answer, count) = (Arc::clone(&answer), Arc::clone(&count));
                async move {
                    count.fetch_add(1, SeqCst);
                    match answer.lock().unwrap().clone() {
                        Some(body) => {
                            ([(header::CACHE_CONTROL, "max-age=3600")], body).into_response()
                        }
                        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Jwks {
            url,
            body: current,
            fetches,
        }
    }

    fn answer(&self, body: Option<&str>) {
        *self.body.lock().unwrap() = body.map(str::to_owned);
    }

    fn fetches(&self) -> u32 {
        self.fetches.load(SeqCst)
    }
}

fn provider_verifier(
    jwks: &Jwks,
    min_refresh: Duration,
    rules: ProviderRules,
) -> (Verifier, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let provider = Provider::new(
        ProviderSettings {
            issuer: Some(ISSUER.into()),
            jwks_url: Some(jwks.url.clone()),
            min_refresh,
        },
        Arc::clone(&metrics),
    );
    let verifier = Verifier::new(
        Some(Keys::new(SECRET)),
        Some((Arc::new(provider), rules)),
        ClaimRules::default(),
    );
    (verifier, metrics)
}

fn shop_rules() -> ProviderRules {
    ProviderRules {
        issuer: Some(ISSUER.into()),
        audience: vec!["order-relay".into()],
        leeway_secs: 30,
    }
}

fn claims(sub: &str, exp_from_now: i64) -> Value {
    json!({
        "sub": sub,
        "iss": ISSUER,
        "aud": ["order-relay", "other-api"],
        "exp": now_secs() as i64 + exp_from_now,
    })
}

#[tokio::test]
async fn the_relays_own_tokens_name_their_user_and_role() {
    let keys = Keys::new(SECRET);
    let verifier = Verifier::hs256(keys.clone());
    let user = verifier
        .verify(&keys.issue("alice", Role::User, Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!((user.id.as_str(), user.role), ("alice", Role::User));
    let admin = verifier
        .verify(&keys.issue("root", Role::Admin, Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(admin.is_admin());
    // No `role`: a user. An `aud` the relay was not told about: fine.
    let plain = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "bob", "aud": "x", "exp": now_secs() + 60}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(verifier.verify(&plain).await.unwrap().role, Role::User);
}

#[tokio::test]
async fn every_kind_of_bad_shared_secret_token_is_refused() {
    let keys = Keys::new(SECRET);
    let verifier = Verifier::hs256(keys.clone());
    let other = Keys::new(b"another-secret-0123456789");
    let sign = |claims: Value, alg: Algorithm| {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    };
    assert_eq!(verifier.verify("").await, Err(AuthError::Missing));
    assert_eq!(verifier.verify(" ").await, Err(AuthError::Missing));
    // No leeway for the relay's own tokens: one second late is late.
    assert_eq!(
        verifier
            .verify(&keys.issue_until("alice", Role::User, now_secs() - 1))
            .await,
        Err(AuthError::Expired)
    );
    for bad in [
        "garbage".to_owned(),
        other.issue("alice", Role::Admin, Duration::from_secs(60)),
        sign(json!({"sub": "alice"}), Algorithm::HS256),
        sign(json!({"sub": "", "exp": now_secs() + 60}), Algorithm::HS256),
        sign(json!({"exp": now_secs() + 60}), Algorithm::HS256),
        sign(json!({"sub": "alice", "exp": "tomorrow"}), Algorithm::HS256),
        // The right secret, another algorithm.
        sign(
            json!({"sub": "alice", "exp": now_secs() + 60}),
            Algorithm::HS512,
        ),
        // `none`, and `none` with a kid.
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.".to_owned(),
        "eyJhbGciOiJub25lIiwia2lkIjoicnNhIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0."
            .to_owned(),
        // An RS256 token with no provider configured.
        token("rsa", Algorithm::RS256, Some("rsa"), &claims("alice", 60)),
    ] {
        assert!(
            matches!(verifier.verify(&bad).await, Err(AuthError::Invalid(_))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_relays_tokens_name_their_secret_by_a_digest_and_verify_without_it() {
    let header = |token: &str| jsonwebtoken::decode_header(token).unwrap();
    let alice =
        |secret: &[u8]| Keys::new(secret).issue("alice", Role::User, Duration::from_secs(60));
    let (a, b) = (alice(SECRET), alice(b"another-secret-0123456789"));
    let kid = header(&a).kid.unwrap();
    assert_eq!(kid, super::hs256::key_id(SECRET));
    assert_eq!((kid.len(), &kid[..3]), (19, "hs-"));
    // The same secret: the same header, token after token (the browser's
    // cache mark); another secret: another.
    let a_again = alice(SECRET);
    assert_eq!(a.split('.').next(), a_again.split('.').next());
    assert_ne!(a.split('.').next(), b.split('.').next());
    assert!(!kid.contains(std::str::from_utf8(SECRET).unwrap()));
    // A token that names another kid, or none, verifies by its signature.
    let verifier = Verifier::hs256(Keys::new(SECRET));
    let mut renamed = Header::new(Algorithm::HS256);
    renamed.kid = Some("hs-0000000000000000".into());
    let claims = json!({"sub": "alice", "exp": now_secs() + 60});
    let renamed = encode(&renamed, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
    assert_eq!(verifier.verify(&renamed).await.unwrap().id, "alice");
    assert_eq!(verifier.verify(&a).await.unwrap().id, "alice");
    assert!(verifier.verify(&b).await.is_err());
}

#[tokio::test]
async fn during_a_secret_rotation_both_secrets_verify_and_only_the_new_one_signs() {
    let old = Keys::new(b"the-old-secret-0123456789");
    let rotated =
        Keys::new(b"the-new-secret-0123456789").with_previous(&[b"the-old-secret-0123456789"]);
    let verifier = Verifier::hs256(rotated.clone());
    let from_old = old.issue("alice", Role::User, Duration::from_secs(60));
    assert_eq!(verifier.verify(&from_old).await.unwrap().id, "alice");
    let from_new = rotated.issue("alice", Role::User, Duration::from_secs(60));
    assert_eq!(
        Verifier::hs256(Keys::new(b"the-new-secret-0123456789"))
            .verify(&from_new)
            .await
            .unwrap()
            .id,
        "alice"
    );
    assert!(
        Verifier::hs256(old.clone())
            .verify(&from_new)
            .await
            .is_err(),
        "signed with the new secret"
    );
    // Expired under the old secret is expired, not "try the next secret".
    let expired = old.issue_until("alice", Role::User, now_secs() - 5);
    assert_eq!(verifier.verify(&expired).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_providers_tokens_verify_by_kid_for_every_supported_algorithm() {
    let jwks = Jwks::serve(JWKS).await;
    let (verifier, metrics) = provider_verifier(&jwks, Duration::from_secs(60), shop_rules());
    for (key, alg) in [
        ("rsa", Algorithm::RS256),
        ("rsa", Algorithm::RS384),
        ("rsa", Algorithm::RS512),
        ("rsa", Algorithm::PS256),
        ("p256", Algorithm::ES256),
        ("p384", Algorithm::ES384),
        ("ed25519", Algorithm::EdDSA),
    ] {
        let user = verifier
            .verify(&token(key, alg, Some(key), &claims("alice", 60)))
            .await;
        assert_eq!(user.map(|u| u.id), Ok("alice".into()), "{key} {alg:?}");
    }
    // One fetch served them all.
    assert_eq!(jwks.fetches(), 1);
    assert_eq!(metrics.jwks_fetches.get(JwksFetch::Ok), 1);
    // The relay's own tokens still work beside them.
    let own = Keys::new(SECRET).issue("bob", Role::Admin, Duration::from_secs(60));
    assert!(verifier.verify(&own).await.unwrap().is_admin());
}

#[tokio::test]
async fn issuer_audience_expiry_and_leeway_are_checked() {
    let jwks = Jwks::serve(JWKS).await;
    let (verifier, _) = provider_verifier(&jwks, Duration::from_secs(60), shop_rules());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("alice", 60);
        change(&mut c);
        token("p256", Algorithm::ES256, Some("p256"), &c)
    };
    let refused = |result: Result<User, AuthError>, why: &str| match result {
        Err(AuthError::Invalid(message)) => assert!(message.contains(why), "{message}"),
        other => panic!("{why}: {other:?}"),
    };
    refused(
        verifier
            .verify(&with(&|c| c["iss"] = json!("https://evil.example")))
            .await,
        "issuer",
    );
    refused(
        verifier
            .verify(&with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }))
            .await,
        "iss",
    );
    refused(
        verifier
            .verify(&with(&|c| c["aud"] = json!("another-api")))
            .await,
        "aud",
    );
    refused(
        verifier
            .verify(&with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }))
            .await,
        "aud",
    );
    refused(
        verifier
            .verify(&with(&|c| c["nbf"] = json!(now_secs() + 600)))
            .await,
        "nbf",
    );
    // Within the leeway: accepted, and its connection lives to exp + leeway.
    let exp = now_secs() - 10;
    let late = verifier
        .verify(&with(&|c| c["exp"] = json!(exp)))
        .await
        .unwrap();
    assert_eq!(late.expires_at, exp + 30);
    assert_eq!(
        verifier
            .verify(&with(&|c| c["exp"] = json!(now_secs() - 60)))
            .await,
        Err(AuthError::Expired)
    );
    // A single audience string is fine too.
    assert!(verifier
        .verify(&with(&|c| c["aud"] = json!("order-relay")))
        .await
        .is_ok());
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let jwks = Jwks::serve(JWKS).await;
    let (verifier, _) = provider_verifier(&jwks, Duration::from_secs(60), shop_rules());
    let doc: Value = serde_json::from_str(JWKS).unwrap();
    let public_n = doc["keys"][0]["n"].as_str().unwrap();
    // HS256 "signed" with the RSA key's public material, under its kid.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa".into());
    let hs_with_public = encode(
        &header,
        &claims("mallory", 60),
        &EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    // ES256 signed by the P-256 key but presented under the RSA key's kid.
    let swapped = token(
        "p256",
        Algorithm::ES256,
        Some("rsa"),
        &claims("mallory", 60),
    );
    // EdDSA under the RSA kid.
    let ed_as_rsa = token(
        "ed25519",
        Algorithm::EdDSA,
        Some("rsa"),
        &claims("mallory", 60),
    );
    for forged in [hs_with_public, swapped, ed_as_rsa] {
        assert!(
            matches!(verifier.verify(&forged).await, Err(AuthError::Invalid(_))),
            "{forged}"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_its_first_token_and_a_kid_flood_costs_one_fetch() {
    let jwks = Jwks::serve(r#"{"keys": []}"#).await;
    // Before any good set: the provider's problem, said as such.
    let (verifier, metrics) = provider_verifier(&jwks, Duration::from_millis(300), shop_rules());
    let first = verifier
        .verify(&token(
            "rsa",
            Algorithm::RS256,
            Some("rsa"),
            &claims("alice", 60),
        ))
        .await;
    assert!(
        matches!(first, Err(AuthError::KeysUnavailable(ref why)) if why.contains("the list is empty")),
        "{first:?}"
    );
    assert_eq!(metrics.jwks_fetches.get(JwksFetch::Failed), 1);
    // The provider publishes its keys; once the pause is over, a token is
    // verified with them.
    jwks.answer(Some(JWKS));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(verifier
        .verify(&token(
            "rsa",
            Algorithm::RS256,
            Some("rsa"),
            &claims("alice", 60)
        ))
        .await
        .is_ok());
    let before = jwks.fetches();
    // 200 made-up kids at once: at most one fetch.
    let flood = (0..200).map(|i| {
        token(
            "rsa",
            Algorithm::RS256,
            Some(&format!("made-up-{i}")),
            &claims("mallory", 60),
        )
    });
    let results = futures_util::future::join_all(flood.map(|t| {
        let verifier = &verifier;
        async move { verifier.verify(&t).await }
    }))
    .await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(AuthError::Invalid(m)) if m.contains("has no key"))));
    assert!(
        jwks.fetches() - before <= 1,
        "{} fetches",
        jwks.fetches() - before
    );
}

#[tokio::test]
async fn the_last_good_keys_are_kept_while_the_provider_is_down() {
    let jwks = Jwks::serve(JWKS).await;
    let (verifier, metrics) = provider_verifier(&jwks, Duration::from_millis(100), shop_rules());
    let good = token("p384", Algorithm::ES384, Some("p384"), &claims("alice", 60));
    assert!(verifier.verify(&good).await.is_ok());
    jwks.answer(None);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // An unknown kid triggers a fetch, which fails: the set stays.
    let unknown = token(
        "p384",
        Algorithm::ES384,
        Some("new-kid"),
        &claims("alice", 60),
    );
    assert!(verifier.verify(&unknown).await.is_err());
    assert_eq!(metrics.jwks_fetches.get(JwksFetch::Failed), 1);
    assert!(verifier.verify(&good).await.is_ok());
    // Garbage from the provider does not replace the set either.
    jwks.answer(Some("<html>oops</html>"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(verifier.verify(&unknown).await.is_err());
    assert!(verifier.verify(&good).await.is_ok());
}

#[tokio::test]
async fn claim_rules_choose_the_user_and_admins() {
    let jwks = Jwks::serve(JWKS).await;
    let metrics = Arc::new(Metrics::default());
    let provider = Arc::new(Provider::new(
        ProviderSettings {
            issuer: None,
            jwks_url: Some(jwks.url.clone()),
            min_refresh: Duration::from_secs(60),
        },
        metrics,
    ));
    let rules = ClaimRules {
        user_claim: "email".into(),
        admin: AdminRule::parse("realm_access.roles=order-admin").unwrap(),
    };
    let verifier = Verifier::new(None, Some((provider, ProviderRules::default())), rules);
    let mut c = claims("f81d4fae", 60);
    c["email"] = json!("carol@shop.example");
    c["realm_access"] = json!({"roles": ["order-admin"]});
    let carol = verifier
        .verify(&token("rsa", Algorithm::RS256, Some("rsa"), &c))
        .await
        .unwrap();
    assert_eq!(
        (carol.id.as_str(), carol.role),
        ("carol@shop.example", Role::Admin)
    );
    // `role: admin` means nothing under this rule; and without a secret,
    // HS256 tokens are not accepted at all.
    let mut d = claims("x", 60);
    d["email"] = json!("dave@shop.example");
    d["role"] = json!("admin");
    assert_eq!(
        verifier
            .verify(&token("rsa", Algorithm::RS256, Some("rsa"), &d))
            .await
            .unwrap()
            .role,
        Role::User
    );
    let own = Keys::new(SECRET).issue("root", Role::Admin, Duration::from_secs(60));
    assert!(
        matches!(verifier.verify(&own).await, Err(AuthError::Invalid(m)) if m.contains("no --jwt-secret"))
    );
}

#[test]
fn bearer_header_is_parsed() {
    assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
    assert_eq!(bearer(None), Err(AuthError::Missing));
    assert!(bearer(Some("Basic abc")).is_err());
}
