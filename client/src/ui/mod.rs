//! The view: the app shell, and how it is mounted.
//!
//! [`App`] creates the [`Store`], provides it by context, keeps one socket
//! subscription alive per signed-in token, and shows either the sign-in
//! screen or the orders page. Components read the store close to where they
//! render and change it only through `dispatch`.

mod orders;
mod signin;
mod toasts;

use std::cell::Cell;
use std::rc::Rc;

use client_core::format;
use client_core::state::{Action, AppState, Renewal, Session};
use client_core::toast::Attention;
use futures::future::LocalBoxFuture;
use leptos::either::Either;
use leptos::prelude::*;
use protocol::Role;

use crate::api;
use crate::cache;
use crate::host;
use crate::session;
use crate::socket::policy::SocketConfig;
use crate::socket::{
    handle_history, subscribe_to_orders, LiveTransport, OrderCallbacks, Shared, Subscription,
    Tokens, Transport,
};
use crate::store::Store;
use crate::tabs::{self, Tab, TabEvent};

pub use orders::{OrdersPage, RetryNow};
pub use signin::SignIn;
pub use toasts::Toaster;

/// A fresh token for a demo session's user and role, or `None` when the
/// login failed.
pub type DemoLogin = Rc<dyn Fn(String, Role) -> LocalBoxFuture<'static, Option<String>>>;

/// How the app is wired: the browser page uses [`AppConfig::from_page`];
/// tests start signed in, on a test transport, with short waits.
pub struct AppConfig<T = LiveTransport> {
    pub session: Option<Session>,
    /// How the socket reaches the relay.
    pub transport: T,
    pub socket: SocketConfig,
    /// Keep the session in `sessionStorage` across reloads.
    pub persist: bool,
    /// Where a demo session's token is renewed before it expires: the
    /// relay's demo login ([`relay_demo_login`]); tests pass a stub.
    pub demo_login: DemoLogin,
}

/// The relay's demo login (`POST /api/dev/login`) as a [`DemoLogin`]: a
/// thin adapter over [`api::login`].
pub fn relay_demo_login() -> DemoLogin {
    Rc::new(|user, role| Box::pin(async move { renewed(api::login(&user, Some(role)).await) }))
}

/// A renewal's fresh token, or `None` with the reason on the console.
fn renewed(result: Result<String, impl std::fmt::Display>) -> Option<String> {
    result
        .map_err(|error| crate::socket::warn(&format!("Could not renew the token: {error}")))
        .ok()
}

/// The tokens a subscription for `session` uses. A demo session's token is
/// renewed through `login` for the same user and role; a host page's through
/// its `window.orderRelayToken()` ([`host`]). A token handed over once
/// (`?token=`, `<meta>`, or pasted) has nothing to renew it from: it is left
/// to expire, the relay closes with 4001 and the app returns to sign-in with
/// a notice.
fn tokens_for(session: &Session, login: &DemoLogin) -> Tokens {
    match (&session.user_id, session.renewal, host::find()) {
        (Some(user), Renewal::DemoLogin, _) => {
            let (user, role, login) = (user.clone(), session.role, login.clone());
            Tokens::renewable(
                session.token.clone(),
                Rc::new(move || login(user.clone(), role)),
            )
        }
        (_, Renewal::HostPage, Some(hook)) => Tokens::renewable(
            session.token.clone(),
            Rc::new(move || {
                let hook = hook.clone();
                Box::pin(async move { renewed(host::token(&hook).await) })
            }),
        ),
        _ => Tokens::fixed(session.token.clone()),
    }
}

impl AppConfig<LiveTransport> {
    /// The real page: the session from the URL, this tab's storage or the
    /// host page; a live WebSocket.
    pub fn from_page() -> AppConfig {
        AppConfig {
            session: session::initial(),
            transport: LiveTransport,
            socket: SocketConfig::default(),
            persist: true,
            demo_login: relay_demo_login(),
        }
    }
}

/// The sign-in screen's notice after a sign-out in another tab.
pub const SIGNED_OUT_ELSEWHERE: &str = "You signed out in another tab.";

