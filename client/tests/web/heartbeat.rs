//! Liveness without churn (§3.6): a quiet link is kept alive by the client's
//! own `ping` and the relay's `pong`, with no reconnect; a relay that stops
//! answering is noticed within the window, and the client resumes by cursor.

use protocol::frames::OrdersSnapshot;
use protocol::{ClientEvent, Role, ServerEvent};
use wasm_bindgen_test::wasm_bindgen_test;

use client::Session;

use crate::page::{failing_login, mount_with_heartbeat, tick, until_within};

const WINDOW_MS: u32 = 600;

/// Waits `ms` milliseconds of real time.
async fn wait(ms: u32) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        std::time::Duration::from_millis(u64::from(ms)),
    );
    let _ = wait.await;
}

#[wasm_bindgen_test]
async fn a_quiet_link_answered_by_pongs_stays_open_and_a_silent_one_is_resumed() {
    let session = Session::new("test-token", "alice", Role::User);
    let mut page = mount_with_heartbeat(session, failing_login(), WINDOW_MS).await;
    page.server.open();
    page.server
        .send(&ServerEvent::OrdersSnapshot(OrdersSnapshot {
            more: false,
            orders: vec![],
            cursor: "c-7".into(),
        }));
    tick().await;
    assert_eq!(page.chip(), "Connected");
    let ping = ClientEvent::Ping.to_json();
    let subscribe = ClientEvent::SubscribeOrders { cursor: None }.to_json();
    assert_eq!(page.server.sent(), [subscribe]);
    let _ = page.server.tokens();

    // Five windows of quiet, each ping answered: one link throughout.
    let mut pings = 0;
    let started = js_sys::Date::now();
    while js_sys::Date::now() - started < f64::from(5 * WINDOW_MS) {
        wait(50).await;
        for frame in page.server.sent() {
            assert_eq!(frame, ping, "only pings on a quiet link");
            pings += 1;
            page.server.send(&ServerEvent::Pong);
        }
    }
    assert!(pings >= 10, "{pings} pings in five windows");
    assert_eq!(page.server.tokens(), Vec::<String>::new(), "no reconnect");
    assert_eq!(page.chip(), "Connected");

    // The relay stops answering: the client pings twice, then gives up
    // within the window and reconnects with its cursor.
    let silent_from = js_sys::Date::now();
    until_within("the dead link is noticed", f64::from(3 * WINDOW_MS), || {
        page.chip() != "Connected"
    })
    .await;
    let noticed = js_sys::Date::now() - silent_from;
    assert!(
        noticed < f64::from(2 * WINDOW_MS),
        "noticed after {noticed} ms"
    );
    assert_eq!(page.server.sent(), [ping.clone(), ping]);
    // The relay speaks first: only then is the page connected.
    page.connect_as("alice", Role::User).await;
    until_within("reconnected", 3000.0, || page.chip() == "Connected").await;
    let resume = ClientEvent::SubscribeOrders {
        cursor: Some("c-7".into()),
    }
    .to_json();
    assert_eq!(page.server.sent(), [resume]);
}
