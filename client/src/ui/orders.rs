//! The orders page: the list, its loading / error / empty states, the
//! admin's table (search, filters, sort, pages, kept in the URL), and the
//! commands (cancel, advance, demo checkout).
//!
//! Rows are a keyed `<For>` over ids; each row reads its own signal, so one
//! order's update re-renders one badge. Commands are optimistic
//! (`client_core::commands`): the row shows the change at once as pending
//! ("Cancelling…") with its controls off, the relay's event confirms it, and
//! a refusal or silence puts back what the relay last said, with an error
//! toast.

use client_core::commands::Change;
use client_core::format;
use client_core::state::Connection;
use client_core::table::{self, Query};
use leptos::either::{Either, EitherOf4};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::http::{CheckoutItem, CheckoutRequest};
use protocol::order::order_number;
use protocol::{RawJson, Timestamp};

use wasm_bindgen::JsCast;

use crate::store::{Row, Store};
use crate::{api, intl};

/// "Retry now": cuts the reconnect countdown short (provided by the app).
#[derive(Clone, Copy)]
pub struct RetryNow(pub Callback<()>);

/// The orders of the signed-in user, or every order for an admin, one page
/// at a time; the query (an admin's search and filters, the sort, the
/// page) lives in the URL (`?q=…&status=…&buyer=…&sort=…&page=…`), and
/// only there: a change writes it to the URL and notifies `query_changed`,
/// and readers read it back (no signal of its own: a signal or an effect of
/// a new type costs the bundle its own reactive code). One view for both:
/// the admin's parts are optional pieces of it.
#[component]
pub fn OrdersPage(
    /// Whether the user is an admin (the header's flag).
    admin: Memo<bool>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    // The URL as this version writes it (unknown values left out).
    crate::url::write_query(&crate::url::read_query());
    let query_changed = Trigger::new();
    // Recomputed when the list or the query changes, and on any order's
    // change only while a status filter is on: search, buyer and sort read
    // what an order never changes, so a live status update costs its own
    // row, not a pass over every order.
    let page = Memo::new(move |_| {
        store.order_ids().with(|_| ());
        query_changed.track();
        let query = crate::url::read_query();
        if query.status.is_some() {
            store.track_orders();
        }
        store.with_state(|s| table::page(s, &query))
    });
    view! {
        <section class="orders-page">
            <div class="page-head">
                <h1>{move || if admin.get() { "All orders" } else { "Your orders" }.to_owned()}</h1>
                {move || {
                    if admin.get() {
                        // The relay draws the panel: no chart code in the shoppers' bundle.
                        Either::Left(view! { <a class="btn" href="/admin/delivery">"Delivery"</a> })
                    } else {
                        Either::Right(view! { <DemoCheckout /> })
                    }
                }}
            </div>
            {move || admin.get().then(|| view! { <Filters query_changed /> })}
            <OrderList page admin query_changed />
            <Pager query_changed page />
        </section>
    }
}

/// Search, status, buyer and sort as HTML (`table::search_html` and
/// `menus_html`, each control named by its URL key; as views they cost the
/// bundle ~6 KB gzip), heard through one `input` listener. The menus are
/// redrawn only when the buyers change; the search box is drawn once.
#[component]
fn Filters(query_changed: Trigger) -> impl IntoView {
    let store = expect_context::<Store>();
    // Buyers never change on an order, so only the id list is tracked
    // (read, not only tracked: a memo recomputes when read).
    let buyers = Memo::new(move |_| {
        store.order_ids().with(|_| ());
        store.with_state(table::buyers)
    });
    let menus = move || buyers.with(|b| table::menus_html(&crate::url::read_query(), b));
    let changed = move |ev: leptos::ev::Event| {
        let name = event_target::<web_sys::Element>(&ev).get_attribute("name");
        let value = event_target_value(&ev);
        if let Some(name) = name {
            change_query(query_changed, |q| {
                q.set(&name, &value);
                q.page = 0;
            });
        }
    };
    view! {
        <div class="filters" role="search" on:input=changed>
            <div class="filters-menus" inner_html=table::search_html(&crate::url::read_query())></div>
            <div class="filters-menus" inner_html=menus></div>
        </div>
    }
}

