//! Optimistic commands, the admin table and the page's accessibility
//! details, in the real app in headless Chromium. The commands' HTTP
//! requests go to the test runner's own server, which has no `/api`: every
//! command is refused there (404), which is the rollback path; the
//! confirming path is an event sent before that answer arrives.

use client::fixtures::order;
use protocol::{OrderStatus, Role};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::page::{open_orders_page, tick, until};

const ID: &str = "ord-00000000cafe0001";

/// Lets the queued microtasks run (the command's task and the render),
/// but no timer or network callback.
async fn microtasks() {
    for _ in 0..20 {
        let resolved = js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL);
        wasm_bindgen_futures::JsFuture::from(resolved)
            .await
            .unwrap();
    }
}

async fn click(page: &crate::page::Page, text: &str) {
    page.button(ID, text)
        .unwrap_or_else(|| panic!("no {text:?} button"))
        .click();
    tick().await;
}

#[wasm_bindgen_test]
async fn cancel_asks_once_more_then_shows_cancelling_until_the_relay_answers() {
    let page = open_orders_page("alice", Role::User, vec![order(ID, 1)]).await;
    let cancel = page.button(ID, "Cancel Order").unwrap();
    assert_eq!(
        cancel.get_attribute("aria-label").as_deref(),
        Some("Cancel order #CAFE0001"),
        "the button says which order"
    );
    click(&page, "Cancel Order").await;
    // Asked once more, with the focus on the answer; "Keep" changes nothing.
    // The focus moves in the next animation frame, which a loaded machine
    // may paint after the next task.
    let yes = page.button(ID, "Yes, cancel").expect("a confirmation");
    let yes: web_sys::Element = yes.unchecked_into();
    let document = web_sys::window().unwrap().document().unwrap();
    until("the focus on Yes", || {
        document.active_element().as_ref() == Some(&yes)
    })
    .await;
    click(&page, "Keep").await;
    assert_eq!(page.badge(ID).1, "Pending");
    assert!(page.button(ID, "Yes, cancel").is_none());

    click(&page, "Cancel Order").await;
    page.button(ID, "Yes, cancel").unwrap().click();
    // Before any answer can arrive (microtasks only, no network task):
    // pending.
    microtasks().await;
    assert_eq!(
        page.badge(ID),
        ("badge badge-busy".into(), "Cancelling…".into())
    );
    assert!(
        page.button(ID, "Cancel Order").is_none(),
        "no control while pending"
    );

    // The runner has no /api: refused, rolled back to what the relay said,
    // with an alert that stays.
    until("the rollback", || page.badge(ID).1 == "Pending").await;
    let alerts = page.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].starts_with("Could not cancel order #CAFE0001: "),
        "{alerts:?}"
    );
    assert!(page.button(ID, "Cancel Order").is_some());
}

#[wasm_bindgen_test]
async fn the_relays_event_confirms_a_cancel_and_its_late_refusal_is_ignored() {
    let mut page = open_orders_page("alice", Role::User, vec![order(ID, 1)]).await;
    click(&page, "Cancel Order").await;
    page.button(ID, "Yes, cancel").unwrap().click();
    // The event arrives before the HTTP answer.
    page.cancelled(ID, 4).await;
    assert_eq!(
        page.badge(ID),
        ("badge badge-cancelled".into(), "Cancelled".into())
    );
    // The 404 that follows finds no command in flight: no error.
    let started = js_sys::Date::now();
    until("a while", || js_sys::Date::now() - started > 300.0).await;
    assert!(page.alerts().is_empty(), "{:?}", page.alerts());
    assert_eq!(page.badge(ID).1, "Cancelled");
}