/// Whose tabs and cache a session shares: the user it names, or the one
/// its token names.
fn user_key(session: &Session) -> Option<String> {
    session
        .user_id
        .clone()
        .or_else(|| client_core::token::jwt_sub(&session.token))
}

/// The whole app.
#[component]
pub fn App<T: Transport>(config: AppConfig<T>) -> impl IntoView {
    let initial = config.session.map(AppState::signed_in).unwrap_or_default();
    let store = Store::new(initial);
    provide_context(store);

    // One subscription per token: signing in starts it, signing out (or a
    // 4001 close, which signs out) drops it, which closes the socket. A
    // token the subscription renewed itself keeps its socket: the relay
    // already has it (`auth:refresh`).
    let token = Memo::new(move |_| {
        store
            .session()
            .with(|s| s.as_ref().map(|s| s.token.clone()))
    });
    let subscription = StoredValue::new_local(None::<Subscription>);
    provide_context(RetryNow(Callback::new(move |()| {
        subscription.with_value(|s| s.as_ref().map(Subscription::retry_now));
    })));
    // This tab among the user's tabs (none without tab support or a known
    // user), and which subscription is current: a cache read in flight for
    // a session that ended must not start a socket.
    let tab = StoredValue::new_local(None::<Tab>);
    let started = Rc::new(Cell::new(0u32));
    let looking = Rc::new(Cell::new(true));
    let (transport, socket) = (config.transport, config.socket);
    let demo_login = config.demo_login;
    let (starts, looks) = (started.clone(), looking.clone());
    Effect::new(move |_| {
        let token = token.get();
        let running = subscription.with_value(|s| s.as_ref().map(Subscription::token));
        if token.is_some() && token == running {
            return;
        }
        subscription.set_value(None);
        // Signing out by choice (no notice) signs out every tab of this
        // user and clears the offline cache; an expired token or a sign-out
        // from another tab does not.
        let by_choice = token.is_none() && store.notice().with_untracked(Option::is_none);
        if let Some(left) = tab.try_update_value(Option::take).flatten() {
            if by_choice {
                left.sign_out();
            }
        }
        starts.set(starts.get() + 1);
        let Some((tokens, user, signer)) = store.session().with_untracked(|s| {
            s.as_ref().map(|s| {
                let signer = client_core::token::jwt_signer(&s.token).to_owned();
                (tokens_for(s, &demo_login), user_key(s), signer)
            })
        }) else {
            return;
        };
        let joined = user.and_then(|user| {
            Tab::join(&user, &signer, move |event| match event {
                TabEvent::SignedOut => store.dispatch(Action::SignedOut {
                    notice: Some(SIGNED_OUT_ELSEWHERE.to_owned()),
                }),
                TabEvent::Elsewhere => store.dispatch(Action::Attention(Attention::Elsewhere)),
            })
        });
        if let Some(joined) = joined.as_ref().filter(|_| looks.get()) {
            joined.looking();
        }
        tab.set_value(joined.clone());
        let mut callbacks = OrderCallbacks::dispatching(
            move |action| store.dispatch(action),
            move || store.cursor(),
        );
        if let Some(joined) = joined.clone() {
            callbacks = callbacks.keeping(move |text, kept| joined.keep(text, kept));
        }
        let transport = Shared {
            inner: transport.clone(),
            tab: joined.clone(),
        };
        let this = starts.get();
        let starts = starts.clone();
        leptos::task::spawn_local(async move {
            // The orders this browser saved show at once, before any
            // network; the socket then resumes from their cursor.
            if let Some(joined) = joined {
                // `cache::load` gives up after 1 s: a database that does not
                // open must not hold the socket back.
                if let Some((saved_at, lines)) = cache::load(joined.key(), joined.signer()).await {
                    if starts.get() != this {
                        return;
                    }
                    handle_history(&lines, &callbacks, &mut Default::default());
                    store.dispatch(Action::CacheShown(saved_at));
                }
            }
            if starts.get() == this {
                let running = subscribe_to_orders(transport, tokens, socket, callbacks);
                subscription.set_value(Some(running));
            }
        });
    });
    // Toasts show in the tab the user looks at (client_core::toast).
    let looks = looking.clone();
    let watching = tabs::watch_attention(move |visible| {
        // The listener outlives an unmounted app (tests mount several),
        // whose values are gone then.
        if tab.try_with_value(|_| ()).is_none() {
            return;
        }
        looks.set(visible);
        if visible {
            store.dispatch(Action::Attention(Attention::Looking));
            tab.with_value(|t| t.as_ref().map(Tab::looking));
        } else {
            store.dispatch(Action::Attention(Attention::Away));
        }
    });
    if watching == Some(false) {
        looking.set(false);
        store.dispatch(Action::Attention(Attention::Away));
    }
    // Unmounting the app closes its socket and leaves the user's tabs.
    on_cleanup(move || {
        subscription.set_value(None);
        tab.set_value(None);
    });
    if config.persist {
        Effect::new(move |_| store.session().with(|s| session::save(s.as_ref())));
    }

    let signed_in = Memo::new(move |_| store.session().with(Option::is_some));
    view! {
        <div class="app">
            {move || {
                if signed_in.get() {
                    Either::Left(view! { <Shell /> })
                } else {
                    Either::Right(view! { <SignIn /> })
                }
            }}
            <Toaster />
        </div>
    }
}

