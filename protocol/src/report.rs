//! What a browser tells the relay about delivery: its clock against the
//! relay's (`clock:sync`) and how long live events took to reach its store
//! (`delivery:report`), with why it reconnected. The relay folds the
//! reports into `relay_delivery_seconds{stage="relay_to_browser"}` and
//! `relay_browser_reconnects_total{cause}`.

use serde::{Deserialize, Serialize};

/// Most latencies in one report; the rest of a report is dropped (counted).
pub const MAX_REPORT_VALUES: usize = 256;
/// Most reconnect causes in one report.
pub const MAX_REPORT_RECONNECTS: usize = 16;
/// A connection's reports come at least this far apart; one sooner is
/// dropped whole (counted). A browser batches to stay under it.
pub const MIN_REPORT_INTERVAL_MS: u64 = 1000;
/// The longest latency taken as a measurement (µs, 10 minutes); longer
/// ones are a clock estimate gone wrong or a tab asleep, and dropped
/// (counted).
pub const MAX_REPORTED_US: u32 = 600_000_000;

/// `clock:sync` from the browser: its clock (ms since the epoch) when it
/// sent it. Integers only: a browser's bundle then carries no float
/// printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSync {
    pub sent: u64,
}

/// `clock:sync` from the relay: the browser's `sent`, echoed, with the
/// relay's clock when it answered (ms since the epoch, to the µs). With the
/// time the answer came back, the browser estimates the difference between
/// the two clocks, as NTP does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockAnswer {
    pub sent: u64,
    pub relay: f64,
}

/// Why a browser's previous connection ended, as its socket service saw it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReconnectCause {
    /// 4002: its queue overflowed; it resumed from its cursor.
    Resync,
    /// `server:draining`: the relay was stopping; it moved.
    Draining,
    /// 1001: the relay went away (stopping, or no answer to its pings).
    GoingAway,
    /// 1006: the connection dropped with no close frame (the network).
    Network,
    /// Nothing heard within the heartbeat window: the browser dropped it.
    Silence,
    /// Any other close code.
    Closed,
    /// A cause this relay does not know (a newer client).
    #[serde(other)]
    Other,
}

/// `delivery:report`: live events' latencies, relay sent → applied in this
/// browser's store, in µs with the clock difference removed; and the
/// reconnects since the last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    #[serde(rename = "latenciesUs", default)]
    pub latencies_us: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconnects: Vec<ReconnectCause>,
}

impl DeliveryReport {
    /// The `delivery:report` frame, written without a serializer (see
    /// `ClientEvent::to_json`): `{"event":…,"data":{"latenciesUs":[…],"reconnects":[…]}}`.
    pub(crate) fn frame(&self, event: &str) -> String {
        use std::fmt::Write;
        let mut out = format!(r#"{{"event":"{event}","data":{{"latenciesUs":["#);
        for (i, us) in self.latencies_us.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(out, "{comma}{us}");
        }
        out.push(']');
        if !self.reconnects.is_empty() {
            out.push_str(r#","reconnects":["#);
            for (i, cause) in self.reconnects.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let name: &str = (*cause).into();
                let _ = write!(out, r#"{comma}"{name}""#);
            }
            out.push(']');
        }
        out.push_str("}}");
        out
    }
}
