//! Client benchmarks, in headless Chromium. They print figures and assert
//! only correctness (never a time): a benchmark must not be a flaky test.
//!
//! - reducer throughput: 100,000 order events (10,000 orders; updates,
//!   cancellations, some before their `order:created`, some re-sent), first
//!   as typed actions into `reduce`, then as JSON frames through the whole
//!   socket path (decode, callbacks, `dispatch`, reducer, store) without a
//!   page;
//! - the admin table with 10,000 orders: the real app on the test
//!   transport, the time to first paint of its first page, one live
//!   `order:updated` until its badge changes (and how many rows the DOM
//!   changed in), an update to an order on another page (no DOM change), a
//!   sort by total and a search; against a whole new snapshot.
//!
//! Run (figures are printed, so keep `--nocapture`):
//! `cargo test -p client --target wasm32-unknown-unknown --test bench -- --nocapture`
//! and with `--release` for optimised code.
#![cfg(target_arch = "wasm32")]

#[allow(dead_code)]
#[path = "web/page.rs"]
mod page;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use leptos::prelude::Owner;
use protocol::frames::OrdersSnapshot;
use protocol::{Order, OrderEvent, OrderStatus, Role, ServerEvent};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, MutationObserver, MutationObserverInit, MutationRecord};

use client::fixtures::{cancellation, order, update};
use client::reduce::reduce;
use client::socket::{handle_frame, OrderCallbacks};
use client::{Action, AppState, Session, Store};
use page::{mount_page, tick, Page};
use protocol::frames::SnapshotParts;

wasm_bindgen_test_configure!(run_in_browser);

const EVENTS: usize = 100_000;
const ORDERS: usize = 10_000;
const DUPLICATES: usize = 5_000;
/// Every order whose index ends in 0, 1 or 2 is cancelled once.
const CANCELS: usize = ORDERS * 3 / 10;
const UPDATES: usize = EVENTS - ORDERS - CANCELS - DUPLICATES;
const PAGE_ROWS: usize = 10_000;
/// Live updates measured one at a time on the 10,000-order table.
const UPDATE_RUNS: usize = 15;

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// A small deterministic generator (xorshift64*), so every run replays the
/// same events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn order_id(n: usize) -> String {
    format!("ord-{n:016x}")
}

/// When an event arrives, in ms of the test epoch: its own time plus up to a
/// second of delay; one event in twenty arrives up to a minute early, so
/// many updates and cancellations come before their `order:created`.
fn arrival(rng: &mut Rng, at_secs: i64) -> i64 {
    let at = at_secs * 1_000;
    if rng.below(20) == 0 {
        at - rng.below(60_000) as i64
    } else {
        at + rng.below(1_000) as i64
    }
}

/// 100,000 order events in arrival order, each with its cursor.
fn events() -> Vec<(OrderEvent, String)> {
    let mut rng = Rng(0x5eed_0f0b_de75);
    let mut timed: Vec<(i64, OrderEvent)> = Vec::with_capacity(EVENTS);
    // Order k is created at 10 k s; its updates follow 2 s apart, its
    // cancellation (if any) 9 s after creation, so later updates lose to it.
    for k in 0..ORDERS {
        let created = 10 * k as i64;
        timed.push((
            arrival(&mut rng, created),
            OrderEvent::Created(order(&order_id(k), created)),
        ));
        if k % 10 < 3 {
            let at = created + 9;
            timed.push((
                arrival(&mut rng, at),
                OrderEvent::Cancelled(cancellation(&order_id(k), at)),
            ));
        }
    }
    let cycle = [
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];
    for j in 0..UPDATES {
        let (k, n) = (j % ORDERS, j / ORDERS);
        let at = 10 * k as i64 + 2 * (n as i64 + 1);
        timed.push((
            arrival(&mut rng, at),
            OrderEvent::Updated(update(&order_id(k), cycle[n % cycle.len()], at)),
        ));
    }
    // Re-sent events (a relay replaying after a reconnect): a copy of an
    // earlier event, up to a minute after it.
    let originals = timed.len();
    for _ in 0..DUPLICATES {
        let (at, event) = timed[rng.below(originals as u64) as usize].clone();
        timed.push((at + rng.below(60_000) as i64, event));
    }
    timed.sort_by_key(|(at, _)| *at);
    timed
        .into_iter()
        .enumerate()
        .map(|(n, (_, event))| (event, format!("c-{}", n + 1)))
        .collect()
}

