//! Operations routes: health, readiness, metrics, and the demo login.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::http::{LoginRequest, LoginResponse};

use super::error::{AppError, Body};
use crate::app::AppState;

/// How long a demo token lives. Clients refresh it over the socket before then.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 once caught up with Kafka, else 503.
pub async fn readyz(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if app.hub.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "catching up with Kafka\n")
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

/// `POST /api/dev/login` (demo mode only): a token for any user id.
pub async fn login(
    State(app): State<Arc<AppState>>,
    Body(request): Body<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    if !app.config.demo {
        return Err(AppError::not_found("route"));
    }
    let id = request.user_id.trim();
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !valid {
        return Err(AppError::invalid(
            "userId must be 1-64 characters of letters, digits, '-', '_', '.' or '@'",
        ));
    }
    let token = app
        .keys
        .issue(id, request.role.unwrap_or_default(), DEMO_TOKEN_TTL);
    Ok(Json(LoginResponse { token }))
}
