//! The web edge: everything a browser or an HTTP client talks to.
//!
//! - [`http`]: routes, JSON errors, the order API, ops routes, the client's files.
//! - [`ws`]: the WebSocket endpoint, one task per connection.
//! - [`auth`]: JWT verification and issuing; the only reader of tokens.
//! - [`drain`]: the SIGTERM drain flag and signal.
//! - [`router`]: every route, in one table.
//! - [`serve`]: the HTTP accept loop.
//! - [`context`]: `AppState`, what every handler shares.

pub mod auth;
pub mod context;
pub mod drain;
pub mod http;
pub mod router;
pub mod serve;
pub mod ws;
