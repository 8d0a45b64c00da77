//! WebSocket frames (§3 of the contract): text frames, each one JSON object
//! `{"event": <name>, "data": <object>}`; order events also carry `"cursor"`.
//!
//! One closed enum per direction. [`ServerEvent::to_json`] and
//! [`ClientEvent::from_json`] / [`ServerEvent::from_json`] are the only
//! encoders and decoders of frames in the system.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::ErrorCode;
use crate::kafka::{OrderCancellation, OrderEvent, OrderUpdate};
use crate::order::{Notification, Order, Role};
use crate::report::{ClockAnswer, ClockSync, DeliveryReport};

const CLOCK_SYNC: &str = "clock:sync";
const DELIVERY_REPORT: &str = "delivery:report";

/// WebSocket close codes the relay uses (4000–4999 are the application's).
pub mod close {
    /// The connection's token expired and no valid `auth:refresh` came in time.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// The client read too slowly and its queue overflowed: reconnect and
    /// resume from your last cursor.
    pub const RESYNC: u16 = 4002;
    /// Repeated bad frames (policy violation).
    pub const POLICY: u16 = 1008;
    /// The relay is shutting down: reconnect (to another node) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A socket opened with `?auth=message` did not authenticate: its first
    /// frame was not an `auth` with a valid token, or none came in time. The
    /// reason is the error code (`missing_token`, `invalid_token`,
    /// `token_expired`); an `error` frame with the details comes first.
    /// Reconnecting with the same token is pointless.
    pub const UNAUTHORIZED: u16 = 4003;
    /// The relay holds as many connections as it may (all of them, or this
    /// user's): retry later (the standard "try again later").
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// `connection:success` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub user_id: String,
    pub socket_id: String,
    pub role: Role,
    /// How long this relay lets a connection stay silent (three ping
    /// intervals), in ms: a client that hears nothing for this long should
    /// take the link as dead (§3.6 of docs/PROTOCOL.md). Absent from older
    /// relays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u32>,
}

/// `server:draining` data: the relay is about to stop (SIGTERM). It keeps
/// delivering on this socket for `reconnect_within_ms`, then closes it with
/// 1001; new connections already go to another relay. A client opens a new
/// socket now, subscribes with its last cursor, and drops this one once that
/// subscribe is sent (§3.5 of docs/PROTOCOL.md).
///
/// `{"reconnectWithinMs": n}`, kept as it came and read only when asked
/// ([`Draining::reconnect_within_ms`]): a browser acts on the event alone,
/// and its bundle need not carry a decoder for the rest.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Draining(Box<RawValue>);

impl Draining {
    pub fn new(reconnect_within_ms: u32) -> Draining {
        let json = format!(r#"{{"reconnectWithinMs":{reconnect_within_ms}}}"#);
        Draining(RawValue::from_string(json).expect("a number is JSON"))
    }

    /// How long the socket still delivers, in ms; `None` when the relay did
    /// not say.
    pub fn reconnect_within_ms(&self) -> Option<u32> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            reconnect_within_ms: u32,
        }
        let data: Data = serde_json::from_str(self.0.get()).ok()?;
        Some(data.reconnect_within_ms)
    }
}

impl PartialEq for Draining {
    fn eq(&self, other: &Draining) -> bool {
        self.0.get() == other.0.get()
    }
}

/// `orders:snapshot` data, and the body of `GET /api/orders`.
///
/// A snapshot bigger than a frame should be is sent in parts (see
/// [`snapshot_frames`]): every part but the last has `more: true`, and the
/// client shows the orders of all parts together once the last arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdersSnapshot {
    pub orders: Vec<Order>,
    pub cursor: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

impl OrdersSnapshot {
    /// A whole snapshot, in one part.
    pub fn new(orders: Vec<Order>, cursor: String) -> OrdersSnapshot {
        OrdersSnapshot {
            orders,
            cursor,
            more: false,
        }
    }
}

/// Joins the parts of a snapshot sent in parts, so that a client applies the
/// whole snapshot at once and never shows a half state. One per connection:
/// a new connection starts a new snapshot.
#[derive(Debug, Default)]
pub struct SnapshotParts {
    orders: Vec<Order>,
}

impl SnapshotParts {
    /// Adds one `orders:snapshot` frame's data: the whole snapshot once this
    /// was its last part (`more` unset), else `None`.
    pub fn add(&mut self, part: OrdersSnapshot) -> Option<OrdersSnapshot> {
        self.orders.extend(part.orders);
        (!part.more).then(|| OrdersSnapshot::new(std::mem::take(&mut self.orders), part.cursor))
    }
}

