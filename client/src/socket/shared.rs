//! One socket per browser, as one more [`Transport`]: [`Shared`] wraps the
//! transport to the relay. In the leader tab it opens that transport's link
//! and passes every frame it reads to the other tabs; in every other tab
//! its link is the tab channel ([`crate::tabs`]): the leader's log first,
//! then the leader's frames. The socket service above it (decoding, the
//! cursor, callbacks, dispatch) is the same code in every tab.
//!
//! When the leader tab closes or crashes, the next tab gets the lead: its
//! link to the channel ends with [`Incoming::Lead`] and the service opens
//! the relay's socket at once, resuming from the last cursor that tab
//! applied, so nothing is missed and nothing comes twice.

use futures::channel::mpsc;
use futures::StreamExt;
use protocol::ClientEvent;

use super::link::{closed, Incoming, Link, Transport};
use super::policy::{Ended, LEADER_DOWN};
use crate::tabs::{Heard, Tab};

/// Why a follower's link ended when the leader's socket did.
const LEADER_LOST: &str = "the leader tab lost its connection";

/// A transport shared by the tabs of one user (or, without a [`Tab`], the
/// inner transport alone).
#[derive(Clone)]
pub struct Shared<T> {
    pub inner: T,
    pub tab: Option<Tab>,
}

/// A link of a [`Shared`] transport.
pub enum SharedLink<L> {
    /// This tab's own link to the relay (the leader's, or a lone tab's).
    Relay {
        link: L,
        /// The tab group and this socket's number in it.
        tab: Option<(Tab, u32)>,
    },
    /// What the leader passes on: its log first, then its frames.
    Follower {
        log: Option<String>,
        heard: mpsc::UnboundedReceiver<Heard>,
    },
}

impl<T: Transport> Transport for Shared<T> {
    type Link = SharedLink<T::Link>;

    async fn connect(&self, token: &str, subscribe: String) -> Result<Self::Link, Ended> {
        let tab = match &self.tab {
            Some(tab) if !tab.is_leader() => {
                let mut heard = tab.listen();
                // Waits for the leader's log (the leader has a socket) or
                // for the lead.
                return match heard.next().await {
                    Some(Heard::Log(lines)) => Ok(SharedLink::Follower {
                        log: Some(lines),
                        heard,
                    }),
                    Some(Heard::Lead) => Err(Ended::Lead),
                    _ => Err(closed(LEADER_DOWN, LEADER_LOST)),
                };
            }
            tab => tab.clone(),
        };
        let link = self.inner.connect(token, subscribe).await?;
        let tab = tab.map(|tab| {
            let socket = tab.socket_up();
            (tab, socket)
        });
        Ok(SharedLink::Relay { link, tab })
    }

    async fn token_rejected(&self, token: &str) -> bool {
        self.inner.token_rejected(token).await
    }
}

impl<L: Link> Link for SharedLink<L> {
    async fn send(&mut self, text: String) -> bool {
        match self {
            SharedLink::Relay { link, .. } => link.send(text).await,
            // The leader speaks to the relay for every tab (its pings,
            // clock and reports).
            SharedLink::Follower { .. } => true,
        }
    }

    async fn next(&mut self) -> Incoming {
        match self {
            SharedLink::Relay { link, tab } => {
                if tab.as_ref().is_some_and(|(tab, _)| tab.wants_rebase()) {
                    // A long log: a fresh snapshot on this socket becomes
                    // its new base (§3.8: subscribing again restarts the
                    // stream). Every tab applies it, as any snapshot.
                    let fresh = ClientEvent::SubscribeOrders { cursor: None }.to_json();
                    link.send(fresh).await;
                }
                let incoming = link.next().await;
                if let Some((tab, socket)) = tab {
                    match &incoming {
                        Incoming::Frame(text) => tab.forward(text),
                        _ => tab.socket_down(*socket),
                    }
                }
                incoming
            }
            SharedLink::Follower { log, heard } => match log.take() {
                Some(lines) => Incoming::History(lines),
                None => Self::follow(heard).await,
            },
        }
    }
}

impl<L> SharedLink<L> {
    async fn follow(heard: &mut mpsc::UnboundedReceiver<Heard>) -> Incoming {
        match heard.next().await {
            Some(Heard::Log(lines)) => Incoming::History(lines),
            Some(Heard::Frame(text)) => Incoming::Frame(text),
            Some(Heard::Lead) => Incoming::Lead,
            Some(Heard::Down) | None => Incoming::Closed {
                code: LEADER_DOWN,
                reason: LEADER_LOST.to_owned(),
            },
        }
    }
}

impl<L> Drop for SharedLink<L> {
    fn drop(&mut self) {
        if let SharedLink::Relay {
            tab: Some((tab, socket)),
            ..
        } = self
        {
            tab.socket_down(*socket);
        }
    }
}
