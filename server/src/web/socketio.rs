//! The Socket.IO v4 endpoint (`/socket.io/`, on the relay's own port), so an
//! app written for the seed's Node service connects unchanged:
//! `io(url, { auth: { token } })`, then `emit('subscribe:orders')`.
//!
//! Engine.IO and Socket.IO themselves (the handshake, WebSocket and HTTP
//! long-polling, the upgrade between them, Engine.IO's heartbeat) are
//! socketioxide's. This module only admits a socket (the same token, drain,
//! readiness and connection caps as `/ws`) and then runs the very session
//! `/ws` runs ([`super::session`]) over it, as a [`Peer`]: a frame
//! `{"event": e, "data": d, "cursor": c}` goes out as the Socket.IO event
//! `e` with the arguments `d, c` (the cursor last, as Socket.IO's own
//! recovery offsets are), and an event `e` with the argument `d` comes in as
//! the frame `{"event": e, "data": d}`. One event model, two framings.
//!
//! A Socket.IO server decides what a socket receives when it connects, and
//! the seed's client relies on it: after an automatic reconnect it does not
//! subscribe again. So a socket here is subscribed to its orders at once,
//! from the `cursor` in its `auth` (a replay of what it missed; none: a
//! snapshot), and the seed's bare `emit('subscribe:orders')` after it is
//! taken as said. socketioxide has no Socket.IO connection state recovery
//! (its CONNECT reply carries no `pid`), so the cursor is the recovery: a
//! client keeps the last argument of each order event and sends it back in
//! `auth` when it reconnects, to this relay or another, before or after a
//! restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use protocol::frames::socketio::{Auth, CloseNotice, SERVER_CLOSE};
use protocol::frames::{client_frame, FrameParts};
use serde_json::value::RawValue;
use serde_json::Value;
use socketioxide::extract::{Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::DisconnectReason;
use socketioxide::{SendError, SocketError, SocketIo};
use tokio::sync::mpsc;

use crate::core::limits::Slot;
use crate::core::viewer::User;
use crate::fanout::queue::Drained;
use crate::web::access::ClientAddr;
use crate::web::context::AppState;
use crate::web::session::{cap_refusal, connection, not_open, Heard, Peer, SEND_TIMEOUT};

/// Packets socketioxide buffers per socket before an emit is refused. Kept
/// small: a client that stops reading holds at most this many encoded
/// events here (besides its socket buffers), and the session's own queue
/// (bounded, §3.9) holds and collapses the rest, as for `/ws`.
const BUFFER: usize = 32;

/// The WebSocket read buffer per socket (as `/ws`'s).
const READ_BUFFER: usize = 256;

/// Client events waiting for the session: more are dropped (the session's
/// rate limit would drop them anyway).
const INCOMING: usize = 32;

/// The layer that answers `/socket.io/` (every other path passes through).
pub(crate) fn layer(app: Arc<AppState>) -> SocketIoLayer {
    let interval = app.config.ping_interval();
    // As for `/ws`: a client event a little over the limit still arrives
    // (and gets an `error`), a far bigger one is cut by the transport.
    let hard_limit = app.config.max_frame_bytes.saturating_mul(4);
    let (layer, io) = SocketIo::builder()
        .ping_interval(interval)
        .ping_timeout(interval * 2)
        .max_buffer_size(BUFFER)
        // A snapshot part is at most 1 MiB of orders (§3.2).
        .max_payload(4 << 20)
        .ws_max_message_size(hard_limit)
        .ws_max_frame_size(hard_limit)
        // Client events are small; the default 4 KiB read buffer per socket
        // would cost more than the rest of an idle connection.
        .ws_read_buffer_size(READ_BUFFER)
        .build_layer();
    let admit_app = Arc::clone(&app);
    let admit = move |socket: SocketRef, TryData(auth): TryData<Auth>| {
        let app = Arc::clone(&admit_app);
        async move { admit(&socket, auth.ok(), &app).await }
    };
    let connected = move |socket: SocketRef| {
        let app = Arc::clone(&app);
        async move { start(socket, app) }
    };
    io.ns("/", connected.with(admit));
    layer
}

/// What the admission hands to the connection: taken once.
#[derive(Clone)]
struct Admitted(Arc<Mutex<Option<Admission>>>);

struct Admission {
    user: User,
    slot: Slot,
    cursor: Option<String>,
}

/// Admits a socket, as `/ws` admits an upgrade. A refusal is the client's
/// `connect_error`, whose message starts with the error code (§3.4):
/// `invalid_token: …`.
async fn admit(socket: &SocketRef, auth: Option<Auth>, app: &AppState) -> Result<(), String> {
    let refuse =
        |code: protocol::ErrorCode, message: &str| Err(format!("{}: {message}", code.as_str()));
    if let Some((code, message)) = not_open(app).await {
        return refuse(code, &message);
    }
    let (token, cursor) = auth.map_or((None, None), |a| (a.token, a.cursor));
    let token = token.unwrap_or_default();
    let user = match app.auth.verify(&token).await {
        Ok(user) => user,
        Err(e) => {
            app.metrics.auth_failures.inc();
            return refuse(e.code(), &e.to_string());
        }
    };
    let slot = match app.connections.acquire(&user.id) {
        Ok(slot) => slot,
        Err(refused) => {
            let (_, message) = cap_refusal(app, refused);
            return refuse(protocol::ErrorCode::TooManyConnections, &message);
        }
    };
    socket
        .extensions
        .insert(Admitted(Arc::new(Mutex::new(Some(Admission {
            user,
            slot,
            cursor,
        })))));
    Ok(())
}

/// Runs the session of an admitted socket on a task of its own.
fn start(socket: SocketRef, app: Arc<AppState>) {
    let Some(admitted) = socket.extensions.remove::<Admitted>() else {
        return;
    };
    let Some(Admission { user, slot, cursor }) = admitted.0.lock().ok().and_then(|mut a| a.take())
    else {
        return;
    };
    let client = socket
        .req_parts()
        .extensions
        .get::<ClientAddr>()
        .map(|ClientAddr(ip)| *ip);
    let (sender, incoming) = mpsc::channel(INCOMING);
    // Subscribed at once: the session's first client frame.
    let subscribe = protocol::ClientEvent::SubscribeOrders { cursor }.to_json();
    let _ = sender.try_send(Heard::Text(subscribe.into()));
    let heard = sender.clone();
    socket.on_fallback(move |Event(event): Event, TryData(data): TryData<Value>| {
        let heard = heard.clone();
        async move {
            let data = data.unwrap_or(Value::Null);
            // The seed's bare `subscribe:orders`: done at connect.
            if event == "subscribe:orders" && data.is_null() {
                return;
            }
            // Full: the client floods; dropped like frames over the rate.
            let _ = heard.try_send(Heard::Text(client_frame(&event, &data).into()));
        }
    });
    socket.on_disconnect(move |_: DisconnectReason| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(Heard::Gone).await;
        }
    });
    let peer = SocketIoPeer { socket, incoming };
    drop(tokio::spawn(connection(peer, user, client, app, slot)));
}

