//! Where commands send their events: the [`EventSink`] the HTTP handlers and
//! the demo simulator publish through. The relay's sink is the Kafka
//! producer (`kafka::producer::Publisher`); tests use [`Recording`], so the
//! router can be exercised without a broker.

use std::future::Future;
use std::pin::Pin;
#[cfg(test)]
use std::sync::Mutex;

use protocol::OrderEvent;

/// A publish in flight: resolves once the event is stored (acknowledged) or
/// could not be.
pub type Publishing<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// The event was not acknowledged: it may or may not have been stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Publishes order events, keyed by order id.
pub trait EventSink: Send + Sync {
    fn publish<'a>(&'a self, event: &'a OrderEvent) -> Publishing<'a>;
}

/// A sink that keeps what it is given (the router's unit tests; not in
/// the relay's build), or refuses everything (a broker that
/// is away).
#[cfg(test)]
#[derive(Debug, Default)]
pub struct Recording {
    pub events: Mutex<Vec<OrderEvent>>,
    pub unavailable: bool,
}

#[cfg(test)]
impl Recording {
    /// A sink whose every publish fails.
    pub fn unavailable() -> Recording {
        Recording {
            unavailable: true,
            ..Recording::default()
        }
    }

    /// What was published so far.
    pub fn published(&self) -> Vec<OrderEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
impl EventSink for Recording {
    fn publish<'a>(&'a self, event: &'a OrderEvent) -> Publishing<'a> {
        Box::pin(async move {
            if self.unavailable {
                return Err(SinkError("the test broker is away".into()));
            }
            self.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(event.clone());
            Ok(())
        })
    }
}
