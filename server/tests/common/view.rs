//! A browser tab's view of the order stream, for the convergence tests
//! (`chaos.rs`, `proxy.rs`): its state goes through the browser client's own
//! reducer (`client_core::reduce`), and the test counts what arrived, so it
//! can prove that nothing was missed and nothing applied twice. Also the
//! truth those views must reach, computed from what was published.

use std::collections::{HashMap, HashSet};

use client_core::reduce::reduce;
use client_core::state::{Action, AppState, Session};
use protocol::{OrderEvent, OrderStatus, Role, ServerEvent, StatusAt};

/// One arrival of an event: on which connection and relay, with which
/// cursor, and the cursor the client held before it (to tell, when an event
/// arrives twice, which resume sent it again).
#[derive(Debug)]
pub struct Receipt {
    pub connection: u32,
    pub relay_epoch: u32,
    pub cursor: String,
    pub held: Option<String>,
}

/// One client: its state goes through the browser client's own reducer
/// (`client_core::reduce`), plus what the test counts about what arrived.
pub struct View {
    pub state: AppState,
    /// Each event (`frame:order:time`) as it arrived, every time.
    pub seen: HashMap<String, Vec<Receipt>>,
    /// Connections opened so far (the test counts them).
    pub connections: u32,
    /// The statuses received for each order, in events.
    pub received: HashMap<String, Vec<StatusAt>>,
    /// Events that arrived before their order's `order:created`: the relay
    /// sends these again with it, and in each replay from a cursor before it
    /// (by design), so they may arrive more than once.
    pub early: HashSet<String>,
    /// Events that arrived again after their order's `order:created` had:
    /// true duplicates.
    pub duplicates: HashSet<String>,
    /// Early events that arrived again after their order's `order:created`,
    /// first received before a relay restart and again after it: the
    /// restarted relay re-read them (PROTOCOL §1.6).
    pub restart_resent: HashSet<String>,
    /// How many times the relay was restarted so far (the test counts).
    pub relay_epoch: u32,
    /// Snapshots received. The first subscribe (no cursor) gets one; every
    /// resume by cursor must be a replay, or events could go unseen.
    pub snapshots: u32,
    pub wrong_user: u32,
    /// Reconnects the test asked for (the chaos test's kicks).
    pub kicked: u32,
}

impl View {
    pub fn new(user: &str, role: Role) -> View {
        View {
            state: AppState::signed_in(Session::new("token", user, role)),
            seen: HashMap::new(),
            connections: 0,
            received: HashMap::new(),
            early: HashSet::new(),
            duplicates: HashSet::new(),
            restart_resent: HashSet::new(),
            relay_epoch: 0,
            snapshots: 0,
            wrong_user: 0,
            kicked: 0,
        }
    }

    /// Applies one frame; `me` is the user, or `admin` for an admin.
    pub fn on_frame(&mut self, frame: ServerEvent, owner: &HashMap<String, String>, me: &str) {
        match frame {
            ServerEvent::OrdersSnapshot(snapshot) => {
                self.snapshots += 1;
                if me != "admin" {
                    self.wrong_user +=
                        snapshot.orders.iter().filter(|o| o.buyer_id != me).count() as u32;
                }
                reduce(&mut self.state, Action::OrdersLoaded(snapshot));
            }
            ServerEvent::Order { event, cursor } => {
                let key = event_key(&event);
                let receipts = self.seen.entry(key.clone()).or_default();
                receipts.push(Receipt {
                    connection: self.connections,
                    relay_epoch: self.relay_epoch,
                    cursor: cursor.clone(),
                    held: self.state.cursor.clone(),
                });
                let (again, first_epoch) = (receipts.len() > 1, receipts[0].relay_epoch);
                self.received
                    .entry(event.order_id().to_owned())
                    .or_default()
                    .push(StatusAt {
                        status: event.status(),
                        at: event.time(),
                    });
                if !self.state.orders().contains(event.order_id()) {
                    self.early.insert(key);
                } else if again {
                    // Again, after its order's created event: by design only
                    // for an early event the relay re-read after a restart
                    // (PROTOCOL §1.6); anything else is a duplicate.
                    if self.early.contains(&key) && first_epoch < self.relay_epoch {
                        self.restart_resent.insert(key);
                    } else {
                        self.duplicates.insert(key);
                    }
                }
                if me != "admin" && owner.get(event.order_id()).is_some_and(|o| o != me) {
                    self.wrong_user += 1;
                }
                reduce(&mut self.state, Action::Order { event, cursor });
            }
            _ => {}
        }
    }

