//! The pure core: what the relay knows and decides, as plain data and
//! functions. No IO, no lock, no clock, no metrics: the time comes in as an
//! argument, and what happened goes out as a value the layers above count,
//! log and deliver. Nothing here imports from `fanout`, `kafka`, `web` or
//! `demo` (`.ci/check-layers` checks it).
//!
//! - [`viewer`]: who is asking (`User`) and the one rule of who sees an order.
//! - [`claims`]: the user id and admin rule read from a verified token's claims.
//! - [`cursor`]: Kafka positions and the cursors built from them.
//! - [`model`]: the read model: orders, owners, what a faulty producer is refused.
//! - [`history`]: recent events, and which of them a resuming viewer missed.
//! - [`relay_state`]: model + history + position: apply, answer, evict, save.
//! - [`delivery`]: encoded frames and what an applied event sends.
//! - [`parking`]: subscriptions waiting for the relay to load or catch up.
//! - [`report`]: what a browser's delivery report may add to the metrics.
//! - [`commands`]: checkout, cancel and status change as pure functions.
//! - [`limits`]: connection caps and the client frame rate.
//! - [`watchdog`]: when a consumer counts as stalled, and when as unhealthy.

pub mod claims;
pub mod commands;
pub mod cursor;
pub(crate) mod delivery;
pub(crate) mod history;
pub(crate) mod limits;
pub(crate) mod model;
pub(crate) mod parking;
pub mod relay_state;
pub(crate) mod report;
pub mod viewer;
pub(crate) mod watchdog;
