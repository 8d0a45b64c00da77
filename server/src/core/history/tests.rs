use protocol::{OrderStatus, Timestamp};

use super::*;
use crate::fixtures::{created as created_at, pos, updated as updated_at, ANY_TIME};

fn created(id: &str, buyer: &str) -> OrderEvent {
    created_at(id, buyer, 1)
}

fn updated(id: &str, status: OrderStatus) -> OrderEvent {
    updated_at(id, None, status, 2)
}

const CREATED: u8 = 0;
const UPDATED: u8 = 1;

/// Consumes events the way the hub does and returns the cursor after each.
fn consume(
    history: &mut History,
    model: &mut ReadModel,
    events: Vec<(Pos, OrderEvent)>,
) -> Vec<Cursor> {
    let mut cursor = Cursor::default();
    let mut cursors = Vec::new();
    for (pos, mut event) in events {
        model
            .apply(&mut event, history.next_seq(), ANY_TIME, Timestamp(0))
            .expect("accepted");
        history.push(pos, Arc::new(event));
        cursor.advance(pos);
        cursors.push(cursor.clone());
    }
    cursors
}

fn ids(replay: &[(&Entry, Cursor)]) -> Vec<String> {
    replay
        .iter()
        .map(|(e, _)| format!("{}:{}", e.event.order_id(), e.event.status().as_str()))
        .collect()
}

#[test]
fn resume_replays_exactly_the_missed_events_of_that_user() {
    let (mut history, mut model) = (History::new(100), ReadModel::default());
    let cursors = consume(
        &mut history,
        &mut model,
        vec![
            (pos(CREATED, 0), created("a1", "alice")),
            (pos(CREATED, 1), created("b1", "bob")),
            (pos(UPDATED, 0), updated("a1", OrderStatus::Processing)),
            (pos(UPDATED, 1), updated("b1", OrderStatus::Processing)),
            (pos(UPDATED, 2), updated("a1", OrderStatus::Shipped)),
        ],
    );
    let replay = history
        .replay(&cursors[1], Viewer::Buyer("alice"), &model)
        .unwrap();
    assert_eq!(ids(&replay), ["a1:processing", "a1:shipped"]);
    // The last replayed event's cursor is the relay's position at that event.
    assert_eq!(replay.last().unwrap().1, cursors[4]);
    let admin = history.replay(&cursors[2], Viewer::Admin, &model).unwrap();
    assert_eq!(ids(&admin), ["b1:processing", "a1:shipped"]);
    assert!(history
        .replay(&cursors[4], Viewer::Buyer("alice"), &model)
        .unwrap()
        .is_empty());
}

#[test]
fn events_released_after_the_cursor_are_replayed_to_their_buyer() {
    let (mut history, mut model) = (History::new(100), ReadModel::default());
    let cursors = consume(
        &mut history,
        &mut model,
        vec![
            (pos(UPDATED, 0), updated("a1", OrderStatus::Processing)),
            (pos(CREATED, 0), created("a1", "alice")),
        ],
    );
    // Alice's cursor is past the orphan update but before its created event:
    // she never received the update, so it must be replayed.
    let replay = history
        .replay(&cursors[0], Viewer::Buyer("alice"), &model)
        .unwrap();
    assert_eq!(ids(&replay), ["a1:processing", "a1:pending"]);
}

#[test]
fn a_cursor_older_than_the_history_gets_no_partial_replay() {
    let (mut history, mut model) = (History::new(2), ReadModel::default());
    let cursors = consume(
        &mut history,
        &mut model,
        (0..4)
            .map(|i| (pos(CREATED, i), created(&format!("o{i}"), "alice")))
            .collect(),
    );
    assert!(history
        .replay(&Cursor::default(), Viewer::Buyer("alice"), &model)
        .is_none());
    assert!(history
        .replay(&cursors[0], Viewer::Buyer("alice"), &model)
        .is_none());
    assert_eq!(
        ids(&history
            .replay(&cursors[1], Viewer::Buyer("alice"), &model)
            .unwrap()),
        ["o2:pending", "o3:pending"]
    );
    assert_eq!(history.len(), 2);
    assert!(history.get(0).is_none() && history.get(3).is_some());
}

#[test]
fn a_cursor_from_before_kafkas_log_start_gets_no_partial_replay() {
    // Retention removed offsets 0 and 1; the relay consumed from offset 2.
    let (mut history, mut model) = (History::new(100), ReadModel::default());
    history.log_starts_at(
        PartitionId {
            topic: CREATED,
            partition: 0,
        },
        2,
    );
    let cursors = consume(
        &mut history,
        &mut model,
        (2..4)
            .map(|i| (pos(CREATED, i), created(&format!("o{i}"), "alice")))
            .collect(),
    );
    let before_trim = Cursor::parse("v1.0-0-1").unwrap();
    assert!(history
        .replay(&before_trim, Viewer::Buyer("alice"), &model)
        .is_none());
    let at_log_start = Cursor::parse("v1.0-0-2").unwrap();
    assert_eq!(
        ids(&history
            .replay(&at_log_start, Viewer::Buyer("alice"), &model)
            .unwrap()),
        ["o2:pending", "o3:pending"]
    );
    assert_eq!(
        ids(&history
            .replay(&cursors[0], Viewer::Buyer("alice"), &model)
            .unwrap()),
        ["o3:pending"]
    );
}
