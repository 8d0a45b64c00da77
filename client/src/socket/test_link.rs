//! The test transport: a channel that browser tests drive in place of a
//! WebSocket, behind the same [`Transport`] and [`Link`] traits as the live
//! one. Compiled only for tests (the `test-support` feature, which
//! `client`'s own dev-dependency turns on): the release bundle has none of it.

use std::rc::Rc;

use futures::channel::mpsc;
use futures::lock::Mutex;
use futures::StreamExt;
use protocol::ServerEvent;

use super::link::{closed, Incoming, Link, Transport, ABNORMAL};
use super::policy::Ended;

/// What a test pushes into the client's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestWire {
    /// Let the pending connection attempt open.
    Open,
    /// A text frame from the relay.
    Frame(String),
    /// Close the socket (or refuse the attempt) with this code.
    Close(u16),
}

/// The client's end of a test link: a [`Transport`] whose links are
/// itself. Made by [`TestTransport::new`] with the test's end.
#[derive(Clone)]
pub struct TestTransport {
    incoming: Rc<Mutex<mpsc::UnboundedReceiver<TestWire>>>,
    sent: mpsc::UnboundedSender<String>,
    /// The token of each connection attempt.
    tokens: mpsc::UnboundedSender<String>,
}

impl Transport for TestTransport {
    type Link = TestTransport;

    async fn connect(&self, token: &str, subscribe: String) -> Result<TestTransport, Ended> {
        // Records the token of each connection attempt.
        let _ = self.tokens.unbounded_send(token.to_owned());
        loop {
            match self.incoming.lock().await.next().await {
                Some(TestWire::Open) => {
                    let _ = self.sent.unbounded_send(subscribe);
                    return Ok(self.clone());
                }
                // Frames before the socket opened cannot happen on a real
                // socket; they are dropped here too.
                Some(TestWire::Frame(_)) => continue,
                Some(TestWire::Close(code)) => return Err(closed(code, "refused")),
                None => return Err(closed(ABNORMAL, "test server gone")),
            }
        }
    }

    /// A test relay never refuses the token over HTTP.
    async fn token_rejected(&self, _token: &str) -> bool {
        false
    }
}

impl Link for TestTransport {
    async fn send(&mut self, text: String) -> bool {
        self.sent.unbounded_send(text).is_ok()
    }

    async fn next(&mut self) -> Incoming {
        match self.incoming.lock().await.next().await {
            Some(TestWire::Frame(text)) => Incoming::Frame(text),
            Some(TestWire::Close(code)) => Incoming::Closed {
                code,
                reason: String::new(),
            },
            Some(TestWire::Open) | None => Incoming::Closed {
                code: ABNORMAL,
                reason: "test server gone".into(),
            },
        }
    }
}

/// The test's end: pushes frames, reads what the client sent.
pub struct TestServer {
    feed: mpsc::UnboundedSender<TestWire>,
    sent: mpsc::UnboundedReceiver<String>,
    tokens: mpsc::UnboundedReceiver<String>,
}

impl TestTransport {
    /// A transport fed by the returned [`TestServer`].
    pub fn new() -> (TestTransport, TestServer) {
        let (feed, incoming) = mpsc::unbounded();
        let (sent_tx, sent) = mpsc::unbounded();
        let (tokens_tx, tokens) = mpsc::unbounded();
        let transport = TestTransport {
            incoming: Rc::new(Mutex::new(incoming)),
            sent: sent_tx,
            tokens: tokens_tx,
        };
        (transport, TestServer { feed, sent, tokens })
    }
}

impl TestServer {
    pub fn push(&self, wire: TestWire) {
        let _ = self.feed.unbounded_send(wire);
    }

    /// Opens the pending connection attempt.
    pub fn open(&self) {
        self.push(TestWire::Open);
    }

    /// Sends a frame, encoded by the protocol crate.
    pub fn send(&self, event: &ServerEvent) {
        self.push(TestWire::Frame(event.to_json()));
    }

    /// Sends raw text (for malformed frames).
    pub fn send_text(&self, text: &str) {
        self.push(TestWire::Frame(text.to_owned()));
    }

    pub fn close(&self, code: u16) {
        self.push(TestWire::Close(code));
    }

    /// The frames the client has sent since the last call.
    pub fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.sent.try_recv().ok()).collect()
    }

    /// The tokens the client connected with (`/ws?token=`), one per
    /// connection attempt, since the last call.
    pub fn tokens(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.tokens.try_recv().ok()).collect()
    }
}
