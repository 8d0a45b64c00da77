//! A checkout body: decoding, validation and pricing are total, and every
//! order a checkout would place is one the relay accepts when it consumes
//! it (its event decodes under the message limit to the same order): a 2xx
//! means the order will appear.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::http::CheckoutRequest;
use protocol::kafka::{decode, Input, TopicKind};
use protocol::{OrderEvent, Timestamp};
use server::core::commands::new_order;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|body: &[u8]| {
    let Ok(request) = serde_json::from_slice::<CheckoutRequest>(body) else {
        return;
    };
    let at = Timestamp(1_762_943_400_000);
    if let Ok(order) = new_order(request, "ord-0123456789abcdef".into(), "buyer", at, LIMIT) {
        let event = OrderEvent::Created(order);
        let consumed = decode(TopicKind::Created, event.to_json().as_bytes(), LIMIT);
        assert_eq!(
            consumed,
            Ok(Input::Order(event)),
            "the relay would refuse its own order"
        );
    }
});
