//! What an order may hold: one set of limits for both ways an order comes
//! in, a checkout body (`POST /api/orders`) and an `order.created` read
//! from Kafka, so nothing a checkout would refuse reaches a browser, a
//! snapshot or `GET /api/orders` through the other door.
//!
//! Each check says what is wrong in words a producer can act on; the
//! relay's checkout maps it to `400 invalid_data`, the Kafka decoder to a
//! counted `invalid` reject.

use crate::order::OrderItem;
use crate::raw_json::RawJson;

/// Most lines in one order.
pub const MAX_ITEMS: usize = 100;
/// Most units of one line.
pub const MAX_QUANTITY: u32 = 1000;
/// The highest unit price: keeps every total a finite number of cents.
pub const MAX_PRICE: f64 = 1_000_000.0;
pub const MAX_PRODUCT_ID_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 200;
/// An order id or a user id.
pub const MAX_ID_CHARS: usize = 128;
/// A status message or a cancellation reason.
pub const MAX_TEXT_CHARS: usize = 1000;
/// The shipping address, as JSON text.
pub const MAX_ADDRESS_BYTES: usize = 4096;
/// How deep the shipping address may nest (`{"a":{"b":…}}` is 2): deep
/// enough for any postal address, shallow enough for every JSON parser a
/// dashboard might use (Python's and Go's refuse a few thousand levels).
pub const MAX_ADDRESS_DEPTH: usize = 8;

/// An id (order or user): non-blank, at most [`MAX_ID_CHARS`], no control
/// characters (they would forge log lines and break displays).
pub fn check_id(field: &str, id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(format!("{field} is at most {MAX_ID_CHARS} characters"));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// A free text (a message, a reason): at most [`MAX_TEXT_CHARS`].
pub fn check_text(field: &str, text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("{field} is at most {MAX_TEXT_CHARS} characters"));
    }
    Ok(())
}

/// An order's lines: at most [`MAX_ITEMS`], each with a product id and a
/// name within their lengths, a quantity of 1 to [`MAX_QUANTITY`] and a
/// price from 0 to [`MAX_PRICE`].
pub fn check_items(items: &[OrderItem]) -> Result<(), String> {
    if items.len() > MAX_ITEMS {
        return Err(format!("at most {MAX_ITEMS} lines per order"));
    }
    for (i, item) in items.iter().enumerate() {
        if item.product_id.trim().is_empty() || item.name.trim().is_empty() {
            return Err(format!("items[{i}]: productId and name are required"));
        }
        if item.product_id.chars().count() > MAX_PRODUCT_ID_CHARS
            || item.name.chars().count() > MAX_NAME_CHARS
        {
            return Err(format!(
                "items[{i}]: productId is at most {MAX_PRODUCT_ID_CHARS} characters and name at most {MAX_NAME_CHARS}"
            ));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(format!("items[{i}]: quantity must be 1-{MAX_QUANTITY}"));
        }
        if !(item.price.is_finite() && (0.0..=MAX_PRICE).contains(&item.price)) {
            return Err(format!(
                "items[{i}]: price must be a number from 0 to {MAX_PRICE}"
            ));
        }
    }
    Ok(())
}

/// The shipping address: an object (or `null`), at most
/// [`MAX_ADDRESS_BYTES`] of JSON, nested at most [`MAX_ADDRESS_DEPTH`] deep.
pub fn check_address(address: &RawJson) -> Result<(), String> {
    if !(address.is_object() || address.is_null()) {
        return Err("shippingAddress must be an object".into());
    }
    if address.get().len() > MAX_ADDRESS_BYTES {
        return Err(format!(
            "shippingAddress is at most {MAX_ADDRESS_BYTES} bytes of JSON"
        ));
    }
    if depth(address.get()) > MAX_ADDRESS_DEPTH {
        return Err(format!(
            "shippingAddress nests at most {MAX_ADDRESS_DEPTH} levels deep"
        ));
    }
    Ok(())
}

/// How deep a JSON text nests (objects and arrays), brackets inside
/// strings not counted. The text is already known to be valid JSON.
fn depth(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawJson {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        for (json, want) in [
            ("null", 0),
            ("{}", 1),
            (r#"{"a":{"b":[1,{"c":2}]}}"#, 4),
            (r#"{"a":"{{{[[[\"}}}"}"#, 1),
            (r#"{"a":"\\","b":{}}"#, 2),
        ] {
            assert_eq!(depth(json), want, "{json}");
        }
    }

    #[test]
    fn addresses_are_bounded_objects() {
        assert!(check_address(&raw("null")).is_ok());
        assert!(check_address(&raw(r#"{"street":"1 Main St","geo":{"lat":1}}"#)).is_ok());
        assert!(check_address(&raw(r#""a string""#)).is_err());
        assert!(check_address(&raw("[1]")).is_err());
        let deep = format!("{}1{}", r#"{"a":"#.repeat(9), "}".repeat(9));
        let refused = check_address(&raw(&deep)).unwrap_err();
        assert!(refused.contains("levels deep"), "{refused}");
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_ADDRESS_BYTES));
        assert!(check_address(&raw(&long)).is_err());
    }

    #[test]
    fn ids_refuse_blank_long_and_control_characters() {
        assert!(check_id("buyerId", "alice").is_ok());
        assert!(check_id("buyerId", " ").is_err());
        assert!(check_id("buyerId", "alice\nINFO forged line").is_err());
        assert!(check_id("buyerId", &"a".repeat(MAX_ID_CHARS + 1)).is_err());
    }
}