    /// Whether an update this client never received was superseded by one
    /// it did receive for the same order (what a full queue's collapse does).
    pub fn collapsed(&self, event: &OrderEvent) -> bool {
        let mine = StatusAt {
            status: event.status(),
            at: event.time(),
        };
        !matches!(event, OrderEvent::Created(_))
            && self
                .received
                .get(event.order_id())
                .is_some_and(|got| got.iter().any(|later| later.supersedes(mine)))
    }

    pub fn state(&self) -> HashMap<String, OrderStatus> {
        let orders = self.state.orders();
        orders
            .ids()
            .filter_map(|id| Some((id.clone(), orders.status(id)?.status)))
            .collect()
    }

    /// Counts, over `events` (what was published, `(topic, key, JSON)`),
    /// the ones this client may see by `owner` (everything for `admin`), how
    /// each arrived.
    pub fn tally(
        &self,
        user: &str,
        events: &[(&str, String, String)],
        owner: &HashMap<String, String>,
    ) -> Tally {
        let mut tally = Tally::default();
        for (topic, _, json) in events
            .iter()
            .filter(|(_, k, _)| user == "admin" || owner[k] == *user)
        {
            let event = decode_on(topic, json);
            let k = event_key(&event);
            match self.seen.get(&k).map_or(0, Vec::len) {
                // A slow client's queue collapses an update into a later one
                // for the same order (by design); anything else unseen is lost.
                0 if self.collapsed(&event) => tally.collapsed += 1,
                0 => {
                    tally.missed += 1;
                    if tally.missed <= 5 {
                        eprintln!("{user} never received {k}");
                    }
                }
                1 => {}
                _ if self.restart_resent.contains(&k) => tally.restart_resent += 1,
                _ if self.early.contains(&k) && !self.duplicates.contains(&k) => tally.resent += 1,
                n => {
                    tally.twice += 1;
                    if tally.twice <= 3 {
                        eprintln!("{user} received {k} {n} times: {:?}", self.seen.get(&k));
                        let order = format!(":{}:", event.order_id());
                        for (key, at) in self.seen.iter().filter(|(key, _)| key.contains(&order)) {
                            eprintln!("    {key}: {at:?}");
                        }
                    }
                }
            }
        }
        tally
    }
}

/// How the events a client may see reached it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub missed: usize,
    /// Updates collapsed into a later one in a full queue (by design).
    pub collapsed: usize,
    pub twice: usize,
    /// Early events re-sent with their order's created event, or in a
    /// replay before it (by design).
    pub resent: usize,
    /// Early events a restarted relay re-read and sent again after their
    /// order's created event (by design).
    pub restart_resent: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.missed += other.missed;
        self.collapsed += other.collapsed;
        self.twice += other.twice;
        self.resent += other.resent;
        self.restart_resent += other.restart_resent;
    }
}

pub fn event_key(event: &OrderEvent) -> String {
    format!(
        "{}:{}:{}",
        event.frame_name(),
        event.order_id(),
        event.time().millis()
    )
}

/// A published payload as the relay decodes it.
pub fn decode_on(topic: &str, json: &str) -> OrderEvent {
    let kind = match topic {
        "order.created" => protocol::kafka::TopicKind::Created,
        "order.updated" => protocol::kafka::TopicKind::Updated,
        _ => protocol::kafka::TopicKind::Cancelled,
    };
    let Ok(protocol::Input::Order(event)) = protocol::kafka::decode(kind, json.as_bytes(), 1 << 20)
    else {
        panic!("generated a bad event")
    };
    event
}

/// Each order's status by the §1.4 rule, from what was published.
pub fn truth(events: &[(&str, String, String)]) -> HashMap<String, OrderStatus> {
    let mut status: HashMap<String, StatusAt> = HashMap::new();
    for (topic, _, json) in events {
        let event = decode_on(topic, json);
        let candidate = StatusAt {
            status: event.status(),
            at: event.time(),
        };
        let entry = status
            .entry(event.order_id().to_owned())
            .or_insert(candidate);
        if candidate.supersedes(*entry) {
            *entry = candidate;
        }
    }
    status.into_iter().map(|(id, s)| (id, s.status)).collect()
}

/// What `user` may see of the truth: its own orders, or all for `admin`.
pub fn truth_for(
    user: &str,
    truth: &HashMap<String, OrderStatus>,
    owner: &HashMap<String, String>,
) -> HashMap<String, OrderStatus> {
    truth
        .iter()
        .filter(|(id, _)| user == "admin" || owner[*id] == *user)
        .map(|(id, s)| (id.clone(), *s))
        .collect()
}
