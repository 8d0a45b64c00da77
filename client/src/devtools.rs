//! Redux DevTools for the store, in debug builds only (`trunk serve`, the
//! browser tests; release builds compile none of this). When the extension
//! is present (`window.__REDUX_DEVTOOLS_EXTENSION__`), the store connects
//! to it and sends every action with the state after it, named as the
//! seed's Redux actions are (`client_core::devtools`). Jumping to a past
//! action or state in DevTools puts that state back on the page; the next
//! live action applies on top of it, as in Redux.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use client_core::devtools::{action_json, state_json};
use client_core::state::{Action, AppState};
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The past states kept for jumps (DevTools' `maxAge`).
const KEPT: usize = 50;

/// A connection to the extension.
pub struct DevTools {
    connection: JsValue,
    history: Rc<RefCell<History>>,
    _listener: JsValue,
}

/// The state after each action, by DevTools' action id (0: the initial
/// state; DevTools numbers the actions it is sent from 1).
#[derive(Default)]
struct History {
    next_id: u32,
    states: VecDeque<(u32, AppState)>,
}

impl History {
    fn keep(&mut self, state: &AppState) {
        if self.states.len() == KEPT {
            self.states.pop_front();
        }
        self.states.push_back((self.next_id, state.clone()));
        self.next_id += 1;
    }

    fn at(&self, id: u32) -> Option<AppState> {
        self.states
            .iter()
            .find(|(kept, _)| *kept == id)
            .map(|(_, state)| state.clone())
    }
}

fn js(value: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
    let function: Function = Reflect::get(target, &method.into()).ok()?.dyn_into().ok()?;
    let args: js_sys::Array = args.iter().collect();
    function.apply(target, &args).ok()
}

/// The action id a DevTools jump names, if the message is one.
fn jump_target(message: &JsValue) -> Option<u32> {
    let get = |v: &JsValue, key: &str| Reflect::get(v, &key.into()).ok();
    if get(message, "type")?.as_string()? != "DISPATCH" {
        return None;
    }
    let payload = get(message, "payload")?;
    match get(&payload, "type")?.as_string()?.as_str() {
        "JUMP_TO_STATE" | "JUMP_TO_ACTION" => Some(get(&payload, "actionId")?.as_f64()? as u32),
        _ => None,
    }
}

impl DevTools {
    /// Connects when the extension is present; `on_jump` gets the state
    /// DevTools jumped to.
    pub fn connect(initial: &AppState, on_jump: impl Fn(AppState) + 'static) -> Option<DevTools> {
        let extension = Reflect::get(&js_sys::global(), &"__REDUX_DEVTOOLS_EXTENSION__".into())
            .ok()
            .filter(JsValue::is_object)?;
        let options = serde_json::json!({ "name": "order-relay", "maxAge": KEPT });
        let connection = call(&extension, "connect", &[js(&options)])?;
        call(&connection, "init", &[js(&state_json(initial))]);
        let history = Rc::new(RefCell::new(History::default()));
        history.borrow_mut().keep(initial);
        let kept = Rc::clone(&history);
        let listener = Closure::<dyn Fn(JsValue)>::new(move |message: JsValue| {
            let state = jump_target(&message).and_then(|id| kept.borrow().at(id));
            if let Some(state) = state {
                on_jump(state);
            }
        })
        .into_js_value();
        call(&connection, "subscribe", std::slice::from_ref(&listener));
        Some(DevTools {
            connection,
            history,
            _listener: listener,
        })
    }

    /// What an action looks like in DevTools, taken before the reducer
    /// consumes it.
    pub fn describe(action: &Action) -> serde_json::Value {
        action_json(action)
    }

    /// Sends an action (as [`DevTools::describe`] made it) and the state
    /// after it.
    pub fn send(&self, action: &serde_json::Value, state: &AppState) {
        call(
            &self.connection,
            "send",
            &[js(action), js(&state_json(state))],
        );
        self.history.borrow_mut().keep(state);
    }
}
