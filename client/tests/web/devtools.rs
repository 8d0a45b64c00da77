//! Redux DevTools (debug builds): a stand-in for the extension records what
//! the store sends, and a jump it asks for changes the page.

use client::fixtures::order;
use protocol::Role;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::page::{open_orders_page, until};

/// `window.__REDUX_DEVTOOLS_EXTENSION__` as the extension defines it
/// (`connect` → `init`, `send`, `subscribe`), recording into
/// `window.devtools`; removed on drop.
struct StandIn;

impl StandIn {
    fn install() -> StandIn {
        run(r#"
            window.devtools = { options: null, inits: [], sent: [], listeners: [] };
            window.__REDUX_DEVTOOLS_EXTENSION__ = {
              connect(options) {
                devtools.options = options;
                return {
                  init(state) { devtools.inits.push(state); },
                  send(action, state) { devtools.sent.push({ action, state }); },
                  subscribe(listener) { devtools.listeners.push(listener); return () => {}; },
                };
              },
            };
            return null;"#);
        StandIn
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        run("delete window.__REDUX_DEVTOOLS_EXTENSION__; delete window.devtools; return null;");
    }
}

fn run(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .unwrap()
}

#[wasm_bindgen_test]
async fn the_store_sends_each_action_with_its_state_and_a_jump_changes_the_page() {
    let _devtools = StandIn::install();
    let mut page =
        open_orders_page("alice", Role::User, vec![order("ord-00000000aaaa0001", 1)]).await;
    assert_eq!(
        run("return devtools.options.name").as_string().unwrap(),
        "order-relay"
    );
    assert_eq!(run("return devtools.inits.length").as_f64(), Some(1.0));

    // The actions so far, in the seed's names.
    let types = || {
        run("return devtools.sent.map((s) => s.action.type).join(' ')")
            .as_string()
            .unwrap()
    };
    assert!(types().contains("orders/setOrders"), "{}", types());
    let before = run("return devtools.sent.length").as_f64().unwrap();

    page.created(order("ord-00000000bbbb0002", 5)).await;
    assert_eq!(page.row_ids().len(), 2);
    let added = run(
        "const s = devtools.sent.find((s) => s.action.type === 'orders/addOrder'); \
         return [s.action.payload.orderId, s.state.orders.length, s.state.session.userId].join(' ')",
    );
    assert_eq!(
        added.as_string().unwrap(),
        "ord-00000000bbbb0002 2 alice",
        "addOrder with the state after it"
    );
    assert!(
        !run("return JSON.stringify(devtools.sent)")
            .as_string()
            .unwrap()
            .contains("test-token"),
        "the token is never sent"
    );

    // Jump back to the last action before the order came: the page shows
    // one order again. DevTools numbers the sent actions from 1.
    run(&format!(
        "devtools.listeners.forEach((l) => l({{ type: 'DISPATCH', \
           payload: {{ type: 'JUMP_TO_ACTION', actionId: {before} }}, state: '{{}}' }})); return null;"
    ));
    until("the jump shows on the page", || page.row_ids().len() == 1).await;
    assert_eq!(page.row_ids(), ["ord-00000000aaaa0001"]);
    // And forward again.
    let last = run("return devtools.sent.length").as_f64().unwrap();
    run(&format!(
        "devtools.listeners.forEach((l) => l({{ type: 'DISPATCH', \
           payload: {{ type: 'JUMP_TO_STATE', actionId: {last} }}, state: '{{}}' }})); return null;"
    ));
    until("the jump forward", || page.row_ids().len() == 2).await;
}
