//! Every HTTP request's line in the access log and its time in
//! `relay_http_request_duration_seconds`, with the client's address.
//!
//! The address is the TCP peer's, or the one a trusted proxy names in
//! `X-Forwarded-For` ([`crate::config::Observability::client_addr`]); it
//! rides on the request as [`ClientAddr`] for the handlers' own logs (the
//! WebSocket endpoint's). Only the path is logged, never the query: a
//! socket's `?token=` stays out of the logs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::context::AppState;

/// The client's address, as far as the relay can tell.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The route label of a request that matched none (the client's files, a
/// 404): a constant, so unknown paths cannot grow the label set.
const UNMATCHED: &str = "static";

pub async fn access(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = peer.map(|peer| {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        app.config.observe.client_addr(peer, forwarded)
    });
    if let Some(client) = client {
        request.extensions_mut().insert(ClientAddr(client));
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    app.metrics
        .http_request(&route, method.as_str(), status, took);
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    let ms = took.as_secs_f64() * 1000.0;
    // Commands at info; probes, scrapes, socket upgrades and files at debug:
    // a reconnect storm must not write a line per socket.
    if route.starts_with("/api/") {
        tracing::info!(target: "access", %method, path, route, status, ms, client, "request");
    } else {
        tracing::debug!(target: "access", %method, path, route, status, ms, client, "request");
    }
    response
}
