//! The HTTP handlers, the error type and the extractors (the routes are in
//! [`super::router`]).
//!
//! - [`error`]: `AppError` (JSON error bodies), the `Caller` and `Body` extractors.
//! - [`orders`]: the order API: list, checkout, cancel, admin status change.
//! - [`ops`]: health, readiness, metrics, demo login.
//! - [`panel`]: the admin Delivery panel: its page, and its charts drawn here.
//! - [`assets`]: the browser client: precompressed, cached, under a CSP.

pub mod assets;
pub mod error;
pub mod ops;
pub mod orders;
pub mod panel;

pub use error::AppError;

#[cfg(test)]
mod tests;
