//! How values read on the page: item lists, statuses, the connection state.
//! Pure functions, so the page's words are tested natively. Money and times
//! are the browser's business (its `Intl`, in the shopper's locale and time
//! zone: client/src/intl.rs), passed in where a sentence needs one.

use protocol::{OrderItem, OrderStatus, Timestamp};

use crate::state::Connection;

/// `2 × Kettle, 1 × Mug`, or `No items`.
pub fn items(items: &[OrderItem]) -> String {
    if items.is_empty() {
        return "No items".to_owned();
    }
    items
        .iter()
        .map(|item| format!("{} × {}", item.quantity, item.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The connection chip's words.
/// Orders shown from this browser's cache say so, and how old they are,
/// instead of a countdown.
pub fn connection(connection: Connection, time: impl Fn(Timestamp) -> String) -> String {
    match connection {
        Connection::Cached { saved_at } => {
            format!(
                "Offline · last updated {}",
                time(Timestamp(saved_at as i64))
            )
        }
        Connection::Connected => "Connected".to_owned(),
        Connection::Connecting => "Connecting…".to_owned(),
        Connection::Reconnecting { in_secs } => format!("Reconnecting in {in_secs} s"),
        Connection::Offline => "Offline".to_owned(),
    }
}

/// What a screen reader announces of the chip: the state only, never its
/// countdown, so a reconnect is announced once, not every second.
pub fn connection_announced(connection: Connection) -> &'static str {
    match connection {
        Connection::Connected => "Connected",
        Connection::Connecting => "Connecting",
        Connection::Reconnecting { .. } => "Reconnecting",
        Connection::Offline => "Offline",
        Connection::Cached { .. } => "Offline, showing saved orders",
    }
}

/// The connection chip's CSS modifier.
pub fn connection_class(connection: Connection) -> &'static str {
    match connection {
        Connection::Connected => "chip chip-connected",
        Connection::Connecting => "chip chip-connecting",
        Connection::Reconnecting { .. } => "chip chip-reconnecting",
        Connection::Offline | Connection::Cached { .. } => "chip chip-offline",
    }
}

/// A status badge's CSS classes (`badge badge-<wire name>`, or `badge
/// badge-busy` while a command on the order is in flight). A `&'static str`,
/// not a `format!`: a reactive class of its own type (`String`) would
/// compile its own render effect into the bundle.
pub fn badge_class(status: OrderStatus, busy: bool) -> &'static str {
    if busy {
        return "badge badge-busy";
    }
    match status {
        OrderStatus::Pending => "badge badge-pending",
        OrderStatus::Processing => "badge badge-processing",
        OrderStatus::Shipped => "badge badge-shipped",
        OrderStatus::Delivered => "badge badge-delivered",
        OrderStatus::Cancelled => "badge badge-cancelled",
    }
}

/// A short label for a status badge.
pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Pending",
        OrderStatus::Processing => "Processing",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Cancelled => "Cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_as_quantity_times_name() {
        let item = |quantity, name: &str| OrderItem {
            product_id: "p".into(),
            name: name.into(),
            quantity,
            price: 1.0,
        };
        assert_eq!(items(&[]), "No items");
        assert_eq!(
            items(&[item(2, "Kettle"), item(1, "Mug")]),
            "2 × Kettle, 1 × Mug"
        );
    }

    #[test]
    fn badge_class_is_the_wire_name_or_busy() {
        for status in OrderStatus::ALL {
            let class = format!("badge badge-{}", status.as_str());
            assert_eq!(badge_class(status, false), class);
            assert_eq!(badge_class(status, true), "badge badge-busy");
        }
    }

    fn utc(at: Timestamp) -> String {
        at.to_string()
    }

    #[test]
    fn the_chip_names_each_connection_state() {
        let cases = [
            (Connection::Connected, "Connected", "chip chip-connected"),
            (
                Connection::Connecting,
                "Connecting…",
                "chip chip-connecting",
            ),
            (
                Connection::Reconnecting { in_secs: 3 },
                "Reconnecting in 3 s",
                "chip chip-reconnecting",
            ),
            (Connection::Offline, "Offline", "chip chip-offline"),
        ];
        for (state, text, class) in cases {
            assert_eq!(
                (connection(state, utc).as_str(), connection_class(state)),
                (text, class)
            );
            assert!(text.starts_with(connection_announced(state)), "{text}");
        }
    }

    #[test]
    fn cached_orders_say_how_old_they_are() {
        // 2025-11-12T10:30:00Z
        let cached = Connection::Cached {
            saved_at: 1_762_943_400_000,
        };
        assert_eq!(
            connection(cached, utc),
            "Offline · last updated 2025-11-12T10:30:00.000Z"
        );
        assert_eq!(connection_class(cached), "chip chip-offline");
    }
}
