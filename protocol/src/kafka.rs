//! What the order service publishes on Kafka (§1 of the contract), and the
//! decoder that validates it.
//!
//! Decoding is total: every byte string yields either a typed [`Input`] or a
//! typed [`Reject`] that names why the message was refused. The relay logs and
//! counts a reject and moves on to the next message; nothing here panics.

use serde::{Deserialize, Serialize, Serializer};

use crate::limits;
use crate::order::{Notification, NotificationType, Order, OrderItem, OrderStatus, Priority};
use crate::raw_json::RawJson;
use crate::time::Timestamp;

/// The default topic names.
pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_UPDATED: &str = "order.updated";
pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const NOTIFICATIONS: &str = "notifications";

/// Which payload a topic carries. Topic names are configurable; their kind is
/// what decides how a message is read.
///
/// The one table of topic kinds: [`strum::VariantArray`] lists every kind
/// (metrics, configuration), [`TopicKind::order_topic`] numbers the order
/// topics (cursors, checkpoints), [`TopicKind::default_name`] names them. A
/// new kind is a compile error in each `match` until it is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray, strum::IntoStaticStr)]
pub enum TopicKind {
    #[strum(serialize = "order.created")]
    Created,
    #[strum(serialize = "order.updated")]
    Updated,
    #[strum(serialize = "order.cancelled")]
    Cancelled,
    #[strum(serialize = "notifications")]
    Notifications,
}

impl TopicKind {
    /// The number of an order topic in cursors and checkpoints (`None` for
    /// notifications, which are live-only and have no position).
    pub const fn order_topic(self) -> Option<u8> {
        match self {
            TopicKind::Created => Some(0),
            TopicKind::Updated => Some(1),
            TopicKind::Cancelled => Some(2),
            TopicKind::Notifications => None,
        }
    }

    /// The order topic numbered `topic` in cursors and checkpoints.
    pub fn from_order_topic(topic: u8) -> Option<TopicKind> {
        <TopicKind as strum::VariantArray>::VARIANTS
            .iter()
            .copied()
            .find(|kind| kind.order_topic() == Some(topic))
    }

    /// The topic's default name (also its label in metrics and logs).
    pub fn default_name(self) -> &'static str {
        self.into()
    }
}

/// A status change of an order (`order.updated`, and the `order:updated` frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderUpdate {
    pub order_id: String,
    /// Missing on Kafka when the producer did not know it; the relay fills it
    /// in from the order's `order.created` before sending the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_id: Option<String>,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<OrderStatus>,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A cancellation (`order.cancelled`, and the `order:cancelled` frame, which
/// also carries `status: "cancelled"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancellation {
    pub order_id: String,
    #[serde(default)]
    pub buyer_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub cancelled_at: Timestamp,
}

impl Serialize for OrderCancellation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            order_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            buyer_id: Option<&'a str>,
            status: OrderStatus,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            cancelled_at: Timestamp,
        }
        Wire {
            order_id: &self.order_id,
            buyer_id: self.buyer_id.as_deref(),
            status: OrderStatus::Cancelled,
            reason: self.reason.as_deref(),
            cancelled_at: self.cancelled_at,
        }
        .serialize(s)
    }
}

/// One event in an order's life, as the relay routes it and the client applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Created(Order),
    Updated(OrderUpdate),
    Cancelled(OrderCancellation),
}

impl OrderEvent {
    pub fn order_id(&self) -> &str {
        match self {
            OrderEvent::Created(o) => &o.order_id,
            OrderEvent::Updated(u) => &u.order_id,
            OrderEvent::Cancelled(c) => &c.order_id,
        }
    }

    /// The buyer named in the event itself, if any.
    pub fn buyer_id(&self) -> Option<&str> {
        match self {
            OrderEvent::Created(o) => Some(&o.buyer_id),
            OrderEvent::Updated(u) => u.buyer_id.as_deref(),
            OrderEvent::Cancelled(c) => c.buyer_id.as_deref(),
        }
    }

    /// Records the buyer, once the relay knows it, so the frame carries it.
    pub fn set_buyer_id(&mut self, buyer: &str) {
        match self {
            OrderEvent::Created(_) => {}
            OrderEvent::Updated(u) => u.buyer_id = Some(buyer.to_owned()),
            OrderEvent::Cancelled(c) => c.buyer_id = Some(buyer.to_owned()),
        }
    }

