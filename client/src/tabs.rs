//! One socket per browser: the tabs of one user elect a leader, only the
//! leader holds the relay's socket, and it passes every frame it reads to
//! the other tabs, which apply it through the same socket service
//! ([`crate::socket::Shared`]). The browser side (Web Locks, the
//! BroadcastChannel, the election fallback) is `client/js/tabs.js`; the
//! messages are client-core's [`TabMessage`].
//!
//! A [`Tab`] also keeps the [`FrameLog`] of what its store applied: the
//! leader answers a joining tab with it and saves it in the offline cache
//! ([`crate::cache`]).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use client_core::tabs::{FrameLog, Kept, TabMessage};
use futures::channel::mpsc;
use wasm_bindgen::prelude::*;

use crate::cache;
use crate::time::{now_ms, sleep};

#[wasm_bindgen]
extern "C" {
    type JsTab;

    #[wasm_bindgen(js_namespace = orderRelay, js_name = tab)]
    fn join(name: &str, on_message: &JsValue, on_lead: &JsValue) -> JsTab;

    #[wasm_bindgen(method)]
    fn post(this: &JsTab, text: &str);

    #[wasm_bindgen(method)]
    fn leave(this: &JsTab);

    #[wasm_bindgen(js_namespace = orderRelay, js_name = attention)]
    fn attention(on_change: &JsValue) -> bool;
}

/// Whether the page loaded `client/js/tabs.js` (browser tests that do not
/// test tabs run without it: every tab is then on its own, as before).
pub fn available() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"orderRelay".into()).is_ok_and(|v| v.is_object())
}

/// What another tab asks of this one's app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabEvent {
    /// The user signed out there.
    SignedOut,
    /// The user is looking at another tab: its toasts show there.
    Elsewhere,
}

/// What a follower's link hears from the tab channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The leader's log (frames, one per line): applied first, quietly.
    Log(String),
    /// A frame the leader read from the relay.
    Frame(String),
    /// The leader's socket went down.
    Down,
    /// This tab is the leader now.
    Lead,
}

/// This tab's membership in its user's group of tabs. Clones share it;
/// the last one dropped leaves the group (and releases the lead).
#[derive(Clone)]
pub struct Tab(Rc<Inner>);

struct Inner {
    js: JsTab,
    /// The user's key: the channel, the lock and the cache record.
    key: String,
    /// Who signed the session's token: the cache record's mark.
    signer: String,
    leader: Cell<bool>,
    /// The leader's open socket (its number; 0: none), and the last number
    /// given. Moving off a draining relay opens the next socket before the
    /// old one closes: only the current one's close is news.
    up: Cell<u32>,
    sockets: Cell<u32>,
    log: RefCell<FrameLog>,
    /// The follower link waiting for the leader, and whether it has the log.
    link: RefCell<Option<mpsc::UnboundedSender<Heard>>>,
    joined: Cell<bool>,
    saving: Cell<bool>,
    on_event: Box<dyn Fn(TabEvent)>,
    _callbacks: [JsValue; 2],
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.js.leave();
    }
}

fn callback<A: wasm_bindgen::convert::FromWasmAbi + 'static>(
    f: impl FnMut(A) + 'static,
) -> JsValue {
    Closure::<dyn FnMut(A)>::new(f).into_js_value()
}

impl Tab {
    /// Joins the tabs of `user` (signed in on this origin with a token from
    /// `signer`), or `None` when the page has no tab support.
    pub fn join(user: &str, signer: &str, on_event: impl Fn(TabEvent) + 'static) -> Option<Tab> {
        if !available() {
            return None;
        }
        let key = format!("order-relay:{user}");
        let inner = Rc::new_cyclic(|me: &Weak<Inner>| {
            let me_message = me.clone();
            let on_message = callback(move |text: String| {
                if let (Some(me), Some(message)) = (me_message.upgrade(), TabMessage::decode(&text))
                {
                    Tab(me).heard(message);
                }
            });
            let me_lead = me.clone();
            let on_lead = Closure::<dyn FnMut()>::new(move || {
                if let Some(me) = me_lead.upgrade() {
                    me.leader.set(true);
                    Tab(me).to_link(Heard::Lead);
                }
            })
            .into_js_value();
            Inner {
                js: join(&key, &on_message, &on_lead),
                key,
                signer: signer.to_owned(),
                leader: Cell::new(false),
                up: Cell::new(0),
                sockets: Cell::new(0),
                log: RefCell::default(),
                link: RefCell::new(None),
                joined: Cell::new(false),
                saving: Cell::new(false),
                on_event: Box::new(on_event),
                _callbacks: [on_message, on_lead],
            }
        });
        Some(Tab(inner))
    }

