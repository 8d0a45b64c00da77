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
//! The link is the only part that differs between production and tests
//! ([`Transport::Live`] is a WebSocket, [`Transport::Test`] a channel fed by
//! the test); the loop, the decoding and the callbacks are the same code.

mod link;
pub mod policy;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::rc::Rc;

use futures::future::{self, AbortHandle, Either};
use protocol::frames::{ConnectionInfo, OrdersSnapshot};
use protocol::{
    ClientEvent, Notification, Order, OrderCancellation, OrderEvent, OrderUpdate, ServerEvent,
};

use link::{now_ms, random, sleep, Incoming};
pub use link::{TestServer, TestWire, Transport};
use policy::{countdown, next_step, Ended, Next, SocketConfig};

use crate::state::{Action, Connection};
use crate::toast::Toast;

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

/// Decodes one text frame and calls the callback for its kind. A frame that
/// does not decode is logged and dropped: a bad frame never stops the
/// subscription. Logs show the frame as it arrived (re-encoding it for the
/// console would cost bundle size for nothing).
pub fn handle_frame(text: &str, callbacks: &OrderCallbacks) {
    let event = match ServerEvent::from_json(text) {
        Ok(event) => event,
        Err(error) => {
            warn(&format!(
                "[WebSocket] Dropped a frame that does not decode: {error}"
            ));
            return;
        }
    };
    match event {
        ServerEvent::ConnectionSuccess(info) => {
            log(&format!("[WebSocket] Connection success: {text}"));
            (callbacks.on_identified)(info);
        }
        ServerEvent::OrdersSnapshot(snapshot) => {
            log(&format!(
                "[WebSocket] Orders snapshot: {} orders",
                snapshot.orders.len()
            ));
            (callbacks.on_snapshot)(snapshot);
        }
        ServerEvent::Order { event, cursor } => match event {
            OrderEvent::Created(order) => {
                log(&format!("[WebSocket] Order created: {text}"));
                (callbacks.on_created)(order, cursor);
            }
            OrderEvent::Updated(update) => {
                log(&format!("[WebSocket] Order updated: {text}"));
                (callbacks.on_updated)(update, cursor);
            }
            OrderEvent::Cancelled(cancellation) => {
                log(&format!("[WebSocket] Order cancelled: {text}"));
                (callbacks.on_cancelled)(cancellation, cursor);
            }
        },
        ServerEvent::Notification(notification) => {
            log(&format!("[WebSocket] Notification: {text}"));
            (callbacks.on_notification)(notification);
        }
        ServerEvent::Error(body) => {
            warn(&format!(
                "[WebSocket] The relay refused a frame: {} ({})",
                body.message, body.code
            ));
        }
    }
}

/// A running subscription. Dropping it stops the loop and closes the socket.
pub struct Subscription {
    abort: AbortHandle,
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
    token: String,
    config: SocketConfig,
    callbacks: OrderCallbacks,
) -> Subscription {
    let (task, abort) = future::abortable(run(transport, token, config, callbacks));
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    Subscription { abort }
}

async fn run(transport: Transport, token: String, config: SocketConfig, cb: OrderCallbacks) {
    let mut attempt = 0u32;
    loop {
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
                listen(&mut link, &config, &cb).await
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

/// Reads frames until the link closes or stays silent for the heartbeat
/// window. Returns how it ended and whether any frame was heard.
async fn listen(
    link: &mut link::Link,
    config: &SocketConfig,
    cb: &OrderCallbacks,
) -> (Ended, bool) {
    let window = f64::from(config.heartbeat_ms);
    let mut heard = false;
    let mut deadline = now_ms() + window;
    // One timer at a time: when it fires early (frames arrived meanwhile) it
    // is re-armed for the rest of the window instead of one timer per frame.
    let mut timer = Box::pin(sleep(config.heartbeat_ms));
    loop {
        let next = Box::pin(link.next());
        match future::select(next, timer.as_mut()).await {
            Either::Left((Incoming::Frame(text), _)) => {
                heard = true;
                deadline = now_ms() + window;
                handle_frame(&text, cb);
            }
            Either::Left((Incoming::Closed { code, reason }, _)) => {
                return (Ended::Closed { code, reason }, heard);
            }
            Either::Right(((), _)) => {
                let left = deadline - now_ms();
                if left <= 0.0 {
                    return (Ended::Silent, heard);
                }
                timer = Box::pin(sleep(left.ceil() as u32));
            }
        }
    }
}