    /// The status this event claims for the order.
    pub fn status(&self) -> OrderStatus {
        match self {
            OrderEvent::Created(o) => o.status,
            OrderEvent::Updated(u) => u.status,
            OrderEvent::Cancelled(_) => OrderStatus::Cancelled,
        }
    }

    /// The event time that decides which status is current (§1).
    pub fn time(&self) -> Timestamp {
        match self {
            OrderEvent::Created(o) => o.created_at,
            OrderEvent::Updated(u) => u.updated_at,
            OrderEvent::Cancelled(c) => c.cancelled_at,
        }
    }

    /// The wire name of the WebSocket frame that carries this event.
    pub fn frame_name(&self) -> &'static str {
        match self {
            OrderEvent::Created(_) => "order:created",
            OrderEvent::Updated(_) => "order:updated",
            OrderEvent::Cancelled(_) => "order:cancelled",
        }
    }

    /// The Kafka value for this event (UTF-8 JSON).
    pub fn to_json(&self) -> String {
        let json = match self {
            OrderEvent::Created(o) => serde_json::to_string(o),
            OrderEvent::Updated(u) => serde_json::to_string(u),
            OrderEvent::Cancelled(c) => serde_json::to_string(c),
        };
        json.expect("order events always serialise")
    }
}

/// A message read from one of the four topics, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Order(OrderEvent),
    Notification {
        user_id: String,
        notification: Notification,
    },
}

/// Why a Kafka message was refused. Each variant is one metrics `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(RejectReason),
    doc = "Why the decoder refused a message, as a label (`Reject::reason`).",
    derive(strum::VariantArray, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case")
)]
pub enum Reject {
    #[error("message of {size} bytes is over the {limit}-byte limit")]
    Oversize { size: usize, limit: usize },
    #[error("message is not UTF-8 JSON: {0}")]
    NotJson(String),
    #[error("message has no orderId")]
    MissingOrderId,
    #[error("unknown order status `{0}` (expected {expected})", expected = OrderStatus::list(&OrderStatus::ALL, "or"))]
    UnknownStatus(String),
    #[error("message does not match its topic's schema: {0}")]
    Invalid(String),
}

impl Reject {
    /// The stable `reason` label used in logs and `/metrics`.
    pub fn reason(&self) -> &'static str {
        RejectReason::from(self).into()
    }
}

/// Validates one Kafka value read from a topic of the given kind.
pub fn decode(kind: TopicKind, payload: &[u8], size_limit: usize) -> Result<Input, Reject> {
    if payload.len() > size_limit {
        return Err(Reject::Oversize {
            size: payload.len(),
            limit: size_limit,
        });
    }
    match kind {
        TopicKind::Created => parse::<RawCreated>(payload)?
            .validate()
            .map(OrderEvent::Created),
        TopicKind::Updated => parse::<RawUpdated>(payload)?
            .validate()
            .map(OrderEvent::Updated),
        TopicKind::Cancelled => parse::<RawCancelled>(payload)?
            .validate()
            .map(OrderEvent::Cancelled),
        TopicKind::Notifications => return parse::<RawNotification>(payload)?.validate(),
    }
    .map(Input::Order)
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Reject> {
    serde_json::from_slice(payload).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Reject::Invalid(e.to_string()),
        _ => Reject::NotJson(e.to_string()),
    })
}

fn order_id(id: Option<String>) -> Result<String, Reject> {
    let id = id
        .filter(|id| !id.trim().is_empty())
        .ok_or(Reject::MissingOrderId)?;
    limits::check_id("orderId", &id).map_err(Reject::Invalid)?;
    Ok(id)
}

/// An optional buyer or user id: empty counts as absent; anything else
/// keeps to the id rules.
fn user_id(id: Option<String>, field: &str) -> Result<Option<String>, Reject> {
    match id.filter(|id| !id.is_empty()) {
        Some(id) => limits::check_id(field, &id)
            .map(|()| Some(id))
            .map_err(Reject::Invalid),
        None => Ok(None),
    }
}

/// An optional free text within its length.
fn text(value: Option<String>, field: &str) -> Result<Option<String>, Reject> {
    if let Some(text) = &value {
        limits::check_text(field, text).map_err(Reject::Invalid)?;
    }
    Ok(value)
}

