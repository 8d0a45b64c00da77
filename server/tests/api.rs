//! The order API (§4) against a real broker: every rule and error status, and
//! the one path for changes: a command's event comes back over the socket.

mod common;

use common::{describe, Broker, Relay};
use protocol::{Order, OrderStatus, Role};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

struct Api<'a> {
    relay: &'a Relay,
    http: Client,
}

impl<'a> Api<'a> {
    fn new(relay: &'a Relay) -> Api<'a> {
        Api {
            relay,
            // A stalled request fails with its place, never hangs the run.
            http: Client::builder()
                .timeout(common::PATIENCE)
                .build()
                .expect("HTTP client"),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        user: (&str, Role),
        body: Option<Value>,
    ) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, self.relay.http(path))
            .bearer_auth(self.relay.token(user.0, user.1));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A request with this exact `Authorization` header value (or none).
    async fn call_with_auth(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.relay.http(path));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn checkout(&self, user: &str) -> Order {
        let body = json!({"items": [{"productId": "p1", "name": "Mug", "quantity": 2, "price": 4.5}], "shippingAddress": {"city": "Lyon"}});
        let response = self
            .call("POST", "/api/orders", (user, Role::User), Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }
}

/// A request: method, path, caller, body.
type Call<'b> = (&'b str, &'b str, (&'b str, Role), Option<Value>);

impl Api<'_> {
    /// The call is refused with `status` and `code`.
    async fn refused(&self, (method, path, token, body): Call<'_>, status: StatusCode, code: &str) {
        let response = self.call(method, path, token, body).await;
        assert_eq!(error_code(response, status).await, code, "{method} {path}");
    }

    /// The command is accepted (202): its event is published.
    async fn accepted(&self, (method, path, token, body): Call<'_>) {
        let response = self.call(method, path, token, body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{method} {path}");
    }
}

/// A broker, a relay on it, and alice subscribed.
async fn shop() -> (Broker, Relay, common::Client) {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let (alice, _) = relay.subscribed("alice", Role::User).await;
    (broker, relay, alice)
}

/// The next event `client` sees is `order`'s creation.
async fn next_is_created(client: &mut common::Client, order: &Order) {
    assert_eq!(
        describe(&client.next().await),
        format!("order:created:{}:pending", order.order_id)
    );
}

async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .expect("JSON error body")
        .to_owned()
}

