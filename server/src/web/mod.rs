//! The web edge: everything a browser or an HTTP client talks to.
//!
//! - [`access`]: the access log, request times and the client's address.
//! - [`http`]: routes, JSON errors, the order API, ops routes, the client's files.
//! - [`ws`]: the WebSocket endpoint (`/ws`).
//! - [`socketio`]: the Socket.IO v4 endpoint (`/socket.io/`), for the seed's clients.
//! - [`session`]: one connection's task, whatever link carries it.
//! - [`auth`]: JWT verification and issuing; the only reader of tokens.
//! - [`drain`]: the SIGTERM drain flag and signal.
//! - [`router`]: every route, in one table.
//! - [`serve`]: the HTTP accept loop.
//! - [`context`]: `AppState`, what every handler shares.

pub(crate) mod access;
pub mod auth;
pub(crate) mod context;
pub(crate) mod drain;
pub(crate) mod http;
pub(crate) mod router;
pub(crate) mod serve;
pub(crate) mod session;
pub(crate) mod socketio;
pub(crate) mod ws;