fn status(name: Option<String>, default: Option<OrderStatus>) -> Result<OrderStatus, Reject> {
    match name {
        Some(name) => OrderStatus::parse(&name).ok_or(Reject::UnknownStatus(name)),
        None => default.ok_or_else(|| Reject::Invalid("missing field `status`".into())),
    }
}

fn time(text: Option<String>, field: &str) -> Result<Timestamp, Reject> {
    let text = text.ok_or_else(|| Reject::Invalid(format!("missing field `{field}`")))?;
    Timestamp::parse(&text).map_err(|e| Reject::Invalid(format!("`{field}`: {e}")))
}

// The raw shapes accept every field as optional so that each rule of the
// contract (defaults, fallbacks, which omission is which reject) is applied in
// one readable place below rather than hidden in serde attributes.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCreated {
    order_id: Option<String>,
    buyer_id: Option<String>,
    items: Option<Vec<OrderItem>>,
    subtotal: Option<f64>,
    tax: Option<f64>,
    total: Option<f64>,
    total_amount: Option<f64>,
    status: Option<String>,
    shipping_address: Option<RawJson>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl RawCreated {
    fn validate(self) -> Result<Order, Reject> {
        let order_id = order_id(self.order_id)?;
        let status = status(self.status, Some(OrderStatus::Pending))?;
        let buyer_id = user_id(self.buyer_id, "buyerId")?
            .ok_or_else(|| Reject::Invalid("missing field `buyerId`".into()))?;
        let items = self.items.unwrap_or_default();
        limits::check_items(&items).map_err(Reject::Invalid)?;
        let shipping_address = self.shipping_address.unwrap_or_default();
        limits::check_address(&shipping_address).map_err(Reject::Invalid)?;
        let created_at = time(self.created_at, "createdAt")?;
        let updated_at = match self.updated_at {
            Some(text) => time(Some(text), "updatedAt")?,
            None => created_at,
        };
        Ok(Order {
            order_id,
            buyer_id,
            items,
            subtotal: self.subtotal.unwrap_or(0.0),
            tax: self.tax.unwrap_or(0.0),
            total: self.total.or(self.total_amount).unwrap_or(0.0),
            status,
            shipping_address,
            created_at,
            updated_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUpdated {
    order_id: Option<String>,
    buyer_id: Option<String>,
    status: Option<String>,
    previous_status: Option<String>,
    updated_at: Option<String>,
    message: Option<String>,
}

impl RawUpdated {
    fn validate(self) -> Result<OrderUpdate, Reject> {
        Ok(OrderUpdate {
            order_id: order_id(self.order_id)?,
            buyer_id: user_id(self.buyer_id, "buyerId")?,
            status: status(self.status, None)?,
            previous_status: self
                .previous_status
                .map(|name| status(Some(name), None))
                .transpose()?,
            updated_at: time(self.updated_at, "updatedAt")?,
            message: text(self.message, "message")?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCancelled {
    order_id: Option<String>,
    buyer_id: Option<String>,
    reason: Option<String>,
    cancelled_at: Option<String>,
}

impl RawCancelled {
    fn validate(self) -> Result<OrderCancellation, Reject> {
        Ok(OrderCancellation {
            order_id: order_id(self.order_id)?,
            buyer_id: user_id(self.buyer_id, "buyerId")?,
            reason: text(self.reason, "reason")?,
            cancelled_at: time(self.cancelled_at, "cancelledAt")?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    user_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<NotificationType>,
    priority: Option<Priority>,
    title: Option<String>,
    message: Option<String>,
}

impl RawNotification {
    fn validate(self) -> Result<Input, Reject> {
        let missing = |field: &str| Reject::Invalid(format!("missing field `{field}`"));
        Ok(Input::Notification {
            user_id: user_id(self.user_id, "userId")?.ok_or_else(|| missing("userId"))?,
            notification: Notification {
                kind: self.kind.ok_or_else(|| missing("type"))?,
                priority: self.priority.unwrap_or_default(),
                title: text(self.title, "title")?,
                message: text(self.message, "message")?.ok_or_else(|| missing("message"))?,
            },
        })
    }
}

#[cfg(test)]
mod tests;
