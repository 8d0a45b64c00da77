//! Token renewal (§3): a demo session's socket sends `auth:refresh` with a
//! fresh token before the current one expires, keeps its connection, and
//! reconnects with the fresh token; a token from the host page is never
//! renewed. The demo login is a stub (`AppConfig::demo_login`); everything
//! from the token's `exp` to the frame on the link is production code.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::{ClientEvent, Role};
use wasm_bindgen_test::wasm_bindgen_test;

use client::ui::DemoLogin;
use client::Session;

use crate::page::{failing_login, mount_session, tick, until, until_within, Page};

/// A JWT-shaped token (unsigned: the client only reads `exp`) for alice,
/// expiring at `exp` (seconds since the epoch).
fn token_expiring_at(exp: u64) -> String {
    let encode = |json: &str| {
        web_sys::window()
            .unwrap()
            .btoa(json)
            .unwrap()
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned()
    };
    format!(
        "{}.{}.signature",
        encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        encode(&format!(r#"{{"sub":"alice","role":"user","exp":{exp}}}"#))
    )
}

/// Now plus `secs`, in whole seconds since the epoch.
fn seconds_from_now(secs: u64) -> u64 {
    (js_sys::Date::now() / 1000.0) as u64 + secs
}

/// One call of the demo login: who asked, and when (ms since the epoch).
struct Call {
    user: String,
    role: Role,
    at_ms: f64,
}

/// The demo login's calls, in order.
type Calls = Rc<RefCell<Vec<Call>>>;

/// A demo login that answers `token` at once and records who asked.
fn recording_login(token: &'static str) -> (DemoLogin, Calls) {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = calls.clone();
    let login: DemoLogin = Rc::new(move |user, role| {
        let at_ms = js_sys::Date::now();
        seen.borrow_mut().push(Call { user, role, at_ms });
        Box::pin(async move { Some(token.to_owned()) })
    });
    (login, calls)
}

fn refresh_frame(token: &str) -> String {
    ClientEvent::AuthRefresh {
        token: token.to_owned(),
    }
    .to_json()
}

fn is_refresh(frame: &str) -> bool {
    frame.contains("auth:refresh")
}

/// The frames the client sends during the next `ms` milliseconds.
async fn sent_during(page: &mut Page, ms: f64) -> Vec<String> {
    let start = js_sys::Date::now();
    let mut sent = Vec::new();
    while js_sys::Date::now() - start < ms {
        sent.extend(page.server.sent());
        tick().await;
    }
    sent
}

#[wasm_bindgen_test]
async fn a_demo_session_refreshes_its_token_before_it_expires() {
    // 9–10 s left: the refresh is due at 80% of that, 1.8–2 s before
    // expiry. (A loop that recomputed "80% of what is left" after each
    // sleep once chased the expiry and renewed only as the token expired.)
    let exp = seconds_from_now(10);
    let mounted_ms = js_sys::Date::now();
    let old = token_expiring_at(exp);
    let (login, calls) = recording_login("fresh-token");
    let mut page = mount_session(Session::demo(old.clone(), "alice", Role::User), login).await;
    page.connect_as("alice", Role::User).await;
    assert_eq!(page.chip(), "Connected");

    let mut sent = Vec::new();
    until_within("auth:refresh", 12_000.0, || {
        sent.extend(page.server.sent());
        sent.iter().any(|frame| is_refresh(frame))
    })
    .await;
    let subscribe = ClientEvent::SubscribeOrders { cursor: None }.to_json();
    assert_eq!(sent, [subscribe, refresh_frame("fresh-token")]);
    {
        // The same user and role logged in again, before the token expired
        // (the stub answers at once, and the frame follows its answer).
        let calls = calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].user.as_str(), calls[0].role),
            ("alice", Role::User)
        );
        let exp_ms = (exp * 1000) as f64;
        let due_ms = mounted_ms + (exp_ms - mounted_ms) * 0.8;
        assert!(
            calls[0].at_ms >= due_ms - 50.0,
            "the refresh started {} ms before it was due",
            due_ms - calls[0].at_ms
        );
        // A second of slack for timers on a loaded machine.
        assert!(
            calls[0].at_ms < exp_ms - 1_000.0,
            "the refresh started only {} ms before the token expired",
            exp_ms - calls[0].at_ms
        );
    }

    // The renewed token did not cost the connection its socket.
    tick().await;
    assert_eq!(page.chip(), "Connected");
    assert_eq!(page.server.sent(), Vec::<String>::new());
    assert_eq!(page.server.tokens(), [old]);

    // A reconnect uses the fresh token.
    page.server.close(1006);
    tick().await;
    // The relay speaks first: only then is the page connected.
    page.connect_as("alice", Role::User).await;
    until("reconnect", || page.chip() == "Connected").await;
    assert_eq!(page.server.tokens(), ["fresh-token"]);
    // "fresh-token" has no `exp` to read: nothing more to renew.
    assert_eq!(calls.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn an_expired_demo_token_is_renewed_before_connecting() {
    // A reload after the token expired: connecting with it would be refused.
    let expired = token_expiring_at(seconds_from_now(0) - 10);
    let (login, calls) = recording_login("fresh-token");
    let mut page = mount_session(Session::demo(expired, "alice", Role::User), login).await;
    page.connect_as("alice", Role::User).await;
    assert_eq!(page.chip(), "Connected");
    assert_eq!(page.server.tokens(), ["fresh-token"]);
    assert_eq!(calls.borrow().len(), 1);
    // No link was open to send `auth:refresh` on: only the subscription.
    let subscribe = ClientEvent::SubscribeOrders { cursor: None }.to_json();
    assert_eq!(page.server.sent(), [subscribe]);
}

#[wasm_bindgen_test]
async fn a_token_from_the_host_page_is_never_renewed() {
    let token = token_expiring_at(seconds_from_now(1));
    let (login, calls) = recording_login("fresh-token");
    let mut page = mount_session(Session::from_token(token), login).await;
    page.connect_as("alice", Role::User).await;

    // Past the point a demo session would have refreshed (80% of ≤ 1 s).
    let sent = sent_during(&mut page, 1_200.0).await;
    assert!(!sent.iter().any(|frame| is_refresh(frame)), "{sent:?}");
    assert!(calls.borrow().is_empty());
}

#[wasm_bindgen_test]
async fn a_failed_renewal_sends_nothing_and_keeps_the_connection() {
    let token = token_expiring_at(seconds_from_now(1));
    let mut page = mount_session(Session::demo(token, "alice", Role::User), failing_login()).await;
    page.connect_as("alice", Role::User).await;

    let sent = sent_during(&mut page, 1_200.0).await;
    assert!(!sent.iter().any(|frame| is_refresh(frame)), "{sent:?}");
    assert_eq!(page.chip(), "Connected");
}