/// "Page 2 of 9 · 431 orders", with previous and next, drawn as HTML
/// (`table::pager_html`); a click on a button goes to its `data-page`, and
/// the focus stays on the button the keyboard pressed.
#[component]
fn Pager(query_changed: Trigger, page: Memo<table::Page>) -> impl IntoView {
    let clicked = move |ev: leptos::ev::MouseEvent| {
        let Some(button) = event_target::<web_sys::Element>(&ev)
            .closest("[data-page]")
            .ok()
            .flatten()
        else {
            return;
        };
        let to = button
            .get_attribute("data-page")
            .and_then(|p| p.parse().ok());
        let name = button.get_attribute("aria-label").unwrap_or_default();
        if let Some(to) = to {
            change_query(query_changed, |q| q.page = to);
            focus_soon(format!(".pager [aria-label='{name}']:not([disabled])"));
        }
    };
    view! {
        <nav
            class="pager"
            aria-label="Pages"
            on:click=clicked
            inner_html=move || page.with(table::pager_html)
        ></nav>
    }
}

/// Changes the admin table's query in the URL, and tells its readers.
fn change_query(query_changed: Trigger, change: impl FnOnce(&mut Query)) {
    let mut query = crate::url::read_query();
    change(&mut query);
    crate::url::write_query(&query);
    query_changed.notify();
}

/// The rows, or the loading, error or empty state.
#[component]
fn OrderList(page: Memo<table::Page>, admin: Memo<bool>, query_changed: Trigger) -> impl IntoView {
    let store = expect_context::<Store>();
    let loaded = store.loaded();
    let connection = store.connection();
    // Branch on whether the relay is failing, not on the countdown: the
    // alert is put in once, and only its (hidden) seconds tick.
    let failing = Memo::new(move |_| matches!(connection.get(), Connection::Reconnecting { .. }));
    // The page memo wakes its readers only when the page differs, so the
    // rows read it directly (no memo of the ids alone).
    let empty = Memo::new(move |_| page.with(|p| p.ids.is_empty()));
    move || {
        let admin = admin.get();
        if !loaded.get() {
            return if failing.get() {
                EitherOf4::A(view! { <Unreachable /> })
            } else {
                EitherOf4::B(view! {
                    <div class="state state-loading" role="status" aria-busy="true">
                        <span class="spinner" aria-hidden="true"></span>
                        "Loading orders…"
                    </div>
                })
            };
        }
        if empty.get() {
            // Which words depends on the query only while the list is empty.
            query_changed.track();
            let text = if crate::url::read_query() != Query::default() {
                "No orders match these filters."
            } else if admin {
                "No orders yet."
            } else {
                "No orders yet. Place one to see it appear here in real time."
            };
            return EitherOf4::C(
                view! { <div class="state state-empty" role="status">{text}</div> },
            );
        }
        EitherOf4::D(view! {
            <div class=if admin { "orders orders-admin" } else { "orders" } role="table" aria-label="Orders">
                <div class="order order-head" role="row">
                    <span role="columnheader">"Order"</span>
                    {admin.then(|| view! { <span role="columnheader">"Buyer"</span> })}
                    <span role="columnheader">"Items"</span>
                    <span role="columnheader" class="num">"Total"</span>
                    <span role="columnheader">"Placed"</span>
                    <span role="columnheader">"Status"</span>
                    <span role="columnheader" class="sr-only">"Actions"</span>
                </div>
                <For
                    each=move || page.with(|p| p.ids.clone())
                    key=|id| id.clone()
                    children=move |id| store.row(&id).map(|row| view! { <OrderRow row admin /> })
                />
            </div>
        })
    }
}

/// "Can't reach the order service. Retrying in 4 s…  [Retry now]": one
/// alert; the seconds are not announced.
#[component]
fn Unreachable() -> impl IntoView {
    let connection = expect_context::<Store>().connection();
    let retry = use_context::<RetryNow>();
    let seconds = move || match connection.get() {
        Connection::Reconnecting { in_secs } => format!(" Retrying in {in_secs} s…"),
        _ => String::new(),
    };
    view! {
        <div class="state state-error" role="alert">
            <strong>"Can't reach the order service."</strong>
            <span aria-hidden="true">{seconds}</span>
            {retry.map(|RetryNow(retry)| view! {
                <RowButton class="btn" label="Retry now".to_owned() name="Retry now".to_owned() on_click=retry />
            })}
        </div>
    }
}

