//! Every route of the relay, in one table: the HTTP API and ops routes
//! ([`super::http`]) and the WebSocket endpoint ([`super::ws`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get, patch, post};
use axum::Router;
use protocol::ErrorCode;
use tower_http::timeout::TimeoutLayer;

use super::context::AppState;
use super::http::{assets, ops, orders, AppError};
use super::ws;

/// Every route of the relay.
pub fn router(app: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/ws", get(ws::endpoint))
        .route("/api/orders", get(orders::list).post(orders::checkout))
        .route("/api/orders/{id}/cancel", post(orders::cancel))
        .route("/api/admin/orders/{id}", patch(orders::advance))
        .route("/api/dev/login", post(ops::login))
        .route(
            "/api/{*rest}",
            any(|| async { AppError::not_found("route") }),
        )
        // axum answers a wrong method with an empty 405; §4 wants JSON.
        .method_not_allowed_fallback(|| async {
            AppError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take that method: see the API table in docs/PROTOCOL.md §4",
            )
        })
        .layer(DefaultBodyLimit::max(app.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(app.config.http_request_timeout_ms),
        ));
    if let Some(dir) = &app.config.static_dir {
        router = router.fallback_service(assets::router(dir));
    }
    router
        .layer(axum::middleware::from_fn(assets::security_headers))
        .with_state(app)
}
