//! A record read from the state topic (a checkpoint's part or commit):
//! decoding is total, a commit's claims are checked against what was read,
//! and a part that passes the checks restores into a relay state without a
//! panic, whatever its counts, positions and ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::checkpoint::StateRecord;
use server::core::cursor::{Cursor, Pos};
use server::core::relay_state::{RelayState, Retention, Saved};

fuzz_target!(|data: &[u8]| {
    let Ok(record) = StateRecord::from_json(data) else {
        return;
    };
    match record {
        StateRecord::Commit(commit) => {
            let saved = Saved {
                position: Cursor::parse(&commit.position).unwrap_or_default(),
                history_from: Cursor::parse(&commit.history_from).unwrap_or_default(),
                ..Saved::default()
            };
            let _ = saved.check(commit.orders, &|_| Some(1_000_000));
        }
        StateRecord::Part(part) => {
            // A position that covers the part's own history, as a sealed
            // relay's checkpoint would.
            let mut position = Cursor::default();
            for entry in &part.history {
                position.advance(Pos::from(entry.at));
            }
            let saved = Saved {
                position,
                history_from: Cursor::default(),
                orders: part.orders,
                early: part.early,
                history: part.history,
                evicted: part.evicted,
            };
            let claimed = saved.orders.len() as u64;
            if saved.check(claimed, &|_| Some(i64::MAX)).is_ok() {
                let mut state =
                    RelayState::new(Retention::new(1000, std::time::Duration::from_secs(60)));
                state.restore(saved);
                let _ = state.save();
            }
        }
    }
});