/// The `orders:snapshot` frames for `orders` at `cursor`: one frame when the
/// orders fit in `part_bytes`, else parts of at most `part_bytes` of orders
/// each (an order bigger than that gets a part of its own), in order, every
/// part but the last marked `more: true`. No orders is one empty part.
pub fn snapshot_frames(orders: &[Order], cursor: &str, part_bytes: usize) -> Vec<String> {
    let encoded: Vec<String> = orders
        .iter()
        .map(|o| serde_json::to_string(o).expect("orders always serialise"))
        .collect();
    let mut parts: Vec<&[String]> = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, order) in encoded.iter().enumerate() {
        if i > start && size + order.len() + 1 > part_bytes {
            parts.push(&encoded[start..i]);
            (start, size) = (i, 0);
        }
        size += order.len() + 1;
    }
    parts.push(&encoded[start..]);
    let cursor = serde_json::to_string(cursor).expect("strings always serialise");
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let more = if i < last { r#","more":true"# } else { "" };
            format!(
                r#"{{"event":"orders:snapshot","data":{{"orders":[{}],"cursor":{cursor}{more}}}}}"#,
                part.join(",")
            )
        })
        .collect()
}

/// `{code, message}`: the `error` frame data and the inner HTTP error body.
/// The relay only sends codes of [`ErrorCode`]; `code` stays a string so a
/// client reads a code it does not know yet (`ErrorCode::parse` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }
}

/// Everything the relay sends to a browser.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    ConnectionSuccess(ConnectionInfo),
    OrdersSnapshot(OrdersSnapshot),
    /// `order:created`, `order:updated` or `order:cancelled`, with the cursor
    /// that resumes right after this event.
    Order {
        event: OrderEvent,
        cursor: String,
    },
    Notification(Notification),
    Error(ErrorBody),
    /// The answer to a client's `ping`: proof, visible to browser code, that
    /// the relay is there (WebSocket pings are not).
    Pong,
    /// `server:draining`: move to another relay now (see [`Draining`]).
    Draining(Draining),
    /// `clock:sync`: the answer to the browser's, with the relay's clock.
    ClockSync(ClockAnswer),
}

/// Everything a browser may send to the relay.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    SubscribeOrders {
        cursor: Option<String>,
    },
    AuthRefresh {
        token: String,
    },
    /// The first frame of a socket opened with `?auth=message`: the token
    /// travels inside the connection, never in a URL a proxy logs. On an
    /// authenticated connection it means what `auth:refresh` means.
    Auth {
        token: String,
    },
    /// An application-level heartbeat: the relay answers `pong`. A client
    /// sends it when it has heard nothing for a while (docs/PROTOCOL.md §3.6).
    Ping,
    /// `clock:sync`: the browser's clock; the relay answers with its own.
    ClockSync(ClockSync),
    /// `delivery:report`: what this browser measured (see [`DeliveryReport`]).
    DeliveryReport(DeliveryReport),
}

/// Why a frame could not be read. The relay answers each with an `error`
/// frame carrying [`FrameError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not a JSON object with an `event` name: {0}")]
    NotJson(String),
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
    #[error("bad data for `{event}`: {message}")]
    InvalidData { event: String, message: String },
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::NotJson(_) => ErrorCode::BadJson,
            FrameError::UnknownEvent(_) => ErrorCode::UnknownEvent,
            FrameError::InvalidData { .. } => ErrorCode::InvalidData,
        }
    }
}

#[derive(Serialize)]
struct Frame<'a, T> {
    event: &'a str,
    data: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(rename = "sentAt", skip_serializing_if = "Option::is_none")]
    sent_at: Option<i64>,
}

fn frame<T: Serialize>(event: &str, data: &T, cursor: Option<&str>) -> String {
    timed_frame(event, data, cursor, None)
}

fn timed_frame<T: Serialize>(
    event: &str,
    data: &T,
    cursor: Option<&str>,
    sent_at: Option<i64>,
) -> String {
    serde_json::to_string(&Frame {
        event,
        data,
        cursor,
        sent_at,
    })
    .expect("frames always serialise")
}

/// Encodes an order event frame without taking ownership of the event: the
/// relay encodes each event once and sends the same bytes to every recipient.
pub fn order_frame(event: &OrderEvent, cursor: &str) -> String {
    live_order_frame(event, cursor, None)
}

/// An order event frame as the relay sends it live: `sentAt` is the
/// relay's clock (ms since the epoch) when it fanned the event out, for the
/// browser's delivery report. Replays carry none: their time is the
/// resume's, not the event's.
pub fn live_order_frame(event: &OrderEvent, cursor: &str, sent_at: Option<i64>) -> String {
    let name = event.frame_name();
    match event {
        OrderEvent::Created(order) => timed_frame(name, order, Some(cursor), sent_at),
        OrderEvent::Updated(update) => timed_frame(name, update, Some(cursor), sent_at),
        OrderEvent::Cancelled(cancel) => timed_frame(name, cancel, Some(cursor), sent_at),
    }
}

