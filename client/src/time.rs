//! The client's few browser edges in time and chance: a clock, a timer and
//! a random number. The socket loop (heartbeat, backoff jitter, token
//! renewal) and the HTTP commands (checkout retries) use them; the pure
//! core never does, it is given times and numbers instead.

use std::time::Duration;

use futures::channel::oneshot;

/// Milliseconds since the epoch, for the heartbeat window.
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A number in `[0, 1)` for backoff jitter.
pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep(ms: u32) {
    let (done, wait) = oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        Duration::from_millis(u64::from(ms)),
    );
    let _ = wait.await;
}
