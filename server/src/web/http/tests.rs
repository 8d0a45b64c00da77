//! The router without a broker: requests go through `oneshot`, events into
//! a recording sink, orders are fed to the hub directly. Every status and
//! error code of §4 of docs/PROTOCOL.md that does not need Kafka is here.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use protocol::{OrderEvent, OrderStatus, Role};
use tower::ServiceExt;

use crate::config::Config;
use crate::core::commands::checkout::keyed_order_id;
use crate::core::limits::Connections;
use crate::core::relay_state::Retention;
use crate::fanout::hub::Hub;
use crate::fixtures::{created, pos, updated, ANY_TIME};
use crate::kafka::status::KafkaStatus;
use crate::kafka::supervisor::ConsumerHealth;
use crate::metrics::Metrics;
use crate::sink::{EventSink, Recording};
use crate::web::auth::{Keys, Verifier};
use crate::web::context::AppState;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const CART: &str = r#"{"items":[{"productId":"p","name":"Mug","quantity":2,"price":3.5}]}"#;

struct Relay {
    router: Router,
    state: Arc<AppState>,
    sink: Arc<Recording>,
}

/// A relay whose hub holds alice's pending `o-pending` and shipped
/// `o-shipped`, caught up with Kafka if `ready`.
fn relay(sink: Recording, ready: bool) -> Relay {
    relay_tuned(sink, ready, |_| {})
}

/// [`relay`] with its settings changed first.
fn relay_tuned(sink: Recording, ready: bool, tune: impl FnOnce(&mut Config)) -> Relay {
    let metrics = Arc::new(Metrics::default());
    let hub = Arc::new(Hub::new(
        Arc::clone(&metrics),
        Retention::new(100, Duration::from_secs(3600)),
        16,
        1000,
    ));
    hub.apply_order(created("o-pending", "alice", 1_000), pos(0, 0), ANY_TIME);
    hub.apply_order(created("o-shipped", "alice", 1_000), pos(0, 1), ANY_TIME);
    let shipped = updated("o-shipped", None, OrderStatus::Shipped, 2_000);
    hub.apply_order(shipped, pos(1, 0), ANY_TIME);
    hub.set_ready(ready);
    let mut config = Config::for_tests("unused:9092", SECRET);
    tune(&mut config);
    let sink = Arc::new(sink);
    let (_, shutdown) = tokio::sync::watch::channel(false);
    let kafka = Arc::new(KafkaStatus::new(Arc::clone(&metrics)));
    kafka.set_started();
    let state = Arc::new(AppState {
        connections: Connections::new(8, 8),
        auth: Verifier::hs256(Keys::new(SECRET.as_bytes())),
        hub,
        metrics,
        sink: Arc::clone(&sink) as Arc<dyn EventSink>,
        consumer: Arc::new(ConsumerHealth::healthy()),
        kafka,
        shutdown,
        drain: Default::default(),
        config,
    });
    Relay {
        router: crate::web::router::router(Arc::clone(&state)),
        state,
        sink,
    }
}

impl Relay {
    fn token(&self, user: &str, role: Role) -> String {
        self.state
            .auth
            .keys()
            .unwrap()
            .issue(user, role, Duration::from_secs(60))
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, serde_json::Value, bool) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, json, replayed)
    }
}

fn request(method: Method, path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn a_checkout_publishes_one_created_event() {
    let relay = relay(Recording::default(), true);
    let alice = relay.token("alice", Role::User);
    let (status, order, _) = relay
        .call(request(Method::POST, "/api/orders", Some(&alice), CART))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (order["buyerId"].as_str(), order["total"].as_f64()),
        (Some("alice"), Some(7.7))
    );
    let published = relay.sink.published();
    assert!(matches!(&published[..], [OrderEvent::Created(o)] if o.order_id == order["orderId"]));
}

