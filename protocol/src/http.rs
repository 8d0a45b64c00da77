//! HTTP request and response bodies (§2 and §4 of the contract).

use serde::{Deserialize, Serialize};

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

/// The answer to a login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
}
