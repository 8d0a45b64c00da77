//! The WebSocket endpoint (§3 of the contract): `GET /ws?auth=message`,
//! whose first frame is `auth` with the token (kept out of URLs and the
//! logs that record them), or `GET /ws?token=<JWT>` (the contract's form,
//! which `--ws-query-token false` turns off).
//!
//! One task per connection. It forwards what the hub queues for it, answers
//! client frames, pings, and closes the connection when its token expires
//! (4001), when it fell too far behind (4002, resume by cursor), after
//! repeated bad frames (1008), when the client goes silent, or at shutdown
//! (1001). When the relay drains, it tells the client `server:draining` once
//! and keeps delivering until shutdown. It never decides who sees what: that
//! is the hub's routing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use protocol::frames::{close, ConnectionInfo, Draining, ErrorBody};
use protocol::report::ClockAnswer;
use protocol::ErrorCode;
use protocol::{ClientEvent, ServerEvent};
use tokio::time::{sleep_until, Instant};

use crate::core::cursor::Cursor;
use crate::core::delivery::Frame;
use crate::core::limits::{CapReached, FrameRate, Slot};
use crate::core::report::ReportGate;
use crate::core::viewer::User;
use crate::fanout::queue::Drained;
use crate::metrics::{Closed, Metrics, Stage};
use crate::web::access::ClientAddr;
use crate::web::auth::{now_secs, AuthError};
use crate::web::context::AppState;
use crate::web::drain::Drain;
use crate::web::http::error::AppError;

/// A client that sends this many bad frames on one connection is cut off.
const BAD_FRAME_LIMIT: u32 = 20;

/// Per-connection socket buffers (see `endpoint`).
const READ_BUFFER: usize = 256;
const WRITE_BUFFER: usize = 16 * 1024;

/// A send that takes longer than this means the client stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Tokens that live longer than this are treated as living this long: an
/// `exp` near `u64::MAX` must not overflow the timer.
const LONGEST_TOKEN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// When a token that expires at `expires_at` (seconds since the epoch, now
/// being `now_secs`) must close its connection.
fn token_deadline(now: Instant, expires_at: u64, now_secs: u64) -> Instant {
    let left = Duration::from_secs(expires_at.saturating_sub(now_secs)).min(LONGEST_TOKEN);
    now + left
}

/// How long a WebSocket upgrade waits for a starting relay to read Kafka.
const START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

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
    if app.drain.is_draining() {
        return AppError::new(
            ErrorCode::Draining,
            "this relay is draining before it stops: connect again (through the load balancer, to another relay)",
        )
        .into_response();
    }
    // A socket that comes while the relay starts waits for it (as it would
    // have waited for the port); one that comes while it cannot reach Kafka
    // is told why.
    if !app.kafka.started_within(START_PATIENCE).await {
        return AppError::new(
            ErrorCode::NotReady,
            format!(
                "the relay is not reading Kafka yet ({}): retry shortly",
                app.kafka.problem().unwrap_or_else(|| "starting".into())
            ),
        )
        .into_response();
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

/// A connection refused by a cap: its status before an upgrade, and what
/// the client is told.
fn cap_refusal(app: &AppState, refused: CapReached) -> (StatusCode, String) {
    app.metrics.refused(refused);
    match refused {
        CapReached::PerUser => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this user already holds {} connections (--max-connections-per-user): close one or retry later",
                app.config.max_connections_per_user
            ),
        ),
        CapReached::Total => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this relay holds as many connections as it may (--max-connections): retry later or elsewhere".to_owned(),
        ),
    }
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