/// A keyed retry of an order the relay has answers 200 and publishes
/// nothing; the same key with another cart is refused.
#[tokio::test]
async fn a_keyed_retry_replays_without_publishing() {
    let relay = relay(Recording::default(), true);
    let alice = relay.token("alice", Role::User);
    let keyed = |body: &str| {
        let mut request = request(Method::POST, "/api/orders", Some(&alice), body);
        request
            .headers_mut()
            .insert("idempotency-key", "k-1".parse().unwrap());
        request
    };
    let (status, first, replayed) = relay.call(keyed(CART)).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    assert_eq!(first["orderId"], keyed_order_id("alice", "k-1"));
    let OrderEvent::Created(order) = relay.sink.published().remove(0) else {
        panic!("a checkout publishes order.created");
    };
    relay
        .state
        .hub
        .apply_order(OrderEvent::Created(order), pos(0, 2), ANY_TIME);

    let (status, again, replayed) = relay.call(keyed(CART)).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again["orderId"], first["orderId"]);
    let other = CART.replace("\"quantity\":2", "\"quantity\":3");
    let (status, error, _) = relay.call(keyed(&other)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
    assert_eq!(relay.sink.published().len(), 1);
}

#[tokio::test]
async fn cancel_and_advance_publish_strictly_later_events() {
    let relay = relay(Recording::default(), true);
    let alice = relay.token("alice", Role::User);
    let admin = relay.token("root", Role::Admin);
    let (status, cancel, _) = relay
        .call(request(
            Method::POST,
            "/api/orders/o-pending/cancel",
            Some(&alice),
            r#"{"reason":"changed my mind"}"#,
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(cancel["reason"], "changed my mind");
    let (status, update, _) = relay
        .call(request(
            Method::PATCH,
            "/api/admin/orders/o-shipped",
            Some(&admin),
            r#"{"status":"delivered"}"#,
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            update["previousStatus"].as_str(),
            update["buyerId"].as_str()
        ),
        (Some("shipped"), Some("alice"))
    );
    assert_eq!(relay.sink.published().len(), 2);
}

#[tokio::test]
async fn an_invalid_idempotency_key_is_a_400() {
    let relay = relay(Recording::default(), true);
    let alice = relay.token("alice", Role::User);
    let mut keyed = request(Method::POST, "/api/orders", Some(&alice), CART);
    keyed
        .headers_mut()
        .insert("idempotency-key", "two words".parse().unwrap());
    let (status, error, _) = relay.call(keyed).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_idempotency_key"))
    );
}

/// Behind Kafka, commands that read an order's status answer 503 and say
/// to retry; a broker that does not acknowledge is a 503 that says the
/// outcome is unknown.
#[tokio::test]
async fn not_ready_and_broker_away_are_503s() {
    let behind = relay(Recording::default(), false);
    let alice = behind.token("alice", Role::User);
    let (status, error, _) = behind
        .call(request(
            Method::POST,
            "/api/orders/o-pending/cancel",
            Some(&alice),
            "",
        ))
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (503, Some("not_ready"))
    );

    let away = relay(Recording::unavailable(), true);
    let alice = away.token("alice", Role::User);
    let (status, error, _) = away
        .call(request(Method::POST, "/api/orders", Some(&alice), CART))
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (503, Some("broker_unavailable"))
    );
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Retry"));
}

mod refusals;

#[tokio::test]
async fn configured_origins_may_call_the_api_and_others_may_not() {
    let relay = relay_tuned(Recording::default(), true, |config| {
        config.auth.cors_origins = vec!["https://shop.example".into()];
    });
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .body(Body::empty())
            .unwrap()
    };
    let allowed = relay
        .router
        .clone()
        .oneshot(preflight("https://shop.example"))
        .await
        .unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example"
    );
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let asked = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        asked.contains("authorization") && asked.contains("idempotency-key"),
        "{asked}"
    );
    assert!(!headers.contains_key("access-control-allow-credentials"));
    // Another origin gets no permission (the browser then blocks the call).
    let refused = relay
        .router
        .clone()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));
    // The real call carries the header too, and still needs its token.
    let mut call = request(
        Method::GET,
        "/api/orders",
        Some(&relay.token("alice", Role::User)),
        "",
    );
    call.headers_mut()
        .insert("origin", "https://shop.example".parse().unwrap());
    let response = relay.router.clone().oneshot(call).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let mut anonymous = request(Method::GET, "/api/orders", None, "");
    anonymous
        .headers_mut()
        .insert("origin", "https://shop.example".parse().unwrap());
    assert_eq!(relay.call(anonymous).await.0, StatusCode::UNAUTHORIZED);
    // Without --cors-origin, no CORS headers at all.
    let plain = self::relay(Recording::default(), true);
    let response = plain
        .router
        .clone()
        .oneshot(preflight("https://shop.example"))
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}
