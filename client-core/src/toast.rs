//! Toasts: the short messages in the bottom-right corner.
//!
//! This module is pure data: what a toast says for each wire event (the seed's
//! texts), and the queue that decides which toasts are visible. The reducer
//! owns a [`ToastQueue`]; the view only renders [`ToastQueue::visible`] and
//! dispatches a dismissal when a toast times out or is closed.

use std::collections::VecDeque;

use protocol::order::order_number;
use protocol::{
    Notification, NotificationType, Order, OrderCancellation, OrderEvent, OrderUpdate, Priority,
};

/// How many toasts are on screen at once; the rest wait in the queue.
pub const VISIBLE_CAP: usize = 3;
/// How many toasts may wait behind the visible ones. Past this the oldest
/// waiting toast is dropped: a burst of events must not keep the corner busy
/// for minutes.
pub const QUEUE_CAP: usize = 20;
/// How many toast ids are remembered to suppress repeats. A re-sent event
/// (after a reconnect, events may be replayed) must not toast again, even
/// when its first toast was already dismissed.
pub const SEEN_CAP: usize = 256;
/// The default time a toast stays up.
pub const AUTO_CLOSE_MS: u32 = 4_000;
/// The `auto_close_ms` of a toast that stays until it is dismissed: every
/// error, which the user must be able to read at their own pace (WCAG
/// 2.2.1), and which the page announces as an alert.
pub const STAYS: u32 = 0;

/// The style of a toast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Info,
    Warning,
    Error,
}

impl ToastKind {
    /// The CSS class suffix (`toast-success`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Success => "success",
            ToastKind::Info => "info",
            ToastKind::Warning => "warning",
            ToastKind::Error => "error",
        }
    }
}

/// One message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// Identifies the fact the toast reports, so that the same fact is only
    /// shown once (`created:<orderId>`, `updated:<orderId>:<status>`, …).
    pub id: String,
    pub kind: ToastKind,
    pub text: String,
    /// How long the toast stays up while the pointer is not over it and
    /// nothing in it has focus; [`STAYS`] for one that stays until
    /// dismissed.
    pub auto_close_ms: u32,
}

impl Toast {
    /// A toast with the default auto-close time; an error stays until it
    /// is dismissed.
    pub fn new(id: impl Into<String>, kind: ToastKind, text: impl Into<String>) -> Toast {
        Toast {
            id: id.into(),
            kind,
            text: text.into(),
            auto_close_ms: if kind == ToastKind::Error {
                STAYS
            } else {
                AUTO_CLOSE_MS
            },
        }
    }

    /// Whether the toast stays until dismissed.
    pub fn stays(&self) -> bool {
        self.auto_close_ms == STAYS
    }

    /// The one toast rule for order events: the seed's text for each kind.
    pub fn order_event(event: &OrderEvent) -> Toast {
        match event {
            OrderEvent::Created(order) => Toast::order_created(order),
            OrderEvent::Updated(update) => Toast::order_updated(update),
            OrderEvent::Cancelled(cancellation) => Toast::order_cancelled(cancellation),
        }
    }

    /// "Order #XXXXXXXX created successfully!"
    fn order_created(order: &Order) -> Toast {
        Toast::new(
            format!("created:{}", order.order_id),
            ToastKind::Success,
            format!(
                "Order #{} created successfully!",
                order_number(&order.order_id)
            ),
        )
    }

    /// "Order #XXXXXXXX - Your order is being processed": the relay's message
    /// when it sent one, else the status's standard sentence.
    fn order_updated(update: &OrderUpdate) -> Toast {
        let message = update
            .message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(update.status.message());
        Toast::new(
            format!("updated:{}:{}", update.order_id, update.status.as_str()),
            ToastKind::Info,
            format!("Order #{} - {message}", order_number(&update.order_id)),
        )
    }

    /// "Order #XXXXXXXX has been cancelled"
    fn order_cancelled(cancellation: &OrderCancellation) -> Toast {
        Toast::new(
            format!("cancelled:{}", cancellation.order_id),
            ToastKind::Warning,
            format!(
                "Order #{} has been cancelled",
                order_number(&cancellation.order_id)
            ),
        )
    }