/// Starts `change` on the row: shown at once, sent, and rolled back with a
/// toast if the relay refuses it.
///
/// It runs as a task queued by the click, not inside the click's handler:
/// the row's controls go away when the command shows, and a handler must
/// not remove its own button while it runs. The task runs before the
/// browser next paints, so the pending state is in the very next frame.
///
/// The task first closes the row's confirmation, if it is open (in the same
/// task, so the row goes from asking to pending in one frame). One
/// function for both commands: one copy of the task in the bundle.
fn command(store: Store, id: &str, change: Change, confirming: RwSignal<bool>) {
    let id = id.to_owned();
    spawn_local(async move {
        if confirming.get_untracked() {
            confirming.set(false);
        }
        let Some(token) = store.token() else { return };
        let Some(command) = store.command(&id, change.clone()) else {
            return;
        };
        if let Err(error) = api::command(&token, &id, &change).await {
            store.refused(command, error.to_string());
        }
    });
}

/// One order. The status parts are reactive; the rest of an order never
/// changes after it is created.
#[component]
fn OrderRow(row: ArcRwSignal<Row>, admin: bool) -> impl IntoView {
    let store = expect_context::<Store>();
    let (id, number, buyer, items, total, placed) = row.with_untracked(|r| {
        let o = &r.order;
        (
            o.order_id.clone(),
            order_number(&o.order_id),
            o.buyer_id.clone(),
            format::items(&o.items),
            intl::money(o.total),
            intl::time(o.created_at),
        )
    });
    // The status and the command in flight, read from the row's signal (a
    // memo of their pair would compile memo code of its own).
    let shown = move || row.with(|r| (r.order.status, r.pending));
    let confirming = RwSignal::new(false);
    // Which controls show: none while a command is in flight, the
    // confirmation while asking, else advance (admins) and cancel.
    let idle = {
        let shown = shown.clone();
        move || shown().1.is_none() && !confirming.get()
    };
    let advance = {
        let (id, number, shown, idle) = (id.clone(), number.clone(), shown.clone(), idle.clone());
        move || {
            let status = shown().0;
            let next = status.next().filter(|_| admin && idle())?;
            let (id, label) = (id.clone(), format::status_label(next));
            Some(view! {
                <RowButton
                    class="btn btn-small btn-primary"
                    label=format!("Advance to {label}")
                    name=format!("Advance to {label}: order #{number}")
                    on_click=Callback::new(move |()| {
                        command(store, &id, Change::Advance(next), confirming)
                    })
                />
            })
        }
    };
    let cancel = {
        let (id, number, shown) = (id.clone(), number.clone(), shown.clone());
        move || {
            let id = id.clone();
            (shown().0.is_cancellable() && idle()).then(|| {
                view! {
                    <RowButton
                        class="btn btn-small btn-danger"
                        label="Cancel Order".to_owned()
                        name=format!("Cancel order #{number}")
                        on_click=Callback::new(move |()| {
                            confirming.set(true);
                            focus_soon(format!("[data-order-id='{id}'] .confirm .btn-danger"));
                        })
                    />
                }
            })
        }
    };
    let confirm = {
        let (id, number, shown) = (id.clone(), number.clone(), shown.clone());
        move || {
            (confirming.get() && shown().1.is_none())
                .then(|| view! { <ConfirmCancel id=id.clone() number=number.clone() confirming /> })
        }
    };
    let badge_class = {
        let shown = shown.clone();
        move || {
            let (status, pending) = shown();
            format::badge_class(status, pending.is_some())
        }
    };
    let badge = move || match shown() {
        (_, Some(pending)) => pending.label(),
        (status, None) => format::status_label(status).to_owned(),
    };
    view! {
        <div class="order" role="row" data-order-id=id>
            <span class="order-number" role="rowheader">{format!("#{number}")}</span>
            {admin.then(|| view! { <span class="order-buyer" role="cell">{buyer}</span> })}
            <span class="order-items" role="cell">{items}</span>
            <span class="order-total num" role="cell">{total}</span>
            <span class="order-time" role="cell">{placed}</span>
            <span class="order-status" role="cell">
                <span class=badge_class>{badge}</span>
            </span>
            <span class="order-actions" role="cell">{advance}{cancel}{confirm}</span>
        </div>
    }
}

