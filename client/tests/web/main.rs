//! Browser tests: the real app in headless Chromium, its socket fed by the
//! test through `TestTransport`. Everything between the frame and the DOM
//! (decode, callbacks, dispatch, reducer, store, view) is production code.
//!
//! Run: `cargo test -p client --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

mod commands;
mod devtools;
mod drain;
mod heartbeat;
mod host;
mod page;
mod refresh;
mod tabs;

use protocol::frames::close;
use protocol::{ClientEvent, OrderStatus, Role};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

use client::fixtures::order;
use page::{mount_page, open_orders_page, tick, until, Watch};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_created_order_goes_on_top_with_a_toast() {
    let mut page =
        open_orders_page("alice", Role::User, vec![order("ord-00000000aaaa0001", 1)]).await;
    assert_eq!(page.row_ids(), ["ord-00000000aaaa0001"]);

    page.created(order("ord-00000000bbbb0002", 5)).await;

    assert_eq!(
        page.row_ids(),
        ["ord-00000000bbbb0002", "ord-00000000aaaa0001"]
    );
    assert_eq!(
        page.badge("ord-00000000bbbb0002"),
        ("badge badge-pending".into(), "Pending".into())
    );
    assert!(page.see_text("#BBBB0002"));
    assert!(page.see_text("2 × Electric kettle"));
    assert!(page.see_text("$87.80"));
    assert_eq!(page.toasts(), ["Order #BBBB0002 created successfully!"]);
}

#[wasm_bindgen_test]
async fn an_update_changes_only_its_own_row() {
    let mut page = open_orders_page(
        "alice",
        Role::User,
        vec![
            order("ord-0000000000000001", 1),
            order("ord-0000000000000002", 2),
        ],
    )
    .await;
    let (updated, other) = (
        page.row("ord-0000000000000001").unwrap(),
        page.row("ord-0000000000000002").unwrap(),
    );
    let other_badge = other.query_selector(".badge").unwrap().unwrap();
    let (watch_updated, watch_other) = (Watch::new(&updated), Watch::new(&other));

    page.updated("ord-0000000000000001", OrderStatus::Processing, 3)
        .await;

    assert_eq!(
        page.badge("ord-0000000000000001"),
        ("badge badge-processing".into(), "Processing".into())
    );
    assert_eq!(
        page.badge("ord-0000000000000002"),
        ("badge badge-pending".into(), "Pending".into())
    );
    // Keyed rows: neither row was re-created, and the other row's badge is
    // the very same DOM node.
    assert!(page
        .row("ord-0000000000000001")
        .unwrap()
        .is_same_node(Some(&updated)));
    assert!(page
        .row("ord-0000000000000002")
        .unwrap()
        .is_same_node(Some(&other)));
    let other_badge_now = other.query_selector(".badge").unwrap().unwrap();
    assert!(other_badge_now.is_same_node(Some(&other_badge)));
    // And nothing at all changed inside the other row.
    assert!(watch_updated.changes() > 0);
    assert_eq!(watch_other.changes(), 0);
    assert_eq!(
        page.toasts(),
        ["Order #00000001 - Your order is being processed"]
    );
}

#[wasm_bindgen_test]
async fn a_cancellation_turns_the_badge_red_and_removes_cancel() {
    let mut page =
        open_orders_page("alice", Role::User, vec![order("ord-00000000cafe0001", 1)]).await;
    assert!(page
        .button("ord-00000000cafe0001", "Cancel Order")
        .is_some());

    page.cancelled("ord-00000000cafe0001", 4).await;

    assert_eq!(
        page.badge("ord-00000000cafe0001"),
        ("badge badge-cancelled".into(), "Cancelled".into())
    );
    assert!(page
        .button("ord-00000000cafe0001", "Cancel Order")
        .is_none());
    assert_eq!(page.toasts(), ["Order #CAFE0001 has been cancelled"]);

    // Cancelled is final: a later update does not revive the order.
    page.updated("ord-00000000cafe0001", OrderStatus::Shipped, 9)
        .await;
    assert_eq!(
        page.badge("ord-00000000cafe0001").0,
        "badge badge-cancelled"
    );
}

#[wasm_bindgen_test]
async fn an_update_that_arrives_before_its_order_is_applied() {
    let mut page = open_orders_page("alice", Role::User, vec![]).await;
    page.updated("ord-000000000000e001", OrderStatus::Shipped, 5)
        .await;
    assert_eq!(page.row_ids(), Vec::<String>::new());

    page.created(order("ord-000000000000e001", 1)).await;

    assert_eq!(
        page.badge("ord-000000000000e001"),
        ("badge badge-shipped".into(), "Shipped".into())
    );
}

