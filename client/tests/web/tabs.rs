//! One socket per browser and the offline cache in the browser: the tabs of
//! one user ([`client::tabs::Tab`], over the page's real Web Locks and
//! BroadcastChannel) and the IndexedDB store ([`client::cache`]), through
//! `client/js/tabs.js` as the release page loads it. Two `Tab`s in one page
//! are two members of the group, as two tabs are: their channels hear each
//! other and their lock requests queue.

use std::cell::RefCell;
use std::rc::Rc;

use client::cache;
use client::tabs::{Heard, Tab, TabEvent};
use client_core::tabs::Kept;
use futures::StreamExt;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::page::{tick, until, until_within};

/// `client/js/tabs.js`, loaded fresh for one test and removed after it, so
/// the other browser tests keep their one-socket-per-app setup.
struct Script;

impl Script {
    fn load() -> Script {
        js_sys::Function::new_no_args(include_str!("../../js/tabs.js"))
            .call0(&JsValue::NULL)
            .expect("tabs.js runs");
        Script
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::delete_property(&js_sys::global(), &"orderRelay".into());
    }
}

/// A tab of `name`'s group that has taken the lead.
async fn leader_of(name: &str) -> Tab {
    let leader = Tab::join(name, "signer", |_| {}).expect("tab support");
    until("the lead", || leader.is_leader()).await;
    leader
}

fn events() -> (Rc<RefCell<Vec<TabEvent>>>, impl Fn(TabEvent) + 'static) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    (seen, move |event| log.borrow_mut().push(event))
}

#[wasm_bindgen_test]
async fn the_first_tab_leads_and_another_takes_over_within_a_second_when_it_closes() {
    let _script = Script::load();
    let first = Tab::join("lead", "signer", |_| {}).expect("tab support");
    until("the first tab leading", || first.is_leader()).await;
    let second = Tab::join("lead", "signer", |_| {}).unwrap();
    let third = Tab::join("lead", "signer", |_| {}).unwrap();
    tick().await;
    assert!(!second.is_leader() && !third.is_leader(), "one leader");

    let closed = js_sys::Date::now();
    drop(first);
    until_within("a new leader", 1_000.0, || {
        second.is_leader() || third.is_leader()
    })
    .await;
    let took = js_sys::Date::now() - closed;
    tick().await;
    assert!(second.is_leader() != third.is_leader(), "still one leader");
    assert!(took < 1_000.0, "took {took} ms");
}

