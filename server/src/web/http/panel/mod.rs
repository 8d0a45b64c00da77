//! The admin Delivery panel, served by the relay itself: a page
//! (`/admin/delivery`, with its script and style) that shows the fragment
//! `GET /api/admin/delivery` draws from the relay's own recent past
//! ([`render`]). Shoppers' bundle carries none of it.
//!
//! The page is static and public (it holds no data); the fragment needs an
//! admin's token, which the page's script takes from the orders page's
//! sign-in in the same tab.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::{AppError, Caller};
use crate::core::commands;
use crate::web::context::AppState;

pub mod render;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// This origin's script and style only; no inline code, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// `GET /api/admin/delivery`: the panel's fragment (admins only).
pub async fn fragment(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<impl IntoResponse, AppError> {
    commands::Admin::check(user.is_admin())?;
    let html = app.metrics.with_series(render::render);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    ))
}

/// `GET /admin/delivery`.
pub async fn page() -> Response {
    file(PAGE, "text/html; charset=utf-8")
}

/// `GET /admin/delivery.js`.
pub async fn script() -> Response {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /admin/delivery.css`.
pub async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}

fn file(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Small, and changes with the relay: checked on every visit.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}