/// The signed-in layout: header with who and how connected, then orders.
#[component]
fn Shell() -> impl IntoView {
    let store = expect_context::<Store>();
    // Two memos of types the app has anyway (`Option<String>`, `bool`):
    // one of `Option<(String, Role)>` would compile its own memo code.
    let name = Memo::new(move |_| {
        store.session().with(|s| {
            s.as_ref()
                .map(|s| s.user_id.clone().unwrap_or_else(|| "Signed in".to_owned()))
        })
    });
    let admin = Memo::new(move |_| {
        store
            .session()
            .with(|s| s.as_ref().is_some_and(|s| s.is_admin()))
    });
    let sign_out = move |_| store.dispatch(Action::SignedOut { notice: None });
    // The shop signs a host page's shopper out, on its own page: a button
    // here would sign them straight back in. (A session keeps its renewal
    // while signed in: read once.)
    let own_sign_out = store
        .session()
        .with_untracked(|s| s.as_ref().is_some_and(|s| s.renewal != Renewal::HostPage));
    view! {
        <header class="topbar">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                " Orders"
            </div>
            <div class="topbar-right">
                <ConnectionChip />
                <span class="who">
                    {move || name.get().unwrap_or_default()}
                    {move || admin.get().then(|| view! { <span class="role-tag">"admin"</span> })}
                </span>
                {own_sign_out
                    .then(|| {
                        view! {
                            <button class="btn btn-ghost" on:click=sign_out>
                                "Sign out"
                            </button>
                        }
                    })}
            </div>
        </header>
        <main class="content">
            <OrdersPage admin />
        </main>
    }
}

/// Connected / connecting / reconnecting in N s / offline. A screen reader
/// hears the state when it changes (a live region of its own words), never
/// the countdown, which only the eye sees.
#[component]
pub fn ConnectionChip() -> impl IntoView {
    let connection = expect_context::<Store>().connection();
    let announced = move || format::connection_announced(connection.get()).to_owned();
    view! {
        <span class=move || format::connection_class(connection.get())>
            <span class="chip-dot" aria-hidden="true"></span>
            <span class="chip-text" aria-hidden="true">{move || format::connection(connection.get(), crate::intl::time)}</span>
            <span class="sr-only" role="status">{announced}</span>
        </span>
    }
}

/// A mounted app; dropping it unmounts.
pub struct Mounted {
    _handle: Box<dyn std::any::Any>,
}

/// Mounts the app into `parent` (tests mount into a fresh container).
pub fn mount<T: Transport>(parent: web_sys::HtmlElement, config: AppConfig<T>) -> Mounted {
    let handle = leptos::mount::mount_to(parent, move || view! { <App config /> });
    Mounted {
        _handle: Box::new(handle),
    }
}

/// The page's entry point: mounts the app on `<body>`.
pub fn start() {
    // Panic messages in the console while developing; release builds abort
    // on panic and leave the hook (and its formatting code) out.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(|| view! { <App config=AppConfig::from_page() /> });
}
