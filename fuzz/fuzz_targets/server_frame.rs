//! A WebSocket frame from the relay, as a browser decodes it: total, and a
//! decoded frame re-encodes to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ServerEvent;

fuzz_target!(|text: &str| {
    if let Ok(event) = ServerEvent::from_json(text) {
        assert_eq!(ServerEvent::from_json(&event.to_json()), Ok(event));
    }
});
