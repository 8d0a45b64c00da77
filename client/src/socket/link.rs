//! Links: the one swappable part of the socket service.
//!
//! A [`Transport`] makes one link per connection attempt. [`Transport::Live`]
//! opens a gloo-net WebSocket to the page's own origin; `Transport::Test`
//! ([`super::test_link`], only with the `test-support` feature, which the
//! browser tests turn on and the bundle never has) reads what a test pushes
//! and records what the client sends. Everything above a link (the
//! reconnect loop, decoding, callbacks, dispatch) is shared.
//!
//! This module also holds the loop's few browser edges: a clock, a timer and
//! a random number for jitter.

use std::time::Duration;

use futures::channel::oneshot;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};

use super::policy::Ended;
#[cfg(any(test, feature = "test-support"))]
use super::test_link::TestFeed;

/// How links are made.
#[derive(Clone)]
pub enum Transport {
    /// A WebSocket to `/ws?token=…` on the page's own origin.
    Live,
    /// A channel driven by a test.
    #[cfg(any(test, feature = "test-support"))]
    Test(TestFeed),
}

/// What one link reports.
pub(crate) enum Incoming {
    Frame(String),
    Closed { code: u16, reason: String },
}

/// An open link.
pub(crate) enum Link {
    Live(WebSocket),
    #[cfg(any(test, feature = "test-support"))]
    Test(TestFeed),
}

/// The close code a browser reports when a socket failed without a close
/// frame (refused, network gone).
pub(super) const ABNORMAL: u16 = 1006;

impl Transport {
    /// Opens a link and sends `subscribe` once it is open. `Err` when the
    /// link never opened.
    pub(crate) async fn connect(&self, token: &str, subscribe: String) -> Result<Link, Ended> {
        match self {
            Transport::Live => open_live(token, subscribe).await,
            #[cfg(any(test, feature = "test-support"))]
            Transport::Test(feed) => {
                feed.connecting_with(token);
                feed.open(subscribe)
                    .await
                    .map(|()| Link::Test(feed.clone()))
            }
        }
    }

    /// After a link failed to open: whether the relay rejects the token
    /// itself (then reconnecting is pointless).
    pub(crate) async fn token_rejected(&self, token: &str) -> bool {
        match self {
            Transport::Live => crate::api::token_rejected(token).await,
            #[cfg(any(test, feature = "test-support"))]
            Transport::Test(_) => false,
        }
    }
}

pub(super) fn closed(code: u16, reason: impl Into<String>) -> Ended {
    Ended::Closed {
        code,
        reason: reason.into(),
    }
}

/// `ws://host/ws?token=…` (or `wss://` on an https page).
fn live_url(token: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().ok()?;
    let token = String::from(js_sys::encode_uri_component(token));
    Some(format!("{scheme}://{host}/ws?token={token}"))
}

async fn open_live(token: &str, subscribe: String) -> Result<Link, Ended> {
    let url = live_url(token).ok_or_else(|| closed(ABNORMAL, "no window location"))?;
    let mut ws = WebSocket::open(&url).map_err(|e| closed(ABNORMAL, e.to_string()))?;
    // The sink waits for the socket to leave CONNECTING; only an open socket
    // has really sent the frame.
    let sent = ws.send(Message::Text(subscribe)).await;
    if sent.is_ok() && matches!(ws.state(), gloo_net::websocket::State::Open) {
        return Ok(Link::Live(ws));
    }
    let mut link = Link::Live(ws);
    match link.next().await {
        Incoming::Closed { code, reason } => Err(closed(code, reason)),
        Incoming::Frame(_) => Err(closed(ABNORMAL, "socket did not open")),
    }
}

impl Link {
    /// Sends one text frame on the open link (`auth:refresh`). `false` when
    /// the socket would not take it (closing or closed); the loop then hears
    /// the close from [`Link::next`].
    pub(crate) async fn send(&mut self, text: String) -> bool {
        match self {
            Link::Live(ws) => ws.send(Message::Text(text)).await.is_ok(),
            #[cfg(any(test, feature = "test-support"))]
            Link::Test(feed) => feed.send(text),
        }
    }

    /// The next frame, or how the link closed. Cancel-safe: the loop drops
    /// this future when the heartbeat timer fires first.
    pub(crate) async fn next(&mut self) -> Incoming {
        match self {
            Link::Live(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => return Incoming::Frame(text),
                    // The relay sends text only; a binary frame is noise.
                    Some(Ok(Message::Bytes(_))) => continue,
                    Some(Err(WebSocketError::ConnectionClose(event))) => {
                        return Incoming::Closed {
                            code: event.code,
                            reason: event.reason,
                        }
                    }
                    // An `error` event is always followed by `close`.
                    Some(Err(_)) => continue,
                    None => {
                        return Incoming::Closed {
                            code: ABNORMAL,
                            reason: String::new(),
                        }
                    }
                }
            },
            #[cfg(any(test, feature = "test-support"))]
            Link::Test(feed) => feed.next().await,
        }
    }
}

/// Milliseconds since the epoch, for the heartbeat window.
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A number in `[0, 1)` for backoff jitter.
pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep(ms: u32) {
    let (done, wait) = oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        Duration::from_millis(u64::from(ms)),
    );
    let _ = wait.await;
}