#[wasm_bindgen_test]
async fn a_live_event_during_a_refused_advance_is_kept() {
    let mut page = open_orders_page("admin", Role::Admin, vec![order(ID, 1)]).await;
    let advance = page.button(ID, "Advance to Processing").unwrap();
    assert_eq!(
        advance.get_attribute("aria-label").as_deref(),
        Some("Advance to Processing: order #CAFE0001")
    );
    advance.click();
    microtasks().await;
    assert_eq!(page.badge(ID).1, "Processing…");
    // Someone else ships it meanwhile; then the relay refuses ours.
    page.updated(ID, OrderStatus::Shipped, 5).await;
    until("the refusal", || !page.alerts().is_empty()).await;
    assert_eq!(
        page.badge(ID),
        ("badge badge-shipped".into(), "Shipped".into())
    );
    assert!(page.alerts()[0].starts_with("Could not update order #CAFE0001"));
}

#[wasm_bindgen_test]
async fn the_admin_table_searches_sorts_and_pages_and_keeps_it_in_the_url() {
    let orders: Vec<_> = (0..120)
        .map(|i| {
            let mut o = order(&format!("ord-00000000{i:08x}"), i);
            o.total = f64::from(i as u32) + 0.5;
            if i % 2 == 0 {
                o.buyer_id = "bob".into();
            }
            o
        })
        .collect();
    let page = open_orders_page("admin", Role::Admin, orders).await;
    assert_eq!(page.row_ids().len(), client::table::PAGE_SIZE, "one page");
    assert!(page.see_text("Page 1 of 3 · 120 orders"));

    page.search("0000006f").await; // order #0000006F, the 112th
    assert_eq!(page.row_ids(), ["ord-000000000000006f"]);
    let search = web_sys::window().unwrap().location().search().unwrap();
    assert_eq!(search, "?q=0000006f");

    page.search("").await;
    page.choose(2, "total-desc").await; // sort
    assert_eq!(page.row_ids()[0], "ord-0000000000000077");
    page.choose(1, "bob").await; // buyer
    assert!(page.see_text("Page 1 of 2 · 60 orders"));
    let search = web_sys::window().unwrap().location().search().unwrap();
    assert_eq!(search, "?buyer=bob&sort=total-desc");
}

/// A busy shop: buyers the menus have not seen keep placing orders while
/// the admin types a search. The box keeps its focus, its text and its
/// caret; the buyer menu learns the new buyer.
#[wasm_bindgen_test]
async fn a_new_buyer_does_not_take_the_search_box_from_the_admin() {
    let mut page = open_orders_page("admin", Role::Admin, vec![order(ID, 1)]).await;
    page.search("cafe").await;
    let input: web_sys::HtmlInputElement = page
        .one(".filters input[type=search]")
        .unwrap()
        .unchecked_into();
    input.focus().unwrap();
    let mut newcomer = order("ord-00000000cafe0002", 2);
    newcomer.buyer_id = "carol".into();
    page.created(newcomer).await;
    let document = web_sys::window().unwrap().document().unwrap();
    let focused = document.active_element();
    assert_eq!(
        focused.as_ref(),
        Some(input.unchecked_ref::<web_sys::Element>()),
        "the search box keeps the focus"
    );
    assert!(input.is_connected(), "the same box, not a redrawn one");
    assert_eq!(input.value(), "cafe");
    assert!(
        page.all(".filters select option")
            .iter()
            .any(|o| o.text_content().as_deref() == Some("carol")),
        "the buyer menu knows carol"
    );
}

#[wasm_bindgen_test]
async fn a_status_filter_follows_live_updates() {
    let mut page = open_orders_page(
        "admin",
        Role::Admin,
        vec![order(ID, 1), order("ord-00000000cafe0002", 2)],
    )
    .await;
    page.choose(0, "pending").await;
    assert_eq!(page.row_ids().len(), 2);
    page.updated(ID, OrderStatus::Processing, 5).await;
    assert_eq!(
        page.row_ids(),
        ["ord-00000000cafe0002"],
        "no longer pending"
    );
    page.choose(0, "processing").await;
    assert_eq!(page.row_ids(), [ID]);
}

#[wasm_bindgen_test]
async fn the_chip_announces_states_not_seconds() {
    let page = crate::page::mount_page("alice", Role::User).await;
    assert_eq!(page.chip_status(), "Connecting");
    page.connect_as("alice", Role::User).await;
    assert_eq!(page.chip_status(), "Connected");
}