    /// A `notification` frame, styled as the seed did: an order notification
    /// of high priority is a warning that stays 5 s, any other order
    /// notification is info; error, warning and success keep their style.
    /// `seq` numbers notifications within a session, since they carry no id.
    pub fn notification(notification: &Notification, seq: u64) -> Toast {
        let text = [
            Some(notification.message.as_str()),
            notification.title.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find(|t| !t.trim().is_empty())
        .unwrap_or("New notification");
        let (kind, auto_close_ms) = match (notification.kind, notification.priority) {
            (NotificationType::Order, Priority::High) => (ToastKind::Warning, 5_000),
            (NotificationType::Error, _) => (ToastKind::Error, STAYS),
            (NotificationType::Warning, _) => (ToastKind::Warning, AUTO_CLOSE_MS),
            (NotificationType::Success, _) => (ToastKind::Success, AUTO_CLOSE_MS),
            (NotificationType::Order | NotificationType::Info, _) => {
                (ToastKind::Info, AUTO_CLOSE_MS)
            }
        };
        Toast {
            id: format!("notification:{seq}"),
            kind,
            text: text.to_owned(),
            auto_close_ms,
        }
    }

    /// A failed request (sign-in, or anything else outside
    /// [`crate::commands`]), numbered by `seq`. It stays until dismissed.
    pub fn error(text: impl Into<String>, seq: u64) -> Toast {
        Toast::error_kept(format!("error:{seq}"), text)
    }

    /// An error under its own id. It stays until dismissed.
    pub fn error_kept(id: impl Into<String>, text: impl Into<String>) -> Toast {
        Toast::new(id, ToastKind::Error, text)
    }
}

/// Visible toasts, the queue behind them, and the ids already shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToastQueue {
    visible: Vec<Toast>,
    waiting: VecDeque<Toast>,
    /// The last [`SEEN_CAP`] ids pushed, oldest first. A list, not a hash
    /// set: a scan of at most 256 short ids per toast costs nothing, and the
    /// browser bundle carries no hash set of strings (957 B gzip).
    seen: VecDeque<String>,
    /// Whether the user is looking at this tab, and the toasts kept for
    /// when they do.
    attention: Attention,
    held: Vec<Toast>,
}

/// Where the user's eyes are, as far as this tab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attention {
    /// At this tab: toasts show.
    #[default]
    Looking,
    /// Nowhere this tab can see (it is hidden): toasts wait here until the
    /// user comes back ([`HELD_CAP`] at most).
    Away,
    /// At another tab of the same user, which shows the toasts: they are
    /// dropped here.
    Elsewhere,
}

/// How many toasts wait for a hidden tab; more than [`VISIBLE_CAP`] of them
/// come back as one summary.
pub const HELD_CAP: usize = 50;

impl ToastQueue {
    /// The toasts on screen, oldest first.
    pub fn visible(&self) -> &[Toast] {
        &self.visible
    }

    /// The toasts waiting for a free slot, oldest first.
    pub fn waiting(&self) -> impl Iterator<Item = &Toast> {
        self.waiting.iter()
    }

    /// Shows a toast, or queues it when [`VISIBLE_CAP`] are up. A toast whose
    /// id was already pushed (within the last [`SEEN_CAP`]) is ignored.
    ///
    /// While the user looks elsewhere, the toasts of events wait (a hidden
    /// tab) or are left to the tab they look at; an error, which answers
    /// something done in this tab, always shows.
    pub fn push(&mut self, toast: Toast) {
        if self.seen.contains(&toast.id) {
            return;
        }
        self.remember(toast.id.clone());
        match self.attention {
            _ if toast.kind == ToastKind::Error => {}
            Attention::Looking => {}
            Attention::Away => {
                if self.held.len() < HELD_CAP {
                    self.held.push(toast);
                }
                return;
            }
            Attention::Elsewhere => return,
        }
        self.show(toast);
    }

    /// The user's eyes moved. Coming back shows what waited: each toast
    /// when there are at most [`VISIBLE_CAP`], else one that counts them.
    /// Where the user's eyes are, as far as this tab knows.
    pub fn attention(&self) -> Attention {
        self.attention
    }

    pub fn attend(&mut self, attention: Attention) {
        self.attention = attention;
        match attention {
            Attention::Looking => {
                let held = std::mem::take(&mut self.held);
                if held.len() > VISIBLE_CAP {
                    let first = &held[0].id;
                    self.show(Toast::new(
                        format!("away:{first}"),
                        ToastKind::Info,
                        format!("{} order updates while you were away", held.len()),
                    ));
                } else {
                    held.into_iter().for_each(|toast| self.show(toast));
                }
            }
            Attention::Away => {}
            Attention::Elsewhere => self.held.clear(),
        }
    }

    /// The toasts waiting for the user to look at this tab.
    pub fn held(&self) -> &[Toast] {
        &self.held
    }

    fn show(&mut self, toast: Toast) {
        if self.visible.len() < VISIBLE_CAP {
            self.visible.push(toast);
        } else {
            if self.waiting.len() == QUEUE_CAP {
                self.waiting.pop_front();
            }
            self.waiting.push_back(toast);
        }
    }

    /// Removes a toast (visible or waiting) and moves the oldest waiting one
    /// up into the free slot. Unknown ids are ignored.
    pub fn dismiss(&mut self, id: &str) {
        self.waiting.retain(|t| t.id != id);
        let before = self.visible.len();
        self.visible.retain(|t| t.id != id);
        if self.visible.len() < before {
            if let Some(next) = self.waiting.pop_front() {
                self.visible.push(next);
            }
        }
    }

    /// Drops every toast; the seen ids are kept so nothing re-toasts.
    pub fn clear(&mut self) {
        self.visible.clear();
        self.waiting.clear();
    }

    fn remember(&mut self, id: String) {
        if self.seen.len() == SEEN_CAP {
            self.seen.pop_front();
        }
        self.seen.push_back(id);
    }
}

#[cfg(test)]
mod tests;
