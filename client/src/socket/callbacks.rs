//! The socket's callbacks: one per kind of server frame, plus the socket's
//! own state and the cursor to resume from. The app's callbacks
//! ([`OrderCallbacks::dispatching`]) decide which toast each order event
//! shows and each ends in `dispatch(Action)`; the socket service never
//! touches the state itself.

use std::cell::Cell;
use std::rc::Rc;

use client_core::state::{Action, Connection};
use client_core::tabs::Kept;
use client_core::toast::Toast;
use protocol::frames::{ConnectionInfo, OrdersSnapshot};
use protocol::{Notification, Order, OrderCancellation, OrderEvent, OrderUpdate};

/// What the socket tells the app about its own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connecting,
    /// The relay spoke on the new link (its first frame).
    Connected,
    /// Waiting before the next attempt.
    Reconnecting {
        in_secs: u32,
    },
    /// The relay closed with 4001 (or refused the token): sign in again.
    TokenExpired,
}

/// Keeps a decoded frame's text (`client::tabs::Tab::keep`).
pub type KeepFrame = Box<dyn Fn(&str, Kept)>;

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
    /// An order event another tab or the cache already showed: applied
    /// without a toast.
    pub on_history: Box<dyn Fn(OrderEvent, String)>,
    /// Every snapshot part and order event frame, as it came, once decoded:
    /// the tab keeps them for other tabs and the cache.
    pub on_kept: KeepFrame,
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
        // The three order callbacks are one pipe: the event, its toast by
        // the one rule, one action (`order_event`).
        let d = dispatch.clone();
        let on_created =
            Box::new(move |order, cursor| order_event(&d, OrderEvent::Created(order), cursor));
        let d = dispatch.clone();
        let on_updated =
            Box::new(move |update, cursor| order_event(&d, OrderEvent::Updated(update), cursor));
        let d = dispatch.clone();
        let on_cancelled = Box::new(move |cancellation, cursor| {
            order_event(&d, OrderEvent::Cancelled(cancellation), cursor)
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
        let d = dispatch.clone();
        let on_history = Box::new(move |event, cursor| d(Action::Order { event, cursor }));
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
            on_history,
            on_kept: Box::new(|_, _| {}),
        }
    }

    /// Hands every kept frame ([`Kept`]) to `keep` as well.
    pub fn keeping(self, keep: impl Fn(&str, Kept) + 'static) -> Self {
        OrderCallbacks {
            on_kept: Box::new(keep),
            ..self
        }
    }
}

/// Every order event's way into the store: its toast by the one rule, then
/// one action.
fn order_event(dispatch: &impl Fn(Action), event: OrderEvent, cursor: String) {
    let toast = Toast::order_event(&event);
    dispatch(Action::Order { event, cursor });
    dispatch(Action::PushToast(toast));
}
