//! From a text frame to a callback: decoding is `protocol`'s
//! (`ServerEvent::from_json`); this module picks the callback for each
//! variant, joins a snapshot sent in parts, and says what the console shows.

use client_core::tabs::{self, Kept};
use protocol::frames::SnapshotParts;
use protocol::report::ClockAnswer;
use protocol::{OrderEvent, ServerEvent};

use super::callbacks::OrderCallbacks;
use super::log::{log, warn};

/// What the console shows of a frame: the frame as it arrived in debug
/// builds (re-encoding it would cost bundle size for nothing); only the
/// order id in release builds, which log no order data (addresses, items,
/// amounts) to a console anyone at the machine can read.
fn shown<'a>(text: &'a str, order_id: &'a str) -> &'a str {
    if cfg!(debug_assertions) {
        text
    } else {
        order_id
    }
}

/// What a frame asks of the socket loop itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// The relay's heartbeat window (ms), from its `connection:success`.
    Heartbeat(u32),
    /// `server:draining`: move to another relay now.
    Move,
    /// The relay's answer to `clock:sync`.
    Clock(ClockAnswer),
    /// A live order event, sent by the relay at this time (its clock), was
    /// just applied.
    Applied(u64),
}

/// Decodes one text frame and calls the callback for its kind. A frame that
/// does not decode is logged and dropped: a bad frame never stops the
/// subscription. A snapshot sent in parts reaches `on_snapshot` once, whole,
/// with its last part (`parts` holds the ones before it). Returns what the
/// loop itself must do: follow the heartbeat window the relay announced, or
/// move off a draining relay.
pub fn handle_frame(
    text: &str,
    callbacks: &OrderCallbacks,
    parts: &mut SnapshotParts,
) -> Option<Control> {
    apply(text, callbacks, parts, false)
}

/// Applies frames another tab (or this browser's cache) already applied,
/// one per line: as [`handle_frame`] does, but quietly (their toasts were
/// shown when they were new). A snapshot whose first parts end the lines
/// is completed by the parts that follow on the same link (`parts`).
pub fn handle_history(lines: &str, callbacks: &OrderCallbacks, parts: &mut SnapshotParts) {
    for frame in tabs::frames(lines) {
        apply(frame, callbacks, parts, true);
    }
}

fn apply(
    text: &str,
    callbacks: &OrderCallbacks,
    parts: &mut SnapshotParts,
    quiet: bool,
) -> Option<Control> {
    let (event, sent_at) = match ServerEvent::from_json_timed(text) {
        Ok(decoded) => decoded,
        Err(error) => {
            warn(&format!(
                "[WebSocket] Dropped a frame that does not decode: {error}"
            ));
            return None;
        }
    };
    match event {
        ServerEvent::ConnectionSuccess(info) => {
            log(&format!(
                "[WebSocket] Connection success: {}",
                shown(text, &info.user_id)
            ));
            let heartbeat = info.heartbeat_ms;
            (callbacks.on_identified)(info);
            return heartbeat.map(Control::Heartbeat);
        }
        ServerEvent::OrdersSnapshot(part) => {
            let last = !part.more;
            (callbacks.on_kept)(text, Kept::SnapshotPart { last });
            if let Some(snapshot) = parts.add(part) {
                log(&format!(
                    "[WebSocket] Orders snapshot: {} orders",
                    snapshot.orders.len()
                ));
                (callbacks.on_snapshot)(snapshot);
            }
        }
        ServerEvent::Order { event, cursor } => {
            (callbacks.on_kept)(text, Kept::Event);
            if quiet {
                (callbacks.on_history)(event, cursor);
                return None;
            }
            match event {
                OrderEvent::Created(order) => {
                    log(&format!(
                        "[WebSocket] Order created: {}",
                        shown(text, &order.order_id)
                    ));
                    (callbacks.on_created)(order, cursor);
                }
                OrderEvent::Updated(update) => {
                    log(&format!(
                        "[WebSocket] Order updated: {}",
                        shown(text, &update.order_id)
                    ));
                    (callbacks.on_updated)(update, cursor);
                }
                OrderEvent::Cancelled(cancellation) => {
                    log(&format!(
                        "[WebSocket] Order cancelled: {}",
                        shown(text, &cancellation.order_id)
                    ));
                    (callbacks.on_cancelled)(cancellation, cursor);
                }
            }
            return sent_at.map(Control::Applied);
        }
        ServerEvent::Notification(notification) => {
            log(&format!(
                "[WebSocket] Notification: {}",
                shown(text, "for this user")
            ));
            (callbacks.on_notification)(notification);
        }
        // The answer to our heartbeat: hearing it is all it is for.
        ServerEvent::Pong => {}
        ServerEvent::Draining(_) => return Some(Control::Move),
        ServerEvent::ClockSync(sync) => return Some(Control::Clock(sync)),
        ServerEvent::Error(body) => {
            warn(&format!(
                "[WebSocket] The relay refused a frame: {} ({})",
                body.message, body.code
            ));
        }
    }
    None
}
