//! Money and times in the shopper's own locale and time zone, through the
//! browser's `Intl` (no formatting tables in the bundle).
//!
//! The locale is the browser's; the currency is the page's
//! `<meta name="order-currency" content="EUR">` (ISO 4217), or US dollars,
//! the seed shop's, without one: orders carry amounts, not currencies.
//! Times are the contract's UTC instants shown in the browser's time zone.

use js_sys::{Array, Date, Function, Intl, Object, Reflect};
use protocol::Timestamp;
use wasm_bindgen::JsValue;

/// The currency without a `<meta name="order-currency">`.
pub const DEFAULT_CURRENCY: &str = "USD";

struct Formats {
    money: Function,
    time: Function,
}

thread_local! {
    // Built once: an `Intl` formatter is costly to create and cheap to call.
    static FORMATS: Formats = Formats::new();
}

fn options(pairs: &[(&str, &str)]) -> Object {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &(*key).into(), &(*value).into());
    }
    object
}

/// The page's currency setting.
fn currency() -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("meta[name=order-currency]").ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .unwrap_or_else(|| DEFAULT_CURRENCY.to_owned())
}

impl Formats {
    fn new() -> Formats {
        // No locales: the browser's own.
        let locales = Array::new();
        let currency = currency();
        let money = options(&[("style", "currency"), ("currency", &currency)]);
        let time = options(&[("dateStyle", "medium"), ("timeStyle", "short")]);
        Formats {
            money: Intl::NumberFormat::new(&locales, &money).format(),
            time: Intl::DateTimeFormat::new(&locales, &time).format(),
        }
    }
}

fn call(format: &Function, value: JsValue) -> String {
    format
        .call1(&JsValue::NULL, &value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

/// `$1,234.50`, `1 234,50 €`, `¥1,235`: the amount in the page's currency.
pub fn money(amount: f64) -> String {
    FORMATS.with(|f| call(&f.money, amount.into()))
}

/// `Nov 12, 2025, 11:30 AM`, `12 nov. 2025, 11:30`: an instant in the
/// browser's time zone.
pub fn time(at: Timestamp) -> String {
    FORMATS.with(|f| call(&f.time, Date::new(&(at.0 as f64).into()).into()))
}
