//! HTTP commands to the relay (§4 of the contract), same origin, with the
//! user's bearer token. Bodies are the protocol crate's types.
//!
//! Commands only ask; the page changes when the resulting event comes back
//! over the socket. A failed command surfaces as an error toast.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use protocol::http::{
    ApiError, CancelRequest, CheckoutRequest, LoginRequest, LoginResponse, StatusChange,
};
use protocol::{Order, OrderStatus, Role};

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// No answer (network down, relay not running).
    Network(String),
    /// A non-2xx answer, with the relay's stable code and message when the
    /// body was the contract's error shape.
    Status {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// A 2xx answer whose body did not decode.
    Decode(String),
}

impl RequestError {
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for RequestError {
    /// A sentence for a toast.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Network(_) => write!(f, "Could not reach the order service"),
            RequestError::Status {
                message: Some(message),
                ..
            } => write!(f, "{message}"),
            RequestError::Status { status: 401, .. } => write!(f, "Please sign in again"),
            RequestError::Status { status: 409, .. } => {
                write!(f, "The order has moved on and cannot be changed that way")
            }
            RequestError::Status { status: 503, .. } => {
                write!(f, "The order service is unavailable; try again shortly")
            }
            RequestError::Status { status, .. } => write!(f, "Request failed ({status})"),
            RequestError::Decode(_) => write!(f, "The order service sent an unexpected answer"),
        }
    }
}

fn bearer(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder.header("Authorization", &format!("Bearer {token}"))
}

fn order_path(order_id: &str) -> String {
    String::from(js_sys::encode_uri_component(order_id))
}

async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, RequestError> {
    let request = request.map_err(|e| RequestError::Network(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| RequestError::Network(e.to_string()))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<ApiError>(&body).ok();
    Err(RequestError::Status {
        status,
        code: error.as_ref().map(|e| e.error.code.clone()),
        message: error.map(|e| e.error.message),
    })
}

async fn decode<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, RequestError> {
    let body = response
        .text()
        .await
        .map_err(|e| RequestError::Network(e.to_string()))?;
    serde_json::from_str(&body).map_err(|e| RequestError::Decode(e.to_string()))
}

/// `POST /api/dev/login` (demo mode): a token for `user_id`. A 404 means
/// the relay does not run in demo mode.
pub async fn login(user_id: &str, role: Option<Role>) -> Result<String, RequestError> {
    let body = LoginRequest {
        user_id: user_id.to_owned(),
        role,
    };
    let response = send(Request::post("/api/dev/login").json(&body)).await?;
    Ok(decode::<LoginResponse>(response).await?.token)
}

/// `POST /api/orders/{id}/cancel`.
pub async fn cancel_order(token: &str, order_id: &str) -> Result<(), RequestError> {
    let url = format!("/api/orders/{}/cancel", order_path(order_id));
    let body = CancelRequest {
        reason: Some("Cancelled from the orders page".into()),
    };
    send(bearer(Request::post(&url), token).json(&body)).await?;
    Ok(())
}

/// `PATCH /api/admin/orders/{id}` with the next status.
pub async fn advance_order(
    token: &str,
    order_id: &str,
    status: OrderStatus,
) -> Result<(), RequestError> {
    let url = format!("/api/admin/orders/{}", order_path(order_id));
    send(bearer(Request::patch(&url), token).json(&StatusChange { status })).await?;
    Ok(())
}

/// `POST /api/orders`: checkout. The order appears on the page when its
/// `order:created` event arrives.
pub async fn checkout(token: &str, request: &CheckoutRequest) -> Result<Order, RequestError> {
    let response = send(bearer(Request::post("/api/orders"), token).json(request)).await?;
    decode(response).await
}

/// Whether the relay answers 401 to this token (`GET /api/orders`). Only
/// asked after a socket failed to open, since a browser is not told why.
pub async fn token_rejected(token: &str) -> bool {
    let request = bearer(Request::get("/api/orders"), token).build();
    matches!(send(request).await, Err(e) if e.status() == Some(401))
}
