//! Every route of the relay, in one table: the HTTP API and ops routes
//! ([`super::http`]), the WebSocket endpoint ([`super::ws`]) and the
//! Socket.IO one ([`super::socketio`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::{any, get, patch, post};
use axum::Router;
use protocol::ErrorCode;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use super::access;
use super::context::AppState;
use super::http::{assets, ops, orders, panel, AppError};
use super::{socketio, ws};

/// Every route of the relay.
pub fn router(app: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/orders", get(orders::list).post(orders::checkout))
        .route("/api/orders/{id}/cancel", post(orders::cancel))
        .route("/api/admin/orders/{id}", patch(orders::advance))
        .route("/api/admin/delivery", get(panel::fragment))
        .route("/api/dev/login", post(ops::login))
        .route(
            "/api/{*rest}",
            any(|| async { AppError::not_found("route") }),
        )
        // Before CORS is layered on, so that a preflight (OPTIONS, which no
        // route takes) reaches the CORS layer instead of this 405.
        .method_not_allowed_fallback(method_not_allowed);
    let api = match cors(&app.config.auth.cors_origins) {
        Some(cors) => api.layer(cors),
        None => api,
    };
    let mut router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/admin/delivery", get(panel::page))
        .route("/admin/delivery.js", get(panel::script))
        .route("/admin/delivery.css", get(panel::style))
        .route("/ws", get(ws::endpoint))
        .method_not_allowed_fallback(method_not_allowed)
        .merge(api)
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
        // `/socket.io/` is answered here, outside the request timeout (a
        // long-poll waits longer than a request may) and inside the access
        // log (which gives it the client's address).
        .layer(socketio::layer(Arc::clone(&app)))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            access::access,
        ))
        .with_state(app)
}

/// axum answers a wrong method with an empty 405; §4 wants JSON.
async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method: see the API table in docs/PROTOCOL.md §4",
    )
}

/// CORS for `/api` (`--cors-origin`): pages of these origins may call it
/// with a bearer token (no cookies: credentials are not allowed); the
/// browser's preflight is answered here, and cached for 10 minutes.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}