/// Why the loop ended.
enum End {
    /// The peer is gone; nothing to say.
    Gone,
    /// Close for this reason (its code: [`close_code`]), with this text.
    Close(Closed, &'static str),
}

/// The close code of each way the relay ends a connection.
fn close_code(why: Closed) -> u16 {
    match why {
        Closed::TokenExpired => close::TOKEN_EXPIRED,
        Closed::Resync => close::RESYNC,
        Closed::Policy => close::POLICY,
        Closed::Heartbeat | Closed::Shutdown | Closed::Client => close::GOING_AWAY,
    }
}

/// What a client frame asks for.
enum Step {
    Continue,
    /// A frame to answer with, already encoded.
    Reply(String),
    End(End),
}

/// One connection's task. Its state is what an idle connection costs, so it
/// is kept small (docs/BENCHMARKS.md, "idle"): a plain `async move` block, so
/// the arguments are stored once (an `async fn` stores its arguments and
/// their moved-into locals side by side), and every socket write boxed, so
/// the largest write future does not size the whole task.
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn connection(
    mut socket: WebSocket,
    mut user: User,
    client: Option<IpAddr>,
    app: Arc<AppState>,
    slot: Slot,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let hub = &app.hub;
        let (conn_id, queue) = hub.register(&user);
        app.metrics.connections.inc();
        app.metrics.connections_total.inc();
        tracing::debug!(user = ?user.id, conn = conn_id, ?client, "client connected");

        let interval = app.config.ping_interval();
        let hello = ServerEvent::ConnectionSuccess(ConnectionInfo {
            user_id: user.id.clone(),
            socket_id: format!("s{conn_id}"),
            role: user.role,
            // The silence this relay tolerates (see the ping arm below).
            heartbeat_ms: Some(u32::try_from(interval.as_millis() * 3).unwrap_or(u32::MAX)),
        })
        .to_json();
        let mut shutdown = app.shutdown.clone();
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        let mut last_heard = Instant::now();
        let mut bad_frames = 0u32;
        let mut reports = ReportGate::default();
        let mut rate = FrameRate::new(app.config.client_frames_per_sec, std::time::Instant::now());
        let mut rate_told: Option<Instant> = None;

        let end = if Box::pin(send(&mut socket, hello.into())).await.is_err() {
            End::Gone
        } else {
            // One timer for the token's expiry, moved only by an `auth:refresh`:
            // re-arming a timer on every wake-up would cost more than the frame.
            let deadline = |expires_at: u64| token_deadline(Instant::now(), expires_at, now_secs());
            let expiry = sleep_until(deadline(user.expires_at));
            tokio::pin!(expiry);
            // Registered once, like the timer: a fresh `changed()` at every
            // wake-up would lock the shutdown channel's waiter list, shared by
            // every connection, twice per frame sent.
            let stopping = shutdown.changed();
            tokio::pin!(stopping);
            let mut drain = app.drain.watch();
            let draining = Drain::started(&mut drain);
            tokio::pin!(draining);
            let mut told_to_move = false;
            let mut armed_for = user.expires_at;
            loop {
                if armed_for != user.expires_at {
                    armed_for = user.expires_at;
                    expiry.as_mut().reset(deadline(armed_for));
                }
                tokio::select! {
                    biased;
                    _ = &mut stopping => break End::Close(Closed::Shutdown, "server shutting down"),
                    ms = &mut draining, if !told_to_move => {
                        // Written directly, like error frames: it may overtake
                        // queued frames, which still follow on this socket.
                        told_to_move = true;
                        let frame = ServerEvent::Draining(Draining::new(ms)).to_json();
                        if Box::pin(send(&mut socket, frame.into())).await.is_err() {
                            break End::Gone;
                        }
                    }
                    _ = &mut expiry => {
                        app.metrics.expiry_closes.inc();
                        break End::Close(Closed::TokenExpired, "token expired");
                    }
                    item = queue.recv() => {
                        let Some(drained) = item else {
                            break End::Close(Closed::Resync, "too slow: reconnect and resume from your last cursor");
                        };
                        if Box::pin(send_all(&mut socket, drained, &app.metrics)).await.is_err() {
                            break End::Gone;
                        }
                    }
                    message = socket.recv() => {
                        last_heard = Instant::now();
                        let step = match message {
                            // Over the frame rate: dropped unread, one error frame a second at most.
                            Some(Ok(Message::Text(_) | Message::Binary(_))) if !rate.allow(last_heard.into_std()) => {
                                app.metrics.throttled_frames.inc();
                                throttled_reply(&mut rate_told, last_heard, &rate)
                            }
                            // Boxed: a rare path, kept out of the idle connection's state.
                            Some(Ok(Message::Text(text))) => Box::pin(on_text(&app, &mut user, conn_id, &text, &mut bad_frames, &mut reports)).await,
                            Some(Ok(Message::Binary(_))) => bad_frame(&app, &mut bad_frames, ErrorCode::BadJson, "binary frames are not supported: send JSON text"),
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Continue,
                            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Gone,
                        };
                        match step {
                            Step::Continue => {}
                            Step::Reply(frame) => {
                                if Box::pin(send(&mut socket, frame.into())).await.is_err() {
                                    break End::Gone;
                                }
                            }
                            Step::End(end) => break end,
                        }
                    }
                    _ = ping.tick() => {
                        if last_heard.elapsed() > interval * 3 {
                            break End::Close(Closed::Heartbeat, "no answer to pings");
                        }
                        if Box::pin(timed(socket.send(Message::Ping(Default::default())))).await.is_err() {
                            break End::Gone;
                        }
                    }
                }
            }
        };

        hub.unregister(&user, conn_id);
        app.metrics.connections.dec();
        let why = match end {
            End::Gone => Closed::Client,
            End::Close(why, _) => why,
        };
        app.metrics.closes.add(why);
        if let End::Close(why, reason) = end {
            let code = close_code(why);
            tracing::debug!(user = ?user.id, conn = conn_id, ?client, code, reason, "closing connection");
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = Box::pin(timed(socket.send(Message::Close(Some(frame))))).await;
        } else {
            tracing::debug!(user = ?user.id, conn = conn_id, ?client, "client disconnected");
        }
        // Given back when this task ends, however it ends (also when the task
        // is dropped: the slot is part of its state).
        drop(slot);
    }
}

