//! The socket service: one live subscription to the relay's order events.
//!
//! [`subscribe_to_orders`] runs a loop: open a link, send `subscribe:orders`
//! with the last cursor, hand every frame to [`handle_frame`], and when the
//! link ends decide ([`policy`]) whether to reconnect, when, or to send the
//! user back to sign-in. Frames are decoded only by
//! `protocol::ServerEvent::from_json`; each variant calls its own callback in
//! [`OrderCallbacks`], and the app's callbacks ([`OrderCallbacks::dispatching`])
//! each end in `dispatch(Action)`.
//!
//! While a link is open, a renewable token ([`Tokens`]: a demo login's) is
//! renewed before it expires ([`client_core::token::refresh_delay_ms`]) and sent
//! on the link as `auth:refresh`; reconnects use the newest token, renewed
//! first if it expired while the link was down.
//!
//! The link is the only part that differs between production and tests
//! ([`Transport::Live`] is a WebSocket, `Transport::Test` a channel fed by
//! the test); the loop, the decoding and the callbacks are the same code.

pub(crate) mod link;
#[cfg(any(test, feature = "test-support"))]
mod test_link;
#[cfg(test)]
mod tests;

pub use client_core::policy;

use client_core::state::{Action, Connection};
use client_core::toast::Toast;
use client_core::token;
use futures::future::{self, AbortHandle, Either, LocalBoxFuture};
use protocol::frames::{ConnectionInfo, OrdersSnapshot, SnapshotParts};
use protocol::{
    ClientEvent, Notification, Order, OrderCancellation, OrderEvent, OrderUpdate, ServerEvent,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

pub use link::Transport;
use link::{now_ms, random, sleep, Incoming};
use policy::{countdown, next_step, Ended, Next, SocketConfig};
#[cfg(any(test, feature = "test-support"))]
pub use test_link::{TestServer, TestWire};

/// What the socket tells the app about its own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connecting,
    Connected,
    /// Waiting before the next attempt.
    Reconnecting {
        in_secs: u32,
    },
    /// The relay closed with 4001 (or refused the token): sign in again.
    TokenExpired,
}

/// One callback per kind of server frame, plus the socket's own state and
/// the cursor to resume from.
pub struct OrderCallbacks {
    pub on_created: Box<dyn Fn(Order, String)>,
    pub on_updated: Box<dyn Fn(OrderUpdate, String)>,
    pub on_cancelled: Box<dyn Fn(OrderCancellation, String)>,
    pub on_snapshot: Box<dyn Fn(OrdersSnapshot)>,
    pub on_notification: Box<dyn Fn(Notification)>,
    pub on_identified: Box<dyn Fn(ConnectionInfo)>,
    pub on_connection: Box<dyn Fn(ConnectionEvent)>,
    /// A renewed token, already sent to the relay as `auth:refresh`.
    pub on_token: Box<dyn Fn(String)>,
    /// Read at every (re)connect: where `subscribe:orders` resumes.
    pub cursor: Box<dyn Fn() -> Option<String>>,
}

/// The notice on the sign-in screen after a 4001 close.
pub const EXPIRED_NOTICE: &str = "Your session has expired. Please sign in again.";

