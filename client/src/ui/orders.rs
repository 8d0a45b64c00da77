//! The orders page: the list, its loading / error / empty states, the admin
//! filters, and the commands (cancel, advance, demo checkout).
//!
//! Rows are a keyed `<For>` over the store's id list; each row reads its own
//! order signal, so one order's update re-renders one badge. Commands only
//! send the HTTP request: the row changes when the event comes back over the
//! socket, exactly as it does for changes made elsewhere.

use client_core::format;
use client_core::state::Connection;
use leptos::either::{Either, EitherOf4};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::http::{CheckoutItem, CheckoutRequest};
use protocol::order::order_number;
use protocol::{Order, OrderStatus, RawJson};

use crate::api;
use crate::store::Store;

/// The list of orders for the signed-in user (an admin sees all, with
/// filters).
#[component]
pub fn OrdersPage() -> impl IntoView {
    let store = expect_context::<Store>();
    let admin = Memo::new(move |_| {
        store
            .session()
            .with(|s| s.as_ref().is_some_and(|s| s.is_admin()))
    });
    let status_filter = RwSignal::new(None::<OrderStatus>);
    let buyer_filter = RwSignal::new(None::<String>);
    let visible = Memo::new(move |_| {
        let ids = store.order_ids().get();
        let (status, buyer) = (status_filter.get(), buyer_filter.get());
        if !admin.get() || (status.is_none() && buyer.is_none()) {
            return ids;
        }
        ids.into_iter()
            .filter(|id| {
                store.row(id).is_some_and(|row| {
                    row.with(|o| {
                        status.is_none_or(|s| o.status == s)
                            && buyer.as_deref().is_none_or(|b| o.buyer_id == b)
                    })
                })
            })
            .collect::<Vec<_>>()
    });

    view! {
        <section class="orders-page">
            <div class="page-head">
                <h1>{move || if admin.get() { "All orders" } else { "Your orders" }}</h1>
                {move || {
                    if admin.get() {
                        Either::Left(view! { <Filters status=status_filter buyer=buyer_filter /> })
                    } else {
                        Either::Right(view! { <DemoCheckout /> })
                    }
                }}
            </div>
            {move || {
                let admin = admin.get();
                view! { <OrderList visible admin /> }
            }}
        </section>
    }
}

/// The rows, or the loading, error or empty state.
#[component]
fn OrderList(visible: Memo<Vec<String>>, admin: bool) -> impl IntoView {
    let store = expect_context::<Store>();
    let loaded = store.loaded();
    let connection = store.connection();
    let empty = Memo::new(move |_| visible.with(Vec::is_empty));
    let filtered = Memo::new(move |_| store.order_ids().with(|ids| !ids.is_empty()));
    move || {
        if !loaded.get() {
            return match connection.get() {
                Connection::Reconnecting { in_secs } => EitherOf4::A(view! {
                    <div class="state state-error" role="alert">
                        <strong>"Can't reach the order service."</strong>
                        <span>{format!(" Retrying in {in_secs} s…")}</span>
                    </div>
                }),
                _ => EitherOf4::B(view! {
                    <div class="state state-loading" aria-busy="true">
                        <span class="spinner" aria-hidden="true"></span>
                        "Loading orders…"
                    </div>
                }),
            };
        }
        if empty.get() {
            let text = if filtered.get() {
                "No orders match these filters."
            } else if admin {
                "No orders yet."
            } else {
                "No orders yet. Place one to see it appear here in real time."
            };
            return EitherOf4::C(view! { <div class="state state-empty">{text}</div> });
        }
        EitherOf4::D(view! {
            <div class=if admin { "orders orders-admin" } else { "orders" } role="table">
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
                    each=move || visible.get()
                    key=|id| id.clone()
                    children=move |id| {
                        store.row(&id).map(|order| view! { <OrderRow order admin /> })
                    }
                />
            </div>
        })
    }
}

