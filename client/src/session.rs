//! Where a session comes from and where it is kept.
//!
//! A demo sign-in yields a token for a known user. Without demo mode, the
//! host page hands the client a token: through its hook
//! (`window.orderRelayToken()`, [`crate::host`], asked by the sign-in screen
//! and again before the token expires), or once, as `?token=` in the URL or
//! `<meta name="order-token" content="…">`. The session is kept in `sessionStorage` so a reload stays
//! signed in; closing the tab forgets it. Who can renew it is kept too (see
//! [`crate::socket::Tokens`]).

use client_core::state::{Renewal, Session};
use protocol::Role;
use web_sys::Storage;

const TOKEN_KEY: &str = "orders.token";
const USER_KEY: &str = "orders.user";
const ROLE_KEY: &str = "orders.role";
/// Who renews the token: `demo` or `host` (absent: nobody).
const RENEWAL_KEY: &str = "orders.renewal";

fn storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

fn parse_role(name: &str) -> Role {
    if name == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

/// The session kept by an earlier page load of this tab.
pub fn load() -> Option<Session> {
    let storage = storage()?;
    let token = storage.get_item(TOKEN_KEY).ok().flatten()?;
    if token.is_empty() {
        return None;
    }
    Some(Session {
        token,
        user_id: storage.get_item(USER_KEY).ok().flatten(),
        role: parse_role(
            &storage
                .get_item(ROLE_KEY)
                .ok()
                .flatten()
                .unwrap_or_default(),
        ),
        renewal: match storage.get_item(RENEWAL_KEY).ok().flatten().as_deref() {
            Some("demo") => Renewal::DemoLogin,
            Some("host") => Renewal::HostPage,
            _ => Renewal::None,
        },
    })
}

/// Keeps the session for the next load of this tab, or forgets it.
pub fn save(session: Option<&Session>) {
    let Some(storage) = storage() else { return };
    // Storage can refuse (quota, privacy mode); the app then simply asks
    // for a sign-in after a reload.
    match session {
        Some(session) => {
            let _ = storage.set_item(TOKEN_KEY, &session.token);
            match &session.user_id {
                Some(user) => {
                    let _ = storage.set_item(USER_KEY, user);
                }
                None => {
                    let _ = storage.remove_item(USER_KEY);
                }
            }
            let _ = storage.set_item(ROLE_KEY, role_name(session.role));
            let _ = match session.renewal {
                Renewal::DemoLogin => storage.set_item(RENEWAL_KEY, "demo"),
                Renewal::HostPage => storage.set_item(RENEWAL_KEY, "host"),
                Renewal::None => storage.remove_item(RENEWAL_KEY),
            };
        }
        None => {
            for key in [TOKEN_KEY, USER_KEY, ROLE_KEY, RENEWAL_KEY] {
                let _ = storage.remove_item(key);
            }
        }
    }
}

fn clean(token: String) -> Option<String> {
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// `?token=` in the page's URL.
fn url_token() -> Option<String> {
    clean(crate::url::params()?.get("token")?)
}

/// `<meta name="order-token" content="…">` in the host page.
fn meta_token() -> Option<String> {
    let meta = web_sys::window()?
        .document()?
        .query_selector("meta[name='order-token']")
        .ok()??;
    clean(meta.get_attribute("content")?)
}

/// Takes `?token=` out of the address bar once it has been read: the token
/// then lives only in this tab's storage, is not bookmarked or shared with
/// the URL, and signing out really signs out (a reload does not sign back
/// in with it).
fn strip_url_token() {
    crate::url::rewrite(|params| params.delete("token"));
}

/// The session to start with: a token in the URL wins (it is what the user
/// just opened); then, when the host page has a hook, none (the sign-in
/// screen asks the hook: the shop's session, not this tab's memory, says
/// who is signed in); then the one this tab kept, then one in the host page.
pub fn initial() -> Option<Session> {
    let from_url = url_token();
    if from_url.is_some() {
        strip_url_token();
    }
    if from_url.is_none() && crate::host::find().is_some() {
        return None;
    }
    match (from_url, load()) {
        (Some(token), Some(kept)) if kept.token == token => Some(kept),
        (Some(token), _) => Some(Session::from_token(token)),
        (None, Some(kept)) => Some(kept),
        (None, None) => meta_token().map(Session::from_token),
    }
}
