//! The toasts: bottom-right. Errors are alerts (announced at once) that stay
//! until dismissed; the others are announced politely and close themselves.
//!
//! Which toasts show is the reducer's business (cap, queue, dedupe); this
//! component only renders them and owns their timers: a toast closes itself
//! after its time, the timer pauses while the pointer is over it, while
//! something in it has the keyboard's focus, and while the page is hidden;
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
    // The region is polite; each error inside is an alert of its own,
    // announced at once when it appears.
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
/// running timeout if any. One stored value for the whole state: stored
/// values of types the app keeps nowhere else (`f64`, a timeout handle)
/// would each bring their own arena code.
#[derive(Clone, Copy)]
struct Timer(StoredValue<TimerState>);

struct TimerState {
    left_ms: f64,
    started_at: f64,
    handle: Option<TimeoutHandle>,
}

impl Timer {
    fn new(ms: u32) -> Timer {
        Timer(StoredValue::new(TimerState {
            left_ms: f64::from(ms),
            started_at: 0.0,
            handle: None,
        }))
    }

    fn start(self, on_done: impl FnOnce() + 'static) {
        if self.0.with_value(|timer| timer.handle.is_some()) {
            return;
        }
        self.0
            .update_value(|timer| timer.started_at = js_sys::Date::now());
        let wait = self.0.with_value(|timer| timer.left_ms.max(0.0) as u64);
        let handle = set_timeout_with_handle(on_done, Duration::from_millis(wait)).ok();
        self.0.update_value(|timer| timer.handle = handle);
    }

    fn pause(self) {
        self.0.update_value(|timer| {
            if let Some(handle) = timer.handle.take() {
                handle.clear();
                timer.left_ms -= js_sys::Date::now() - timer.started_at;
            }
        });
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
    let close = dismiss.clone();
    let alert = auto_close_ms == client_core::toast::STAYS;
    // Why the countdown is paused: the pointer, the focus, a hidden page.
    let (pointer, focus) = (RwSignal::new(false), RwSignal::new(false));
    if !alert {
        let timer = Timer::new(auto_close_ms);
        // Hidden, or another of the user's tabs in front: the app's
        // attention watch (tabs::watch_attention) tells the store.
        let looking = store.looking();
        Effect::new(move |_| {
            let paused = pointer.get() || focus.get() || !looking.get();
            if paused {
                timer.pause();
            } else {
                timer.start(dismiss.clone());
            }
        });
        on_cleanup(move || timer.pause());
    }
    view! {
        <div
            class=format!("toast toast-{}", kind.as_str())
            role=alert.then_some("alert")
            data-toast-id=id
            on:mouseenter=move |_| pointer.set(true)
            on:mouseleave=move |_| pointer.set(false)
            on:focusin=move |_| focus.set(true)
            on:focusout=move |_| focus.set(false)
        >
            <span class="toast-icon" aria-hidden="true"></span>
            <span class="toast-text">{text}</span>
            <button class="toast-close" aria-label="Dismiss notification" on:click=move |_| close()>
                "×"
            </button>
        </div>
    }
}