#[wasm_bindgen_test]
async fn a_joining_tab_gets_the_leaders_log_then_its_frames_then_its_socket_going_down() {
    let _script = Script::load();
    let leader = leader_of("log").await;
    leader.keep(
        r#"{"event":"orders:snapshot","data":{"orders":[],"cursor":"c1"}}"#,
        Kept::SnapshotPart { last: true },
    );
    leader.keep(r#"{"event":"order:updated","cursor":"c2"}"#, Kept::Event);
    let socket = leader.socket_up();

    let follower = Tab::join("log", "signer", |_| {}).unwrap();
    let mut heard = follower.listen();
    let log = heard.next().await.unwrap();
    assert_eq!(
        log,
        Heard::Log(
            "{\"event\":\"orders:snapshot\",\"data\":{\"orders\":[],\"cursor\":\"c1\"}}\n\
             {\"event\":\"order:updated\",\"cursor\":\"c2\"}\n"
                .to_owned()
        )
    );
    leader.forward(r#"{"event":"pong"}"#);
    assert_eq!(
        heard.next().await.unwrap(),
        Heard::Frame(r#"{"event":"pong"}"#.to_owned())
    );
    leader.socket_down(socket);
    assert_eq!(heard.next().await.unwrap(), Heard::Down);
}

/// Moving off a draining relay, the leader opens its next socket before
/// the old one closes: that close is no news for the other tabs, and the
/// leader still answers a tab that joins.
#[wasm_bindgen_test]
async fn the_old_socket_of_a_drain_closing_after_the_new_one_opened_is_no_news() {
    let _script = Script::load();
    let leader = leader_of("drain").await;
    let old = leader.socket_up();
    let follower = Tab::join("drain", "signer", |_| {}).unwrap();
    let mut heard = follower.listen();
    assert!(matches!(heard.next().await, Some(Heard::Log(_))));

    let new = leader.socket_up();
    leader.socket_down(old);
    leader.forward(r#"{"event":"pong"}"#);
    assert_eq!(
        heard.next().await.unwrap(),
        Heard::Frame(r#"{"event":"pong"}"#.to_owned()),
        "no Down in between"
    );
    let late = Tab::join("drain", "signer", |_| {}).unwrap();
    let mut joined = late.listen();
    assert!(
        matches!(joined.next().await, Some(Heard::Log(_))),
        "a joining tab is answered"
    );
    leader.socket_down(new);
    assert_eq!(heard.next().await.unwrap(), Heard::Down);
}

#[wasm_bindgen_test]
async fn a_tab_that_joins_before_the_leaders_socket_opens_waits_for_it() {
    let _script = Script::load();
    let leader = leader_of("wait").await;
    let follower = Tab::join("wait", "signer", |_| {}).unwrap();
    let mut heard = follower.listen();
    tick().await;
    // The leader's socket is not open: it answers no hello.
    leader.socket_up();
    assert_eq!(heard.next().await.unwrap(), Heard::Log(String::new()));
}

#[wasm_bindgen_test]
async fn sign_out_and_attention_reach_the_other_tabs_of_the_user_only() {
    let _script = Script::load();
    let (alice_seen, on_alice) = events();
    let (bob_seen, on_bob) = events();
    let alice = Tab::join("alice-signout", "signer", |_| {}).unwrap();
    let _alice2 = Tab::join("alice-signout", "signer", on_alice).unwrap();
    let _bob = Tab::join("bob-signout", "signer", on_bob).unwrap();
    cache::save(alice.key(), alice.signer(), 1.0, "frame\n").await;

    alice.looking();
    alice.sign_out();
    until("both messages", || alice_seen.borrow().len() == 2).await;
    assert_eq!(
        *alice_seen.borrow(),
        [TabEvent::Elsewhere, TabEvent::SignedOut]
    );
    tick().await;
    assert!(
        bob_seen.borrow().is_empty(),
        "another user's tabs hear nothing"
    );
    until("the cache cleared", || true).await;
    assert_eq!(
        cache::load(alice.key(), alice.signer()).await,
        None,
        "sign-out clears the cache"
    );
}

#[wasm_bindgen_test]
async fn the_cache_keeps_one_record_per_user_and_drops_another_schemas_or_signers() {
    let _script = Script::load();
    cache::save("order-relay:carol", "A", 1234.0, "a\nb\n").await;
    assert_eq!(
        cache::load("order-relay:carol", "A").await,
        Some((1234.0, "a\nb\n".to_owned()))
    );
    assert_eq!(
        cache::load("order-relay:dave", "A").await,
        None,
        "another user's key"
    );
    cache::save("order-relay:carol", "A", 1300.0, "c\n").await;
    assert_eq!(
        cache::load("order-relay:carol", "A").await,
        Some((1300.0, "c\n".to_owned()))
    );

    // A record written by an older page (schema 0) is ignored and dropped.
    let relay = js_sys::Reflect::get(&js_sys::global(), &"orderRelay".into()).unwrap();
    let save: js_sys::Function = js_sys::Reflect::get(&relay, &"cacheSave".into())
        .unwrap()
        .into();
    let args = js_sys::Array::of5(
        &"order-relay:erin".into(),
        &0.into(),
        &"A".into(),
        &5.0.into(),
        &"old\n".into(),
    );
    JsFuture::from(js_sys::Promise::from(save.apply(&relay, &args).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        cache::load("order-relay:erin", "A").await,
        None,
        "an older schema"
    );
    let load: js_sys::Function = js_sys::Reflect::get(&relay, &"cacheLoad".into())
        .unwrap()
        .into();
    let old = load
        .call3(&relay, &"order-relay:erin".into(), &0.into(), &"A".into())
        .unwrap();
    assert!(
        JsFuture::from(js_sys::Promise::from(old))
            .await
            .unwrap()
            .is_null(),
        "and dropped"
    );

    // A record written under another signer (the token of another relay
    // secret) is ignored and dropped: signed in again under the old one,
    // it is gone.
    cache::save("order-relay:grace", "A", 1.0, "secret A's orders\n").await;
    assert_eq!(
        cache::load("order-relay:grace", "B").await,
        None,
        "another signer"
    );
    assert_eq!(
        cache::load("order-relay:grace", "A").await,
        None,
        "and dropped"
    );

    // Nothing to keep clears the record.
    cache::save("order-relay:carol", "A", 1400.0, "").await;
    assert_eq!(cache::load("order-relay:carol", "A").await, None);
    cache::clear("order-relay:nobody").await;
}

/// Replaces `indexedDB` for one test (private modes have none; a full disk
/// refuses writes), and puts it back after.
struct NoIndexedDb;

impl NoIndexedDb {
    fn install(body: &str) -> NoIndexedDb {
        js_sys::Function::new_no_args(&format!(
            "Object.defineProperty(globalThis, 'indexedDB', {{ configurable: true, value: {body} }});"
        ))
        .call0(&JsValue::NULL)
        .unwrap();
        NoIndexedDb
    }
}

impl Drop for NoIndexedDb {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::delete_property(&js_sys::global(), &"indexedDB".into());
    }
}

#[wasm_bindgen_test]
async fn a_quota_error_or_no_indexeddb_leaves_the_page_without_a_cache_not_broken() {
    let cases = [
        "undefined",
        "{ open() { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); } }",
        // The database opens, but every transaction aborts as on a full
        // disk: the request fails, then the transaction.
        "{ open() { const r = {}; setTimeout(() => { r.result = { transaction() { const tx = { objectStore() { \
           const fail = () => { const q = {}; setTimeout(() => { q.error = tx.error = new DOMException('full', 'QuotaExceededError'); \
           if (q.onerror) q.onerror(); tx.onabort(); }); return q; }; \
           return { get: fail, put: fail, delete: fail }; } }; return tx; } }; r.onsuccess(); }); return r; } }",
    ];
    for body in cases {
        let _script = Script::load();
        let _stub = NoIndexedDb::install(body);
        cache::save("order-relay:frank", "A", 1.0, "a\n").await;
        assert_eq!(cache::load("order-relay:frank", "A").await, None, "{body}");
        cache::clear("order-relay:frank").await;
    }
}

/// Without Web Locks (an insecure context, an old browser) the tabs elect
/// by heartbeat over a BroadcastChannel: one leader, kept while it lives,
/// and another once it closes.
#[wasm_bindgen_test]
async fn without_web_locks_the_heartbeat_elects_one_leader_and_a_successor() {
    let _script = Script::load();
    js_sys::Function::new_no_args(
        "Object.defineProperty(navigator, 'locks', { configurable: true, value: undefined });",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let tabs: Vec<Tab> = (0..3)
        .map(|_| Tab::join("beats", "signer", |_| {}).unwrap())
        .collect();
    let leaders = |tabs: &[Tab]| tabs.iter().filter(|t| t.is_leader()).count();
    until_within("a leader", 4_000.0, || leaders(&tabs) == 1).await;
    // Held for a while: nobody else claims it.
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 2_500.0 {
        assert_eq!(leaders(&tabs), 1, "one leader at a time");
        tick().await;
    }
    let (mut gone, rest): (Vec<Tab>, Vec<Tab>) = tabs.into_iter().partition(Tab::is_leader);
    drop(gone.pop());
    until_within("a successor", 4_000.0, || leaders(&rest) == 1).await;
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < 1_500.0 {
        assert_eq!(leaders(&rest), 1, "one successor");
        tick().await;
    }
    js_sys::Function::new_no_args("delete navigator.locks;")
        .call0(&JsValue::NULL)
        .unwrap();
}
