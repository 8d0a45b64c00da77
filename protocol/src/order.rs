//! The order read model and the small vocabularies around it: statuses, roles,
//! notification kinds.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::raw_json::RawJson;
use crate::time::Timestamp;

/// Where an order is in its life. `Cancelled` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// Every status, in life order.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The statuses a buyer (or an admin) may still cancel from.
    pub const CANCELLABLE: [OrderStatus; 2] = [OrderStatus::Pending, OrderStatus::Processing];

    /// The forward path an admin moves an order along.
    pub const FORWARD: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];

    /// Statuses as an error text lists them: `"a, b or c"` (or `"a → b → c"`
    /// with `" → "` for both joiners). Error texts are built from the lists
    /// above, never written out by hand.
    pub fn list(statuses: &[OrderStatus], last: &str) -> String {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        match names.split_last() {
            None => String::new(),
            Some((only, [])) => (*only).to_owned(),
            Some((tail, head)) if last == " → " => format!("{} → {tail}", head.join(" → ")),
            Some((tail, head)) => format!("{} {last} {tail}", head.join(", ")),
        }
    }

    /// The wire name (`"pending"`, …), also used as a CSS class suffix.
    pub fn as_str(self) -> &'static str {
        // `ALL` is in declaration order, so the discriminant is the index.
        <Self as WireName>::NAMES[self as usize]
    }

    /// Parses a wire name; `None` for anything the contract does not list.
    pub fn parse(name: &str) -> Option<OrderStatus> {
        let index = <Self as WireName>::NAMES.iter().position(|n| *n == name)?;
        Some(Self::ALL[index])
    }

    /// The sentence a buyer reads when their order reaches this status: the
    /// `message` the relay's commands put in `order.updated` (§4.2), and the
    /// seed's toast texts ("Order #XXXXXXXX - Your order is being
    /// processed").
    pub fn message(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Your order has been received",
            OrderStatus::Processing => "Your order is being processed",
            OrderStatus::Shipped => "Your order has been shipped",
            OrderStatus::Delivered => "Your order has been delivered",
            OrderStatus::Cancelled => "Your order has been cancelled",
        }
    }

    /// The next status an admin may move an order to, if any. Only forward
    /// moves along `pending → processing → shipped → delivered` are allowed.
    pub fn next(self) -> Option<OrderStatus> {
        // A match, not a search of `FORWARD` (smaller in the browser's
        // bundle); a test holds the two together.
        match self {
            OrderStatus::Pending => Some(OrderStatus::Processing),
            OrderStatus::Processing => Some(OrderStatus::Shipped),
            OrderStatus::Shipped => Some(OrderStatus::Delivered),
            OrderStatus::Delivered | OrderStatus::Cancelled => None,
        }
    }

    /// Whether an admin may move an order from `self` to `to` (forward only,
    /// one or more steps, never out of a final status).
    pub fn can_advance_to(self, to: OrderStatus) -> bool {
        to != OrderStatus::Cancelled && self != OrderStatus::Cancelled && to > self
    }

    /// Whether the buyer (or an admin) may still cancel.
    pub fn is_cancellable(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Processing)
    }
}

/// The status of an order as of some event time. Both the relay's read model
/// and the client's reducer keep one per order and move it only through
/// [`StatusAt::supersedes`], so they agree whatever order events arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusAt {
    pub status: OrderStatus,
    pub at: Timestamp,
}

impl StatusAt {
    /// The rule of §1 of the contract: `cancelled` is final; otherwise the
    /// latest event time wins, and on equal times the status further along in
    /// life wins. It is a total order, so applying events in any order, or
    /// twice, ends in the same status.
    pub fn supersedes(self, current: StatusAt) -> bool {
        if current.status == OrderStatus::Cancelled {
            return false;
        }
        if self.status == OrderStatus::Cancelled {
            return true;
        }
        (self.at, self.status) > (current.at, current.status)
    }
}

/// Who a token belongs to: a buyer sees their own orders, an admin sees all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    /// The role's name on the wire (`user`, `admin`).
    pub fn as_str(self) -> &'static str {
        <Self as WireName>::NAMES[self as usize]
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: String,
    pub name: String,
    pub quantity: u32,
    pub price: f64,
}

/// An order as users see it: the `Order` of the contract (§3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub buyer_id: String,
    pub items: Vec<OrderItem>,
    pub subtotal: f64,
    pub tax: f64,
    pub total: f64,
    pub status: OrderStatus,
    /// Free-form address object; the relay passes it through untouched.
    #[serde(default)]
    pub shipping_address: RawJson,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// "Order #1A2B3C4D": the last eight characters of the id, upper case.
/// ASCII case mapping only: order ids are ASCII in practice, and full Unicode
/// tables would cost the browser bundle ~8 KB gzip.
pub fn order_number(order_id: &str) -> String {
    let start = order_id
        .char_indices()
        .rev()
        .nth(7)
        .map_or(0, |(index, _)| index);
    order_id[start..].to_ascii_uppercase()
}

/// The kind of a notification; decides the toast style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationType {
    Order,
    Info,
    Success,
    Warning,
    Error,
}

/// How loudly to show a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

/// A message for one user (the `notifications` topic and the `notification`
/// frame). `user_id` is the routing key; it is not sent to the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(rename = "type")]
    pub kind: NotificationType,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub message: String,
}

