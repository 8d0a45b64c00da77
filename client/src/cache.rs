//! The offline cache: per user, the [`FrameLog`](client_core::tabs::FrameLog)
//! of the orders on screen and when it was saved, in IndexedDB (through
//! `client/js/tabs.js`). Opening the page shows it before any network; the
//! socket then resumes from its last cursor.
//!
//! A record of another user is another key. One of an older [`SCHEMA`], or
//! marked with another signer (the session token's header: another relay
//! secret or provider key, see `client_core::token::jwt_signer`), is ignored
//! and dropped. Without IndexedDB, or when a write fails (quota),
//! the calls do nothing but leave one note on the console: the page works
//! as it does without a cache.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The cache's layout version: bump it when what a record holds changes.
pub const SCHEMA: u32 = 1;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = orderRelay, js_name = cacheLoad)]
    fn cache_load(key: &str, schema: u32, signer: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = orderRelay, js_name = cacheSave)]
    fn cache_save(
        key: &str,
        schema: u32,
        signer: &str,
        saved_at: f64,
        lines: &str,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = orderRelay, js_name = cacheClear)]
    fn cache_clear(key: &str) -> js_sys::Promise;
}

/// The record of `key` written under `signer`: when it was saved and its
/// frames (`None` after 1 s without an answer).
pub async fn load(key: &str, signer: &str) -> Option<(f64, String)> {
    let record = JsFuture::from(cache_load(key, SCHEMA, signer)).await.ok()?;
    let record: &js_sys::Array = record.dyn_ref()?;
    Some((record.get(0).as_f64()?, record.get(1).as_string()?))
}

/// Saves the frames of `key` under `signer` (nothing to save clears it).
pub async fn save(key: &str, signer: &str, saved_at: f64, lines: &str) {
    let done = if lines.is_empty() {
        cache_clear(key)
    } else {
        cache_save(key, SCHEMA, signer, saved_at, lines)
    };
    let _ = JsFuture::from(done).await;
}

pub async fn clear(key: &str) {
    let _ = JsFuture::from(cache_clear(key)).await;
}
