//! Page helpers for the browser tests: mount the app in a fresh container
//! on a test transport, feed it frames as the relay would, and read the page
//! as a user sees it.

use protocol::frames::{ConnectionInfo, OrdersSnapshot};
use protocol::{Order, OrderEvent, OrderStatus, Role, ServerEvent};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, HtmlElement};

use client::fixtures::{cancellation, update};
use client::socket::policy::{Backoff, SocketConfig};
use client::socket::{TestServer, TestTransport};
use client::ui::{DemoLogin, Mounted};
use client::{mount, AppConfig, Session};

/// A mounted app and the test's end of its socket.
pub struct Page {
    pub server: TestServer,
    container: HtmlElement,
    app: Option<Mounted>,
    cursor: u32,
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Lets every queued task, effect and render run: a macrotask runs after
/// all pending microtasks (where Leptos and the socket loop do their work).
pub async fn tick() {
    for _ in 0..3 {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .set_timeout_with_callback(&resolve)
                .unwrap();
        });
        JsFuture::from(promise).await.unwrap();
    }
}

/// Waits (one tick at a time, at most ~2 s) until `done` holds.
pub async fn until(what: &str, done: impl FnMut() -> bool) {
    until_within(what, 2_000.0, done).await;
}

/// Waits (one tick at a time, at most `limit_ms`) until `done` holds.
pub async fn until_within(what: &str, limit_ms: f64, mut done: impl FnMut() -> bool) {
    let start = js_sys::Date::now();
    while !done() {
        assert!(
            js_sys::Date::now() - start < limit_ms,
            "timed out waiting for {what}"
        );
        tick().await;
    }
}

/// Opens the orders page signed in as `user`, with a connected socket and
/// the given snapshot already applied.
pub async fn open_orders_page(user: &str, role: Role, orders: Vec<Order>) -> Page {
    let page = mount_page(user, role).await;
    page.connect_as(user, role).await;
    page.snapshot(orders);
    tick().await;
    page
}

/// An event that bubbles, as the browser's own `input` does.
fn bubbling() -> web_sys::EventInit {
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    init
}

/// The URL parameters the app keeps its admin table's query in.
fn client_core_keys() -> [&'static str; 5] {
    client::table::KEYS
}

/// Mounts the app signed in as `user`, before the socket opens.
pub async fn mount_page(user: &str, role: Role) -> Page {
    mount_session(Session::new("test-token", user, role), failing_login()).await
}

/// A demo login that always fails (the tests' sessions are not demo ones
/// unless a test says so).
pub fn failing_login() -> DemoLogin {
    std::rc::Rc::new(|_, _| Box::pin(async { None }))
}

/// Mounts the app with `session`, renewing a demo session's token through
/// `demo_login`, before the socket opens.
pub async fn mount_session(session: Session, demo_login: DemoLogin) -> Page {
    mount_with_heartbeat(session, demo_login, 60_000).await
}

/// Mounts the app with a heartbeat window of `heartbeat_ms` (the client
/// pings after a third of it with nothing heard, and gives up after all of
/// it).
pub async fn mount_with_heartbeat(
    session: Session,
    demo_login: DemoLogin,
    heartbeat_ms: u32,
) -> Page {
    // Every page starts from a bare address: the admin table keeps its
    // query there, and one test's filters must not open the next one's page.
    client::url::rewrite(|params| {
        for key in client_core_keys() {
            params.delete(key);
        }
    });
    let container: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&container).unwrap();
    let (transport, server) = TestTransport::new();
    let config = AppConfig {
        session: Some(session),
        transport,
        socket: SocketConfig {
            backoff: Backoff {
                // Long enough to read "Reconnecting in 1 s", short enough
                // not to slow the suite.
                initial_ms: 400,
                max_ms: 800,
            },
            heartbeat_ms,
        },
        persist: false,
        demo_login,
    };
    let app = mount(container.clone(), config);
    tick().await;
    Page {
        server,
        container,
        app: Some(app),
        cursor: 0,
    }
}

impl Page {
    /// The relay sends `orders:snapshot` with these orders and cursor `c-0`.
    pub fn snapshot(&self, orders: Vec<Order>) {
        self.server
            .send(&ServerEvent::OrdersSnapshot(OrdersSnapshot {
                more: false,
                orders,
                cursor: "c-0".into(),
            }));
    }

    /// Opens the pending socket and greets `user` as the relay does
    /// (`connection:success`).
    pub async fn connect_as(&self, user: &str, role: Role) {
        self.server.open();
        self.server
            .send(&ServerEvent::ConnectionSuccess(ConnectionInfo {
                heartbeat_ms: None,
                user_id: user.into(),
                socket_id: "s-test".into(),
                role,
            }));
        tick().await;
    }

    fn next_cursor(&mut self) -> String {
        self.cursor += 1;
        format!("c-{}", self.cursor)
    }

    fn send_order_event(&mut self, event: OrderEvent) {
        let cursor = self.next_cursor();
        self.server.send(&ServerEvent::Order { event, cursor });
    }

    pub async fn created(&mut self, order: Order) {
        self.send_order_event(OrderEvent::Created(order));
        tick().await;
    }

    pub async fn updated(&mut self, id: &str, status: OrderStatus, at: i64) {
        self.send_order_event(OrderEvent::Updated(update(id, status, at)));
        tick().await;
    }

