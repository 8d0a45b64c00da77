//! The socket service's loop: connect, listen, and on the link's end decide
//! (`client_core::policy`) whether to reconnect, when, or to send the user
//! back to sign-in. Generic over the [`Transport`], so the release bundle
//! carries only the live one and tests run the same loop on a channel.

use std::cell::Cell;
use std::rc::Rc;

use client_core::report::{ClockOffset, Reports};
use futures::future::{self, AbortHandle, Either};
use protocol::frames::SnapshotParts;
use protocol::report::ClockSync;
use protocol::ClientEvent;

use super::callbacks::{ConnectionEvent, OrderCallbacks};
use super::frames::{handle_frame, handle_history, Control};
use super::link::{Incoming, Link, Transport};
use super::log::{log, warn};
use super::policy::{countdown, next_step, Ended, Next, SocketConfig};
use super::renew::Tokens;
use crate::time::{now_ms, random, sleep};

/// A running subscription. Dropping it stops the loop and closes the socket.
pub struct Subscription {
    abort: AbortHandle,
    tokens: Tokens,
    retry: Retry,
}

/// Cuts a reconnect countdown short: set by "Retry now", looked at by the
/// waiting loop every [`RETRY_POLL_MS`].
type Retry = Rc<Cell<bool>>;

/// How soon "Retry now" is noticed. A flag looked at a few times a second,
/// not a channel raced against the timer: the same effect for less of the
/// bundle.
const RETRY_POLL_MS: u32 = 100;

impl Subscription {
    /// The token the subscription uses now (renewed ones included).
    pub fn token(&self) -> String {
        self.tokens.current()
    }

