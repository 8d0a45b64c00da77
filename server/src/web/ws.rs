//! The WebSocket endpoint (§3 of the contract): `GET /ws?auth=message`,
//! whose first frame is `auth` with the token (kept out of URLs and the
//! logs that record them), or `GET /ws?token=<JWT>` (the contract's form,
//! which `--ws-query-token false` turns off).
//!
//! Here the link is authenticated and upgraded; the connection itself is
//! [`super::session`]'s, over the socket as a [`Peer`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use protocol::frames::close;
use protocol::ErrorCode;
use protocol::{ClientEvent, ServerEvent};
use tokio::time::Instant;

use crate::core::delivery::Frame;
use crate::core::limits::CapReached;
use crate::core::viewer::User;
use crate::fanout::queue::Drained;
use crate::web::access::ClientAddr;
use crate::web::auth::AuthError;
use crate::web::context::AppState;
use crate::web::http::error::AppError;
use crate::web::session::{
    cap_refusal, connection, error_frame, not_open, Heard, Peer, SEND_TIMEOUT,
};

/// Per-connection socket buffers (see `endpoint`).
const READ_BUFFER: usize = 256;
const WRITE_BUFFER: usize = 16 * 1024;

/// How long a socket opened with `?auth=message` has to send its `auth`
/// frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// How a socket carries its token.
enum Credentials {
    /// `?token=`: verified before the upgrade.
    Query(String),
    /// `?auth=message`: the first frame, after the upgrade.
    FirstFrame,
}

/// Authenticates, then upgrades. With `?token=`: no token, or a bad one,
/// is a 401 and no upgrade. With `?auth=message`: the upgrade comes first
/// and the `auth` frame must follow within [`AUTH_TIMEOUT`]; a bad one is
/// an `error` frame and a 4003 close. A draining relay refuses every
/// upgrade first (503), so a proxy retries it on another relay whatever the
/// token.
pub async fn endpoint(
    State(app): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    client: Option<Extension<ClientAddr>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let client = client.map(|Extension(ClientAddr(ip))| ip);
    // A draining relay refuses every upgrade first (503), so a proxy
    // retries it on another relay whatever the token; a starting one is
    // waited for, one that cannot reach Kafka says why.
    if let Some((code, message)) = not_open(&app).await {
        return AppError::new(code, message).into_response();
    }
    let credentials = match (query.get("token"), query.get("auth").map(String::as_str)) {
        (Some(_), _) if !app.config.auth.ws_query_token => {
            app.metrics.auth_failures.inc();
            return AppError::new(
                ErrorCode::InvalidToken,
                "tokens in the URL are turned off on this relay (--ws-query-token false): open /ws?auth=message and send {\"event\":\"auth\",\"data\":{\"token\":\"<JWT>\"}} first",
            )
            .into_response();
        }
        (Some(token), _) => Credentials::Query(token.clone()),
        (None, Some("message")) => Credentials::FirstFrame,
        (None, _) => Credentials::Query(String::new()),
    };
    let upgrade = match credentials {
        Credentials::Query(token) => {
            let user = match app.auth.verify(&token).await {
                Ok(user) => user,
                Err(e) => {
                    app.metrics.auth_failures.inc();
                    return AppError::from(e).into_response();
                }
            };
            let upgrade = match upgrade {
                Ok(upgrade) => upgrade,
                Err(rejection) => return rejection.into_response(),
            };
            // Refused before the upgrade, so the client sees a status it can act on.
            let slot = match app.connections.acquire(&user.id) {
                Ok(slot) => slot,
                Err(refused) => {
                    let (status, message) = cap_refusal(&app, refused);
                    let mut response = AppError::new(ErrorCode::TooManyConnections, message)
                        .with_status(status)
                        .into_response();
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    return response;
                }
            };
            configure(upgrade, &app)
                .on_upgrade(move |socket| connection(socket, user, client, app, slot))
        }
        Credentials::FirstFrame => {
            let upgrade = match upgrade {
                Ok(upgrade) => upgrade,
                Err(rejection) => return rejection.into_response(),
            };
            // Whose socket it is comes later; a full relay says so now.
            if app.connections.total_full() {
                let (status, message) = cap_refusal(&app, CapReached::Total);
                return AppError::new(ErrorCode::TooManyConnections, message)
                    .with_status(status)
                    .into_response();
            }
            configure(upgrade, &app).on_upgrade(move |socket| async move {
                let Some((socket, user)) = Box::pin(authenticate(socket, &app)).await else {
                    return;
                };
                match app.connections.acquire(&user.id) {
                    // A task of its own: this one's state is not kept with it.
                    Ok(slot) => drop(tokio::spawn(connection(socket, user, client, app, slot))),
                    Err(refused) => {
                        let (_, message) = cap_refusal(&app, refused);
                        refuse(
                            socket,
                            ErrorCode::TooManyConnections,
                            &message,
                            close::TRY_AGAIN_LATER,
                            "too many connections",
                        )
                        .await;
                    }
                }
            })
        }
    };
    upgrade
}

