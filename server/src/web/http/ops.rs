//! Operations routes: health, readiness, metrics, and the demo login.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::http::{LoginRequest, LoginResponse};

use super::error::{AppError, Body};
use crate::web::context::AppState;

/// How long a demo token lives. Clients refresh it over the socket before then.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);

/// `GET /healthz`: 200 while the process runs and its Kafka consumer works;
/// 503 when the consumer is stuck and rebuilding it has not helped (restart
/// the relay).
pub async fn healthz(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if app.consumer.is_healthy() {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Kafka consumer stalled and could not be rebuilt: restart the relay\n",
        )
    }
}

/// `GET /readyz`: 200 once caught up with Kafka, else 503 with the reason
/// (what keeps the relay from Kafka, if anything); 503 while draining, so a
/// load balancer sends no one new here.
pub async fn readyz(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    if app.drain.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "draining: this relay is stopping\n".to_owned(),
        )
    } else if app.hub.is_ready() {
        (StatusCode::OK, "ready\n".to_owned())
    } else if let Some(problem) = app.kafka.problem() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {problem}\n"),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "catching up with Kafka\n".to_owned(),
        )
    }
}

/// `GET /metrics`: Prometheus text format; behind a bearer token when
/// `--metrics-token` is set.
pub async fn metrics(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    if let Some(expected) = &app.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same(given.as_bytes(), expected.as_bytes())) {
            return Err(AppError::new(
                protocol::ErrorCode::InvalidToken,
                "/metrics needs the metrics token (--metrics-token) as a bearer token",
            ));
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    ))
}

/// Compares two secrets in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        return Err(AppError::new(
            protocol::ErrorCode::InvalidData,
            "userId must be 1-64 characters of letters, digits, '-', '_', '.' or '@'",
        ));
    }
    // Demo mode always has a secret (`app::start` makes one up if needed).
    let keys = app
        .auth
        .keys()
        .ok_or_else(|| AppError::not_found("route"))?;
    let token = keys.issue(id, request.role.unwrap_or_default(), DEMO_TOKEN_TTL);
    Ok(Json(LoginResponse { token }))
}
