//! A Kafka message of any of the four topics: decoding is total (a typed
//! input or a typed reject, never a panic), and an accepted order event
//! re-encodes to a message that decodes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::kafka::{decode, Input, TopicKind};

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let kind = match which % 4 {
        0 => TopicKind::Created,
        1 => TopicKind::Updated,
        2 => TopicKind::Cancelled,
        _ => TopicKind::Notifications,
    };
    if let Ok(Input::Order(event)) = decode(kind, payload, 64 * 1024) {
        let again = decode(kind, event.to_json().as_bytes(), usize::MAX);
        assert_eq!(
            again,
            Ok(Input::Order(event)),
            "re-encoding changed the event"
        );
    }
});
