//! The host page's hook (`client::host`) in the browser: what a shop's
//! `window.orderRelayToken()` may answer, and when a page has a hook.

use client::host::{self, HookError};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

/// Installs `window.orderRelayToken` with `body` (or removes it).
fn install(body: Option<&str>) {
    let window = web_sys::window().unwrap();
    let value = body.map_or(JsValue::UNDEFINED, |body| {
        js_sys::Function::new_no_args(body).into()
    });
    js_sys::Reflect::set(&window, &JsValue::from_str(host::FUNCTION), &value).unwrap();
}

#[wasm_bindgen_test]
async fn every_answer_of_the_shops_function_is_a_token_or_a_named_refusal() {
    let cases: [(&str, Result<&str, &str>); 7] = [
        ("return 'a.b.c'", Ok("a.b.c")),
        ("return Promise.resolve(' a.b.c ')", Ok("a.b.c")),
        ("return null", Err("signed out")),
        ("return Promise.resolve(undefined)", Err("signed out")),
        ("return ''", Err("signed out")),
        (
            "throw new Error('shop down')",
            Err("orderRelayToken() threw: shop down"),
        ),
        (
            "return 42",
            Err("orderRelayToken() answered something else than a token"),
        ),
    ];
    for (body, want) in cases {
        install(Some(body));
        let hook = host::find().expect("the function is found");
        let got = host::token(&hook).await;
        match (got, want) {
            (Ok(token), Ok(want)) => assert_eq!(token, want, "{body}"),
            (Err(HookError::SignedOut), Err("signed out")) => {}
            (Err(HookError::Failed(why)), Err(want)) => assert_eq!(why, want, "{body}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }
    // A rejected Promise is a failure too.
    install(Some("return Promise.reject(new Error('no session store'))"));
    let got = host::token(&host::find().unwrap()).await;
    assert_eq!(
        got,
        Err(HookError::Failed(
            "orderRelayToken() threw: no session store".into()
        ))
    );
    install(None);
}

#[wasm_bindgen_test]
fn only_a_function_is_a_hook() {
    install(None);
    assert!(host::find().is_none(), "no function, no hook");
    let window = web_sys::window().unwrap();
    let name = JsValue::from_str(host::FUNCTION);
    js_sys::Reflect::set(&window, &name, &JsValue::from_str("a.b.c")).unwrap();
    assert!(
        host::find().is_none(),
        "a string where the function should be"
    );
    install(Some("return 'a.b.c'"));
    assert!(host::find().is_some());
    install(None);
}