const ALICE: (&str, Role) = ("alice", Role::User);
const BOB: (&str, Role) = ("bob", Role::User);
const ADMIN: (&str, Role) = ("root", Role::Admin);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_publishes_and_the_order_comes_back_over_the_socket() {
    let (_broker, relay, mut alice) = shop().await;
    let api = Api::new(&relay);
    let order = api.checkout("alice").await;
    assert_eq!((order.subtotal, order.tax, order.total), (9.0, 0.9, 9.9));
    assert_eq!(order.status, OrderStatus::Pending);
    next_is_created(&mut alice, &order).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_status_rules() {
    let (_broker, relay, mut alice) = shop().await;
    let api = Api::new(&relay);
    let order = api.checkout("alice").await;
    let id = &order.order_id;
    alice.next().await;

    // Another user's order is indistinguishable from a missing one.
    let cancel = format!("/api/orders/{id}/cancel");
    api.refused(
        ("POST", &cancel, BOB, None),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let missing = api
        .call("POST", "/api/orders/nope/cancel", ALICE, None)
        .await;
    assert_eq!(
        error_code(missing, StatusCode::NOT_FOUND).await,
        "not_found"
    );

    // Only admins move orders, only forward.
    let patch = format!("/api/admin/orders/{id}");
    let to = |status: &str| Some(json!({ "status": status }));
    api.refused(
        ("PATCH", &patch, ALICE, to("processing")),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    api.accepted(("PATCH", &patch, ADMIN, to("processing")))
        .await;
    let update = alice.next_updated().await;
    assert_eq!(update.previous_status, Some(OrderStatus::Pending));
    assert_eq!(
        update.message.as_deref(),
        Some("Your order is being processed")
    );
    api.refused(
        ("PATCH", &patch, ADMIN, to("pending")),
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    api.accepted(("PATCH", &patch, ADMIN, to("shipped"))).await;
    assert_eq!(
        describe(&alice.next().await),
        format!("order:updated:{id}:shipped")
    );

    // Shipped orders cannot be cancelled; pending ones can, by owner or admin.
    let reason = Some(json!({"reason": "changed my mind"}));
    api.refused(
        ("POST", &cancel, ALICE, reason.clone()),
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let second = api.checkout("alice").await;
    alice.next().await;
    let cancel_second = format!("/api/orders/{}/cancel", second.order_id);
    api.accepted(("POST", &cancel_second, ALICE, reason)).await;
    let c = alice.next_cancelled().await;
    assert_eq!(c.reason.as_deref(), Some("changed my mind"));
    let again = api.call("POST", &cancel_second, ADMIN, None).await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await, "conflict");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_json_errors_with_the_right_status() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let api = Api::new(&relay);
    let raw = |body: &'static str, content_type: &'static str| {
        api.http
            .post(relay.http("/api/orders"))
            .bearer_auth(relay.token("alice", Role::User))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let refusals = [
        (
            "{oops",
            "application/json",
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "{}",
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            r#"{"items":"x"}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
    ];
    for (body, content_type, status, code) in refusals {
        let response = raw(body, content_type).await.unwrap();
        assert_eq!(
            error_code(response, status).await,
            code,
            "{body} as {content_type}"
        );
    }
    let empty = api
        .call("POST", "/api/orders", ALICE, Some(json!({"items": []})))
        .await;
    assert_eq!(
        error_code(empty, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_data"
    );
    let huge = json!({"items": [{"productId": "p", "name": "x".repeat(100_000), "quantity": 1, "price": 1}]});
    api.refused(
        ("POST", "/api/orders", ALICE, Some(huge)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    let login = api
        .call(
            "POST",
            "/api/dev/login",
            ALICE,
            Some(json!({"userId": "x"})),
        )
        .await;
    assert_eq!(
        error_code(login, StatusCode::NOT_FOUND).await,
        "not_found",
        "no demo login outside demo mode"
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_answers_503_and_publishes_nothing_when_the_broker_is_down() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let api = Api::new(&relay);
    drop(broker);
    let body = json!({"items": [{"productId": "p1", "name": "Mug", "quantity": 1, "price": 1}]});
    let response = api.call("POST", "/api/orders", ALICE, Some(body)).await;
    assert_eq!(
        error_code(response, StatusCode::SERVICE_UNAVAILABLE).await,
        "broker_unavailable"
    );
    assert!(relay
        .metrics()
        .await
        .contains("relay_commands_publish_failures_total 1"));
    relay.stop().await;
}

/// method, path, caller, body → status, error code.
type Refused<'a> = (
    &'a str,
    String,
    (&'a str, Role),
    Option<Value>,
    StatusCode,
    &'a str,
);

/// Every other way a request can be refused, one row each: the status and
/// the JSON error code (§4), and nothing published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_request_gets_its_status_and_a_json_error() {
    let (_broker, relay, mut alice) = shop().await;
    let api = Api::new(&relay);
    let order = api.checkout("alice").await;
    alice.next().await;
    let id = &order.order_id;
    let (cancel, patch) = (
        format!("/api/orders/{id}/cancel"),
        format!("/api/admin/orders/{id}"),
    );
    let item = |patch: Value| {
        let mut item = json!({"productId": "p1", "name": "Mug", "quantity": 1, "price": 4.5});
        item.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        json!({ "items": [item] })
    };
    let expired = relay
        .keys
        .issue_until("alice", Role::User, server::web::auth::now_secs() - 10);
    let expired = format!("Bearer {expired}");
    let bad_auth: [(&str, &str, Option<&str>); 6] = [
        ("POST", "/api/orders", None),
        ("POST", &cancel, None),
        ("PATCH", &patch, None),
        ("POST", "/api/orders", Some("Bearer not-a-jwt")),
        ("POST", &cancel, Some(expired.as_str())),
        ("PATCH", &patch, Some("Basic YWxpY2U6eA==")),
    ];
    for (method, path, auth) in bad_auth {
        let response = api
            .call_with_auth(method, path, auth, Some(json!({"status": "shipped"})))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with {auth:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["code"].is_string(),
            "{method} {path}: JSON error"
        );
    }

    let rows: Vec<Refused> = vec![
        (
            "PATCH",
            "/api/admin/orders/nope".into(),
            ADMIN,
            Some(json!({"status": "processing"})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "PATCH",
            patch.clone(),
            ADMIN,
            Some(json!({"status": "pending"})),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "PATCH",
            patch.clone(),
            ADMIN,
            Some(json!({"status": "cancelled"})),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "PATCH",
            patch.clone(),
            ADMIN,
            Some(json!({"status": "lost"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "PATCH",
            patch.clone(),
            ADMIN,
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            cancel.clone(),
            ALICE,
            Some(json!({"reason": 42})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(item(json!({"quantity": 0}))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(item(json!({"quantity": 1001}))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(item(json!({"price": -1}))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(item(json!({"name": "  "}))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(
                json!({"items": vec![json!({"productId": "p", "name": "x", "quantity": 1, "price": 1}); 101]}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            "/api/orders".into(),
            ALICE,
            Some(
                json!({"items": [{"productId": "p", "name": "x", "quantity": 1, "price": 1}], "shippingAddress": "Lyon"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "POST",
            cancel.clone(),
            ALICE,
            Some(json!({"reason": "x".repeat(100_000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "PATCH",
            patch.clone(),
            ADMIN,
            Some(json!({"status": "x".repeat(100_000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "DELETE",
            "/api/orders".into(),
            ALICE,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "GET",
            "/api/nothing/here".into(),
            ALICE,
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, path, user, body, status, code) in rows {
        let response = api.call(method, &path, user, body).await;
        assert_eq!(
            error_code(response, status).await,
            code,
            "{method} {path} as {}",
            user.0
        );
    }
    // Nothing above was published: the next event alice sees is this one.
    let second = api.checkout("alice").await;
    next_is_created(&mut alice, &second).await;
    relay.stop().await;
}

/// What the server decides is not the client's to send, and admins act on
/// anyone's order: an admin cancels alice's processing order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_assigns_ids_and_money_and_an_admin_can_cancel_any_order() {
    let (_broker, relay, mut alice) = shop().await;
    let api = Api::new(&relay);
    let body = json!({
        "orderId": "mine", "status": "delivered", "total": 0.01, "buyerId": "bob",
        "items": [{"productId": "p1", "name": "Mug", "quantity": 2, "price": 4.5}]
    });
    let response = api.call("POST", "/api/orders", ALICE, Some(body)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Order = response.json().await.unwrap();
    assert_ne!(order.order_id, "mine");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.buyer_id, "alice");
    assert_eq!(order.subtotal, 9.0);
    assert_eq!(order.total, 9.9);
    alice.next().await;

    let id = &order.order_id;
    let to_processing = Some(json!({"status": "processing"}));
    let patch = format!("/api/admin/orders/{id}");
    api.accepted(("PATCH", &patch, ADMIN, to_processing)).await;
    alice.next().await;
    let cancel = format!("/api/orders/{id}/cancel");
    api.accepted(("POST", &cancel, ADMIN, None)).await;
    assert_eq!(
        describe(&alice.next().await),
        format!("order:cancelled:{id}:cancelled")
    );
    relay.stop().await;
}

/// The attack: during a reload after a restart, a buyer cancels an order
/// that has already shipped, and an admin moves it back. The read model
/// still holds the order's old status, so these must wait for a caught-up
/// relay: 503 `not_ready` until then, 409 after; never 202, and nothing
/// published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_an_order_answer_503_during_a_20000_message_reload_and_never_act_on_stale_state(
) {
    let broker = Broker::start().await;
    // A first relay creates the topics; then the history builds up.
    Relay::start(&broker).await.stop().await;
    let producer = broker.producer();
    let created = common::created;
    producer
        .send("order.created", "o1", created("o1", "alice"))
        .await;
    let filler: Vec<String> = (0..20_000).map(|i| format!("f{i}")).collect();
    for chunk in filler.chunks(2000) {
        futures_util::future::join_all(
            chunk
                .iter()
                .map(|id| producer.send("order.created", id, created(id, "bob"))),
        )
        .await;
    }
    producer
        .send(
            "order.updated",
            "o1",
            r#"{"orderId":"o1","status":"shipped","updatedAt":"2025-11-12T11:00:00.000Z"}"#,
        )
        .await;

    let relay = Relay::launch(&broker, common::config(&broker)).await;
    let api = Api::new(&relay);
    let mut answers = Vec::new();
    loop {
        let cancel = api
            .call("POST", "/api/orders/o1/cancel", ALICE, None)
            .await
            .status();
        let back = api
            .call(
                "PATCH",
                "/api/admin/orders/o1",
                ADMIN,
                Some(json!({"status": "processing"})),
            )
            .await
            .status();
        answers.push((cancel, back));
        if cancel != StatusCode::SERVICE_UNAVAILABLE && back != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(answers.len() < 2000, "never caught up");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        answers[0],
        (
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE
        ),
        "the first commands came before the reload ended"
    );
    for (cancel, back) in &answers {
        assert!(
            [StatusCode::SERVICE_UNAVAILABLE, StatusCode::CONFLICT].contains(cancel),
            "{answers:?}"
        );
        assert!(
            [StatusCode::SERVICE_UNAVAILABLE, StatusCode::CONFLICT].contains(back),
            "{answers:?}"
        );
    }
    let page = relay.metrics().await;
    assert_eq!(common::metric(&page, "relay_commands_published_total"), 0.0);
    let orders = relay.orders("alice", Role::User).await;
    assert_eq!(orders.orders[0].status, OrderStatus::Shipped);
    eprintln!(
        "{} tries answered 503 before the relay caught up",
        answers.len() - 1
    );
    relay.stop().await;
}
