//! HTTP errors and the extractors that produce them.
//!
//! Every non-2xx answer is `{"error": {"code", "message"}}` (§4): the client
//! gets a stable code and a short message; the log gets the detail.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::frames::ErrorBody;
use protocol::http::ApiError;
use protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::core::commands::CommandError;
use crate::core::viewer::User;
use crate::web::auth::{bearer, AuthError};
use crate::web::context::AppState;

/// An HTTP error: status, stable code, message. The status is the code's
/// own ([`ErrorCode::http_status`]) unless said otherwise.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }

    /// The same error with another status (the relay-wide connection cap is
    /// a 503, one user's a 429).
    pub fn with_status(mut self, status: StatusCode) -> AppError {
        self.status = status;
        self
    }

    pub fn not_found(what: &str) -> AppError {
        AppError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn not_ready() -> AppError {
        AppError::new(
            ErrorCode::NotReady,
            "the relay is still catching up with Kafka; retry shortly",
        )
    }

    pub fn broker_unavailable() -> AppError {
        AppError::new(
            ErrorCode::BrokerUnavailable,
            "the order broker did not acknowledge the event in time: it may or may not have been stored. Retry the same request (a checkout with the same Idempotency-Key), which cannot apply twice",
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: ErrorBody::new(self.code, self.message),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<CommandError> for AppError {
    fn from(e: CommandError) -> AppError {
        AppError::new(e.code(), e.to_string())
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> AppError {
        let mut error = AppError::new(e.code(), e.to_string());
        // Say what went wrong without echoing library internals.
        if let AuthError::Invalid(detail) = e {
            tracing::debug!(%detail, "token refused");
            error.message =
                "the token is malformed, wrongly signed, not meant for this relay or lacks its user or `exp`: sign in again".into();
        }
        error
    }
}

/// The authenticated caller of an HTTP route (`Authorization: Bearer <JWT>`).
pub struct Caller(pub User);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Caller, AppError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let verified = match bearer(header) {
            Ok(token) => app.auth.verify(token).await,
            Err(e) => Err(e),
        };
        verified.map(Caller).map_err(|e| {
            app.metrics.auth_failures.inc();
            AppError::from(e)
        })
    }
}

/// A JSON request body whose rejections are JSON errors too: 400 for bad
/// JSON, 413 over the size limit, 415 without a JSON content type, 422 for
/// the wrong shape.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Body<T>, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
                    StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidData,
                    _ => ErrorCode::BadJson,
                };
                Err(AppError::new(code, rejection.body_text()).with_status(status))
            }
        }
    }
}
