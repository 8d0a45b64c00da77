//! The page's address: what it says, and changing its parameters in place
//! (`history.replaceState`: no reload, no new history entry).

use client_core::table::{Query, KEYS};
use wasm_bindgen::JsValue;
use web_sys::UrlSearchParams;

/// The address's parameters (`?a=1&b=2`), empty when it has none.
pub fn params() -> Option<UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    UrlSearchParams::new_with_str(&search).ok()
}

/// Changes the address's parameters with `change`, keeping its path and
/// fragment.
pub fn rewrite(change: impl FnOnce(&UrlSearchParams)) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let (Ok(path), Some(params), Ok(hash)) = (location.pathname(), params(), location.hash())
    else {
        return;
    };
    change(&params);
    let rest = String::from(params.to_string());
    let query = if rest.is_empty() {
        String::new()
    } else {
        format!("?{rest}")
    };
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &JsValue::NULL,
            "",
            Some(&format!("{path}{query}{hash}")),
        );
    }
}

/// The admin table's query from the address, so a bookmark or a shared
/// link opens the same rows.
pub fn read_query() -> Query {
    let mut query = Query::default();
    if let Some(params) = params() {
        for key in KEYS {
            if let Some(value) = params.get(key) {
                query.set(key, &value);
            }
        }
    }
    query
}

/// Puts the admin table's query in the address, after any other
/// parameters.
pub fn write_query(query: &Query) {
    rewrite(|params| {
        for key in KEYS {
            params.delete(key);
            if let Some(value) = query.param(key) {
                params.append(key, &value);
            }
        }
    });
}
