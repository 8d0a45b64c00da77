//! The sign-in screen.
//!
//! When the host page has a hook ([`crate::host`]), this screen only asks
//! it: once by itself when the page loads, then on "Try again"; the shopper
//! never sees a token. Otherwise, in demo mode the relay mints tokens
//! (`POST /api/dev/login`): pick alice, bob or admin. When that endpoint
//! answers 404 demo login is off, and the screen explains how a host page
//! hands over a token and accepts a pasted one (development: a page with a
//! hook has no paste form).

use std::cell::Cell;

use client_core::state::{Action, Session};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{ErrorCode, Role};

use crate::api;
use crate::host::{self, Hook, HookError};
use crate::store::Store;

thread_local! {
    /// Whether this page load has asked the host page's hook by itself: a
    /// token the relay refuses must not make the screen ask again and again.
    static ASKED_ON_LOAD: Cell<bool> = const { Cell::new(false) };
}

/// The demo accounts.
const DEMO_USERS: [(&str, Role, &str); 3] = [
    ("alice", Role::User, "Buyer: sees her own orders"),
    ("bob", Role::User, "Buyer: sees his own orders"),
    ("admin", Role::Admin, "Admin: sees and moves every order"),
];

#[component]
pub fn SignIn() -> impl IntoView {
    match host::find() {
        Some(hook) => Either::Left(view! { <HostSignIn hook /> }),
        None => Either::Right(view! { <DemoSignIn /> }),
    }
}

/// Signing in through the host page's hook.
#[component]
fn HostSignIn(hook: Hook) -> impl IntoView {
    let store = expect_context::<Store>();
    let notice = store.notice();
    let asking = RwSignal::new(false);
    // What asking came to, for the shopper.
    // What the screen says, once it has something to say. `Option<String>`
    // (like `pasted` below): a signal type the store has anyway, where a
    // `String` one would bring its own signal code.
    let said = RwSignal::new(None::<String>);
    let ask = move || {
        let hook = hook.clone();
        asking.set(true);
        said.set(Some("Signing you in…".into()));
        spawn_local(async move {
            match host::token(&hook).await {
                Ok(token) => store.dispatch(Action::SignedIn(Session::from_host(token))),
                Err(error) => {
                    crate::socket::warn(&format!("[sign-in] {error}"));
                    said.set(Some(match error {
                        HookError::SignedOut => {
                            format!("{error}. Sign in on the shop's page, then try again.")
                        }
                        HookError::Failed(_) => format!("{error}. Try again in a moment."),
                    }));
                }
            }
            asking.set(false);
        });
    };
    if !ASKED_ON_LOAD.with(|asked| asked.replace(true)) {
        ask();
    }
    view! {
        <main class="signin">
            <div class="signin-card">
                <h1 class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    " Orders"
                </h1>
                {move || notice.get().map(|text| view! { <p class="notice" role="alert">{text}</p> })}
                <p class="notice" role="status">{move || said.get().unwrap_or_default()}</p>
                <button class="btn btn-primary" disabled=move || asking.get() on:click=move |_| ask()>
                    "Sign in"
                </button>
            </div>
        </main>
    }
}

/// The demo accounts, or (demo login off) how to hand over a token.
#[component]
fn DemoSignIn() -> impl IntoView {
    let store = expect_context::<Store>();
    let notice = store.notice();
    let demo_off = RwSignal::new(false);
    // Who is signing in: an `Option<String>`, a signal type the app has
    // anyway (one of `Option<&str>` would bring its own signal code).
    let busy = RwSignal::new(None::<String>);

    let sign_in = move |user: &'static str, role: Role| {
        busy.set(Some(user.to_owned()));
        spawn_local(async move {
            match api::login(user, Some(role)).await {
                Ok(token) => store.dispatch(Action::SignedIn(Session::demo(token, user, role))),
                Err(error) if error.code() == Some(ErrorCode::NotFound) => demo_off.set(true),
                Err(error) => store.error(format!("Could not sign in: {error}")),
            }
            busy.set(None);
        });
    };

    view! {
        <main class="signin">
            <div class="signin-card">
                <h1 class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    " Orders"
                </h1>
                <p class="muted">"Follow your orders as they move, live."</p>
                {move || notice.get().map(|text| view! { <p class="notice" role="alert">{text}</p> })}
                // A closure, not `<Show>`: the same two views, without the
                // component's boxed children and memo in the bundle.
                {move || {
                    if demo_off.get() {
                        Either::Right(view! {
                            <p class="notice" role="alert">
                                "Demo login is off on this server. A shop's page signs its shoppers in through "
                                <code>"window.orderRelayToken()"</code>
                                "; for development, open this page with "
                                <code>"?token=<JWT>"</code>
                                " or paste a token below."
                            </p>
                        })
                    } else {
                        Either::Left(view! {
                            <h2>"Sign in as"</h2>
                            <ul class="accounts">
                                {DEMO_USERS
                                    .into_iter()
                                    .map(|(user, role, blurb)| {
                                        view! {
                                            <li>
                                                <button
                                                    class="account"
                                                    disabled=move || busy.with(Option::is_some)
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
                                                        {move || if busy.with(|b| b.as_deref() == Some(user)) { "…" } else { "→" }.to_owned()}
                                                    </span>
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        })
                    }
                }}
                <PasteToken open=demo_off />
            </div>
        </main>
    }
}

/// "Have a token?": a pasted JWT signs in (development; it is never
/// renewed).
#[component]
fn PasteToken(open: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let pasted = RwSignal::new(None::<String>);
    let use_token = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = pasted.get_untracked().unwrap_or_default().trim().to_owned();
        if !token.is_empty() {
            store.dispatch(Action::SignedIn(Session::from_token(token)));
        }
    };
    view! {
        // `open` follows the signal (a bool attribute, whose render effect
        // the buttons' `disabled` already brings), rather than the form
        // being rebuilt for it: a view type of its own costs ~0.5 KB gzip.
        <details class="token-form" open=move || open.get()>
            <summary>"Have a token?"</summary>
            <form on:submit=use_token>
                <label for="token-input" class="sr-only">"Access token"</label>
                <input
                    id="token-input"
                    type="password"
                    autocomplete="off"
                    placeholder="Paste a JWT"
                    // The field is the one source of its text: `pasted`
                    // follows it and nothing else writes it, so no
                    // `prop:value` echoes it back (that binding cost the
                    // bundle 1.2 KB gzip of property glue).
                    on:input=move |ev| pasted.set(Some(event_target_value(&ev)))
                />
                <button class="btn btn-primary" type="submit">
                    "Use token"
                </button>
            </form>
        </details>
    }
}
