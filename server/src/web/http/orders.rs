//! The order API (§4 of docs/PROTOCOL.md): list, checkout, cancel, admin
//! status change.
//!
//! Handlers are thin: they fetch what a command acts on from the hub, call
//! the pure function in [`crate::core::commands`], publish its event through the
//! [`EventSink`](crate::sink::EventSink) and map a refusal to its status.
//! Commands never change state here: the change reaches every page,
//! including the caller's, when the relay consumes the event. One path for
//! every change, whoever made it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use protocol::http::{CancelRequest, CheckoutRequest, OrdersResponse, StatusChange};
use protocol::{ErrorCode, Order, OrderCancellation, OrderEvent, OrderUpdate};

use super::error::{AppError, Body, Caller};
use crate::core::commands::{self, checkout};
use crate::core::viewer::User;
use crate::web::context::AppState;

/// `GET /api/orders`: the same content as `orders:snapshot`. Served from
/// memory once the read model is loaded, also while the broker is away.
pub async fn list(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<OrdersResponse>, AppError> {
    if !app.hub.is_loaded() {
        return Err(AppError::not_ready());
    }
    Ok(Json(app.hub.snapshot(&user)))
}

/// `POST /api/orders`: checkout. The server assigns the id, the status and
/// the money fields.
///
/// With an `Idempotency-Key` header (§4.2 of docs/PROTOCOL.md) the order id
/// is derived from the caller and the key, so a retry, on this relay or
/// another, after a restart or not, names the same order: if the relay
/// already has it, the retry answers `200` with it and publishes nothing; if
/// not (the first attempt never reached the broker, or is not consumed yet),
/// the event is published again and the relay applies whichever copy comes
/// first (a repeated `order.created` is a duplicate, §1.5).
pub async fn checkout(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    headers: HeaderMap,
    Body(request): Body<CheckoutRequest>,
) -> Result<(StatusCode, HeaderMap, Json<Order>), AppError> {
    let key = checkout::idempotency_key(headers.get("idempotency-key").map(|v| v.as_bytes()))?;
    let order_id = match key {
        Some(key) => checkout::keyed_order_id(&user.id, key),
        None => checkout::new_order_id(),
    };
    let order = commands::new_order(
        request,
        order_id,
        &user.id,
        crate::clock::now(),
        app.config.max_message_bytes,
    )?;
    let mut answer = HeaderMap::new();
    if key.is_some() {
        // A keyed retry needs the whole model to know whether it is one.
        match current(&app, &user, &order.order_id) {
            Ok(existing) => {
                let existing = checkout::replay(existing, &order)?;
                answer.insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok((StatusCode::OK, answer, Json(existing)));
            }
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    publish(&app, &OrderEvent::Created(order.clone())).await?;
    tracing::debug!(order_id = ?order.order_id, buyer = ?user.id, total = order.total, "order placed");
    Ok((StatusCode::CREATED, answer, Json(order)))
}

/// `POST /api/orders/{id}/cancel`: by the owner or an admin, from pending or
/// processing only.
pub async fn cancel(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(order_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<OrderCancellation>), AppError> {
    let body = body
        .map_err(|e| AppError::new(ErrorCode::TooLarge, e.body_text()).with_status(e.status()))?;
    // The body is optional: no body means no reason.
    let request: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => {
                AppError::new(ErrorCode::InvalidData, e.to_string())
            }
            _ => AppError::new(ErrorCode::BadJson, e.to_string()),
        })?
    };
    let order = current(&app, &user, &order_id)?;
    let cancellation = commands::cancel(&order, request.reason, crate::clock::now())?;
    publish(&app, &OrderEvent::Cancelled(cancellation.clone())).await?;
    Ok((StatusCode::ACCEPTED, Json(cancellation)))
}

/// `PATCH /api/admin/orders/{id}`: admins move an order forward.
pub async fn advance(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(order_id): Path<String>,
    Body(change): Body<StatusChange>,
) -> Result<(StatusCode, Json<OrderUpdate>), AppError> {
    let admin = commands::Admin::check(user.is_admin())?;
    let order = current(&app, &user, &order_id)?;
    let update = commands::advance(admin, &order, change.status, crate::clock::now())?;
    publish(&app, &OrderEvent::Updated(update.clone())).await?;
    Ok((StatusCode::ACCEPTED, Json(update)))
}

/// The order a command acts on, as the caller may see it. Commands act only
/// on a caught-up read model: while the relay is loading or behind Kafka
/// (`/readyz` 503), the order's status may be stale, and a cancel of an
/// order that has shipped, or a move from a status it has left, would be
/// accepted. So they answer 503 `not_ready` then, as listing does.
fn current(app: &AppState, user: &User, order_id: &str) -> Result<Order, AppError> {
    if !app.hub.is_ready() {
        return Err(AppError::not_ready());
    }
    app.hub
        .order_for(user, order_id)
        .ok_or_else(|| AppError::not_found("order"))
}

async fn publish(app: &AppState, event: &OrderEvent) -> Result<(), AppError> {
    match app.sink.publish(event).await {
        Ok(()) => {
            app.metrics.published.inc();
            Ok(())
        }
        Err(e) => {
            app.metrics.publish_failures.inc();
            tracing::error!(order_id = event.order_id(), "publish failed: {e}");
            Err(AppError::broker_unavailable())
        }
    }
}