/// Reads the `auth` first frame of a `?auth=message` socket and verifies
/// its token. `None` when the socket was refused (an `error` frame, then a
/// 4003 close; 1013 when the provider's keys are unavailable) or is gone.
async fn authenticate(mut socket: WebSocket, app: &AppState) -> Option<(WebSocket, User)> {
    let deadline = Instant::now() + AUTH_TIMEOUT;
    let refusal = loop {
        let message = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => break AuthError::Missing,
            Ok(Some(Ok(message))) => message,
            Ok(_) => return None,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Binary(_) => {
                break AuthError::Invalid("binary frame: send the `auth` frame as JSON text".into())
            }
            Message::Close(_) => return None,
        };
        if text.len() > app.config.max_frame_bytes {
            break AuthError::Invalid(format!(
                "the `auth` frame is over the {}-byte limit",
                app.config.max_frame_bytes
            ));
        }
        match ClientEvent::from_json(&text) {
            Ok(ClientEvent::Auth { token }) => match app.auth.verify(&token).await {
                Ok(user) => return Some((socket, user)),
                Err(e) => break e,
            },
            // A heartbeat before the token is harmless: answered.
            Ok(ClientEvent::Ping) => {
                if Box::pin(send(&mut socket, ServerEvent::Pong.to_json().into())).await.is_err() {
                    return None;
                }
            }
            Ok(other) => break AuthError::Invalid(format!("`{}` before `auth`: a socket opened with ?auth=message must send {{\"event\":\"auth\",\"data\":{{\"token\":\"<JWT>\"}}}} first", other.name())),
            Err(e) => break AuthError::Invalid(e.to_string()),
        }
    };
    app.metrics.auth_failures.inc();
    let (code, reason) = match &refusal {
        AuthError::KeysUnavailable(_) => (close::TRY_AGAIN_LATER, "identity provider unavailable"),
        other => (close::UNAUTHORIZED, other.code().as_str()),
    };
    let message = match &refusal {
        AuthError::Missing => format!("no `auth` frame within {} s", AUTH_TIMEOUT.as_secs()),
        other => other.to_string(),
    };
    tracing::debug!(%message, "socket refused before authenticating");
    refuse(socket, refusal.code(), &message, code, reason).await;
    None
}

/// Tells a socket why it is refused (an `error` frame), then closes it.
async fn refuse(
    mut socket: WebSocket,
    code: ErrorCode,
    message: &str,
    close_code: u16,
    reason: &'static str,
) {
    if Box::pin(send(&mut socket, error_frame(code, message).into()))
        .await
        .is_ok()
    {
        let frame = CloseFrame {
            code: close_code,
            reason: reason.into(),
        };
        let _ = Box::pin(timed(socket.send(Message::Close(Some(frame))))).await;
    }
}

/// The socket's limits and buffers.
fn configure(upgrade: WebSocketUpgrade, app: &AppState) -> WebSocketUpgrade {
    // Frames a little over the limit still reach us, so the client gets an
    // `error` frame for them; far bigger ones are cut at the protocol level.
    let hard_limit = app.config.max_frame_bytes.saturating_mul(4);
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        // The default buffers (128 KiB each, the read one allocated up front)
        // would cost far more than everything else a connection holds. Client
        // frames are small (a bigger one, such as an `auth:refresh`, is read
        // in two or three chunks); outgoing batches are written out at 16 KiB.
        // What each size cost per idle connection: docs/BENCHMARKS.md.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(hard_limit.max(WRITE_BUFFER) * 64)
}

async fn timed<T, E>(future: impl std::future::Future<Output = Result<T, E>>) -> Result<T, ()> {
    match tokio::time::timeout(SEND_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        _ => Err(()),
    }
}

async fn send(socket: &mut WebSocket, frame: Utf8Bytes) -> Result<(), ()> {
    timed(socket.send(Message::Text(frame))).await
}

/// A queued frame as axum's text type: no copy; the check cannot fail, a
/// `Frame` is made from strings only.
fn text(frame: Frame) -> Utf8Bytes {
    Utf8Bytes::try_from(frame.into_bytes()).unwrap_or_default()
}

/// `/ws`'s link: axum's WebSocket.
impl Peer for WebSocket {
    const PINGS: bool = true;

    async fn send(&mut self, frame: Utf8Bytes) -> Result<(), ()> {
        send(self, frame).await
    }

    async fn send_batch(&mut self, drained: &mut Drained) -> Result<(), ()> {
        use futures_util::SinkExt;
        // Feed the whole batch, then flush once: one syscall for a replay, not
        // one per event. One timeout for the batch, not one timer per frame.
        timed(async {
            for frame in drained.take_frames() {
                self.feed(Message::Text(text(frame))).await?;
            }
            self.flush().await
        })
        .await
    }

    async fn recv(&mut self) -> Heard {
        match WebSocket::recv(self).await {
            Some(Ok(Message::Text(text))) => Heard::Text(text),
            Some(Ok(Message::Binary(_))) => Heard::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Heard::Alive,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Heard::Gone,
        }
    }

    async fn ping(&mut self) -> Result<(), ()> {
        timed(WebSocket::send(self, Message::Ping(Default::default()))).await
    }

    async fn close(mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = timed(WebSocket::send(&mut self, Message::Close(Some(frame)))).await;
    }
}
