//! Moving off a draining relay (§3.5): on `server:draining` the page opens a
//! new socket at once, subscribes there with the cursor of the last event it
//! applied, and keeps showing "Connected": no backoff, no gap.

use protocol::frames::Draining;
use protocol::{ClientEvent, Role, ServerEvent};
use wasm_bindgen_test::wasm_bindgen_test;

use client::fixtures::order;

use crate::page::{mount_page, tick, until};

#[wasm_bindgen_test]
async fn a_draining_relay_is_left_at_once_with_the_last_cursor() {
    let mut page = mount_page("alice", Role::User).await;
    page.server.open();
    page.snapshot(vec![]);
    page.created(order("ord-000000000000d001", 1)).await;
    let _ = page.server.sent();
    let _ = page.server.tokens();

    page.server
        .send(&ServerEvent::Draining(Draining::new(10_000)));
    until("a new connection attempt", || {
        !page.server.tokens().is_empty()
    })
    .await;
    assert_eq!(page.chip(), "Connected", "no disconnection shown");

    page.server.open();
    until("subscribed on the new link", || {
        page.server.sent()
            == [ClientEvent::SubscribeOrders {
                cursor: Some("c-1".into()),
            }
            .to_json()]
    })
    .await;
    tick().await;
    assert_eq!(page.chip(), "Connected");
    assert_eq!(page.row_ids(), ["ord-000000000000d001"]);
}