/// "Cancel order #1A2B3C4D?  [Yes, cancel] [Keep]": cancelling is final,
/// so it is asked once more (rather than undone: the relay has no
/// un-cancel, and holding the request back for an undo window would lose it
/// when the tab closes). The first button takes the focus; Escape keeps.
#[component]
fn ConfirmCancel(id: String, number: String, confirming: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let keep = move || confirming.set(false);
    view! {
        <span
            class="confirm"
            role="group"
            aria-label=format!("Cancel order #{number}?")
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    keep();
                }
            }
        >
            <span class="confirm-ask" aria-hidden="true">"Cancel?"</span>
            <RowButton
                class="btn btn-small btn-danger"
                label="Yes, cancel".to_owned()
                name=format!("Yes, cancel order #{number}")
                on_click=Callback::new(move |()| {
                    command(store, &id, Change::Cancel, confirming)
                })
            />
            <RowButton
                class="btn btn-small"
                label="Keep".to_owned()
                name=format!("Keep order #{number}")
                on_click=Callback::new(move |()| keep())
            />
        </span>
    }
}

/// A button of the orders page: its words, and its accessible name, which
/// in a row says which order (every row has a "Cancel Order"). One
/// component for the rows' and "Retry now": one copy of its view code in
/// the bundle.
#[component]
fn RowButton(
    class: &'static str,
    label: String,
    name: String,
    on_click: Callback<()>,
) -> impl IntoView {
    view! {
        <button class=class aria-label=name on:click=move |_| on_click.run(())>
            {label}
        </button>
    }
}

/// Focuses the element `selector` finds once the view has drawn it (the
/// confirmation's first button).
fn focus_soon(selector: String) {
    request_animation_frame(move || {
        let found = document().query_selector(&selector).ok().flatten();
        if let Some(element) = found.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

fn demo_cart() -> Vec<CheckoutItem> {
    use protocol::demo::CATALOGUE;
    let pick = |n: usize| (js_sys::Math::random() * n as f64) as usize % n;
    let lines = 1 + pick(3);
    let first = pick(CATALOGUE.len());
    (0..lines)
        .map(|i| {
            let (product_id, name, price) = CATALOGUE[(first + i * 2) % CATALOGUE.len()];
            CheckoutItem {
                product_id: product_id.to_owned(),
                name: name.to_owned(),
                quantity: 1 + pick(2) as u32,
                price,
            }
        })
        .collect()
}

/// The demo buyer's shipping address.
fn demo_address(name: &str) -> RawJson {
    // Written by hand, as every body the browser sends (protocol::http).
    let name = protocol::frames::json_string(name);
    RawJson::parse(format!(
        r#"{{"name":{name},"street":"1 Demo Street","city":"Lyon","postalCode":"69001","country":"FR"}}"#
    ))
    .unwrap_or_default()
}

/// "Place a demo order": a checkout with a random cart. The order shows at
/// once as "Placing…", under the id the relay will give it, and its
/// `order:created` event confirms it in place.
#[component]
fn DemoCheckout() -> impl IntoView {
    let store = expect_context::<Store>();
    let busy = RwSignal::new(false);
    let place = move |_| {
        let Some(token) = store.token() else { return };
        let user = store
            .session()
            .with_untracked(|s| s.as_ref().and_then(|s| s.user_id.clone()));
        let request = CheckoutRequest {
            items: demo_cart(),
            shipping_address: demo_address(user.as_deref().unwrap_or("Demo buyer")),
        };
        let key = api::idempotency_key();
        busy.set(true);
        spawn_local(async move {
            let mut command = None;
            if let Some(user) = user {
                if let Some(id) = api::keyed_order_id(&user, &key).await {
                    let at = Timestamp(js_sys::Date::now() as i64);
                    let order = protocol::checkout::price(
                        id.clone(),
                        &user,
                        request.items.clone(),
                        request.shipping_address.clone(),
                        at,
                    );
                    command = store.command(&id, Change::Place(order));
                }
            }
            if let Err(error) = api::checkout(&token, &request, &key).await {
                match command {
                    Some(command) => store.refused(command, error.to_string()),
                    None => store.error(format!("Could not place the order: {error}")),
                }
            }
            busy.set(false);
        });
    };
    view! {
        <button class="btn btn-primary" disabled=move || busy.get() on:click=place>
            {move || if busy.get() { "Placing…" } else { "Place a demo order" }.to_owned()}
        </button>
    }
}