/// A Socket.IO socket as the session's link.
struct SocketIoPeer {
    socket: SocketRef,
    incoming: mpsc::Receiver<Heard>,
}

impl SocketIoPeer {
    /// Emits one frame; waits while socketioxide's buffer is full (the
    /// session's queue holds and bounds what waits), at most
    /// [`SEND_TIMEOUT`].
    async fn emit(&self, frame: &str) -> Result<(), ()> {
        let Some(out) = FrameParts::of(frame) else {
            tracing::error!(frame, "a frame the relay made is not JSON: not sent");
            return Ok(());
        };
        let data = out.data.unwrap_or(RawValue::NULL);
        let deadline = tokio::time::Instant::now() + SEND_TIMEOUT;
        loop {
            let sent = match out.cursor {
                Some(cursor) => self.socket.emit(out.event, &(data, cursor)),
                None => self.socket.emit(out.event, data),
            };
            match sent {
                Ok(()) => return Ok(()),
                Err(SendError::Socket(SocketError::InternalChannelFull))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(_) => return Err(()),
            }
        }
    }
}

impl Peer for SocketIoPeer {
    /// Engine.IO pings the client and drops a silent one itself.
    const PINGS: bool = false;

    async fn send(&mut self, frame: Utf8Bytes) -> Result<(), ()> {
        self.emit(frame.as_str()).await
    }

    async fn send_batch(&mut self, drained: &mut Drained) -> Result<(), ()> {
        for frame in drained.take_frames() {
            self.emit(frame.as_str()).await?;
        }
        Ok(())
    }

    async fn recv(&mut self) -> Heard {
        self.incoming.recv().await.unwrap_or(Heard::Gone)
    }

    async fn ping(&mut self) -> Result<(), ()> {
        Ok(())
    }

    /// Socket.IO has no close codes: the client gets `server:close` with
    /// the code `/ws` would have closed with (§3.5), then a disconnect.
    async fn close(self, code: u16, reason: &'static str) {
        let _ = self
            .socket
            .emit(SERVER_CLOSE, &CloseNotice { code, reason });
        let _ = self.socket.disconnect();
    }
}

#[cfg(test)]
mod tests {
    use protocol::frames::{client_frame, FrameParts};
    use protocol::ClientEvent;
    use serde_json::json;

    #[test]
    fn a_client_event_becomes_the_frame_ws_would_carry() {
        let text = client_frame("subscribe:orders", &json!({"cursor": "v1.0-0-3"}));
        assert_eq!(
            ClientEvent::from_json(&text).unwrap(),
            ClientEvent::SubscribeOrders {
                cursor: Some("v1.0-0-3".into())
            }
        );
        let text = client_frame("auth:refresh", &json!({"token": "t"}));
        assert!(matches!(
            ClientEvent::from_json(&text),
            Ok(ClientEvent::AuthRefresh { .. })
        ));
        // An event the relay does not take is the same error as on /ws.
        assert!(ClientEvent::from_json(&client_frame("hello", &json!(1))).is_err());
    }

    #[test]
    fn an_outgoing_frame_is_read_without_copying_its_data() {
        let frame = r#"{"event":"order:updated","data":{"orderId":"o1","status":"shipped"},"cursor":"v1.0-0-3","sentAt":5}"#;
        let out = FrameParts::of(frame).unwrap();
        assert_eq!(out.event, "order:updated");
        assert_eq!(
            out.data.unwrap().get(),
            r#"{"orderId":"o1","status":"shipped"}"#
        );
        assert_eq!(out.cursor, Some("v1.0-0-3"));
        assert!(FrameParts::of("not json").is_none());
    }
}
