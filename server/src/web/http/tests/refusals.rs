//! Every refusal of the router that needs no broker, as a table.

use axum::http::Method;
use protocol::Role;

use super::{relay, request};
use crate::sink::Recording;

/// Every refusal the router can give without a broker: its status, its
/// code, and nothing published.
#[tokio::test]
async fn every_refusal_has_its_status_and_code() {
    // What, request (method, path, caller, body), answer (status, code).
    type Case<'a> = (
        &'a str,
        Method,
        &'a str,
        Option<&'a str>,
        &'a str,
        u16,
        &'a str,
    );
    let cases: [Case; 16] = [
        (
            "no token",
            Method::GET,
            "/api/orders",
            None,
            "",
            401,
            "missing_token",
        ),
        (
            "bad token",
            Method::GET,
            "/api/orders",
            Some("garbage"),
            "",
            401,
            "invalid_token",
        ),
        (
            "someone else's order",
            Method::POST,
            "/api/orders/o-pending/cancel",
            Some("bob"),
            "",
            404,
            "not_found",
        ),
        (
            "unknown order",
            Method::POST,
            "/api/orders/nope/cancel",
            Some("alice"),
            "",
            404,
            "not_found",
        ),
        (
            "cancel after shipping",
            Method::POST,
            "/api/orders/o-shipped/cancel",
            Some("alice"),
            "",
            409,
            "conflict",
        ),
        (
            "cancel body not JSON",
            Method::POST,
            "/api/orders/o-pending/cancel",
            Some("alice"),
            "{",
            400,
            "bad_json",
        ),
        (
            "user moves a status",
            Method::PATCH,
            "/api/admin/orders/o-pending",
            Some("alice"),
            r#"{"status":"shipped"}"#,
            403,
            "forbidden",
        ),
        (
            "backwards move",
            Method::PATCH,
            "/api/admin/orders/o-shipped",
            Some("root"),
            r#"{"status":"processing"}"#,
            409,
            "conflict",
        ),
        (
            "unknown status",
            Method::PATCH,
            "/api/admin/orders/o-shipped",
            Some("root"),
            r#"{"status":"lost"}"#,
            422,
            "invalid_data",
        ),
        (
            "checkout not JSON",
            Method::POST,
            "/api/orders",
            Some("alice"),
            "{",
            400,
            "bad_json",
        ),
        (
            "empty cart",
            Method::POST,
            "/api/orders",
            Some("alice"),
            r#"{"items":[]}"#,
            422,
            "invalid_data",
        ),
        (
            "no cart at all",
            Method::POST,
            "/api/orders",
            Some("alice"),
            r#"{}"#,
            422,
            "invalid_data",
        ),
        (
            "wrong method",
            Method::DELETE,
            "/api/orders",
            Some("alice"),
            "",
            405,
            "method_not_allowed",
        ),
        (
            "unknown route",
            Method::GET,
            "/api/nope",
            Some("alice"),
            "",
            404,
            "not_found",
        ),
        (
            "body over the limit",
            Method::POST,
            "/api/orders",
            Some("alice"),
            &BIG,
            413,
            "too_large",
        ),
        (
            "no content type",
            Method::POST,
            "/api/orders",
            Some("alice"),
            "",
            415,
            "unsupported_media_type",
        ),
    ];
    let relay = relay(Recording::default(), true);
    for (what, method, path, user, body, status, code) in cases {
        let token = match user {
            Some("root") => Some(relay.token("root", Role::Admin)),
            Some("garbage") => Some("garbage".to_owned()),
            Some(user) => Some(relay.token(user, Role::User)),
            None => None,
        };
        let (got, error, _) = relay
            .call(request(method, path, token.as_deref(), body))
            .await;
        assert_eq!(
            (got.as_u16(), error["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    assert!(relay.sink.published().is_empty());
}

static BIG: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!(r#"{{"items":[],"pad":"{}"}}"#, "x".repeat(70_000)));
