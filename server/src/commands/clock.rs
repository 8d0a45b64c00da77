//! The relay's clock, in one place: commands stamp their events with it,
//! and the consumer bounds producers' event times by it (§1.7 of
//! docs/PROTOCOL.md).

use protocol::Timestamp;

/// The current time.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// `now`, but strictly after `previous`: a command's event must win over the
/// state it was checked against, even within one millisecond or with a
/// producer clock that runs ahead of this one.
pub fn after(previous: Timestamp, now: Timestamp) -> Timestamp {
    now.max(Timestamp(previous.0.saturating_add(1)))
}
