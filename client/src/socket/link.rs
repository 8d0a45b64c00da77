//! Links: the one swappable part of the socket service.
//!
//! A [`Transport`] makes one [`Link`] per connection attempt. The socket
//! service is generic over it, so a build carries only the transports it
//! uses: the app's is [`LiveTransport`], a gloo-net WebSocket to the page's
//! own origin; tests use the channel-fed `TestTransport`
//! (`super::test_link`, only with the `test-support` feature, which the
//! browser tests turn on and the bundle never has). Everything above a link
//! (the reconnect loop, decoding, callbacks, dispatch) is shared.

use std::future::Future;

use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};

use super::policy::Ended;

/// How links are made.
pub trait Transport: Clone + 'static {
    /// An open link.
    type Link: Link;

    /// Opens a link and sends `subscribe` once it is open. `Err` when the
    /// link never opened.
    fn connect(
        &self,
        token: &str,
        subscribe: String,
    ) -> impl Future<Output = Result<Self::Link, Ended>>;

    /// After a link failed to open: whether the relay rejects the token
    /// itself (then reconnecting is pointless).
    fn token_rejected(&self, token: &str) -> impl Future<Output = bool>;
}

/// An open link.
pub trait Link {
    /// Sends one text frame on the open link (`ping`, `auth:refresh`).
    /// `false` when the link would not take it (closing or closed); the loop
    /// then hears the close from [`Link::next`].
    fn send(&mut self, text: String) -> impl Future<Output = bool>;

    /// The next frame, or how the link closed. Cancel-safe: the loop drops
    /// this future when the heartbeat timer fires first.
    fn next(&mut self) -> impl Future<Output = Incoming>;
}

/// What one link reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Frame(String),
    /// Frames, one per line, that another tab already applied (its log):
    /// applied quietly, before what follows.
    History(String),
    Closed {
        code: u16,
        reason: String,
    },
    /// This tab became the leader of its user's tabs: the link to the
    /// leader ends, and the socket to the relay opens at once.
    Lead,
}

/// The close code a browser reports when a socket failed without a close
/// frame (refused, network gone).
pub(super) const ABNORMAL: u16 = 1006;

pub(super) fn closed(code: u16, reason: impl Into<String>) -> Ended {
    Ended::Closed {
        code,
        reason: reason.into(),
    }
}

/// A WebSocket to `/ws?auth=message` on the page's own origin: the token
/// goes in the first frame (`auth`), never in a URL a proxy would log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveTransport;

/// An open WebSocket.
pub struct LiveLink(WebSocket);

impl Transport for LiveTransport {
    type Link = LiveLink;

    async fn connect(&self, token: &str, subscribe: String) -> Result<LiveLink, Ended> {
        let url = live_url().ok_or_else(|| closed(ABNORMAL, "no window location"))?;
        let mut ws = WebSocket::open(&url).map_err(|e| closed(ABNORMAL, e.to_string()))?;
        // The sink waits for the socket to leave CONNECTING; only an open
        // socket has really sent the frames.
        let auth = protocol::ClientEvent::Auth {
            token: token.to_owned(),
        }
        .to_json();
        let mut sent = ws.send(Message::Text(auth)).await;
        if sent.is_ok() {
            sent = ws.send(Message::Text(subscribe)).await;
        }
        if sent.is_ok() && matches!(ws.state(), gloo_net::websocket::State::Open) {
            return Ok(LiveLink(ws));
        }
        let mut link = LiveLink(ws);
        match link.next().await {
            Incoming::Closed { code, reason } => Err(closed(code, reason)),
            _ => Err(closed(ABNORMAL, "socket did not open")),
        }
    }

    async fn token_rejected(&self, token: &str) -> bool {
        crate::api::token_rejected(token).await
    }
}

/// `ws://host/ws?auth=message` (or `wss://` on an https page).
fn live_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().ok()?;
    Some(format!("{scheme}://{host}/ws?auth=message"))
}

impl Link for LiveLink {
    async fn send(&mut self, text: String) -> bool {
        self.0.send(Message::Text(text)).await.is_ok()
    }

    async fn next(&mut self) -> Incoming {
        loop {
            match self.0.next().await {
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
        }
    }
}
