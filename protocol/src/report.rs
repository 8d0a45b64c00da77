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
/// The longest latency taken as a measurement (ms); longer ones are a
/// clock estimate gone wrong or a tab asleep, and dropped (counted).
pub const MAX_REPORTED_MS: f64 = 600_000.0;

/// `clock:sync`, both ways. The browser sends its clock (`sent`, ms since
/// the epoch); the relay echoes it with its own clock when it answered
/// (`relay`). With the time the answer came back, the browser estimates the
/// difference between the two clocks, as NTP does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockSync {
    pub sent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<f64>,
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
/// browser's store, in ms with the clock difference removed; and the
/// reconnects since the last report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReport {
    #[serde(default)]
    pub applied: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconnects: Vec<ReconnectCause>,
}
