//! The relay's checkpoint records: what a relay writes to the state topic
//! (`order.state` by default) so that another relay, or itself after a
//! restart, starts from its state instead of re-reading every order topic
//! from the beginning (§1.9 of docs/PROTOCOL.md).
//!
//! A checkpoint is a run of [`Part`] messages followed by one [`Commit`], all keyed by the checkpoint's id, in one
//! partition. A reader takes the newest commit and the parts it names; a
//! checkpoint whose writer died before its commit is ignored.

use serde::{Deserialize, Serialize};

use crate::kafka::{OrderCancellation, OrderEvent, OrderUpdate};
use crate::order::{Order, OrderStatus};
use crate::time::Timestamp;

/// Where a message was consumed: the order topic (0 created, 1 updated,
/// 2 cancelled), the partition and the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub topic: u8,
    pub partition: i32,
    pub offset: i64,
}

/// An order event as the history keeps it, tagged by kind
/// (`{"updated": {…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeptEvent {
    Created(Order),
    Updated(OrderUpdate),
    Cancelled(OrderCancellation),
}

impl From<OrderEvent> for KeptEvent {
    fn from(event: OrderEvent) -> KeptEvent {
        match event {
            OrderEvent::Created(order) => KeptEvent::Created(order),
            OrderEvent::Updated(update) => KeptEvent::Updated(update),
            OrderEvent::Cancelled(cancellation) => KeptEvent::Cancelled(cancellation),
        }
    }
}

impl From<KeptEvent> for OrderEvent {
    fn from(event: KeptEvent) -> OrderEvent {
        match event {
            KeptEvent::Created(order) => OrderEvent::Created(order),
            KeptEvent::Updated(update) => OrderEvent::Updated(update),
            KeptEvent::Cancelled(cancellation) => OrderEvent::Cancelled(cancellation),
        }
    }
}

/// One entry of the relay's recent history (for resume by cursor), so a
/// restarted relay still replays what a client missed across the restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Position,
    pub event: KeptEvent,
}

/// An order the relay keeps, with when it finished (if it did), by the
/// writer's clock: its eviction countdown survives the restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptOrder {
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

/// A status event consumed before its order's `order.created`, still
/// waiting for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlyStatus {
    pub order_id: String,
    /// The buyer the event named, unconfirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named: Option<String>,
    pub status: OrderStatus,
    pub at: Timestamp,
    /// Where it was consumed, when the history still holds it: it is sent
    /// to the owner once the order's created event confirms them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// When the relay held its order's first waiting status, by the relay's
    /// clock: the statuses expire the keep time after it (older checkpoints
    /// lack it; `at` stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<Timestamp>,
}

/// An evicted order's id, kept so that its owner stays decided: the
/// 64-bit FNV-1a hashes of the order id and of its owner, and when it was
/// evicted (ms since the epoch, the writer's clock). Stored as a JSON array
/// `[id, owner, at]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvictedId(pub u64, pub u64, pub i64);

/// A slice of a checkpoint's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub id: String,
    pub index: u32,
    #[serde(default)]
    pub orders: Vec<KeptOrder>,
    #[serde(default)]
    pub early: Vec<EarlyStatus>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default)]
    pub evicted: Vec<EvictedId>,
}

/// The checkpoint is complete: `parts` parts from `first_offset` on (other
/// messages may be interleaved), covering the order topics up to `position`
/// (a cursor: every message before it is in the state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub id: String,
    pub parts: u32,
    pub first_offset: i64,
    pub position: String,
    /// The history's floor (a cursor): a client cursor from before it gets
    /// a snapshot.
    pub history_from: String,
    pub taken_at: Timestamp,
    pub orders: u64,
}

/// One message of the state topic: `{"kind":"part",…}` or
/// `{"kind":"commit",…}`.
#[derive(Debug, Clone, PartialEq)]
pub enum StateRecord {
    Part(Part),
    Commit(Commit),
}

impl StateRecord {
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "camelCase")]
        enum Tagged<'a> {
            Part(&'a Part),
            Commit(&'a Commit),
        }
        let tagged = match self {
            StateRecord::Part(part) => Tagged::Part(part),
            StateRecord::Commit(commit) => Tagged::Commit(commit),
        };
        serde_json::to_string(&tagged).expect("a state record always serializes")
    }

    /// Reads a record. (Not with serde's internally tagged enums: they
    /// buffer their content, which shipping addresses, carried as raw JSON,
    /// do not survive.)
    pub fn from_json(bytes: &[u8]) -> Result<StateRecord, serde_json::Error> {
        #[derive(Deserialize)]
        struct Kind<'a> {
            #[serde(borrow)]
            kind: &'a str,
        }
        let kind = if bytes.starts_with(br#"{"kind":"part""#) {
            "part"
        } else if bytes.starts_with(br#"{"kind":"commit""#) {
            "commit"
        } else {
            serde_json::from_slice::<Kind<'_>>(bytes)?.kind
        };
        match kind {
            "part" => serde_json::from_slice(bytes).map(StateRecord::Part),
            "commit" => serde_json::from_slice(bytes).map(StateRecord::Commit),
            other => Err(serde::de::Error::custom(format!(
                "unknown state record kind `{other}`"
            ))),
        }
    }
}

