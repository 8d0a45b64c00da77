//! The sign-in screen.
//!
//! In demo mode the relay mints tokens (`POST /api/dev/login`): pick alice,
//! bob or admin. When that endpoint answers 404 demo login is off, and the
//! screen explains how a host page hands over a token (`?token=` or
//! `<meta name="order-token">`) and accepts a pasted one.

use client_core::state::{Action, Session};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{ErrorCode, Role};

use crate::api;
use crate::store::Store;

/// The demo accounts.
const DEMO_USERS: [(&str, Role, &str); 3] = [
    ("alice", Role::User, "Buyer: sees her own orders"),
    ("bob", Role::User, "Buyer: sees his own orders"),
    ("admin", Role::Admin, "Admin: sees and moves every order"),
];

#[component]
pub fn SignIn() -> impl IntoView {
    let store = expect_context::<Store>();
    let notice = store.notice();
    let demo_off = RwSignal::new(false);
    let busy = RwSignal::new(None::<&'static str>);

    let sign_in = move |user: &'static str, role: Role| {
        busy.set(Some(user));
        spawn_local(async move {
            match api::login(user, Some(role)).await {
                Ok(token) => store.dispatch(Action::SignedIn(Session::demo(token, user, role))),
                Err(error) if error.code() == Some(ErrorCode::NotFound) => demo_off.set(true),
                Err(error) => store.error(format!("Could not sign in: {error}")),
            }
            busy.set(None);
        });
    };

    let pasted = RwSignal::new(String::new());
    let use_token = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = pasted.get_untracked().trim().to_owned();
        if !token.is_empty() {
            store.dispatch(Action::SignedIn(Session::from_token(token)));
        }
    };

    view! {
        <div class="signin">
            <div class="signin-card">
                <div class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    " Orders"
                </div>
                <p class="muted">"Follow your orders as they move, live."</p>
                {move || notice.get().map(|text| view! { <p class="notice" role="alert">{text}</p> })}
                <Show
                    when=move || !demo_off.get()
                    fallback=|| {
                        view! {
                            <p class="notice" role="alert">
                                "Demo login is off on this server. Open this page with "
                                <code>"?token=<JWT>"</code>
                                " in the address, or paste a token below."
                            </p>
                        }
                    }
                >
                    <h2>"Sign in as"</h2>
                    <ul class="accounts">
                        {DEMO_USERS
                            .into_iter()
                            .map(|(user, role, blurb)| {
                                view! {
                                    <li>
                                        <button
                                            class="account"
                                            disabled=move || busy.get().is_some()
                                            on:click=move |_| sign_in(user, role)
                                        >
                                            <span class="avatar" aria-hidden="true">
                                                {user[..1].to_ascii_uppercase()}
                                            </span>
                                            <span class="account-text">
                                                <strong>{user}</strong>
                                                <small>{blurb}</small>
                                            </span>
                                            <span class="account-go" aria-hidden="true">
                                                {move || if busy.get() == Some(user) { "…" } else { "→" }}
                                            </span>
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </Show>
                <details class="token-form" open=move || demo_off.get()>
                    <summary>"Have a token?"</summary>
                    <form on:submit=use_token>
                        <label for="token-input" class="sr-only">"Access token"</label>
                        <input
                            id="token-input"
                            type="password"
                            autocomplete="off"
                            placeholder="Paste a JWT"
                            prop:value=move || pasted.get()
                            on:input=move |ev| pasted.set(event_target_value(&ev))
                        />
                        <button class="btn btn-primary" type="submit">
                            "Use token"
                        </button>
                    </form>
                </details>
            </div>
        </div>
    }
}
