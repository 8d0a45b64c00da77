//! The client's whole state and the closed set of actions that change it.
//!
//! Plain data: no signals, no browser types. [`crate::reduce::reduce`] is the
//! only code that mutates an [`AppState`]; the client's store projects it
//! into signals for the view.

use protocol::frames::{ConnectionInfo, OrdersSnapshot};
use protocol::{Order, OrderEvent, Role};

use crate::commands::{Command, Commands, Pending};
use crate::orders::Orders;
use crate::toast::{Attention, Toast, ToastQueue};

/// Who is signed in. The token is all the relay needs; the user id and role
/// are known at sign-in for demo logins, and otherwise learnt from the
/// relay's `connection:success`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub user_id: Option<String>,
    pub role: Role,
    /// Who can mint a fresh token for this session before it expires.
    pub renewal: Renewal,
}

/// Who can hand the client a fresh token before the current one expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Renewal {
    /// Nobody: a token handed over once (`?token=`, `<meta
    /// name="order-token">`, pasted). It expires into the sign-in screen.
    #[default]
    None,
    /// The relay's demo login (`POST /api/dev/login`), for the same user and
    /// role.
    DemoLogin,
    /// The host page's hook (`window.orderRelayToken()`), for whoever is
    /// signed in to the shop.
    HostPage,
}

impl Session {
    /// A session whose user is not known yet (a token from the URL or the
    /// host page).
    pub fn from_token(token: impl Into<String>) -> Session {
        Session {
            token: token.into(),
            user_id: None,
            role: Role::User,
            renewal: Renewal::None,
        }
    }

    /// A session for a known user.
    pub fn new(token: impl Into<String>, user_id: impl Into<String>, role: Role) -> Session {
        Session {
            token: token.into(),
            user_id: Some(user_id.into()),
            role,
            renewal: Renewal::None,
        }
    }

    /// A demo login's session: a known user whose token the relay's demo
    /// login can renew.
    pub fn demo(token: impl Into<String>, user_id: impl Into<String>, role: Role) -> Session {
        Session {
            renewal: Renewal::DemoLogin,
            ..Session::new(token, user_id, role)
        }
    }

    /// A token from the host page's hook, which is asked again before it
    /// expires. The user is learnt from the relay.
    pub fn from_host(token: impl Into<String>) -> Session {
        Session {
            renewal: Renewal::HostPage,
            ..Session::from_token(token)
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The state of the live connection, as the chip in the header shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Not connected and not trying (signed out, or given up).
    #[default]
    Offline,
    /// A socket is being opened.
    Connecting,
    /// The socket is open and subscribed.
    Connected,
    /// Waiting before the next attempt; counts down once a second.
    Reconnecting { in_secs: u32 },
    /// Not connected, showing the orders this browser saved at `saved_at`
    /// (ms since the epoch), until the relay answers: attempts and their
    /// countdown go on underneath.
    Cached { saved_at: u64 },
}

/// The whole client state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub session: Option<Session>,
    /// Why the user is looking at the sign-in screen, if not by choice
    /// ("Your session has expired…").
    pub notice: Option<String>,
    /// The known orders, newest first, and the updates waiting for theirs.
    /// Read through [`AppState::orders`]; only the reducer changes them.
    pub(crate) orders: Orders,
    /// Whether a snapshot has arrived since sign-in: before it the page
    /// shows a loading state, not "no orders".
    pub loaded: bool,
    /// Where to resume after a reconnect: the cursor of the last order event
    /// or snapshot applied.
    pub cursor: Option<String>,
    pub connection: Connection,
    pub toasts: ToastQueue,
    /// The commands the relay has not confirmed yet, shown over the
    /// confirmed orders ([`crate::commands`]). Only the reducer changes
    /// them.
    pub(crate) commands: Commands,
}

impl AppState {
    /// A state for an already signed-in user (a reload with a stored token).
    pub fn signed_in(session: Session) -> AppState {
        AppState {
            session: Some(session),
            ..AppState::default()
        }
    }

    /// The orders: read-only, kept by the reducer.
    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// The known orders, newest first.
    pub fn orders_newest_first(&self) -> impl Iterator<Item = &Order> {
        self.orders.newest_first()
    }

    /// The commands in flight.
    pub fn commands(&self) -> &Commands {
        &self.commands
    }

    /// The ids of the rows the page shows: the orders being placed, then
    /// the confirmed orders, each newest first.
    pub fn shown_ids(&self) -> impl Iterator<Item = &String> {
        self.commands
            .placing(&self.orders)
            .map(|o| &o.order_id)
            .chain(self.orders.ids())
    }

    /// One row as the page shows it: the confirmed order (or the one being
    /// placed) and the command in flight on it, if any.
    pub fn shown(&self, id: &str) -> Option<(&Order, Option<Pending>)> {
        let order = self.orders.get(id).or_else(|| {
            self.commands
                .placing(&self.orders)
                .find(|o| o.order_id == id)
        })?;
        Some((order, self.commands.on(id)))
    }
}

/// Everything that can happen to the client. Times and ids arrive inside the
/// actions; the reducer never reads a clock or draws a random number.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A user signed in: forget everything about the previous one.
    SignedIn(Session),
    /// Back to the sign-in screen, with an optional reason.
    SignedOut {
        notice: Option<String>,
    },
    /// The relay said who this connection belongs to (`connection:success`).
    Identified(ConnectionInfo),
    /// The socket renewed the session's token (and sent it as
    /// `auth:refresh`): keep it for reconnects and reloads.
    TokenRefreshed(String),
    ConnectionChanged(Connection),
    /// `orders:snapshot`: the full current state for this user.
    OrdersLoaded(OrdersSnapshot),
    /// `order:created`, `order:updated` or `order:cancelled`: one order
    /// event and the cursor that covers it. One action for the three, as
    /// the relay sends them: the book merges them by one rule.
    Order {
        event: OrderEvent,
        cursor: String,
    },
    PushToast(Toast),
    DismissToast(String),
    /// The user looks at this tab, at none, or at another tab of theirs.
    Attention(Attention),
    /// Orders from this browser's cache, saved at this time (ms since the
    /// epoch), are on screen: the relay has not answered yet.
    CacheShown(f64),
    /// The user asked for a change (cancel, status change, checkout) and the
    /// request is on its way: show it at once, as pending.
    CommandSent(Command),
    /// The relay refused command `id`, or could not be reached: show the
    /// confirmed state again, with `why` (a sentence) in an error toast.
    CommandRefused {
        id: u64,
        why: String,
    },
    /// The clock reached `now` (ms since the epoch): commands not confirmed
    /// by their deadline end, each with an error toast.
    CommandsDue {
        now: f64,
    },
}

impl Action {
    /// The one order an order event is about (`None` for every other
    /// action, including a snapshot, which is about all of them).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Action::Order { event, .. } => Some(event.order_id()),
            Action::CommandSent(command) => Some(&command.order_id),
            _ => None,
        }
    }

    /// Whether the action can change the orders (so the view must re-check
    /// its rows); toast and connection actions cannot.
    pub fn touches_orders(&self) -> bool {
        !matches!(
            self,
            Action::PushToast(_)
                | Action::DismissToast(_)
                | Action::Attention(_)
                | Action::CacheShown(_)
                | Action::ConnectionChanged(_)
                | Action::Identified(_)
                | Action::TokenRefreshed(_)
        )
    }
}