impl OrderCallbacks {
    /// The app's callbacks: every one of them ends in `dispatch(Action)`.
    /// Order events dispatch the state change, then the seed's toast.
    pub fn dispatching<D>(dispatch: D, cursor: impl Fn() -> Option<String> + 'static) -> Self
    where
        D: Fn(Action) + Clone + 'static,
    {
        let notifications = Rc::new(Cell::new(0u64));
        let d = dispatch.clone();
        let on_created = Box::new(move |order: Order, cursor: String| {
            let toast = Toast::order_created(&order);
            d(Action::AddOrder { order, cursor });
            d(Action::PushToast(toast));
        });
        let d = dispatch.clone();
        let on_updated = Box::new(move |update: OrderUpdate, cursor: String| {
            let toast = Toast::order_updated(&update);
            d(Action::UpdateOrderStatus { update, cursor });
            d(Action::PushToast(toast));
        });
        let d = dispatch.clone();
        let on_cancelled = Box::new(move |cancellation: OrderCancellation, cursor: String| {
            let toast = Toast::order_cancelled(&cancellation);
            d(Action::CancelOrder {
                cancellation,
                cursor,
            });
            d(Action::PushToast(toast));
        });
        let d = dispatch.clone();
        let on_snapshot = Box::new(move |snapshot| d(Action::OrdersLoaded(snapshot)));
        let d = dispatch.clone();
        let on_notification = Box::new(move |notification: Notification| {
            let seq = notifications.get() + 1;
            notifications.set(seq);
            d(Action::PushToast(Toast::notification(&notification, seq)));
        });
        let d = dispatch.clone();
        let on_identified = Box::new(move |info| d(Action::Identified(info)));
        let d = dispatch.clone();
        let on_token = Box::new(move |token| d(Action::TokenRefreshed(token)));
        let on_connection = Box::new(move |event| {
            dispatch(match event {
                ConnectionEvent::Connecting => Action::ConnectionChanged(Connection::Connecting),
                ConnectionEvent::Connected => Action::ConnectionChanged(Connection::Connected),
                ConnectionEvent::Reconnecting { in_secs } => {
                    Action::ConnectionChanged(Connection::Reconnecting { in_secs })
                }
                ConnectionEvent::TokenExpired => Action::SignedOut {
                    notice: Some(EXPIRED_NOTICE.to_owned()),
                },
            })
        });
        OrderCallbacks {
            on_created,
            on_updated,
            on_cancelled,
            on_snapshot,
            on_notification,
            on_identified,
            on_connection,
            on_token,
            cursor: Box::new(cursor),
        }
    }
}

/// Writes a line to the browser console (stderr in native tests).
pub(crate) fn log(line: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::log_1(&line.into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// Writes a warning to the browser console (stderr in native tests).
pub(crate) fn warn(line: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&line.into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// What the console shows of a frame: the frame as it arrived in debug
/// builds (re-encoding it would cost bundle size for nothing); only the
/// order id in release builds, which log no order data (addresses, items,
/// amounts) to a console anyone at the machine can read.
fn shown<'a>(text: &'a str, order_id: &'a str) -> &'a str {
    if cfg!(debug_assertions) {
        text
    } else {
        order_id
    }
}

/// Decodes one text frame and calls the callback for its kind. A frame that
/// does not decode is logged and dropped: a bad frame never stops the
/// subscription. A snapshot sent in parts reaches `on_snapshot` once, whole,
/// with its last part (`parts` holds the ones before it). Returns the
/// heartbeat window the relay announced, when the frame was its
/// `connection:success` with one.
pub fn handle_frame(
    text: &str,
    callbacks: &OrderCallbacks,
    parts: &mut SnapshotParts,
) -> Option<u32> {
    let event = match ServerEvent::from_json(text) {
        Ok(event) => event,
        Err(error) => {
            warn(&format!(
                "[WebSocket] Dropped a frame that does not decode: {error}"
            ));
            return None;
        }
    };
    match event {
        ServerEvent::ConnectionSuccess(info) => {
            log(&format!(
                "[WebSocket] Connection success: {}",
                shown(text, &info.user_id)
            ));
            let heartbeat = info.heartbeat_ms;
            (callbacks.on_identified)(info);
            return heartbeat;
        }
        ServerEvent::OrdersSnapshot(part) => {
            if let Some(snapshot) = parts.add(part) {
                log(&format!(
                    "[WebSocket] Orders snapshot: {} orders",
                    snapshot.orders.len()
                ));
                (callbacks.on_snapshot)(snapshot);
            }
        }
        ServerEvent::Order { event, cursor } => match event {
            OrderEvent::Created(order) => {
                log(&format!(
                    "[WebSocket] Order created: {}",
                    shown(text, &order.order_id)
                ));
                (callbacks.on_created)(order, cursor);
            }
            OrderEvent::Updated(update) => {
                log(&format!(
                    "[WebSocket] Order updated: {}",
                    shown(text, &update.order_id)
                ));
                (callbacks.on_updated)(update, cursor);
            }
            OrderEvent::Cancelled(cancellation) => {
                log(&format!(
                    "[WebSocket] Order cancelled: {}",
                    shown(text, &cancellation.order_id)
                ));
                (callbacks.on_cancelled)(cancellation, cursor);
            }
        },
        ServerEvent::Notification(notification) => {
            log(&format!(
                "[WebSocket] Notification: {}",
                shown(text, "for this user")
            ));
            (callbacks.on_notification)(notification);
        }
        // The answer to our heartbeat: hearing it is all it is for.
        ServerEvent::Pong => {}
        ServerEvent::Error(body) => {
            warn(&format!(
                "[WebSocket] The relay refused a frame: {} ({})",
                body.message, body.code
            ));
        }
    }
    None
}

/// Fetches a fresh token for the same user: `None` when that failed.
pub type Renew = Rc<dyn Fn() -> LocalBoxFuture<'static, Option<String>>>;

/// How long to wait before trying again after a renewal failed.
const RENEW_RETRY_MS: u32 = 5_000;

/// The longest single timer: browsers fire longer `setTimeout`s at once.
const MAX_TIMER_MS: u64 = i32::MAX as u64;

/// The token a subscription connects with, and how (whether) it is renewed.
/// Clones share the current token.
#[derive(Clone)]
pub struct Tokens {
    current: Rc<RefCell<String>>,
    renew: Option<Renew>,
}

impl Tokens {
    /// A token nothing can renew (handed over by the host page, `?token=`
    /// or `<meta>`): when it expires the relay closes with 4001 and the
    /// user signs in again.
    pub fn fixed(token: impl Into<String>) -> Tokens {
        Tokens {
            current: Rc::new(RefCell::new(token.into())),
            renew: None,
        }
    }

    /// A token `renew` can replace before it expires (a demo login's).
    pub fn renewable(token: impl Into<String>, renew: Renew) -> Tokens {
        Tokens {
            renew: Some(renew),
            ..Tokens::fixed(token)
        }
    }

    /// The newest token.
    pub fn current(&self) -> String {
        self.current.borrow().clone()
    }

    fn set(&self, token: String) {
        *self.current.borrow_mut() = token;
    }

    /// Whether the current token can be renewed and has already expired
    /// (the link was down when it came due, or the tab was reloaded late).
    fn expired(&self) -> bool {
        self.renew.is_some()
            && token::jwt_exp(&self.current.borrow())
                .is_some_and(|exp| exp.saturating_mul(1000) as f64 <= now_ms())
    }

    /// Renews an expired token before a connection attempt uses it: the
    /// relay would refuse it, and the app would send the user to sign-in.
    /// Reports the fresh token to the app.
    async fn renew_if_expired(&self, cb: &OrderCallbacks) {
        let Some(renew) = self.renew.clone().filter(|_| self.expired()) else {
            return;
        };
        if let Some(fresh) = renew().await {
            self.set(fresh.clone());
            (cb.on_token)(fresh);
        }
    }

    /// Resolves when the current token is due for renewal: with the fresh
    /// token, or `None` (after a pause) when renewing failed. Never resolves
    /// when the token cannot be renewed: no [`Renew`], or no `exp` to read.
    fn renewal(&self) -> impl Future<Output = Option<String>> + 'static {
        let renew = self.renew.clone();
        let exp = token::jwt_exp(&self.current.borrow());
        async move {
            let (Some(renew), Some(exp)) = (renew, exp) else {
                return future::pending().await;
            };
            // The due time is fixed once. Recomputing the delay after each
            // sleep would chase the expiry (80% of what is left, again and
            // again) and renew only as the token expires.
            let now = now_ms().max(0.0) as u64;
            let due = now.saturating_add(token::refresh_delay_ms(exp, now));
            loop {
                let left = due.saturating_sub(now_ms().max(0.0) as u64);
                if left == 0 {
                    break;
                }
                // Long delays go in steps a browser timer can hold.
                sleep(left.min(MAX_TIMER_MS) as u32).await;
            }
            let fresh = renew().await;
            if fresh.is_none() {
                warn("[WebSocket] Could not renew the token; trying again shortly");
                sleep(RENEW_RETRY_MS).await;
            }
            fresh
        }
    }
}

/// A running subscription. Dropping it stops the loop and closes the socket.
pub struct Subscription {
    abort: AbortHandle,
    tokens: Tokens,
}

impl Subscription {
    /// The token the subscription uses now (renewed ones included).
    pub fn token(&self) -> String {
        self.tokens.current()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Subscribes to the signed-in user's orders over `transport` until the
/// returned [`Subscription`] is dropped or the token expires.
pub fn subscribe_to_orders(
    transport: Transport,
    tokens: Tokens,
    config: SocketConfig,
    callbacks: OrderCallbacks,
) -> Subscription {
    let (task, abort) = future::abortable(run(transport, tokens.clone(), config, callbacks));
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    Subscription { abort, tokens }
}

async fn run(transport: Transport, tokens: Tokens, config: SocketConfig, cb: OrderCallbacks) {
    let mut attempt = 0u32;
    loop {
        // Every attempt connects with the newest token.
        tokens.renew_if_expired(&cb).await;
        let token = tokens.current();
        (cb.on_connection)(ConnectionEvent::Connecting);
        let subscribe = ClientEvent::SubscribeOrders {
            cursor: (cb.cursor)(),
        }
        .to_json();
        let (ended, heard) = match transport.connect(&token, subscribe).await {
            Err(ended) => (ended, false),
            Ok(mut link) => {
                log("[WebSocket] Connected successfully");
                (cb.on_connection)(ConnectionEvent::Connected);
                listen(&mut link, &config, &cb, &tokens).await
            }
        };
        match &ended {
            Ended::Closed { code, reason } => {
                log(&format!("[WebSocket] Disconnected: code {code} {reason}"))
            }
            Ended::Silent => warn("[WebSocket] Nothing heard for too long; reconnecting"),
        }
        if heard {
            attempt = 0;
        }
        match next_step(&ended) {
            Next::SignIn => {
                (cb.on_connection)(ConnectionEvent::TokenExpired);
                return;
            }
            // A resync is immediate only after a connection that worked, so a
            // relay that keeps answering 4002 cannot make the client spin.
            Next::ReconnectNow if heard => continue,
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
        for (in_secs, wait_ms) in countdown(delay) {
            (cb.on_connection)(ConnectionEvent::Reconnecting { in_secs });
            sleep(wait_ms).await;
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
    link: &mut link::Link,
    config: &SocketConfig,
    cb: &OrderCallbacks,
    tokens: &Tokens,
) -> (Ended, bool) {
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
                heard = true;
                heard_at = now_ms();
                pings = 0;
                if let Some(announced) = handle_frame(&text, cb, &mut parts) {
                    // The relay says how much silence it tolerates: follow it,
                    // within sane bounds, and re-arm the timer for it.
                    window = f64::from(announced.clamp(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS));
                    quiet = window / 3.0;
                    timer = Box::pin(sleep(quiet.ceil() as u32));
                }
            }
            Woke::Link(Incoming::Closed { code, reason }) => {
                return (Ended::Closed { code, reason }, heard);
            }
            Woke::Heartbeat => {
                let now = now_ms();
                if now - heard_at >= window {
                    return (Ended::Silent, heard);
                }
                if now - heard_at >= quiet * f64::from(pings + 1) {
                    pings += 1;
                    link.send(ClientEvent::Ping.to_json()).await;
                }
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

/// Adopts a renewed token: kept for reconnects, sent on the open link as
/// `auth:refresh` (§3), and reported to the app. If the link is closing the
/// frame is lost, but the next connection already uses the new token.
async fn refresh(link: &mut link::Link, cb: &OrderCallbacks, tokens: &Tokens, token: String) {
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
