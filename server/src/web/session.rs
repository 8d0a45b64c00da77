//! One client connection, whatever carries it: the WebSocket of `/ws`
//! ([`super::ws`]) or a Socket.IO socket of `/socket.io/`
//! ([`super::socketio`]), each a [`Peer`].
//!
//! One task per connection. It forwards what the hub queues for it, answers
//! client frames, pings (where the link has no heartbeat of its own), and
//! ends the connection when its token expires (4001), when it fell too far
//! behind (4002, resume by cursor), after repeated bad frames (1008), when
//! the client goes silent, or at shutdown (1001). When the relay drains, it
//! tells the client `server:draining` once and keeps delivering until
//! shutdown. It never decides who sees what: that is the hub's routing.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use axum::http::StatusCode;
use protocol::frames::{close, ConnectionInfo, Draining, ErrorBody};
use protocol::report::ClockAnswer;
use protocol::ErrorCode;
use protocol::{ClientEvent, ServerEvent};
use tokio::time::{sleep_until, Instant};

use crate::core::cursor::Cursor;
use crate::core::limits::{CapReached, FrameRate, Slot};
use crate::core::report::ReportGate;
use crate::core::viewer::User;
use crate::fanout::queue::Drained;
use crate::metrics::{Closed, Metrics, Stage};
use crate::web::auth::now_secs;
use crate::web::context::AppState;
use crate::web::drain::Drain;

/// A client that sends this many bad frames on one connection is cut off.
const BAD_FRAME_LIMIT: u32 = 20;

/// How long a connecting client waits for a starting relay to read Kafka
/// (as it would have waited for the port).
const START_PATIENCE: Duration = Duration::from_secs(10);

/// A write that cannot go out for this long means the client stopped
/// reading.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the relay turns any new connection away before its token is looked
/// at, whatever link it comes on: it is draining (so a proxy retries it on
/// another relay), or it cannot read Kafka (a starting relay is waited for
/// first).
pub(crate) async fn not_open(app: &AppState) -> Option<(ErrorCode, String)> {
    if app.drain.is_draining() {
        return Some((
            ErrorCode::Draining,
            "this relay is draining before it stops: connect again (through the load balancer, to another relay)".into(),
        ));
    }
    if !app.kafka.started_within(START_PATIENCE).await {
        return Some((
            ErrorCode::NotReady,
            format!(
                "the relay is not reading Kafka yet ({}): retry shortly",
                app.kafka.problem().unwrap_or_else(|| "starting".into())
            ),
        ));
    }
    None
}

/// A connection refused by a cap, counted: the HTTP status an upgrade is
/// refused with, and what the client is told.
pub(crate) fn cap_refusal(app: &AppState, refused: CapReached) -> (StatusCode, String) {
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

/// What a client's link said.
pub(crate) enum Heard {
    /// A frame of JSON text.
    Text(Utf8Bytes),
    /// A binary frame (refused: the protocol is JSON text).
    Binary,
    /// A sign of life with nothing to answer (a WebSocket ping or pong).
    Alive,
    /// The client is gone.
    Gone,
}

/// A client's link: how frames (`{"event", "data"}` JSON text, §3) go out
/// and come in. `Err(())` from a write: the client is gone or stopped
/// reading.
pub(crate) trait Peer: Send + 'static {
    /// Whether the session pings the client and ends a silent one. A link
    /// with a heartbeat of its own (Engine.IO's) says no.
    const PINGS: bool;
    /// Writes one frame.
    fn send(&mut self, frame: Utf8Bytes) -> impl Future<Output = Result<(), ()>> + Send;
    /// Writes a batch the hub queued, in order.
    fn send_batch(&mut self, drained: &mut Drained) -> impl Future<Output = Result<(), ()>> + Send;
    /// The next thing the client says.
    fn recv(&mut self) -> impl Future<Output = Heard> + Send;
    /// A liveness probe (only when [`Peer::PINGS`]).
    fn ping(&mut self) -> impl Future<Output = Result<(), ()>> + Send;
    /// Ends the link with a close code (§3.5) and its reason.
    fn close(self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// Tokens that live longer than this are treated as living this long: an
/// `exp` near `u64::MAX` must not overflow the timer.
const LONGEST_TOKEN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// When a token that expires at `expires_at` (seconds since the epoch, now
/// being `now_secs`) must close its connection.
fn token_deadline(now: Instant, expires_at: u64, now_secs: u64) -> Instant {
    let left = Duration::from_secs(expires_at.saturating_sub(now_secs)).min(LONGEST_TOKEN);
    now + left
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
pub(crate) fn connection<P: Peer>(
    mut socket: P,
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

        let end = if Box::pin(socket.send(hello.into())).await.is_err() {
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
                        if Box::pin(socket.send(frame.into())).await.is_err() {
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
                    heard = socket.recv() => {
                        last_heard = Instant::now();
                        let step = match heard {
                            // Over the frame rate: dropped unread, one error frame a second at most.
                            Heard::Text(_) | Heard::Binary if !rate.allow(last_heard.into_std()) => {
                                app.metrics.throttled_frames.inc();
                                throttled_reply(&mut rate_told, last_heard, &rate)
                            }
                            // Boxed: a rare path, kept out of the idle connection's state.
                            Heard::Text(text) => Box::pin(on_text(&app, &mut user, conn_id, &text, &mut bad_frames, &mut reports)).await,
                            Heard::Binary => bad_frame(&app, &mut bad_frames, ErrorCode::BadJson, "binary frames are not supported: send JSON text"),
                            Heard::Alive => Step::Continue,
                            Heard::Gone => break End::Gone,
                        };
                        match step {
                            Step::Continue => {}
                            Step::Reply(frame) => {
                                if Box::pin(socket.send(frame.into())).await.is_err() {
                                    break End::Gone;
                                }
                            }
                            Step::End(end) => break end,
                        }
                    }
                    // The link's own heartbeat, when it has none of its own.
                    _ = ping.tick(), if P::PINGS => {
                        if last_heard.elapsed() > interval * 3 {
                            break End::Close(Closed::Heartbeat, "no answer to pings");
                        }
                        if Box::pin(socket.ping()).await.is_err() {
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
            Box::pin(socket.close(code, reason)).await;
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

pub(crate) fn error_frame(code: ErrorCode, message: &str) -> String {
    ServerEvent::Error(ErrorBody::new(code, message)).to_json()
}

/// Writes a drained batch, then times each live event's way from Kafka to
/// this socket (one clock read per batch).
async fn send_all<P: Peer>(
    socket: &mut P,
    mut drained: Drained,
    metrics: &Metrics,
) -> Result<(), ()> {
    socket.send_batch(&mut drained).await?;
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