async fn on_text(
    app: &AppState,
    user: &mut User,
    conn_id: u64,
    text: &str,
    bad_frames: &mut u32,
    reports: &mut ReportGate,
) -> Step {
    if text.len() > app.config.max_frame_bytes {
        let message = format!(
            "frame of {} bytes is over the {}-byte limit",
            text.len(),
            app.config.max_frame_bytes
        );
        return bad_frame(app, bad_frames, ErrorCode::TooLarge, &message);
    }
    match ClientEvent::from_json(text) {
        Err(e) => bad_frame(app, bad_frames, e.code(), &e.to_string()),
        Ok(ClientEvent::SubscribeOrders { cursor }) => {
            // Answered through the queue; before the initial load the hub
            // parks the subscription, so this loop never waits on Kafka.
            // The cursor is parsed here, once: an unreadable one (made up, or
            // from another version) is no cursor, and gets a snapshot.
            let cursor = cursor.as_deref().and_then(Cursor::parse);
            match app.hub.subscribe(user, conn_id, cursor) {
                Some(answer) => {
                    tracing::debug!(user = ?user.id, conn = conn_id, ?answer, "subscribed to orders");
                    Step::Continue
                }
                None => Step::End(End::Close(
                    Closed::Resync,
                    "too slow: reconnect and resume from your last cursor",
                )),
            }
        }
        // After the first frame, `auth` is a refresh too.
        Ok(ClientEvent::AuthRefresh { token } | ClientEvent::Auth { token }) => {
            match app.auth.verify(&token).await {
                Ok(fresh) if fresh.id == user.id => {
                    user.expires_at = fresh.expires_at;
                    Step::Continue
                }
                Ok(_) => Step::Reply(error_frame(
                    ErrorCode::Forbidden,
                    "auth:refresh must carry a token for the same user",
                )),
                Err(e) => Step::Reply(error_frame(e.code(), &e.to_string())),
            }
        }
        Ok(ClientEvent::Ping) => Step::Reply(ServerEvent::Pong.to_json()),
        Ok(ClientEvent::ClockSync(sync)) => Step::Reply(
            ServerEvent::ClockSync(ClockAnswer {
                sent: sync.sent,
                relay: relay_clock_ms(),
            })
            .to_json(),
        ),
        Ok(ClientEvent::DeliveryReport(report)) => {
            let taken = reports.take(report, std::time::Instant::now());
            for latency in taken.latencies {
                app.metrics.delivery.observe(Stage::RelayToBrowser, latency);
            }
            for cause in taken.reconnects {
                app.metrics.browser_reconnects.add(cause);
            }
            app.metrics
                .report_values_dropped
                .inc_by(taken.dropped as u64);
            Step::Continue
        }
    }
}

/// The relay's clock in ms since the epoch, to the microsecond, for
/// `clock:sync`.
fn relay_clock_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The answer to a frame over the rate: an error frame, unless one went out
/// in the last second.
fn throttled_reply(told: &mut Option<Instant>, now: Instant, rate: &FrameRate) -> Step {
    if told.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
        return Step::Continue;
    }
    *told = Some(now);
    Step::Reply(error_frame(
        ErrorCode::RateLimited,
        &format!(
            "too many frames: this one was dropped; send again in {} ms",
            rate.retry_after().as_millis().max(1)
        ),
    ))
}

fn bad_frame(app: &AppState, bad_frames: &mut u32, code: ErrorCode, message: &str) -> Step {
    app.metrics.bad_frame(code);
    *bad_frames += 1;
    if *bad_frames >= BAD_FRAME_LIMIT {
        return Step::End(End::Close(Closed::Policy, "too many bad frames"));
    }
    Step::Reply(error_frame(code, message))
}

fn error_frame(code: ErrorCode, message: &str) -> String {
    ServerEvent::Error(ErrorBody::new(code, message)).to_json()
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

/// Writes a drained batch, then times each live event's way from Kafka to
/// this socket (one clock read per batch).
async fn send_all(
    socket: &mut WebSocket,
    mut drained: Drained,
    metrics: &Metrics,
) -> Result<(), ()> {
    use futures_util::SinkExt;
    // Feed the whole batch, then flush once: one syscall for a replay, not
    // one per event. One timeout for the batch, not one timer per frame.
    timed(async {
        for frame in drained.take_frames() {
            socket.feed(Message::Text(text(frame))).await?;
        }
        socket.flush().await
    })
    .await?;
    let written = std::time::Instant::now();
    for read_at in drained.read_at() {
        metrics.delivery.observe(
            Stage::RelayToSocket,
            written.saturating_duration_since(read_at),
        );
    }
    Ok(())
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn any_token_expiry_gives_a_deadline_without_overflow() {
        let now = Instant::now();
        assert_eq!(token_deadline(now, 100, 40), now + Duration::from_secs(60));
        assert_eq!(token_deadline(now, 10, 40), now);
        assert_eq!(token_deadline(now, u64::MAX, 40), now + LONGEST_TOKEN);
    }
}
