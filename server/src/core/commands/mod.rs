//! The order commands as pure functions: checkout, cancel and the admin's
//! status change. Each takes what it acts on (the cart, the current order,
//! the caller) and the time, and returns the event to publish or a typed
//! [`CommandError`]. No IO: the HTTP handlers fetch the order, call these,
//! publish the event and map the error to a status; the demo simulator calls
//! the same functions.
//!
//! - [`checkout`]: cart limits, prices, order ids, idempotency keys.
//! - [`status`]: cancel and advance, forward-only.

pub mod checkout;
pub mod status;

use protocol::{ErrorCode, OrderStatus, Timestamp};

pub use checkout::{new_order, Cart};
pub use status::{advance, cancel, Admin};

/// Why a command was refused. Each variant has one error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The cart or the request breaks a rule; the text says which.
    #[error("{0}")]
    Invalid(String),
    #[error("this order's event would be {size} bytes, over the {limit}-byte limit of the order topics: send fewer or shorter lines")]
    TooLarge { size: usize, limit: usize },
    #[error(
        "Idempotency-Key must be 1-{} visible ASCII characters, such as a UUID",
        checkout::MAX_IDEMPOTENCY_KEY
    )]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used for another order: use a new key for a new order")]
    IdempotencyKeyReused,
    #[error("only admins can change an order's status")]
    NotAdmin,
    #[error("order is {}: only {} orders can be cancelled", .0.as_str(), OrderStatus::list(&OrderStatus::CANCELLABLE, "or"))]
    NotCancellable(OrderStatus),
    #[error("cannot move an order from {} to {}: only forward moves along {}", .from.as_str(), .to.as_str(), OrderStatus::list(&OrderStatus::FORWARD, " → "))]
    NotForward { from: OrderStatus, to: OrderStatus },
}

impl CommandError {
    /// The stable code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::Invalid(_) => ErrorCode::InvalidData,
            CommandError::TooLarge { .. } => ErrorCode::TooLarge,
            CommandError::InvalidIdempotencyKey => ErrorCode::InvalidIdempotencyKey,
            CommandError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            CommandError::NotAdmin => ErrorCode::Forbidden,
            CommandError::NotCancellable(_) | CommandError::NotForward { .. } => {
                ErrorCode::Conflict
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// `now`, but strictly after `previous`: a command's event must win over the
/// state it was checked against, even within one millisecond or with a
/// producer clock that runs ahead of this one.
pub fn after(previous: Timestamp, now: Timestamp) -> Timestamp {
    now.max(Timestamp(previous.0.saturating_add(1)))
}