/// The unit enums of the contract travel as their lowercase names and
/// share one decoder: serde's derive builds a visitor per enum, about 1 KB
/// of the browser bundle each. They still serialize with the derive.
trait WireName: Copy + 'static {
    /// Every variant, and its wire name at the same index.
    const ALL: &'static [Self];
    const NAMES: &'static [&'static str];
}

fn decode_name<'de, D: Deserializer<'de>, T: WireName>(deserializer: D) -> Result<T, D::Error> {
    let name = String::deserialize(deserializer)?;
    match T::NAMES.iter().position(|known| *known == name) {
        Some(index) => Ok(T::ALL[index]),
        None => Err(D::Error::unknown_variant(&name, T::NAMES)),
    }
}

macro_rules! wire_names {
    ($($kind:ty: $all:expr => [$($name:literal),+ $(,)?];)+) => {$(
        impl WireName for $kind {
            const ALL: &'static [Self] = $all;
            const NAMES: &'static [&'static str] = &[$($name),+];
        }

        impl<'de> Deserialize<'de> for $kind {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                decode_name(deserializer)
            }
        }
    )+};
}

wire_names! {
    OrderStatus: &OrderStatus::ALL => ["pending", "processing", "shipped", "delivered", "cancelled"];
    Role: &[Role::User, Role::Admin] => ["user", "admin"];
    Priority: &[Priority::Low, Priority::Normal, Priority::High] => ["low", "normal", "high"];
    NotificationType: &[
        NotificationType::Order,
        NotificationType::Info,
        NotificationType::Success,
        NotificationType::Warning,
        NotificationType::Error,
    ] => ["order", "info", "success", "warning", "error"];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: OrderStatus, secs: i64) -> StatusAt {
        StatusAt {
            status,
            at: Timestamp(secs * 1000),
        }
    }

    #[test]
    fn error_texts_list_statuses_from_the_tables() {
        assert_eq!(
            OrderStatus::list(&OrderStatus::ALL, "or"),
            "pending, processing, shipped, delivered or cancelled"
        );
        assert_eq!(
            OrderStatus::list(&OrderStatus::FORWARD, " → "),
            "pending → processing → shipped → delivered"
        );
        assert_eq!(
            OrderStatus::list(&OrderStatus::CANCELLABLE, "or"),
            "pending or processing"
        );
        assert_eq!(OrderStatus::list(&[OrderStatus::Shipped], "or"), "shipped");
        let path: Vec<_> =
            std::iter::successors(Some(OrderStatus::Pending), |s| s.next()).collect();
        assert_eq!(path, OrderStatus::FORWARD);
        for status in OrderStatus::ALL {
            assert_eq!(
                status.is_cancellable(),
                OrderStatus::CANCELLABLE.contains(&status)
            );
        }
    }

    #[test]
    fn latest_time_wins_ties_go_forward_and_cancelled_is_final() {
        use OrderStatus::*;
        let cases = [
            // (candidate, current, supersedes)
            (at(Shipped, 2), at(Processing, 1), true),
            (at(Processing, 1), at(Shipped, 2), false),
            (at(Shipped, 1), at(Processing, 1), true),
            (at(Processing, 1), at(Shipped, 1), false),
            (at(Pending, 5), at(Delivered, 1), true),
            (at(Cancelled, 0), at(Delivered, 9), true),
            (at(Delivered, 9), at(Cancelled, 0), false),
            (at(Cancelled, 9), at(Cancelled, 0), false),
            (at(Shipped, 1), at(Shipped, 1), false),
        ];
        for (candidate, current, expected) in cases {
            assert_eq!(
                candidate.supersedes(current),
                expected,
                "{candidate:?} over {current:?}"
            );
        }
    }

    #[test]
    fn order_number_is_the_last_eight_chars_upper_case() {
        assert_eq!(order_number("abc123"), "ABC123");
        assert_eq!(order_number("ord-0123456789abcdef"), "89ABCDEF");
        assert_eq!(order_number(""), "");
    }

    /// Each wire name decodes to the variant that serializes to it, and
    /// every variant is listed.
    fn names_match_the_serializer<T>(variants: &[T])
    where
        T: WireName + std::fmt::Debug + PartialEq + Serialize + for<'de> Deserialize<'de>,
    {
        assert_eq!(T::ALL, variants);
        for (variant, name) in T::ALL.iter().zip(T::NAMES) {
            let json = serde_json::to_string(variant).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), variant);
        }
        let error = serde_json::from_str::<T>("\"lost\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("unknown variant `lost`, expected"),
            "{error}"
        );
        assert!(serde_json::from_str::<T>("3").is_err());
    }

    #[test]
    fn every_wire_enum_decodes_exactly_its_names() {
        names_match_the_serializer(&OrderStatus::ALL);
        names_match_the_serializer(&[Role::User, Role::Admin]);
        names_match_the_serializer(&[Priority::Low, Priority::Normal, Priority::High]);
        use NotificationType::*;
        names_match_the_serializer(&[Order, Info, Success, Warning, Error]);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(OrderStatus::parse("lost"), None);
    }

    #[test]
    fn only_forward_moves_are_allowed() {
        use OrderStatus::*;
        assert!(Pending.can_advance_to(Processing));
        assert!(Processing.can_advance_to(Delivered));
        assert!(!Shipped.can_advance_to(Processing));
        assert!(!Pending.can_advance_to(Pending));
        assert!(!Cancelled.can_advance_to(Delivered));
        assert!(!Pending.can_advance_to(Cancelled));
        assert!(Pending.is_cancellable() && Processing.is_cancellable());
        assert!(!Shipped.is_cancellable() && !Cancelled.is_cancellable());
    }
}