    /// "Retry now": ends the wait before the next attempt, if the loop is
    /// waiting.
    pub fn retry_now(&self) {
        self.retry.set(true);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Subscribes to the signed-in user's orders over `transport` until the
/// returned [`Subscription`] is dropped or the token expires.
pub fn subscribe_to_orders<T: Transport>(
    transport: T,
    tokens: Tokens,
    config: SocketConfig,
    callbacks: OrderCallbacks,
) -> Subscription {
    let retry = Retry::default();
    let (task, abort) = future::abortable(run(
        transport,
        tokens.clone(),
        config,
        callbacks,
        retry.clone(),
    ));
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    Subscription {
        abort,
        tokens,
        retry,
    }
}

async fn run<T: Transport>(
    transport: T,
    tokens: Tokens,
    config: SocketConfig,
    cb: OrderCallbacks,
    retry: Retry,
) {
    let mut attempt = 0u32;
    // Outlives each connection: values measured on one go out on the next.
    let mut reports = Reports::default();
    // The link of a draining relay, kept open until the next one subscribed.
    let mut draining: Option<T::Link> = None;
    loop {
        // Every attempt connects with the newest token.
        tokens.renew_if_expired(&cb).await;
        let token = tokens.current();
        if draining.is_none() {
            (cb.on_connection)(ConnectionEvent::Connecting);
        }
        let subscribe = ClientEvent::SubscribeOrders {
            cursor: (cb.cursor)(),
        }
        .to_json();
        let opened = transport.connect(&token, subscribe).await;
        // Moving off a draining relay: the old link, no longer read since its
        // `server:draining`, stays open until the new one has subscribed
        // after the last event applied; what it still had comes again there.
        // Then dropping it closes it. (Reading it meanwhile would apply the
        // same events a few ms sooner, for more code in the bundle.)
        drop(draining.take());
        let (ended, heard) = match opened {
            Err(ended) => (ended, false),
            Ok(mut link) => {
                log("[WebSocket] Connected successfully");
                let (ended, heard) = listen(&mut link, &config, &cb, &tokens, &mut reports).await;
                if ended == Ended::Draining {
                    draining = Some(link);
                }
                (ended, heard)
            }
        };
        match &ended {
            Ended::Closed { code, reason } => {
                // As a u32: the bundle then needs no u16 printer of its own.
                let code = u32::from(*code);
                log(&format!("[WebSocket] Disconnected: code {code} {reason}"))
            }
            Ended::Silent => warn("[WebSocket] Nothing heard for too long; reconnecting"),
            Ended::Draining => {}
            Ended::Lead => log("[WebSocket] This tab holds the socket for the others now"),
        }
        if heard {
            attempt = 0;
        }
        reports.reconnected(&ended, now_ms());
        match next_step(&ended) {
            Next::SignIn => {
                (cb.on_connection)(ConnectionEvent::TokenExpired);
                return;
            }
            // A resync is immediate only after a connection that worked, so a
            // relay that keeps answering 4002 cannot make the client spin.
            Next::ReconnectNow if heard || ended == Ended::Lead => continue,
            Next::ReconnectNow | Next::Backoff => {}
        }
        // A browser cannot see why an upgrade was refused, and behind a proxy
        // (`trunk serve`) a refused upgrade even looks like a socket that
        // opened and closed. The relay always speaks first
        // (`connection:success`), so a connection that heard nothing asks
        // the HTTP API whether the token is still good; otherwise a token the
        // relay no longer accepts would be retried forever.
        if !heard && transport.token_rejected(&token).await {
            (cb.on_connection)(ConnectionEvent::TokenExpired);
            return;
        }
        attempt = attempt.saturating_add(1);
        let delay = config.backoff.delay_ms(attempt, random());
        retry.set(false);
        'wait: for (in_secs, wait_ms) in countdown(delay) {
            (cb.on_connection)(ConnectionEvent::Reconnecting { in_secs });
            let mut left = wait_ms;
            while left > 0 {
                if retry.take() {
                    break 'wait;
                }
                let step = left.min(RETRY_POLL_MS);
                sleep(step).await;
                left -= step;
            }
        }
    }
}

/// What woke the listening loop.
enum Woke {
    Link(Incoming),
    Heartbeat,
    Renewed(Option<String>),
}

/// Bounds on a heartbeat window announced by the relay (ms).
const MIN_HEARTBEAT_MS: u32 = 3_000;
const MAX_HEARTBEAT_MS: u32 = 300_000;

/// Reads frames until the link closes or stays silent for the heartbeat
/// window, and renews the token when it is due. Returns how the link ended
/// and whether any frame was heard.
///
/// Liveness without churn: after a third of the window with nothing heard,
/// the client sends `ping` (the relay answers `pong`), and again after two
/// thirds; only a window with no frame at all, pongs included, ends the
/// link. An idle page therefore keeps one socket for hours, and a relay that
/// stopped answering is noticed within the window (docs/PROTOCOL.md §3.6).
async fn listen(
    link: &mut impl Link,
    config: &SocketConfig,
    cb: &OrderCallbacks,
    tokens: &Tokens,
    reports: &mut Reports,
) -> (Ended, bool) {
    // This relay's clock against ours: each connection may reach another.
    let mut clock = ClockOffset::default();
    let mut window = f64::from(config.heartbeat_ms);
    let mut quiet = window / 3.0;
    let mut heard = false;
    let mut heard_at = now_ms();
    let mut pings = 0u32;
    let mut parts = SnapshotParts::default();
    // One timer at a time: when it fires early (frames arrived meanwhile) it
    // is re-armed for the rest of the wait instead of one timer per frame.
    let mut timer = Box::pin(sleep(quiet.ceil() as u32));
    // Kept across frames, so a renewal in flight is not restarted by each.
    let mut renewal = Box::pin(tokens.renewal());
    loop {
        let next = Box::pin(link.next());
        let timers = future::select(timer.as_mut(), renewal.as_mut());
        let woke = match future::select(next, timers).await {
            Either::Left((incoming, _)) => Woke::Link(incoming),
            Either::Right((Either::Left(((), _)), _)) => Woke::Heartbeat,
            Either::Right((Either::Right((fresh, _)), _)) => Woke::Renewed(fresh),
        };
        match woke {
            Woke::Link(Incoming::Frame(text)) => {
                heard_first(&mut heard, cb);
                heard_at = now_ms();
                pings = 0;
                match handle_frame(&text, cb, &mut parts) {
                    Some(Control::Heartbeat(announced)) => {
                        // The relay says how much silence it tolerates: follow
                        // it, within sane bounds, and re-arm the timer for it.
                        window = f64::from(announced.clamp(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS));
                        quiet = window / 3.0;
                        timer = Box::pin(sleep(quiet.ceil() as u32));
                        sync_clock(link).await;
                    }
                    Some(Control::Move) => return (Ended::Draining, true),
                    Some(Control::Clock(sync)) => clock.sample(sync, heard_at),
                    Some(Control::Applied(sent_at)) => {
                        reports.applied(sent_at as f64, now_ms(), &clock)
                    }
                    None => {}
                }
                report(link, reports).await;
            }
            Woke::Link(Incoming::History(lines)) => {
                heard_first(&mut heard, cb);
                heard_at = now_ms();
                handle_history(&lines, cb, &mut parts);
            }
            Woke::Link(Incoming::Closed { code, reason }) => {
                return (Ended::Closed { code, reason }, heard);
            }
            Woke::Link(Incoming::Lead) => return (Ended::Lead, heard),
            Woke::Heartbeat => {
                let now = now_ms();
                if now - heard_at >= window {
                    return (Ended::Silent, heard);
                }
                if now - heard_at >= quiet * f64::from(pings + 1) {
                    pings += 1;
                    link.send(ClientEvent::Ping.to_json()).await;
                }
                report(link, reports).await;
                let wake = (heard_at + quiet * f64::from(pings + 1)).min(heard_at + window);
                timer = Box::pin(sleep((wake - now).max(1.0).ceil() as u32));
            }
            Woke::Renewed(fresh) => {
                if let Some(token) = fresh {
                    refresh(link, cb, tokens, token).await;
                }
                renewal = Box::pin(tokens.renewal());
            }
        }
    }
}

/// Marks the link as heard; the first time, says "connected". An open
/// socket alone is not a connection: a refused upgrade behind a proxy opens
/// and closes, and the relay always speaks first, so the page shows
/// "Connected" (and a screen reader hears it) only once the relay did.
fn heard_first(heard: &mut bool, cb: &OrderCallbacks) {
    if !*heard {
        *heard = true;
        (cb.on_connection)(ConnectionEvent::Connected);
    }
}

/// Asks the relay for its clock (`clock:sync`).
async fn sync_clock(link: &mut impl Link) {
    let sync = ClockSync {
        sent: now_ms() as u64,
    };
    link.send(ClientEvent::ClockSync(sync).to_json()).await;
}

/// Sends the delivery report if one is due, and samples the clock again
/// with it: the shortest round trip of the connection keeps improving.
async fn report(link: &mut impl Link, reports: &mut Reports) {
    if let Some(report) = reports.due(now_ms()) {
        link.send(ClientEvent::DeliveryReport(report).to_json())
            .await;
        sync_clock(link).await;
    }
}

/// Adopts a renewed token: kept for reconnects, sent on the open link as
/// `auth:refresh` (§3), and reported to the app. If the link is closing the
/// frame is lost, but the next connection already uses the new token.
async fn refresh(link: &mut impl Link, cb: &OrderCallbacks, tokens: &Tokens, token: String) {
    tokens.set(token.clone());
    let frame = ClientEvent::AuthRefresh {
        token: token.clone(),
    }
    .to_json();
    if link.send(frame).await {
        log("[WebSocket] Sent auth:refresh with a renewed token");
    } else {
        warn("[WebSocket] Could not send auth:refresh; the link is closing");
    }
    (cb.on_token)(token);
}