fn signed_in() -> AppState {
    AppState::signed_in(Session::new("bench-token", "alice", Role::User))
}

/// Mutes `console.log` while alive. The socket logs every frame, and the
/// test runner copies the console into the page, which would be timed.
struct QuietConsole {
    console: JsValue,
    log: JsValue,
}

impl QuietConsole {
    fn new() -> QuietConsole {
        let console = Reflect::get(&js_sys::global(), &"console".into()).unwrap();
        let log = Reflect::get(&console, &"log".into()).unwrap();
        Reflect::set(&console, &"log".into(), &Function::new_no_args("")).unwrap();
        QuietConsole { console, log }
    }
}

impl Drop for QuietConsole {
    fn drop(&mut self) {
        Reflect::set(&self.console, &"log".into(), &self.log).unwrap();
    }
}

fn rate(events: usize, ms: f64) -> f64 {
    events as f64 / ms.max(0.001)
}

/// Events per timed slice. Between slices the page gets a turn of its event
/// loop: the test runner talks to the page while it runs, and gives up on
/// one that stays busy for 20 s (a debug build of the whole path could).
const SLICE: usize = 5_000;

/// One turn of the event loop (a macrotask).
async fn yield_to_browser() {
    let promise = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback(&resolve)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Runs `f` on every item, timing only `f`: in slices of [`SLICE`] with a
/// turn of the event loop (untimed, console muted only while timed) between.
async fn timed<T>(items: impl IntoIterator<Item = T>, mut f: impl FnMut(T)) -> f64 {
    let mut items = items.into_iter().peekable();
    let mut total = 0.0;
    while items.peek().is_some() {
        let quiet = QuietConsole::new();
        let start = now();
        for item in items.by_ref().take(SLICE) {
            f(item);
        }
        total += now() - start;
        drop(quiet);
        yield_to_browser().await;
    }
    total
}

#[wasm_bindgen_test]
async fn reducer_throughput() {
    let events = events();
    let (mut created, mut updated, mut cancelled) = (0, 0, 0);
    for (event, _) in &events {
        match event {
            OrderEvent::Created(_) => created += 1,
            OrderEvent::Updated(_) => updated += 1,
            OrderEvent::Cancelled(_) => cancelled += 1,
        }
    }
    let frames: Vec<String> = events
        .iter()
        .map(|(event, cursor)| {
            ServerEvent::Order {
                event: event.clone(),
                cursor: cursor.clone(),
            }
            .to_json()
        })
        .collect();
    let actions: Vec<Action> = events
        .into_iter()
        .map(|(event, cursor)| Action::Order { event, cursor })
        .collect();
    console_log!(
        "bench events: {} events for {ORDERS} orders ({created} created, {updated} updated, \
         {cancelled} cancelled; {DUPLICATES} of them re-sent), {:.1} MB of frames",
        actions.len(),
        frames.iter().map(String::len).sum::<usize>() as f64 / 1e6,
    );

    // (a) The reducer alone, on typed actions.
    let mut reduced = signed_in();
    let reducer_ms = timed(actions, |action| reduce(&mut reduced, action)).await;
    console_log!(
        "bench reducer: {EVENTS} events in {reducer_ms:.1} ms ({:.0} events/ms; target <= 100 ms)",
        rate(EVENTS, reducer_ms),
    );

    // Decoding alone, to show what the full path spends on JSON.
    let mut decoded = 0;
    let decode_ms = timed(frames.iter(), |frame| {
        decoded += usize::from(ServerEvent::from_json(frame).is_ok());
    })
    .await;
    assert_eq!(decoded, EVENTS);
    console_log!(
        "bench decode: {EVENTS} frames in {decode_ms:.1} ms ({:.0} frames/ms)",
        rate(EVENTS, decode_ms),
    );

    // (b) The socket's path: frame text, decode, callbacks, dispatch,
    // reducer, store (no page mounted; the page is measured below).
    let owner = Owner::new();
    let store = owner.with(|| Store::new(signed_in()));
    let callbacks =
        OrderCallbacks::dispatching(move |action| store.dispatch(action), move || store.cursor());
    let full_ms = timed(frames.iter(), |frame| {
        handle_frame(frame, &callbacks, &mut SnapshotParts::default());
    })
    .await;
    let through_store = store.with_state(Clone::clone);
    drop(owner);
    console_log!(
        "bench frames: {EVENTS} frames -> decode -> callbacks -> dispatch -> store in \
         {full_ms:.1} ms ({:.0} events/ms; console.log muted; target <= 100 ms)",
        rate(EVENTS, full_ms),
    );

    // Both paths end in the same orders, every update was applied once its
    // order arrived, and the list holds each order once.
    assert_eq!(reduced.orders(), through_store.orders());
    assert_eq!(reduced.orders().pending_len(), 0);
    assert_eq!(reduced.orders().len(), ORDERS);
    let cancelled_now = reduced
        .orders()
        .newest_first()
        .filter(|o| o.status == OrderStatus::Cancelled)
        .count();
    assert_eq!(cancelled_now, CANCELS);
}

/// Records every DOM change under a node, to be read after the fact.
struct Recorder {
    observer: MutationObserver,
    records: Rc<RefCell<Vec<MutationRecord>>>,
    _callback: Closure<dyn FnMut(Array)>,
}

impl Recorder {
    fn new(node: &Element) -> Recorder {
        let records = Rc::new(RefCell::new(Vec::new()));
        let sink = records.clone();
        let callback = Closure::<dyn FnMut(Array)>::new(move |batch: Array| {
            sink.borrow_mut()
                .extend(batch.iter().map(|r| r.unchecked_into::<MutationRecord>()));
        });
        let observer = MutationObserver::new(callback.as_ref().unchecked_ref()).unwrap();
        let options = MutationObserverInit::new();
        options.set_subtree(true);
        options.set_child_list(true);
        options.set_attributes(true);
        options.set_character_data(true);
        observer.observe_with_options(node, &options).unwrap();
        Recorder {
            observer,
            records,
            _callback: callback,
        }
    }

    /// The rows changed since the last call (by order id: changed inside,
    /// added or removed), and how many changes were outside any row.
    fn take(&self) -> (BTreeSet<String>, usize) {
        let mut records = std::mem::take(&mut *self.records.borrow_mut());
        records.extend(
            self.observer
                .take_records()
                .iter()
                .map(|r| r.unchecked_into::<MutationRecord>()),
        );
        let row_of = |element: Option<Element>| {
            element
                .and_then(|e| e.closest("[data-order-id]").ok().flatten())
                .and_then(|row| row.get_attribute("data-order-id"))
        };
        let (mut rows, mut outside) = (BTreeSet::new(), 0);
        for record in records {
            let mut hit = false;
            if let Some(target) = record.target() {
                let element = match target.dyn_ref::<Element>() {
                    Some(element) => Some(element.clone()),
                    None => target.parent_element(),
                };
                if let Some(id) = row_of(element) {
                    rows.insert(id);
                    hit = true;
                }
            }
            for nodes in [record.added_nodes(), record.removed_nodes()] {
                for i in 0..nodes.length() {
                    let id = nodes
                        .item(i)
                        .and_then(|n| n.dyn_into::<Element>().ok())
                        .and_then(|e| e.get_attribute("data-order-id"));
                    if let Some(id) = id {
                        rows.insert(id);
                        hit = true;
                    }
                }
            }
            if !hit {
                outside += 1;
            }
        }
        (rows, outside)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Lets queued microtasks run (the socket loop and Leptos's render effects
/// are tasks on the microtask queue).
async fn microtask() {
    JsFuture::from(Promise::resolve(&JsValue::UNDEFINED))
        .await
        .unwrap();
}

/// Waits for `done`: microtask by microtask first, then (if the work needs a
/// later turn of the event loop) macrotask by macrotask. Returns when it
/// held, in `now()` time, and how it got there.
async fn settle(what: &str, mut done: impl FnMut() -> bool) -> (f64, &'static str) {
    let start = now();
    for _ in 0..100 {
        if done() {
            return (now(), "microtasks");
        }
        microtask().await;
    }
    while !done() {
        assert!(now() - start < 60_000.0, "timed out waiting for {what}");
        tick().await;
    }
    (now(), "macrotasks")
}

fn rows_orders(first: usize, created_from: i64) -> Vec<Order> {
    (0..PAGE_ROWS)
        .map(|i| order(&order_id(first + i), created_from + i as i64))
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn snapshot(orders: Vec<Order>, cursor: &str) -> ServerEvent {
    ServerEvent::OrdersSnapshot(OrdersSnapshot {
        more: false,
        orders,
        cursor: cursor.into(),
    })
}

fn update_frame(id: &str, status: OrderStatus, at: i64, cursor: u32) -> ServerEvent {
    ServerEvent::Order {
        event: OrderEvent::Updated(update(id, status, at)),
        cursor: format!("c-{cursor}"),
    }
}

fn badge_of(page: &Page, id: &str) -> Element {
    page.row(id)
        .and_then(|row| row.query_selector(".badge").unwrap())
        .unwrap_or_else(|| panic!("no badge for {id}"))
}

#[wasm_bindgen_test]
async fn the_admin_table_with_10000_orders() {
    // The admin's page: every order, one page of them in the DOM.
    let page = mount_page("admin", Role::Admin).await;
    page.connect_as("admin", Role::Admin).await;
    let shown = client::table::PAGE_SIZE;

    // First paint: a snapshot of 10,000 orders until the first page's rows
    // are in the DOM (the newest first), and the next frame painted.
    let (newest, oldest) = (order_id(PAGE_ROWS - 1), order_id(0));
    let frame = snapshot(rows_orders(0, 1), "c-0");
    let quiet = QuietConsole::new();
    let start = now();
    page.server.send(&frame);
    let (end, _) = settle("the first page", || page.row(&newest).is_some()).await;
    tick().await;
    let painted = now();
    drop(quiet);
    let (mount_ms, paint_ms) = (end - start, painted - start);
    assert_eq!(page.row_ids().len(), shown, "one page in the DOM");
    assert!(page.row(&oldest).is_none());
    assert!(page.see_text(&format!(
        "Page 1 of {} · {PAGE_ROWS} orders",
        PAGE_ROWS / shown
    )));
    console_log!(
        "bench admin table: {PAGE_ROWS} orders -> first page ({shown} rows) in the DOM in \
         {mount_ms:.1} ms, painted by {paint_ms:.1} ms"
    );

    let list = page
        .row(&newest)
        .and_then(|row| row.parent_element())
        .expect("the orders list");
    let recorder = Recorder::new(&list);
    let mut cursor = 0;

    // One order:updated frame at a time, each on a different row of the
    // page: the whole table (filter, sort, page) is recomputed each time.
    let (mut times, mut touched_max, mut outside_total, mut how) = (Vec::new(), 0, 0, "");
    for run in 0..UPDATE_RUNS {
        let id = order_id(PAGE_ROWS - 1 - run * 3);
        let badge = badge_of(&page, &id);
        assert_eq!(badge.text_content().as_deref(), Some("Pending"));
        cursor += 1;
        let frame = update_frame(&id, OrderStatus::Processing, 100_000 + run as i64, cursor);
        let quiet = QuietConsole::new();
        let start = now();
        page.server.send(&frame);
        let (end, path) = settle("the badge", || {
            badge.text_content().as_deref() == Some("Processing")
                && badge.class_name() == "badge badge-processing"
        })
        .await;
        drop(quiet);
        times.push(end - start);
        how = path;
        // Everything the frame caused, late effects included.
        tick().await;
        let (rows, outside) = recorder.take();
        assert!(rows.contains(&id), "the updated row did not change");
        touched_max = touched_max.max(rows.len());
        outside_total += outside;
        assert!(badge_of(&page, &id).is_same_node(Some(&badge)));
    }
    let (keyed_ms, first) = (median(times.clone()), times[0]);
    let (min, max) = (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max),
    );
    console_log!(
        "bench live update: 1 order:updated frame with {PAGE_ROWS} orders in the table -> badge \
         changed in {keyed_ms:.2} ms (median of {UPDATE_RUNS}; first {first:.2}, min {min:.2}, max \
         {max:.2}; frame -> DOM within {how}), rows touched {touched_max} (most over the \
         {UPDATE_RUNS} updates; +{outside_total} changes outside rows)"
    );
    assert_eq!(touched_max, 1, "an update changed other rows");
    assert_eq!(
        outside_total, 0,
        "an update changed the list outside its row"
    );

    // An update to an order on another page: nothing in the DOM moves.
    cursor += 1;
    page.server.send(&update_frame(
        &oldest,
        OrderStatus::Shipped,
        300_000,
        cursor,
    ));
    tick().await;
    let (rows, outside) = recorder.take();
    assert_eq!(
        (rows.len(), outside),
        (0, 0),
        "an order off the page changed the DOM"
    );

    // Sorting 10,000 orders by total, and a search, until the page shows
    // the result.
    let quiet = QuietConsole::new();
    let start = now();
    page.choose(2, "total-asc").await;
    let sorted_ms = now() - start;
    let start = now();
    page.search(&order_id(1234)[8..]).await;
    let searched_ms = now() - start;
    drop(quiet);
    assert_eq!(page.row_ids(), [order_id(1234)]);
    console_log!(
        "bench admin table: sort {PAGE_ROWS} orders by total -> page shown in {sorted_ms:.1} ms; \
         search by order number -> 1 row in {searched_ms:.1} ms (each incl. a frame)"
    );
    page.search("").await;
    page.choose(2, "newest").await;

    // Baseline: a whole new snapshot of 10,000 other orders: the page's
    // rows all go and come.
    let new_newest = order_id(2 * PAGE_ROWS - 1);
    let frame = snapshot(rows_orders(PAGE_ROWS, 1_000_000), "c-replace");
    let quiet = QuietConsole::new();
    let start = now();
    page.server.send(&frame);
    let (end, _) = settle("the new rows", || {
        page.row(&new_newest).is_some() && page.row(&newest).is_none()
    })
    .await;
    drop(quiet);
    let replace_ms = end - start;
    tick().await;
    let (rows, outside) = recorder.take();
    assert_eq!(page.row_ids().len(), shown);
    console_log!(
        "bench re-render: a snapshot of {PAGE_ROWS} new orders replacing the table in \
         {replace_ms:.1} ms, rows touched {} (removed and added; +{outside} changes outside rows)",
        rows.len()
    );
    console_log!(
        "bench ratio: full re-render {replace_ms:.1} ms / live update {keyed_ms:.2} ms = {:.0}x",
        replace_ms / keyed_ms.max(0.001),
    );
}

/// One socket per browser: what the leader tab pays to pass each frame on,
/// and how fast 4 follower tabs receive them. All five tabs run in this one
/// page (real tabs have a thread each, so this is the worst case: every
/// post and every delivery shares one event loop). Beside it, the same
/// frames applied through the socket path in one tab, the work every tab
/// does anyway.
#[wasm_bindgen_test]
async fn tab_channel_throughput() {
    use client::tabs::{Heard, Tab};
    use futures::StreamExt;

    const FOLLOWERS: usize = 4;
    js_sys::Function::new_no_args(include_str!("../js/tabs.js"))
        .call0(&JsValue::NULL)
        .unwrap();
    let frames: Vec<String> = events()
        .into_iter()
        .take(10_000)
        .map(|(event, cursor)| ServerEvent::Order { event, cursor }.to_json())
        .collect();
    let count = frames.len();

    let leader = Tab::join("bench", "signer", |_| {}).unwrap();
    page::until("the lead", || leader.is_leader()).await;
    leader.socket_up();
    let followers: Vec<Tab> = (0..FOLLOWERS)
        .map(|_| Tab::join("bench", "signer", |_| {}).unwrap())
        .collect();
    let mut links = Vec::new();
    for follower in &followers {
        let mut heard = follower.listen();
        assert!(matches!(heard.next().await, Some(Heard::Log(_))));
        links.push(heard);
    }
    let received = Rc::new(RefCell::new(vec![0usize; FOLLOWERS]));
    for (i, mut heard) in links.into_iter().enumerate() {
        let received = received.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(Heard::Frame(_)) = heard.next().await {
                received.borrow_mut()[i] += 1;
            }
        });
    }

    let start = now();
    let post_ms = timed(frames.iter(), |frame| leader.forward(frame)).await;
    while received.borrow().iter().any(|&n| n < count) {
        yield_to_browser().await;
    }
    let all_ms = now() - start;
    assert_eq!(*received.borrow(), vec![count; FOLLOWERS]);

    let owner = Owner::new();
    let store = owner.with(|| Store::new(signed_in()));
    let callbacks =
        OrderCallbacks::dispatching(move |action| store.dispatch(action), move || store.cursor());
    let apply_ms = timed(frames.iter(), |frame| {
        handle_frame(frame, &callbacks, &mut SnapshotParts::default());
    })
    .await;
    drop(owner);
    console_log!(
        "bench tabs: the leader passed {count} frames on in {post_ms:.1} ms ({:.1} µs each, \
         {:.2}× applying one); {FOLLOWERS} followers had all of them after {all_ms:.1} ms \
         ({:.0} events/s to each); applying them in one tab: {apply_ms:.1} ms",
        post_ms * 1000.0 / count as f64,
        post_ms / apply_ms,
        count as f64 / all_ms * 1000.0,
    );
    drop(followers);
    drop(leader);
    let _ = Reflect::delete_property(&js_sys::global(), &"orderRelay".into());
}