#[wasm_bindgen_test]
async fn toasts_respect_the_cap_and_never_repeat() {
    let mut page = open_orders_page("alice", Role::User, vec![]).await;
    for n in 1..=5 {
        page.created(order(&format!("ord-00000000000000{n:02}"), n))
            .await;
    }
    assert_eq!(
        page.toasts(),
        [
            "Order #00000001 created successfully!",
            "Order #00000002 created successfully!",
            "Order #00000003 created successfully!",
        ]
    );

    page.close_toast("#00000002").await;
    assert_eq!(
        page.toasts(),
        [
            "Order #00000001 created successfully!",
            "Order #00000003 created successfully!",
            "Order #00000004 created successfully!",
        ]
    );

    // The relay may re-send an event after a reconnect: no second toast,
    // even for one already dismissed.
    page.created(order("ord-0000000000000002", 2)).await;
    assert!(!page.toasts().iter().any(|t| t.contains("#00000002")));
    assert_eq!(page.row_ids().len(), 5);
}

/// A socket that opens and closes before the relay said anything (a refused
/// upgrade behind a proxy looks so) was never a connection: the chip never
/// says "Connected", so a screen reader is not told so every few seconds.
#[wasm_bindgen_test]
async fn a_socket_the_relay_never_spoke_on_is_not_connected() {
    let page = mount_page("alice", Role::User).await;
    page.server.open();
    tick().await;
    assert_eq!(page.chip(), "Connecting…");
    assert_eq!(page.chip_status(), "Connecting");
    page.server.close(1006);
    until("the countdown", || {
        page.chip().starts_with("Reconnecting in")
    })
    .await;
    page.connect_as("alice", Role::User).await;
    until("connected", || page.chip() == "Connected").await;
}

#[wasm_bindgen_test]
async fn the_chip_follows_the_connection_and_resumes_from_the_cursor() {
    let mut page = mount_page("alice", Role::User).await;
    assert_eq!(page.chip(), "Connecting…");
    assert!(page.see_text("Loading orders…"));

    page.server.open();
    page.snapshot(vec![]);
    tick().await;
    assert_eq!(page.chip(), "Connected");
    assert!(page.see_text("No orders yet"));
    page.created(order("ord-0000000000000001", 1)).await;

    page.server.close(1006);
    tick().await;
    assert_eq!(page.chip(), "Reconnecting in 1 s");

    // The relay speaks first: only then is the page connected.
    page.connect_as("alice", Role::User).await;
    until("reconnect", || page.chip() == "Connected").await;
    let subscribe = |cursor: Option<&str>| {
        ClientEvent::SubscribeOrders {
            cursor: cursor.map(str::to_owned),
        }
        .to_json()
    };
    assert_eq!(
        page.server.sent(),
        [subscribe(None), subscribe(Some("c-1"))]
    );
}

#[wasm_bindgen_test]
async fn an_expired_token_returns_to_sign_in() {
    let page = open_orders_page("alice", Role::User, vec![]).await;
    page.server.close(close::TOKEN_EXPIRED);
    tick().await;
    assert!(page.see_text("Your session has expired"));
    assert!(page.see_text("Sign in as"));
    assert!(page.chip().is_empty());
}

#[wasm_bindgen_test]
async fn a_malformed_frame_is_dropped_and_the_next_one_applies() {
    let mut page = open_orders_page("alice", Role::User, vec![]).await;
    page.server.send_text("{not json");
    page.server
        .send_text(r#"{"event":"order:teleported","data":{}}"#);
    page.created(order("ord-0000000000000f01", 1)).await;
    assert_eq!(page.row_ids(), ["ord-0000000000000f01"]);
}

#[wasm_bindgen_test]
async fn an_admin_sees_buyers_filters_and_advance_buttons() {
    let mut bobs = order("ord-00000000b0b00001", 2);
    bobs.buyer_id = "bob".into();
    let page = open_orders_page(
        "admin",
        Role::Admin,
        vec![order("ord-00000000a11c0001", 1), bobs],
    )
    .await;
    assert!(page.see_text("All orders"));
    assert!(page.see_text("Buyer"));
    assert!(page
        .button("ord-00000000a11c0001", "Advance to Processing")
        .is_some());
    assert!(page
        .button("ord-00000000a11c0001", "Cancel Order")
        .is_some());

    page.choose(1, "bob").await;
    assert_eq!(page.row_ids(), ["ord-00000000b0b00001"]);
    page.choose(1, "").await;
    page.choose(0, "shipped").await;
    assert!(page.see_text("No orders match these filters."));
}
