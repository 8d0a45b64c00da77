//! JSON the system carries without reading it.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON value passed through untouched: an order's shipping address. It
/// is kept as its source text, so neither the relay nor the browser builds a
/// tree it never reads (serde_json's `Value` machinery alone would cost the
/// browser bundle several KB). Two values are equal when their texts are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// JSON `null`: what an order without an address carries.
    pub fn null() -> RawJson {
        RawJson(RawValue::NULL.to_owned())
    }

    /// The JSON text of `value`.
    pub fn to_raw<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<RawJson> {
        serde_json::value::to_raw_value(value).map(RawJson)
    }

    /// `text` if it is one JSON value (checked by the one JSON reader).
    pub fn parse(text: String) -> serde_json::Result<RawJson> {
        RawValue::from_string(text).map(RawJson)
    }

    /// The JSON text, exactly as received.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    pub fn is_null(&self) -> bool {
        self.get().trim() == "null"
    }

    pub fn is_object(&self) -> bool {
        self.get().trim_start().starts_with('{')
    }
}

impl Default for RawJson {
    fn default() -> RawJson {
        RawJson::null()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.get() == other.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default)]
        address: RawJson,
    }

    #[test]
    fn passes_any_json_through_byte_for_byte() {
        for address in [
            r#"{"city":"Lyon","lines":["1 Rue"]}"#,
            "null",
            "[1,2]",
            r#""text""#,
            "42",
        ] {
            let text = format!(r#"{{"address":{address}}}"#);
            let holder: Holder = serde_json::from_str(&text).unwrap();
            assert_eq!(holder.address.get(), address);
            assert_eq!(serde_json::to_string(&holder).unwrap(), text);
        }
    }

    #[test]
    fn a_missing_value_is_null() {
        let holder: Holder = serde_json::from_str("{}").unwrap();
        assert!(holder.address.is_null());
        assert_eq!(holder.address, RawJson::null());
    }

    #[test]
    fn tells_objects_and_null_apart_from_the_rest() {
        let raw = |text: &str| {
            serde_json::from_str::<Holder>(&format!(r#"{{"address": {text}}}"#))
                .unwrap()
                .address
        };
        assert!(raw(r#"{"city": "Lyon"}"#).is_object());
        assert!(raw("null").is_null());
        for other in ["[]", "1", r#""{""#, "true"] {
            assert!(!raw(other).is_object() && !raw(other).is_null(), "{other}");
        }
    }

    #[test]
    fn invalid_json_is_an_error_not_a_value() {
        assert!(serde_json::from_str::<Holder>(r#"{"address": {"city": }"#).is_err());
    }

    #[test]
    fn serializes_a_value_to_its_text() {
        let raw = RawJson::to_raw(&[("city", "Lyon")]).unwrap();
        assert_eq!(raw.get(), r#"[["city","Lyon"]]"#);
    }
}