/// One order. Only the status parts are reactive: the rest of an order
/// never changes after it is created.
#[component]
fn OrderRow(order: ArcRwSignal<Order>, admin: bool) -> impl IntoView {
    let store = expect_context::<Store>();
    let (id, number, buyer, items, total, placed) = order.with_untracked(|o| {
        (
            o.order_id.clone(),
            order_number(&o.order_id),
            o.buyer_id.clone(),
            format::items(&o.items),
            format::money(o.total),
            format::time(o.created_at),
        )
    });
    let status = Memo::new(move |_| order.with(|o| o.status));
    let busy = RwSignal::new(false);

    let cancel = {
        let (id, number) = (id.clone(), number.clone());
        move |_| {
            let Some(token) = store.token() else { return };
            let (id, number) = (id.clone(), number.clone());
            busy.set(true);
            spawn_local(async move {
                if let Err(error) = api::cancel_order(&token, &id).await {
                    store.error(format!("Could not cancel order #{number}: {error}"));
                }
                busy.set(false);
            });
        }
    };
    let advance = {
        let (id, number) = (id.clone(), number.clone());
        move |_| {
            let (Some(token), Some(next)) = (store.token(), status.get_untracked().next()) else {
                return;
            };
            let (id, number) = (id.clone(), number.clone());
            busy.set(true);
            spawn_local(async move {
                if let Err(error) = api::advance_order(&token, &id, next).await {
                    store.error(format!("Could not update order #{number}: {error}"));
                }
                busy.set(false);
            });
        }
    };

    view! {
        <div class="order" role="row" data-order-id=id>
            <span class="order-number" role="cell">{format!("#{number}")}</span>
            {admin.then(|| view! { <span class="order-buyer" role="cell">{buyer}</span> })}
            <span class="order-items" role="cell">{items}</span>
            <span class="order-total num" role="cell">{total}</span>
            <span class="order-time" role="cell">{placed}</span>
            <span class="order-status" role="cell">
                <span class=move || format!("badge badge-{}", status.get().as_str())>
                    {move || format::status_label(status.get())}
                </span>
            </span>
            <span class="order-actions" role="cell">
                {move || {
                    (admin && status.get() != OrderStatus::Cancelled)
                        .then(|| status.get().next())
                        .flatten()
                        .map(|next| {
                            view! {
                                <button
                                    class="btn btn-small btn-primary"
                                    disabled=move || busy.get()
                                    on:click=advance.clone()
                                >
                                    {format!("Advance to {}", next.as_str())}
                                </button>
                            }
                        })
                }}
                {move || {
                    status
                        .get()
                        .is_cancellable()
                        .then(|| {
                            view! {
                                <button
                                    class="btn btn-small btn-danger"
                                    disabled=move || busy.get()
                                    on:click=cancel.clone()
                                >
                                    "Cancel Order"
                                </button>
                            }
                        })
                }}
            </span>
        </div>
    }
}

/// Admin filters: by status and by buyer.
#[component]
fn Filters(
    status: RwSignal<Option<OrderStatus>>,
    buyer: RwSignal<Option<String>>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    // Buyers never change on an order, so only the id list is tracked.
    let buyers = Memo::new(move |_| {
        let mut buyers = store.order_ids().with(|ids| {
            ids.iter()
                .filter_map(|id| store.row(id))
                .map(|row| row.with_untracked(|o| o.buyer_id.clone()))
                .collect::<Vec<_>>()
        });
        client_core::sort::sort_strings(&mut buyers, &mut |a, b| a.cmp(b));
        buyers.dedup();
        buyers
    });
    view! {
        <div class="filters">
            <label>
                <span>"Status"</span>
                <select on:change=move |ev| status.set(OrderStatus::parse(&event_target_value(&ev)))>
                    <option value="">"All statuses"</option>
                    {OrderStatus::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{format::status_label(s)}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                <span>"Buyer"</span>
                <select on:change=move |ev| {
                    let value = event_target_value(&ev);
                    buyer.set((!value.is_empty()).then_some(value));
                }>
                    <option value="">"All buyers"</option>
                    {move || {
                        buyers
                            .get()
                            .into_iter()
                            .map(|b| {
                                let selected = buyer.get_untracked().as_deref() == Some(b.as_str());
                                view! {
                                    <option value=b.clone() selected=selected>
                                        {b.clone()}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            // The relay draws the panel: no chart code in the shoppers' bundle.
            <a class="btn filters-link" href="/admin/delivery">"Delivery"</a>
        </div>
    }
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

/// "Place a demo order": a checkout with a random cart. The order shows up
/// when its `order:created` event arrives.
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
        busy.set(true);
        spawn_local(async move {
            if let Err(error) = api::checkout(&token, &request).await {
                store.error(format!("Could not place the order: {error}"));
            }
            busy.set(false);
        });
    };
    view! {
        <button class="btn btn-primary" disabled=move || busy.get() on:click=place>
            {move || if busy.get() { "Placing…" } else { "Place a demo order" }}
        </button>
    }
}
