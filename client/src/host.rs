//! The host page's sign-in hook: how a shop that signs its shoppers in hands
//! this page a token, and a fresh one before it expires, so a shopper never
//! sees a token screen.
//!
//! The shop's page defines, before the client loads, a global function
//! `window.orderRelayToken()` that returns the token for whoever is signed
//! in to the shop, or a Promise of it; `null`, `undefined` or `""` mean "not
//! signed in", a throw or a rejection is a failure. Typically it asks the
//! shop's own endpoint with the shop's session cookie (client/README.md
//! "Signing in"). It is asked when the page loads and again before the token
//! expires (`socket/renew.rs`).

use std::fmt;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The global function's name.
pub const FUNCTION: &str = "orderRelayToken";

/// The shop's `window.orderRelayToken`.
#[derive(Clone)]
pub struct Hook(js_sys::Function);

/// Why the host page gave no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// The shopper is not signed in to the shop: the function answered
    /// nothing.
    SignedOut,
    /// The function threw, rejected, or answered something else than a
    /// string: what happened, for the screen and the console.
    Failed(String),
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::SignedOut => f.write_str("You are not signed in to the shop"),
            HookError::Failed(why) => write!(f, "The shop's page gave no sign-in ({why})"),
        }
    }
}

/// The hook this page was given, if any.
pub fn find() -> Option<Hook> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &JsValue::from_str(FUNCTION))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()
        .map(Hook)
}

/// A fresh token from the hook.
pub async fn token(hook: &Hook) -> Result<String, HookError> {
    // A plain value and a Promise alike: a throw and a rejection alike.
    let answer = match hook.0.call0(&JsValue::NULL) {
        Ok(value) => JsFuture::from(js_sys::Promise::resolve(&value)).await,
        Err(thrown) => Err(thrown),
    };
    let answer = answer.map_err(|thrown| {
        let why = thrown
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| thrown.as_string())
            .unwrap_or_default();
        HookError::Failed(format!("{FUNCTION}() threw: {why}"))
    })?;
    if answer.is_null() || answer.is_undefined() {
        return Err(HookError::SignedOut);
    }
    let token = answer.as_string().ok_or_else(|| {
        HookError::Failed(format!("{FUNCTION}() answered something else than a token"))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(HookError::SignedOut);
    }
    Ok(token.to_owned())
}
