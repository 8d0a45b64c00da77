//! The store as Redux DevTools shows it (debug builds of the client only:
//! `client/src/devtools.rs`): each action named as the seed's Redux actions
//! are (`orders/addOrder`, `orders/updateOrderStatus`, …) with a payload in
//! the seed's shape, and the state after it as plain JSON. Pure.

use protocol::OrderEvent;
use serde_json::{json, Value};

use crate::state::{Action, AppState, Connection};

/// The action's `type`, in the seed's `slice/action` names.
pub fn action_type(action: &Action) -> &'static str {
    match action {
        Action::SignedIn(_) => "auth/signedIn",
        Action::SignedOut { .. } => "auth/signedOut",
        Action::TokenRefreshed(_) => "auth/tokenRefreshed",
        Action::Identified(_) => "connection/identified",
        Action::ConnectionChanged(_) => "connection/changed",
        Action::OrdersLoaded(_) => "orders/setOrders",
        Action::Order {
            event: OrderEvent::Created(_),
            ..
        } => "orders/addOrder",
        // The seed dispatches `updateOrderStatus` for a cancellation too.
        Action::Order { .. } => "orders/updateOrderStatus",
        Action::CacheShown(_) => "orders/cacheShown",
        Action::PushToast(_) => "toasts/push",
        Action::DismissToast(_) => "toasts/dismiss",
        Action::Attention(_) => "toasts/attention",
        Action::CommandSent(_) => "commands/begin",
        Action::CommandRefused { .. } => "commands/revert",
        Action::CommandsDue { .. } => "commands/due",
    }
}

/// The action as DevTools lists it: `{type, payload}`. Tokens are never
/// shown.
pub fn action_json(action: &Action) -> Value {
    let payload = match action {
        Action::SignedIn(session) => json!({
            "userId": session.user_id,
            "role": session.role.as_str(),
        }),
        Action::SignedOut { notice } => json!({ "notice": notice }),
        Action::TokenRefreshed(_) => Value::Null,
        Action::Identified(info) => json!({
            "userId": info.user_id,
            "socketId": info.socket_id,
            "role": info.role.as_str(),
        }),
        Action::ConnectionChanged(connection) => json!(connection_text(connection)),
        Action::OrdersLoaded(snapshot) => json!({
            "orders": snapshot.orders.len(),
            "cursor": snapshot.cursor,
        }),
        Action::Order { event, cursor } => {
            let mut payload = match event {
                OrderEvent::Created(order) => json!(order),
                OrderEvent::Updated(update) => json!({
                    "orderId": update.order_id,
                    "status": update.status.as_str(),
                    "updatedAt": update.updated_at.to_string(),
                }),
                OrderEvent::Cancelled(cancel) => json!({
                    "orderId": cancel.order_id,
                    "status": "cancelled",
                    "updatedAt": cancel.cancelled_at.to_string(),
                }),
            };
            payload["cursor"] = json!(cursor);
            payload
        }
        Action::CacheShown(saved_at) => json!({ "savedAt": saved_at }),
        Action::PushToast(toast) => json!({
            "id": toast.id,
            "kind": toast.kind.as_str(),
            "text": toast.text,
        }),
        Action::DismissToast(id) => json!(id),
        Action::Attention(attention) => json!(format!("{attention:?}")),
        Action::CommandSent(command) => json!({
            "id": command.id,
            "orderId": command.order_id,
            "change": format!("{:?}", command.change),
            "deadline": command.deadline,
        }),
        Action::CommandRefused { id, why } => json!({ "id": id, "why": why }),
        Action::CommandsDue { now } => json!({ "now": now }),
    };
    json!({ "type": action_type(action), "payload": payload })
}

/// The state as DevTools shows it: the orders newest first, the session
/// (without its token), the connection, the toasts on screen.
pub fn state_json(state: &AppState) -> Value {
    json!({
        "orders": state.orders_newest_first().collect::<Vec<_>>(),
        "session": state.session.as_ref().map(|s| json!({
            "userId": s.user_id,
            "role": s.role.as_str(),
        })),
        "loaded": state.loaded,
        "cursor": state.cursor,
        "connection": connection_text(&state.connection),
        "toasts": state.toasts.visible().iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        "notice": state.notice,
        "commands": state.commands().len(),
    })
}

fn connection_text(connection: &Connection) -> String {
    format!("{connection:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{cancellation, order, update};
    use crate::reduce::reduce;
    use crate::state::Session;
    use protocol::{OrderStatus, Role};

    #[test]
    fn order_actions_carry_the_seeds_names_and_payloads() {
        let created = Action::Order {
            event: OrderEvent::Created(order("ord-1", 1)),
            cursor: "c1".into(),
        };
        let json = action_json(&created);
        assert_eq!(json["type"], "orders/addOrder");
        assert_eq!(json["payload"]["orderId"], "ord-1");
        assert_eq!(json["payload"]["cursor"], "c1");

        let updated = Action::Order {
            event: OrderEvent::Updated(update("ord-1", OrderStatus::Shipped, 2)),
            cursor: "c2".into(),
        };
        let json = action_json(&updated);
        assert_eq!(json["type"], "orders/updateOrderStatus");
        assert_eq!(json["payload"]["status"], "shipped");

        let cancelled = Action::Order {
            event: OrderEvent::Cancelled(cancellation("ord-1", 3)),
            cursor: "c3".into(),
        };
        let json = action_json(&cancelled);
        assert_eq!(json["type"], "orders/updateOrderStatus");
        assert_eq!(json["payload"]["status"], "cancelled");
    }

    #[test]
    fn the_state_shows_orders_and_session_but_never_the_token() {
        let mut state = AppState::signed_in(Session::new("secret-token", "alice", Role::User));
        reduce(
            &mut state,
            Action::Order {
                event: OrderEvent::Created(order("ord-1", 1)),
                cursor: "c1".into(),
            },
        );
        let json = state_json(&state);
        assert_eq!(json["orders"][0]["orderId"], "ord-1");
        assert_eq!(json["session"]["userId"], "alice");
        let signed_in = action_json(&Action::SignedIn(Session::new(
            "secret-token",
            "a",
            Role::User,
        )));
        for text in [json.to_string(), signed_in.to_string()] {
            assert!(!text.contains("secret-token"), "{text}");
        }
    }
}