/// Encodes a notification frame.
pub fn notification_frame(notification: &Notification) -> String {
    frame("notification", notification, None)
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    event: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(rename = "sentAt", default)]
    sent_at: Option<u64>,
}

fn raw(text: &str) -> Result<RawFrame<'_>, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError::NotJson(json_error(&e)))
}

fn data<'a, T: Deserialize<'a>>(event: &str, data: Option<&'a RawValue>) -> Result<T, FrameError> {
    let invalid = |message: String| FrameError::InvalidData {
        event: event.to_owned(),
        message,
    };
    let data = data.ok_or_else(|| invalid("missing `data`".into()))?;
    serde_json::from_str(data.get()).map_err(|e| invalid(json_error(&e)))
}

impl ServerEvent {
    /// The wire name of this frame.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::ConnectionSuccess(_) => "connection:success",
            ServerEvent::OrdersSnapshot(_) => "orders:snapshot",
            ServerEvent::Order { event, .. } => event.frame_name(),
            ServerEvent::Notification(_) => "notification",
            ServerEvent::Error(_) => "error",
            ServerEvent::Pong => "pong",
            ServerEvent::Draining(_) => "server:draining",
            ServerEvent::ClockSync(_) => CLOCK_SYNC,
        }
    }

    pub fn to_json(&self) -> String {
        let name = self.name();
        match self {
            ServerEvent::ConnectionSuccess(info) => frame(name, info, None),
            ServerEvent::OrdersSnapshot(snapshot) => frame(name, snapshot, None),
            ServerEvent::Order { event, cursor } => order_frame(event, cursor),
            ServerEvent::Notification(n) => notification_frame(n),
            ServerEvent::Error(body) => frame(name, body, None),
            ServerEvent::Pong => frame(name, &Empty {}, None),
            ServerEvent::Draining(data) => frame(name, data, None),
            ServerEvent::ClockSync(data) => frame(name, data, None),
        }
    }

    pub fn from_json(text: &str) -> Result<ServerEvent, FrameError> {
        ServerEvent::from_json_timed(text).map(|(event, _)| event)
    }

    /// Decodes a frame with its `sentAt` (a live order event's), if any.
    pub fn from_json_timed(text: &str) -> Result<(ServerEvent, Option<u64>), FrameError> {
        let raw = raw(text)?;
        let sent_at = raw.sent_at;
        ServerEvent::from_raw(raw).map(|event| (event, sent_at))
    }

    fn from_raw(raw: RawFrame<'_>) -> Result<ServerEvent, FrameError> {
        let name = raw.event.as_str();
        let order = |event: OrderEvent| -> Result<ServerEvent, FrameError> {
            let cursor = raw.cursor.clone().ok_or_else(|| FrameError::InvalidData {
                event: name.to_owned(),
                message: "order events carry a `cursor`".into(),
            })?;
            Ok(ServerEvent::Order { event, cursor })
        };
        match name {
            "connection:success" => Ok(ServerEvent::ConnectionSuccess(data(name, raw.data)?)),
            "orders:snapshot" => Ok(ServerEvent::OrdersSnapshot(data(name, raw.data)?)),
            "order:created" => order(OrderEvent::Created(data::<Order>(name, raw.data)?)),
            "order:updated" => order(OrderEvent::Updated(data::<OrderUpdate>(name, raw.data)?)),
            "order:cancelled" => order(OrderEvent::Cancelled(data::<OrderCancellation>(
                name, raw.data,
            )?)),
            "notification" => Ok(ServerEvent::Notification(data(name, raw.data)?)),
            "error" => Ok(ServerEvent::Error(data(name, raw.data)?)),
            "pong" => Ok(ServerEvent::Pong),
            "server:draining" => Ok(ServerEvent::Draining(Draining(
                raw.data.unwrap_or(RawValue::NULL).to_owned(),
            ))),
            CLOCK_SYNC => Ok(ServerEvent::ClockSync(data(name, raw.data)?)),
            other => Err(FrameError::UnknownEvent(other.to_owned())),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SubscribeData {
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RefreshData {
    token: String,
}

/// The `data` of frames that carry nothing.
#[derive(Serialize)]
struct Empty {}

/// What is wrong with a JSON text, for an error message: serde's whole
/// description, except in the browser's release bundle, which says only
/// where (line and column). There serde's descriptions would bring their
/// texts and a float printer (~4 KB gzip) to a page that shows them to
/// nobody but a console; the relay, the tests and debug builds keep them.
pub fn json_error(error: &serde_json::Error) -> String {
    if cfg!(all(target_arch = "wasm32", not(debug_assertions))) {
        format!(
            "invalid JSON at line {}, column {}",
            error.line(),
            error.column()
        )
    } else {
        error.to_string()
    }
}

/// `text` as a JSON string, quoted and escaped: for JSON written by hand.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::SubscribeOrders { .. } => "subscribe:orders",
            ClientEvent::AuthRefresh { .. } => "auth:refresh",
            ClientEvent::Auth { .. } => "auth",
            ClientEvent::Ping => "ping",
            ClientEvent::ClockSync(_) => CLOCK_SYNC,
            ClientEvent::DeliveryReport(_) => DELIVERY_REPORT,
        }
    }

    /// Every client frame is written by hand: a browser's bundle then
    /// carries no serializer for them, only serde_json's string escaping
    /// (the tests check the text is what serde would write).
    pub fn to_json(&self) -> String {
        let name = self.name();
        match self {
            ClientEvent::SubscribeOrders { cursor } => {
                let cursor = cursor.as_deref().map_or_else(|| "null".into(), json_string);
                format!(r#"{{"event":"{name}","data":{{"cursor":{cursor}}}}}"#)
            }
            ClientEvent::AuthRefresh { token } | ClientEvent::Auth { token } => {
                let token = json_string(token);
                format!(r#"{{"event":"{name}","data":{{"token":{token}}}}}"#)
            }
            ClientEvent::Ping => format!(r#"{{"event":"{name}","data":{{}}}}"#),
            ClientEvent::ClockSync(data) => {
                format!(r#"{{"event":"{name}","data":{{"sent":{}}}}}"#, data.sent)
            }
            ClientEvent::DeliveryReport(report) => report.frame(name),
        }
    }

    pub fn from_json(text: &str) -> Result<ClientEvent, FrameError> {
        let raw = raw(text)?;
        let name = raw.event.as_str();
        match name {
            // `data` may be omitted: the seed's client emitted a bare
            // `subscribe:orders`, which means "no cursor".
            "subscribe:orders" => {
                let cursor = match raw.data {
                    Some(_) => data::<SubscribeData>(name, raw.data)?.cursor,
                    None => None,
                };
                Ok(ClientEvent::SubscribeOrders { cursor })
            }
            "auth:refresh" => Ok(ClientEvent::AuthRefresh {
                token: data::<RefreshData>(name, raw.data)?.token,
            }),
            "auth" => Ok(ClientEvent::Auth {
                token: data::<RefreshData>(name, raw.data)?.token,
            }),
            // Any `data` (or none) is fine: a ping carries nothing.
            "ping" => Ok(ClientEvent::Ping),
            CLOCK_SYNC => Ok(ClientEvent::ClockSync(data(name, raw.data)?)),
            DELIVERY_REPORT => Ok(ClientEvent::DeliveryReport(data(name, raw.data)?)),
            other => Err(FrameError::UnknownEvent(other.to_owned())),
        }
    }
}

/// The Socket.IO endpoint's own words (docs/PROTOCOL.md §3.12), beside
/// the frames both links carry.
pub mod socketio {
    use serde::{Deserialize, Serialize};

    /// The event that stands for a close code, which Socket.IO lacks.
    pub const SERVER_CLOSE: &str = "server:close";

    /// `server:close`'s data: the code `/ws` would have closed with (§3.5)
    /// and its reason.
    #[derive(Debug, Serialize)]
    pub struct CloseNotice<'a> {
        pub code: u16,
        pub reason: &'a str,
    }

    /// The CONNECT packet's `auth`: the token, and the last cursor applied
    /// (the subscription starts from it).
    #[derive(Debug, Default, Deserialize)]
    pub struct Auth {
        pub token: Option<String>,
        pub cursor: Option<String>,
    }
}

/// A server frame taken apart, for a link with its own framing (the
/// relay's Socket.IO endpoint: the event `event` with the arguments `data`,
/// `cursor`). `data` is the frame's text, not parsed again.
#[derive(Debug, Deserialize)]
pub struct FrameParts<'a> {
    #[serde(borrow)]
    pub event: &'a str,
    #[serde(borrow)]
    pub data: Option<&'a RawValue>,
    #[serde(borrow)]
    pub cursor: Option<&'a str>,
}

impl<'a> FrameParts<'a> {
    /// `None` if `frame` is not a frame (`{"event": …}` JSON).
    pub fn of(frame: &'a str) -> Option<FrameParts<'a>> {
        serde_json::from_str(frame).ok()
    }
}

/// The client frame `{"event": event, "data": data}` of an event that came
/// in another framing (a Socket.IO client's `emit(event, data)`), for
/// [`ClientEvent::from_json`].
pub fn client_frame(event: &str, data: &serde_json::Value) -> String {
    serde_json::json!({ "event": event, "data": data }).to_string()
}

#[cfg(test)]
mod tests;
