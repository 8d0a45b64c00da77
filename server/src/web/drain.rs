//! Graceful drain on SIGTERM: for `--drain-secs` the relay takes no new
//! WebSocket (503 `draining`) and `/readyz` answers 503, so a load balancer
//! sends new connections to another relay; every open connection is told
//! `server:draining` once and keeps delivering until it leaves or the time
//! is up. Then [`crate::app::Running::stop`] closes what is left with 1001.
//!
//! Only the state lives here; `app` starts a drain, `ws` and the readiness
//! route read it.

use std::time::Duration;

use tokio::sync::watch;

/// Whether the relay is draining: `Some(ms)` once it is, `ms` being how long
/// its sockets still deliver.
#[derive(Debug)]
pub struct Drain(watch::Sender<Option<u32>>);

impl Default for Drain {
    fn default() -> Drain {
        Drain(watch::channel(None).0)
    }
}

impl Drain {
    /// Starts draining; sockets still deliver for `grace`. Only the first
    /// call counts.
    pub fn start(&self, grace: Duration) {
        let ms = u32::try_from(grace.as_millis()).unwrap_or(u32::MAX);
        self.0.send_if_modified(|state| {
            let first = state.is_none();
            if first {
                *state = Some(ms);
            }
            first
        });
    }

    pub fn is_draining(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// What a connection task watches: see [`Drain::started`].
    pub fn watch(&self) -> watch::Receiver<Option<u32>> {
        self.0.subscribe()
    }

    /// Resolves once draining starts, with how long sockets still deliver
    /// (ms); never, if the relay stops without draining.
    pub async fn started(watch: &mut watch::Receiver<Option<u32>>) -> u32 {
        // The guard is dropped before any other await (it is not `Send`).
        let ms = watch.wait_for(Option::is_some).await.map(|ms| *ms);
        match ms {
            Ok(ms) => ms.unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_starts_once_and_every_watcher_hears_its_grace() {
        let drain = Drain::default();
        let mut watcher = drain.watch();
        assert!(!drain.is_draining());
        drain.start(Duration::from_secs(10));
        drain.start(Duration::from_secs(1));
        assert!(drain.is_draining());
        assert_eq!(Drain::started(&mut watcher).await, 10_000);
        // A connection opened during the drain hears it too.
        assert_eq!(Drain::started(&mut drain.watch()).await, 10_000);
    }
}
