//! The demo order simulator (`relay --demo`): plays the order service. It
//! seeds a few orders for the demo users, then keeps creating orders, moving
//! them forward and now and then cancelling one, at `--simulator-rate` events
//! per second (0 turns it off). Everything it does goes through Kafka, like
//! any other producer's events.

use std::sync::Arc;
use std::time::Duration;

use protocol::{OrderEvent, OrderItem, RawJson};
use rand::seq::IndexedRandom;
use rand::Rng;
use tokio::sync::watch;

use crate::core::commands::{self, checkout};
use crate::web::context::AppState;

/// The users the demo sign-in screen offers (plus `admin`).
pub const DEMO_USERS: [&str; 2] = ["alice", "bob"];

/// Runs until shutdown.
pub async fn run(app: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    app.hub.wait_ready().await;
    if app.hub.snapshot(&admin()).orders.is_empty() {
        for user in DEMO_USERS {
            for _ in 0..2 {
                publish(&app, new_order(user)).await;
            }
        }
    }
    let rate = app.config.simulator_rate;
    if rate <= 0.0 {
        return;
    }
    let pause = Duration::from_secs_f64(1.0 / rate);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        if let Some(event) = next_event(&app) {
            publish(&app, event).await;
        }
    }
}

fn admin() -> crate::core::viewer::User {
    crate::core::viewer::User {
        id: "simulator".into(),
        role: protocol::Role::Admin,
        expires_at: u64::MAX,
    }
}

/// Picks the next thing the "order service" does: mostly move an open order
/// forward, sometimes a new order, rarely a cancellation.
fn next_event(app: &AppState) -> Option<OrderEvent> {
    let orders = app.hub.snapshot(&admin()).orders;
    let open: Vec<_> = orders
        .iter()
        .filter(|o| o.status.next().is_some())
        .collect();
    let mut rng = rand::rng();
    let roll: f64 = rng.random();
    if open.len() < 3 || roll < 0.25 {
        return Some(new_order(DEMO_USERS.choose(&mut rng)?));
    }
    let order = open.choose(&mut rng)?;
    let now = crate::clock::now();
    if roll < 0.35 && order.status.is_cancellable() {
        let reason = Some("Out of stock".to_owned());
        return commands::cancel(order, reason, now)
            .ok()
            .map(OrderEvent::Cancelled);
    }
    let next = order.status.next()?;
    commands::advance(commands::Admin::RELAY, order, next, now)
        .ok()
        .map(OrderEvent::Updated)
}

fn new_order(user: &str) -> OrderEvent {
    let mut rng = rand::rng();
    let lines = rng.random_range(1..=3);
    let items = protocol::demo::CATALOGUE
        .choose_multiple(&mut rng, lines)
        .map(|(id, name, price)| OrderItem {
            product_id: (*id).into(),
            name: (*name).into(),
            quantity: rand::rng().random_range(1..=3),
            price: *price,
        })
        .collect();
    let address = serde_json::json!({"name": user, "street": "12 Rue de la Paix", "city": "Lyon", "zip": "69002", "country": "FR"});
    let address = RawJson::to_raw(&address).unwrap_or_default();
    let order_id = checkout::new_order_id();
    OrderEvent::Created(checkout::price(
        order_id,
        user,
        items,
        address,
        crate::clock::now(),
    ))
}

async fn publish(app: &AppState, event: OrderEvent) {
    if let Err(e) = app.sink.publish(&event).await {
        tracing::warn!("simulator could not publish: {e}");
    }
}
