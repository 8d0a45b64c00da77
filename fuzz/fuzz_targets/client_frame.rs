//! A WebSocket frame from a client: decoding is total, and a decoded frame
//! re-encodes to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ClientEvent;

fuzz_target!(|text: &str| {
    if let Ok(event) = ClientEvent::from_json(text) {
        assert_eq!(ClientEvent::from_json(&event.to_json()), Ok(event));
    }
});
