//! The relay's one clock. Only the edges read it (the HTTP handlers, the
//! hub, the consumer, the checkpoint writer, the demo) and hand the time to
//! the pure core, which never reads a clock: commands stamp their events
//! with it, the model bounds producers' event times by it (§1.7 of
//! docs/PROTOCOL.md), eviction measures keep times from it.

use protocol::Timestamp;

/// The current time.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}
