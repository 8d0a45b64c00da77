//! A stand-in for `wasm-streams` 0.5: the three items `server_fn` names
//! (`ReadableStream::{from_raw, from_stream, into_raw, into_stream}`), with
//! no `#[wasm_bindgen]` export. A streaming server-function request fails
//! with an error saying so, and a streamed response yields that error; this
//! client calls no server function (docs/DECISIONS.md, "Browser bundle").

use futures_util::future::{ready, Ready};
use futures_util::stream::{once, Once, Stream};
use wasm_bindgen::JsValue;

const UNSUPPORTED: &str =
    "streaming server functions are not available in this build (vendor/wasm-streams)";

/// A JavaScript `ReadableStream`, as `wasm_streams::ReadableStream` wraps it.
pub struct ReadableStream {
    raw: web_sys::ReadableStream,
}

impl ReadableStream {
    pub fn from_raw(raw: web_sys::ReadableStream) -> Self {
        Self { raw }
    }

    /// Not available: throws a JavaScript error that says so.
    pub fn from_stream<St>(_stream: St) -> Self
    where
        St: Stream<Item = Result<JsValue, JsValue>> + 'static,
    {
        wasm_bindgen::throw_str(UNSUPPORTED)
    }

    pub fn into_raw(self) -> web_sys::ReadableStream {
        self.raw
    }

    /// Not available: one error item that says so.
    pub fn into_stream(self) -> Once<Ready<Result<JsValue, JsValue>>> {
        once(ready(Err(JsValue::from_str(UNSUPPORTED))))
    }
}
