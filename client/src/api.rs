//! HTTP commands to the relay (§4 of the contract), same origin, with the
//! user's bearer token. Bodies are the protocol crate's types.
//!
//! Commands only ask; the page changes when the resulting event comes back
//! over the socket. A failed command surfaces as an error toast.

use std::fmt;

use client_core::commands::Change;
use protocol::http::{
    ApiError, CancelRequest, CheckoutRequest, LoginRequest, LoginResponse, StatusChange,
};
use protocol::{ErrorCode, Order, Role};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// No answer (network down, relay not running).
    Network(String),
    /// A non-2xx answer, with the relay's stable code and message when the
    /// body was the contract's error shape (a proxy's page has neither).
    Status {
        status: u16,
        code: Option<ErrorCode>,
        message: Option<String>,
    },
    /// A 2xx answer whose body did not decode.
    Decode(String),
}

impl RequestError {
    /// The relay's error code, if it answered with one this client knows.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RequestError::Status { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the same request may succeed later: no answer, a code that
    /// says so, or a 503 from something that is not the relay (a proxy).
    pub fn is_retryable(&self) -> bool {
        match self {
            RequestError::Network(_) => true,
            RequestError::Status {
                code: None, status, ..
            } => *status == 503,
            _ => self.code().is_some_and(ErrorCode::is_retryable),
        }
    }

    /// Whether the token is what was refused: sign in again.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::MissingToken | ErrorCode::InvalidToken | ErrorCode::TokenExpired)
        )
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
            error if error.is_auth() => write!(f, "Please sign in again"),
            error if error.code() == Some(ErrorCode::Conflict) => {
                write!(f, "The order has moved on and cannot be changed that way")
            }
            error if error.is_retryable() => {
                write!(f, "The order service is unavailable; try again shortly")
            }
            RequestError::Status { status, .. } => {
                // As a u32: the bundle then needs no u16 printer of its own.
                write!(f, "Request failed ({})", u32::from(*status))
            }
            RequestError::Decode(_) => write!(f, "The order service sent an unexpected answer"),
        }
    }
}

fn js_error(error: JsValue) -> RequestError {
    RequestError::Network(format!("{error:?}"))
}

/// One same-origin request: method, path, bearer token, JSON body. Returns
/// the body text of a 2xx answer.
async fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<String, RequestError> {
    send_with(method, url, token, body, &[]).await
}

/// [`send`] with extra request headers.
async fn send_with(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
    extra: &[(&str, &str)],
) -> Result<String, RequestError> {
    let headers = Headers::new().map_err(js_error)?;
    for (name, value) in extra {
        headers.set(name, value).map_err(js_error)?;
    }
    if let Some(token) = token {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(js_error)?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        headers
            .set("Content-Type", "application/json")
            .map_err(js_error)?;
        init.set_body(&JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    let window = web_sys::window().ok_or_else(|| RequestError::Network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_error)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    let error = serde_json::from_str::<ApiError>(&text).ok();
    Err(RequestError::Status {
        status: response.status(),
        code: error.as_ref().and_then(|e| ErrorCode::parse(&e.error.code)),
        message: error.map(|e| e.error.message),
    })
}

/// A number's JSON text as JavaScript writes it (the shortest form that
/// reads back as the same number): the bundle carries no float formatter.
fn js_number(value: f64) -> String {
    js_sys::Number::from(value)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_else(|_| "null".to_owned())
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RequestError> {
    serde_json::from_str(text).map_err(|e| RequestError::Decode(protocol::frames::json_error(&e)))
}

fn order_path(order_id: &str) -> String {
    String::from(js_sys::encode_uri_component(order_id))
}

/// `POST /api/dev/login` (demo mode): a token for `user_id`. A 404 means
/// the relay does not run in demo mode.
pub async fn login(user_id: &str, role: Option<Role>) -> Result<String, RequestError> {
    let body = LoginRequest {
        user_id: user_id.to_owned(),
        role,
    };
    let text = send("POST", "/api/dev/login", None, Some(body.to_json())).await?;
    Ok(decode::<LoginResponse>(&text)?.token)
}

/// A command on an order, sent to the relay: one request, one future for
/// both kinds (each `async fn` is a state machine of its own in the
/// bundle).
pub async fn command(token: &str, order_id: &str, change: &Change) -> Result<(), RequestError> {
    let id = order_path(order_id);
    let (method, url, body) = match change {
        // `POST /api/orders/{id}/cancel` with a reason.
        Change::Cancel => (
            "POST",
            format!("/api/orders/{id}/cancel"),
            CancelRequest {
                reason: Some("Cancelled from the orders page".into()),
            }
            .to_json(),
        ),
        // `PATCH /api/admin/orders/{id}` with the next status.
        Change::Advance(status) => (
            "PATCH",
            format!("/api/admin/orders/{id}"),
            StatusChange { status: *status }.to_json(),
        ),
        // A checkout is sent by [`checkout`], with its idempotency key.
        Change::Place(_) => return Ok(()),
    };
    send(method, &url, Some(token), Some(body)).await?;
    Ok(())
}

/// `POST /api/orders`: checkout under `key` ([`idempotency_key`]). The
/// order is confirmed when its `order:created` event arrives.
///
/// One `Idempotency-Key` per checkout, kept across its retries: when the
/// answer is lost or says 503 (the outcome is unknown), the same request is
/// sent again after 0.5, 1 and 2 s, and cannot place the order twice
/// (§4.2 of docs/PROTOCOL.md).
pub async fn checkout(
    token: &str,
    request: &CheckoutRequest,
    key: &str,
) -> Result<Order, RequestError> {
    let mut attempt = 0;
    loop {
        let sent = send_with(
            "POST",
            "/api/orders",
            Some(token),
            Some(request.to_json(js_number)),
            &[("Idempotency-Key", key)],
        )
        .await;
        match sent {
            Ok(text) => return decode(&text),
            Err(error) if attempt < CHECKOUT_RETRIES.len() && error.is_retryable() => {
                crate::time::sleep(CHECKOUT_RETRIES[attempt]).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The pauses before each retry of a checkout, in ms.
const CHECKOUT_RETRIES: [u32; 3] = [500, 1_000, 2_000];

/// A fresh key: 32 hex digits. Keys are scoped to their user by the relay,
/// so they only need to be unique, not secret.
pub fn idempotency_key() -> String {
    (0..4)
        .map(|_| {
            format!(
                "{:08x}",
                (crate::time::random() * f64::from(u32::MAX)) as u32
            )
        })
        .collect()
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// client/js/tabs.js: SHA-256 in hex, '' without Web Crypto.
    #[wasm_bindgen(catch, js_namespace = orderRelay, js_name = sha256)]
    fn sha256(text: &str) -> Result<js_sys::Promise, JsValue>;
}

/// The id the relay will give the order of `user_id`'s checkout under
/// `key` (§4.2): known before the request is sent, so the page can show
/// the order at once and its event replaces it. `None` where the page
/// cannot hash (no Web Crypto, no tabs.js).
pub async fn keyed_order_id(user_id: &str, key: &str) -> Option<String> {
    let input = protocol::checkout::keyed_id_input(user_id, key);
    let digest = JsFuture::from(sha256(&input).ok()?).await.ok()?;
    protocol::checkout::keyed_id_from_digest(&digest.as_string()?)
}

/// Whether the relay answers 401 to this token (`GET /api/orders`). Only
/// asked after a socket failed to open, since a browser is not told why.
pub async fn token_rejected(token: &str) -> bool {
    matches!(send("GET", "/api/orders", Some(token), None).await, Err(e) if e.is_auth())
}
