//! The HTTP server loop: accepts TCP connections and serves each with hyper,
//! with the timeouts `axum::serve` does not set.
//!
//! - A request head (request line and headers) must arrive within
//!   `--http-header-timeout-ms`. hyper starts that clock whenever it waits
//!   for a head, so the same limit closes a kept-alive connection that sends
//!   no next request: one setting against slowloris and idle keep-alive.
//! - A request must be answered within `--http-request-timeout-ms` (408),
//!   see [`crate::web::router::router`]; a WebSocket upgrade is answered at once,
//!   and the socket then lives by its own rules (pings, expiry).
//!
//! On shutdown it stops accepting, lets in-flight requests finish, and
//! returns once every HTTP connection is closed.

use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Every connection task holds a receiver; `closed()` resolves when the
    // last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            _ = async { let _ = shutdown.wait_for(|stopping| *stopping).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // No Nagle: a frame goes out when written. With it, a frame written
        // while the client still delays its ACK for the previous one could
        // wait up to ~40 ms. Bursts to one connection are what it protects.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY: {e}");
        }
        // The peer's address rides on each request, for the access log.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |request: axum::http::Request<Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        let (mut stop, open) = (shutdown.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let mut conn =
                pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
            let mut stopping = pin!(async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            });
            let mut graceful = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!("connection ended: {e:#}");
                        }
                        break;
                    }
                    _ = &mut stopping, if !graceful => {
                        graceful = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open);
        });
    }
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}