/// Encodes a checkpoint's state as part records of at most about
/// `part_bytes` each (one record bigger than that gets a part of its own):
/// the orders, then the history in its order, then the waiting statuses.
/// Always at least one part.
pub fn encode_parts(
    id: &str,
    orders: &[KeptOrder],
    early: &[EarlyStatus],
    history: &[HistoryEntry],
    evicted: &[EvictedId],
    part_bytes: usize,
) -> Vec<String> {
    let id = serde_json::to_string(id).expect("a string serializes");
    let mut parts = Vec::new();
    let mut batch = Batch::default();
    for kept in orders {
        batch.add(&mut parts, &id, Field::Orders, kept, part_bytes);
    }
    for entry in history {
        batch.add(&mut parts, &id, Field::History, entry, part_bytes);
    }
    for waiting in early {
        batch.add(&mut parts, &id, Field::Early, waiting, part_bytes);
    }
    for gone in evicted {
        batch.add(&mut parts, &id, Field::Evicted, gone, part_bytes);
    }
    batch.finish(&mut parts, &id);
    parts
}

/// Which list of a part a record goes in.
#[derive(Clone, Copy)]
enum Field {
    Orders,
    History,
    Early,
    Evicted,
}

/// The part being filled: each list's records, as JSON.
#[derive(Default)]
struct Batch {
    lists: [String; 4],
}

impl Batch {
    fn len(&self) -> usize {
        self.lists.iter().map(String::len).sum()
    }

    fn add<T: Serialize>(
        &mut self,
        parts: &mut Vec<String>,
        id: &str,
        field: Field,
        record: &T,
        part_bytes: usize,
    ) {
        let json = serde_json::to_string(record).expect("a checkpoint record serializes");
        if self.len() > 0 && self.len() + json.len() > part_bytes {
            self.finish(parts, id);
        }
        let list = &mut self.lists[field as usize];
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(&json);
    }

    /// Closes the part (an empty one too, so a checkpoint has at least one).
    fn finish(&mut self, parts: &mut Vec<String>, id: &str) {
        let [orders, history, early, evicted] = std::mem::take(&mut self.lists);
        let index = parts.len();
        parts.push(format!(
            r#"{{"kind":"part","id":{id},"index":{index},"orders":[{orders}],"history":[{history}],"early":[{early}],"evicted":[{evicted}]}}"#
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let commit = StateRecord::Commit(Commit {
            id: "c1".into(),
            parts: 2,
            first_offset: 7,
            position: "v1.0-0-5".into(),
            history_from: "v1".into(),
            taken_at: Timestamp(1),
            orders: 3,
        });
        let json = commit.to_json();
        assert!(json.starts_with(r#"{"kind":"commit","id":"c1""#), "{json}");
        assert_eq!(StateRecord::from_json(json.as_bytes()).unwrap(), commit);
        let part = StateRecord::Part(Part {
            id: "c1".into(),
            index: 0,
            orders: Vec::new(),
            history: Vec::new(),
            evicted: vec![EvictedId(u64::MAX, 7, -1)],
            early: vec![EarlyStatus {
                order_id: "o".into(),
                named: None,
                status: OrderStatus::Shipped,
                at: Timestamp(2),
                position: None,
                held_since: Some(Timestamp(3)),
            }],
        });
        assert_eq!(
            StateRecord::from_json(part.to_json().as_bytes()).unwrap(),
            part
        );
        assert!(StateRecord::from_json(b"{}").is_err());
        assert!(StateRecord::from_json(br#"{"id":"x","kind":"commit"}"#).is_err());
        let spaced = br#"{ "kind": "part", "id": "c", "index": 0 }"#;
        assert!(matches!(
            StateRecord::from_json(spaced),
            Ok(StateRecord::Part(_))
        ));
    }

    #[test]
    fn parts_hold_every_order_once_under_the_size() {
        let order = |i: u32| {
            KeptOrder {
            order: serde_json::from_str(&format!(
                r#"{{"orderId":"o{i}","buyerId":"b","items":[],"subtotal":1,"tax":0,"total":1,"status":"pending","createdAt":"2025-11-12T10:30:00Z","updatedAt":"2025-11-12T10:30:00Z"}}"#
            ))
            .unwrap(),
            finished_at: i.is_multiple_of(2).then_some(Timestamp(i64::from(i))),
        }
        };
        let orders: Vec<KeptOrder> = (0..50).map(order).collect();
        let early = [EarlyStatus {
            order_id: "x".into(),
            named: Some("b".into()),
            status: OrderStatus::Processing,
            at: Timestamp(9),
            position: Some(Position {
                topic: 1,
                partition: 0,
                offset: 3,
            }),
            held_since: None,
        }];
        let history: Vec<HistoryEntry> = orders
            .iter()
            .zip(0..)
            .map(|(kept, offset)| HistoryEntry {
                at: Position {
                    topic: 0,
                    partition: 1,
                    offset,
                },
                event: KeptEvent::Created(kept.order.clone()),
            })
            .collect();
        let evicted: Vec<EvictedId> = (0..30).map(|i| EvictedId(u64::MAX - i, i, 5)).collect();
        let parts = encode_parts("c\"1", &orders, &early, &history, &evicted, 1000);
        assert!(parts.len() > 5, "{}", parts.len());
        let mut seen = Vec::new();
        let mut waiting = Vec::new();
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(part.len() < 1500, "{}", part.len());
            let StateRecord::Part(Part {
                id,
                index,
                orders,
                early,
                history,
                evicted,
            }) = StateRecord::from_json(part.as_bytes()).unwrap()
            else {
                panic!("a part")
            };
            assert_eq!((id.as_str(), index as usize), ("c\"1", i));
            seen.extend(orders);
            waiting.extend(early);
            kept.extend(history);
            gone.extend(evicted);
        }
        assert_eq!(gone, evicted);
        assert_eq!(seen, orders);
        assert_eq!(waiting, early);
        assert_eq!(kept, history);
        assert_eq!(encode_parts("e", &[], &[], &[], &[], 1000).len(), 1);
    }
}