    pub fn is_leader(&self) -> bool {
        self.0.leader.get()
    }

    /// The key of this user's cache record.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The mark of this session's cache record.
    pub fn signer(&self) -> &str {
        &self.0.signer
    }

    fn post(&self, message: TabMessage) {
        self.0.js.post(&message.encode());
    }

    fn to_link(&self, heard: Heard) {
        if let Some(link) = self.0.link.borrow().as_ref() {
            let _ = link.unbounded_send(heard);
        }
    }

    fn heard(&self, message: TabMessage) {
        let me = &self.0;
        match message {
            TabMessage::Frame(text) if me.joined.get() => self.to_link(Heard::Frame(text)),
            // Frames before the log are in the log.
            TabMessage::Frame(_) => {}
            TabMessage::Hello if me.leader.get() && me.up.get() != 0 => self.post_log(),
            TabMessage::Hello => {}
            TabMessage::Log(lines) if !me.joined.get() && me.link.borrow().is_some() => {
                me.joined.set(true);
                self.to_link(Heard::Log(lines));
            }
            TabMessage::Log(_) => {}
            TabMessage::Down => self.to_link(Heard::Down),
            TabMessage::Looking => (me.on_event)(TabEvent::Elsewhere),
            TabMessage::SignedOut => {
                // Nothing of this user's is saved after this.
                me.log.borrow_mut().clear();
                (me.on_event)(TabEvent::SignedOut)
            }
        }
    }

    fn post_log(&self) {
        let lines = self.0.log.borrow().lines();
        self.post(TabMessage::Log(lines));
    }

    /// A follower link starts: asks the leader for its log. What the link
    /// hears comes on the returned channel, the log first.
    pub fn listen(&self) -> mpsc::UnboundedReceiver<Heard> {
        let (tx, rx) = mpsc::unbounded();
        self.0.joined.set(false);
        self.0.log.borrow_mut().restart();
        *self.0.link.borrow_mut() = Some(tx);
        if self.is_leader() {
            self.to_link(Heard::Lead);
        } else {
            self.post(TabMessage::Hello);
        }
        rx
    }

    /// The leader's socket opened: tabs waiting for it get the log.
    /// Returns the socket's number, for [`Tab::socket_down`].
    pub fn socket_up(&self) -> u32 {
        *self.0.link.borrow_mut() = None;
        self.0.log.borrow_mut().restart();
        let socket = self.0.sockets.get() + 1;
        self.0.sockets.set(socket);
        self.0.up.set(socket);
        self.post_log();
        socket
    }

    /// The leader read a frame from the relay: every other tab gets it.
    pub fn forward(&self, text: &str) {
        self.post(TabMessage::Frame(text.to_owned()));
    }

    /// The leader's socket `socket` closed: news for the other tabs only
    /// when it is the current one (not the old link of a drain, closed
    /// after the next one opened).
    pub fn socket_down(&self, socket: u32) {
        if self.0.up.get() == socket {
            self.0.up.set(0);
            self.post(TabMessage::Down);
        }
    }

    /// Whether the leader should ask the relay for a fresh snapshot.
    pub fn wants_rebase(&self) -> bool {
        self.0.log.borrow_mut().wants_rebase()
    }

    /// Keeps a frame this tab's store applied; the leader saves the log to
    /// the cache soon after (at most one write every 500 ms).
    pub fn keep(&self, text: &str, kept: Kept) {
        self.0.log.borrow_mut().keep(text, kept);
        if self.is_leader() && !self.0.saving.replace(true) {
            let me = Rc::downgrade(&self.0);
            wasm_bindgen_futures::spawn_local(async move {
                sleep(500).await;
                let Some(me) = me.upgrade() else { return };
                me.saving.set(false);
                let lines = me.log.borrow().lines();
                cache::save(&me.key, &me.signer, now_ms(), &lines).await;
            });
        }
    }

    /// The user signed out here: every tab of theirs signs out, and the
    /// cache is cleared.
    pub fn sign_out(&self) {
        self.post(TabMessage::SignedOut);
        self.0.log.borrow_mut().clear();
        let key = self.0.key.clone();
        wasm_bindgen_futures::spawn_local(async move { cache::clear(&key).await });
    }

    /// The user is looking at this tab: the others leave toasts to it.
    pub fn looking(&self) {
        self.post(TabMessage::Looking);
    }
}

/// Calls `on_change(visible)` whenever the user looks at the page or away;
/// returns whether they look at it now. `None` without tab support.
pub fn watch_attention(on_change: impl FnMut(bool) + 'static) -> Option<bool> {
    available().then(|| attention(&callback(on_change)))
}
