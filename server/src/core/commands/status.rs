//! Cancel and status change: the rules for moving an existing order.

use protocol::{Order, OrderCancellation, OrderStatus, OrderUpdate, Timestamp};

use super::after;
use super::CommandError;

/// The cancellation of `order` (by its owner or an admin: the caller found
/// the order among those it may see). Only pending or processing orders can
/// be cancelled; a blank reason is no reason.
pub fn cancel(
    order: &Order,
    reason: Option<String>,
    now: Timestamp,
) -> Result<OrderCancellation, CommandError> {
    if !order.status.is_cancellable() {
        return Err(CommandError::NotCancellable(order.status));
    }
    Ok(OrderCancellation {
        order_id: order.order_id.clone(),
        buyer_id: Some(order.buyer_id.clone()),
        reason: reason.filter(|r| !r.trim().is_empty()),
        cancelled_at: after(order.updated_at, now),
    })
}

/// Proof that the caller is an admin: the only way to call [`advance`], so
/// the check is made once, before anything else (an ordinary user gets 403
/// whether or not the order exists).
#[derive(Debug, Clone, Copy)]
pub struct Admin(());

impl Admin {
    /// The relay itself acting as an admin: the demo simulator.
    pub const RELAY: Admin = Admin(());

    pub fn check(is_admin: bool) -> Result<Admin, CommandError> {
        if is_admin {
            Ok(Admin(()))
        } else {
            Err(CommandError::NotAdmin)
        }
    }
}

/// An admin's move of `order` to `to`: forward only, one or more steps.
pub fn advance(
    _: Admin,
    order: &Order,
    to: OrderStatus,
    now: Timestamp,
) -> Result<OrderUpdate, CommandError> {
    if !order.status.can_advance_to(to) {
        return Err(CommandError::NotForward {
            from: order.status,
            to,
        });
    }
    Ok(OrderUpdate {
        order_id: order.order_id.clone(),
        buyer_id: Some(order.buyer_id.clone()),
        status: to,
        previous_status: Some(order.status),
        updated_at: after(order.updated_at, now),
        message: Some(to.message().to_owned()),
    })
}
