//! How values read on the page: money, item lists, times, connection state.
//! Pure functions, so the page's words are tested natively.

use protocol::{OrderItem, OrderStatus, Timestamp};

use crate::state::Connection;

/// `$1,234.50`: dollars with two decimals and thousands separators.
pub fn money(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `12 Nov 2025, 10:30 UTC`. Times stay in UTC, as the contract sends them:
/// an admin and a buyer talking about an order read the same time.
pub fn time(at: Timestamp) -> String {
    // The canonical form is fixed-width: 2025-11-12T10:30:00.000Z.
    let text = at.to_string();
    let field = |range: std::ops::Range<usize>| text.get(range).unwrap_or("");
    let month = field(5..7)
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("?");
    let day = field(8..10).trim_start_matches('0');
    format!("{day} {month} {}, {} UTC", field(0..4), field(11..16))
}

/// The connection chip's words.
/// Orders shown from this browser's cache say so, and how old they are,
/// instead of a countdown.
pub fn connection(connection: Connection) -> String {
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

/// The connection chip's CSS modifier.
pub fn connection_class(connection: Connection) -> &'static str {
    match connection {
        Connection::Connected => "chip chip-connected",
        Connection::Connecting => "chip chip-connecting",
        Connection::Reconnecting { .. } => "chip chip-reconnecting",
        Connection::Offline | Connection::Cached { .. } => "chip chip-offline",
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
    fn money_has_two_decimals_and_groups_thousands() {
        let cases = [
            (0.0, "$0.00"),
            (109.99, "$109.99"),
            (49.995, "$50.00"),
            (1234.5, "$1,234.50"),
            (1_000_000.0, "$1,000,000.00"),
            (-3.1, "-$3.10"),
        ];
        for (amount, text) in cases {
            assert_eq!(money(amount), text, "{amount}");
        }
    }

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
    fn times_read_as_day_month_year_in_utc() {
        let cases = [
            ("2025-11-12T10:30:00.000Z", "12 Nov 2025, 10:30 UTC"),
            ("2026-01-05T23:59:59.999Z", "5 Jan 2026, 23:59 UTC"),
            ("2025-11-12T12:30:00+02:00", "12 Nov 2025, 10:30 UTC"),
        ];
        for (input, text) in cases {
            assert_eq!(time(Timestamp::parse(input).unwrap()), text);
        }
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
                (connection(state).as_str(), connection_class(state)),
                (text, class)
            );
        }
    }

    #[test]
    fn cached_orders_say_how_old_they_are() {
        // 2025-11-12T10:30:00Z
        let cached = Connection::Cached {
            saved_at: 1_762_943_400_000,
        };
        assert_eq!(
            connection(cached),
            "Offline · last updated 12 Nov 2025, 10:30 UTC"
        );
        assert_eq!(connection_class(cached), "chip chip-offline");
    }
}