    pub async fn cancelled(&mut self, id: &str, at: i64) {
        self.send_order_event(OrderEvent::Cancelled(cancellation(id, at)));
        tick().await;
    }

    /// Whether the page shows `text` anywhere.
    pub fn see_text(&self, text: &str) -> bool {
        self.container
            .text_content()
            .is_some_and(|all| all.contains(text))
    }

    /// Every element under the page that matches `selector`.
    pub fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.container.query_selector_all(selector).unwrap();
        (0..list.length())
            .filter_map(|i| list.item(i))
            .map(|node| node.unchecked_into())
            .collect()
    }

    /// The first element under the page that matches `selector`.
    pub fn one(&self, selector: &str) -> Option<Element> {
        self.container.query_selector(selector).unwrap()
    }

    /// The row of one order.
    pub fn row(&self, order_id: &str) -> Option<Element> {
        self.one(&format!("[data-order-id='{order_id}']"))
    }

    /// The order ids in the order the page lists them.
    pub fn row_ids(&self) -> Vec<String> {
        self.all("[data-order-id]")
            .iter()
            .filter_map(|row| row.get_attribute("data-order-id"))
            .collect()
    }

    /// An order's badge: (class, text).
    pub fn badge(&self, order_id: &str) -> (String, String) {
        let badge = self
            .row(order_id)
            .and_then(|row| row.query_selector(".badge").unwrap())
            .unwrap_or_else(|| panic!("no badge for {order_id}"));
        (badge.class_name(), badge.text_content().unwrap_or_default())
    }

    /// A button in an order's row, by its text.
    pub fn button(&self, order_id: &str, text: &str) -> Option<HtmlElement> {
        let row = self.row(order_id)?;
        let buttons = row.query_selector_all("button").unwrap();
        (0..buttons.length())
            .filter_map(|i| buttons.item(i))
            .map(|node| node.unchecked_into::<HtmlElement>())
            .find(|button| button.text_content().unwrap_or_default().trim() == text)
    }

    /// The visible toasts' texts, oldest first.
    pub fn toasts(&self) -> Vec<String> {
        self.all(".toast .toast-text")
            .iter()
            .map(|t| t.text_content().unwrap_or_default())
            .collect()
    }

    /// Closes the toast with this text.
    pub async fn close_toast(&self, text: &str) {
        let toast = self
            .all(".toast")
            .into_iter()
            .find(|t| t.text_content().unwrap_or_default().contains(text))
            .unwrap_or_else(|| panic!("no toast {text:?}"));
        let close: HtmlElement = toast
            .query_selector(".toast-close")
            .unwrap()
            .unwrap()
            .unchecked_into();
        close.click();
        tick().await;
    }

    /// The connection chip's text.
    pub fn chip(&self) -> String {
        self.one(".chip-text")
            .and_then(|chip| chip.text_content())
            .unwrap_or_default()
    }

    /// Types into the admin table's search box.
    pub async fn search(&self, text: &str) {
        let input: web_sys::HtmlInputElement = self
            .one(".filters input[type=search]")
            .expect("no search box")
            .unchecked_into();
        input.set_value(text);
        input
            .dispatch_event(
                &web_sys::Event::new_with_event_init_dict("input", &bubbling()).unwrap(),
            )
            .unwrap();
        tick().await;
    }

    /// The toasts that are alerts (errors), oldest first.
    pub fn alerts(&self) -> Vec<String> {
        self.all(".toast[role=alert] .toast-text")
            .iter()
            .filter_map(|t| t.text_content())
            .collect()
    }

    /// What the chip's live region says (a screen reader hears this).
    pub fn chip_status(&self) -> String {
        self.one(".chip [role=status]")
            .and_then(|s| s.text_content())
            .unwrap_or_default()
    }

    /// Picks an option in the `n`-th filter select.
    pub async fn choose(&self, n: usize, value: &str) {
        let select: web_sys::HtmlSelectElement =
            self.all(".filters select")[n].clone().unchecked_into();
        select.set_value(value);
        // A browser fires `input`, then `change`, when a menu changes.
        select
            .dispatch_event(
                &web_sys::Event::new_with_event_init_dict("input", &bubbling()).unwrap(),
            )
            .unwrap();
        tick().await;
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // Unmount first: that drops the subscription before the test server
        // goes away, so the socket loop ends instead of seeing a dead link.
        self.app.take();
        self.container.remove();
    }
}

/// Counts every DOM change under a node from now on.
pub struct Watch {
    observer: web_sys::MutationObserver,
    seen: std::rc::Rc<std::cell::Cell<u32>>,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut(js_sys::Array)>,
}

impl Watch {
    pub fn new(node: &Element) -> Watch {
        let seen = std::rc::Rc::new(std::cell::Cell::new(0));
        let count = seen.clone();
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut(js_sys::Array)>::new(
            move |records: js_sys::Array| count.set(count.get() + records.length()),
        );
        let observer = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref()).unwrap();
        let options = web_sys::MutationObserverInit::new();
        options.set_subtree(true);
        options.set_attributes(true);
        options.set_child_list(true);
        options.set_character_data(true);
        observer.observe_with_options(node, &options).unwrap();
        Watch {
            observer,
            seen,
            _callback: callback,
        }
    }

    /// How many changes happened since the watch began.
    pub fn changes(&self) -> u32 {
        self.seen.get() + self.observer.take_records().length()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}
