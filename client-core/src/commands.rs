//! Optimistic commands: what the page shows between a click and the relay's
//! event, and how it falls back when the relay says no or says nothing.
//!
//! The state keeps two things apart, as redux-optimist's BEGIN / COMMIT /
//! REVERT and RTK Query's `updateQueryData` + `undo` do:
//!
//! - the **confirmed** orders ([`crate::orders::Orders`]): only the relay's
//!   events and snapshots change them;
//! - the **commands in flight** ([`Commands`]): a cancel, an admin's status
//!   change or a checkout the user asked for and the relay has not
//!   confirmed yet.
//!
//! The page shows the commands applied over the confirmed orders
//! ([`Commands::on`], [`Commands::placing`]). Because a command never writes
//! into the confirmed orders, ending it, whichever way, cannot lose a live
//! event that arrived meanwhile: the view simply stops applying it.
//!
//! A command ends in one of three ways:
//!
//! - **confirmed**: the relay's own event (or a snapshot) shows its effect,
//!   the order cancelled, moved to the status asked for, or placed. The
//!   HTTP answer does not confirm anything: a 2xx says the relay published,
//!   and the event is what every tab and every relay will see;
//! - **refused**: the HTTP request failed (4xx, 5xx, no network). An error
//!   toast says what happened. A refusal that arrives after the event
//!   confirmed the command is ignored (someone else's cancel won a race
//!   with ours: the order is cancelled, which is what the user asked for);
//! - **expired**: no confirmation by its deadline ([`CONFIRM_WITHIN_MS`]
//!   after it was sent). An error toast says so and the row shows what the
//!   relay last said.
//!
//! Pure: the caller passes ids and times in.

use protocol::order::order_number;
use protocol::{Order, OrderStatus};

use crate::format;
use crate::orders::Orders;
use crate::toast::Toast;

/// How long a command waits for the relay's event before the page gives up
/// on it and shows the confirmed state again. Generous: a relay publishes
/// and consumes in milliseconds, and a command whose answer takes this long
/// has almost certainly failed (a broker that is down answers 503 well
/// before).
pub const CONFIRM_WITHIN_MS: f64 = 10_000.0;

/// What a command changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Cancel the order (its buyer or an admin).
    Cancel,
    /// An admin moves the order forward to this status.
    Advance(OrderStatus),
    /// Checkout: the order as the page priced it, under the id the relay
    /// will give it (derived from the user and the idempotency key, §4.2),
    /// so that its `order:created` event replaces it in place.
    Place(Order),
}

/// One command in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Numbers the command within the page, so its answer finds it.
    pub id: u64,
    pub order_id: String,
    pub change: Change,
    /// When it expires (ms since the epoch).
    pub deadline: f64,
}

/// How a row shows a command in flight: the word on its badge, and that
/// its controls are off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    Cancelling,
    Advancing(OrderStatus),
    Placing,
}

impl Pending {
    /// The badge's text: "Cancelling…", "Shipped…", "Placing…".
    pub fn label(self) -> String {
        match self {
            Pending::Cancelling => "Cancelling…".to_owned(),
            Pending::Advancing(to) => format!("{}…", format::status_label(to)),
            Pending::Placing => "Placing…".to_owned(),
        }
    }
}

impl Command {
    fn pending(&self) -> Pending {
        match self.change {
            Change::Cancel => Pending::Cancelling,
            Change::Advance(to) => Pending::Advancing(to),
            Change::Place(_) => Pending::Placing,
        }
    }

    /// Whether the confirmed orders show the command's effect.
    fn is_confirmed_by(&self, orders: &Orders) -> bool {
        let status = orders.get(&self.order_id).map(|o| o.status);
        match self.change {
            Change::Place(_) => status.is_some(),
            Change::Cancel => status == Some(OrderStatus::Cancelled),
            Change::Advance(to) => status == Some(to),
        }
    }

    /// "Could not cancel order #1A2B3C4D: {why}".
    fn refusal(&self, why: &str) -> String {
        let number = order_number(&self.order_id);
        match self.change {
            Change::Cancel => format!("Could not cancel order #{number}: {why}"),
            Change::Advance(_) => format!("Could not update order #{number}: {why}"),
            Change::Place(_) => format!("Could not place the order: {why}"),
        }
    }

    /// What the user reads when the relay never confirmed.
    fn expiry(&self) -> String {
        let number = order_number(&self.order_id);
        match self.change {
            Change::Place(_) => format!(
                "Order #{number} was not confirmed in time. It will appear if it was placed; \
                 check before ordering again."
            ),
            _ => format!(
                "The change to order #{number} was not confirmed in time. \
                 It shows its last confirmed status."
            ),
        }
    }

    fn toast(&self, text: String) -> Toast {
        Toast::error_kept(format!("command:{}", self.id), text)
    }
}

/// The commands in flight, oldest first. At most one per order: the page
/// turns an order's controls off while one is in flight, and a second one
/// for the same order is refused here too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commands {
    list: Vec<Command>,
}

impl Commands {
    /// Starts a command. Returns `false` (and keeps nothing) when the order
    /// already has one in flight, or the id is taken.
    pub(crate) fn begin(&mut self, command: Command) -> bool {
        if self
            .list
            .iter()
            .any(|c| c.order_id == command.order_id || c.id == command.id)
        {
            return false;
        }
        self.list.push(command);
        true
    }

    /// Ends the commands the confirmed orders now show; returns how many.
    pub(crate) fn confirm(&mut self, orders: &Orders) -> usize {
        let before = self.list.len();
        self.list.retain(|c| !c.is_confirmed_by(orders));
        before - self.list.len()
    }

    /// Ends command `id` as refused, with the toast that says why. `None`
    /// when it is not in flight any more (confirmed, expired, or signed
    /// out since).
    pub(crate) fn refuse(&mut self, id: u64, why: &str) -> Option<Toast> {
        let at = self.list.iter().position(|c| c.id == id)?;
        let command = self.list.remove(at);
        Some(command.toast(command.refusal(why)))
    }

    /// Ends every command whose deadline is at or before `now`, with one
    /// toast each.
    pub(crate) fn expire(&mut self, now: f64) -> Vec<Toast> {
        let mut toasts = Vec::new();
        self.list.retain(|c| {
            let expired = c.deadline <= now;
            if expired {
                toasts.push(c.toast(c.expiry()));
            }
            !expired
        });
        toasts
    }

    /// The command in flight for an order, as its row shows it.
    pub fn on(&self, order_id: &str) -> Option<Pending> {
        self.list
            .iter()
            .find(|c| c.order_id == order_id)
            .map(Command::pending)
    }

    /// The orders being placed that the relay has not confirmed, newest
    /// first (the page shows them above the confirmed ones).
    pub fn placing<'a>(&'a self, orders: &'a Orders) -> impl Iterator<Item = &'a Order> {
        self.list.iter().rev().filter_map(move |c| match &c.change {
            Change::Place(order) if !orders.contains(&c.order_id) => Some(order),
            _ => None,
        })
    }

    /// The earliest deadline, for the page's one timer.
    pub fn next_deadline(&self) -> Option<f64> {
        self.list.iter().map(|c| c.deadline).reduce(f64::min)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests;
