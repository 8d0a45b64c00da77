//! The toast region: bottom-right, announced politely to screen readers.
//!
//! Which toasts show is the reducer's business (cap, queue, dedupe); this
//! component only renders them and owns their timers: each toast closes
//! itself after its time, the timer pauses while the pointer is over it, and
//! the close button dismisses it at once.

use std::time::Duration;

use client_core::state::Action;
use client_core::toast::Toast;
use leptos::prelude::*;

use crate::store::Store;

/// All visible toasts.
#[component]
pub fn Toaster() -> impl IntoView {
    let toasts = expect_context::<Store>().toasts();
    view! {
        <div class="toasts" aria-live="polite" aria-relevant="additions">
            <For
                each=move || toasts.get()
                key=|toast| toast.id.clone()
                children=|toast| view! { <ToastView toast /> }
            />
        </div>
    }
}

/// The auto-close timer of one toast: how much time is left, and the
/// running timeout if any.
#[derive(Clone, Copy)]
struct Timer {
    left_ms: StoredValue<f64>,
    started_at: StoredValue<f64>,
    handle: StoredValue<Option<TimeoutHandle>>,
}

impl Timer {
    fn new(ms: u32) -> Timer {
        Timer {
            left_ms: StoredValue::new(f64::from(ms)),
            started_at: StoredValue::new(0.0),
            handle: StoredValue::new(None),
        }
    }

    fn start(self, on_done: impl FnOnce() + 'static) {
        if self.handle.get_value().is_some() {
            return;
        }
        self.started_at.set_value(js_sys::Date::now());
        let wait = Duration::from_millis(self.left_ms.get_value().max(0.0) as u64);
        let handle = set_timeout_with_handle(on_done, wait).ok();
        self.handle.set_value(handle);
    }

    fn pause(self) {
        if let Some(handle) = self.handle.get_value() {
            handle.clear();
            self.handle.set_value(None);
            let ran = js_sys::Date::now() - self.started_at.get_value();
            self.left_ms.update_value(|left| *left -= ran);
        }
    }
}

/// One toast.
#[component]
fn ToastView(toast: Toast) -> impl IntoView {
    let store = expect_context::<Store>();
    let Toast {
        id,
        kind,
        text,
        auto_close_ms,
    } = toast;
    let dismiss = {
        let id = id.clone();
        move || store.dispatch(Action::DismissToast(id.clone()))
    };
    let timer = Timer::new(auto_close_ms);
    timer.start(dismiss.clone());
    on_cleanup(move || timer.pause());
    let close = dismiss.clone();
    view! {
        <div
            class=format!("toast toast-{}", kind.as_str())
            data-toast-id=id
            on:mouseenter=move |_| timer.pause()
            on:mouseleave=move |_| timer.start(dismiss.clone())
        >
            <span class="toast-icon" aria-hidden="true"></span>
            <span class="toast-text">{text}</span>
            <button class="toast-close" aria-label="Dismiss notification" on:click=move |_| close()>
                "×"
            </button>
        </div>
    }
}
