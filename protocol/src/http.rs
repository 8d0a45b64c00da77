//! HTTP request and response bodies (§2 and §4 of the contract).

use serde::{Deserialize, Serialize};

use crate::frames::json_string;
pub use crate::frames::{ErrorBody, OrdersSnapshot as OrdersResponse};
use crate::order::{OrderStatus, Role};
use crate::raw_json::RawJson;

/// `{"error": {"code", "message"}}`: every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: ErrorBody,
}

/// One line of a checkout: the same shape as an order's line. The server
/// prices nothing itself: it trusts the catalogue price sent by the shop
/// front, as the seed's order service did.
pub use crate::order::OrderItem as CheckoutItem;

/// `POST /api/orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequest {
    pub items: Vec<CheckoutItem>,
    #[serde(default)]
    pub shipping_address: RawJson,
}

/// `POST /api/orders/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PATCH /api/admin/orders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
}

/// `POST /api/dev/login` (demo mode only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub user_id: String,
    #[serde(default)]
    pub role: Option<Role>,
}

// The bodies a browser sends are written by hand, as the client frames are
// (`ClientEvent::to_json`): the browser's bundle then carries no
// serializer, only the string escaping it has anyway. A checkout's prices
// are written by `number`, which the browser takes from JavaScript (the
// shortest form that reads back as the same number, as serde's). The tests
// check each against serde.
impl LoginRequest {
    pub fn to_json(&self) -> String {
        let user = json_string(&self.user_id);
        match self.role {
            Some(role) => format!(r#"{{"userId":{user},"role":"{}"}}"#, role.as_str()),
            None => format!(r#"{{"userId":{user},"role":null}}"#),
        }
    }
}

impl CancelRequest {
    pub fn to_json(&self) -> String {
        let reason = self
            .reason
            .as_deref()
            .map_or_else(|| "null".into(), json_string);
        format!(r#"{{"reason":{reason}}}"#)
    }
}

impl StatusChange {
    pub fn to_json(&self) -> String {
        format!(r#"{{"status":"{}"}}"#, self.status.as_str())
    }
}

impl CheckoutRequest {
    /// Written with `number` for the prices (a finite `f64` in, its JSON
    /// text out).
    pub fn to_json(&self, number: impl Fn(f64) -> String) -> String {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|item| {
                format!(
                    r#"{{"productId":{},"name":{},"quantity":{},"price":{}}}"#,
                    json_string(&item.product_id),
                    json_string(&item.name),
                    item.quantity,
                    number(item.price)
                )
            })
            .collect();
        format!(
            r#"{{"items":[{}],"shippingAddress":{}}}"#,
            items.join(","),
            self.shipping_address.get()
        )
    }
}

/// The answer to a login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderItem;

    #[test]
    fn the_bodies_a_browser_sends_are_what_serde_would_write() {
        for (user, role) in [
            ("alice", Some(Role::User)),
            ("admin", Some(Role::Admin)),
            ("o\"dd\\ \u{1} é", None),
        ] {
            let login = LoginRequest {
                user_id: user.into(),
                role,
            };
            assert_eq!(login.to_json(), serde_json::to_string(&login).unwrap());
        }
        for reason in [None, Some("Changed my mind \"now\"".to_owned())] {
            let cancel = CancelRequest { reason };
            assert_eq!(cancel.to_json(), serde_json::to_string(&cancel).unwrap());
        }
        for status in [
            OrderStatus::Processing,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ] {
            let change = StatusChange { status };
            assert_eq!(change.to_json(), serde_json::to_string(&change).unwrap());
        }
        let item = |name: &str, price| OrderItem {
            product_id: format!("p-{name}"),
            name: name.into(),
            quantity: 2,
            price,
        };
        for shipping in [
            RawJson::null(),
            RawJson::to_raw(&serde_json::json!({"city": "Gent"})).unwrap(),
        ] {
            let checkout = CheckoutRequest {
                items: vec![
                    item("Mug \"blue\"", 12.5),
                    item("Kettle", 0.1 + 0.2),
                    item("Free", 0.0),
                ],
                shipping_address: shipping,
            };
            let ours = checkout.to_json(|x| serde_json::to_string(&x).unwrap());
            assert_eq!(ours, serde_json::to_string(&checkout).unwrap());
            // Any writer of the number's shortest form reads back the same.
            let displayed = checkout.to_json(|x| x.to_string());
            let back: CheckoutRequest = serde_json::from_str(&displayed).unwrap();
            assert_eq!(back, checkout);
        }
    }
}
