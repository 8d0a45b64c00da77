//! Token renewal: the token a subscription connects with, and when and how
//! a renewable one (a demo login's) is replaced before it expires
//! ([`client_core::token::refresh_delay_ms`]).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use client_core::token;
use futures::future::{self, LocalBoxFuture};

use super::callbacks::OrderCallbacks;
use super::log::warn;
use crate::time::{now_ms, sleep};

/// Fetches a fresh token for the same user: `None` when that failed.
pub type Renew = Rc<dyn Fn() -> LocalBoxFuture<'static, Option<String>>>;

/// How long to wait before trying again after a renewal failed.
const RENEW_RETRY_MS: u32 = 5_000;

/// The longest single timer: browsers fire longer `setTimeout`s at once.
const MAX_TIMER_MS: u64 = i32::MAX as u64;

/// The token a subscription connects with, and how (whether) it is renewed.
/// Clones share the current token.
#[derive(Clone)]
pub struct Tokens {
    current: Rc<RefCell<String>>,
    renew: Option<Renew>,
}

impl Tokens {
    /// A token nothing can renew (handed over by the host page, `?token=`
    /// or `<meta>`): when it expires the relay closes with 4001 and the
    /// user signs in again.
    pub fn fixed(token: impl Into<String>) -> Tokens {
        Tokens {
            current: Rc::new(RefCell::new(token.into())),
            renew: None,
        }
    }

    /// A token `renew` can replace before it expires (a demo login's).
    pub fn renewable(token: impl Into<String>, renew: Renew) -> Tokens {
        Tokens {
            renew: Some(renew),
            ..Tokens::fixed(token)
        }
    }

    /// The newest token.
    pub fn current(&self) -> String {
        self.current.borrow().clone()
    }

    pub(super) fn set(&self, token: String) {
        *self.current.borrow_mut() = token;
    }

    /// Whether the current token can be renewed and has already expired
    /// (the link was down when it came due, or the tab was reloaded late).
    fn expired(&self) -> bool {
        self.renew.is_some()
            && token::jwt_exp(&self.current.borrow())
                .is_some_and(|exp| exp.saturating_mul(1000) as f64 <= now_ms())
    }

    /// Renews an expired token before a connection attempt uses it: the
    /// relay would refuse it, and the app would send the user to sign-in.
    /// Reports the fresh token to the app.
    pub(super) async fn renew_if_expired(&self, cb: &OrderCallbacks) {
        let Some(renew) = self.renew.clone().filter(|_| self.expired()) else {
            return;
        };
        if let Some(fresh) = renew().await {
            self.set(fresh.clone());
            (cb.on_token)(fresh);
        }
    }

    /// Resolves when the current token is due for renewal: with the fresh
    /// token, or `None` (after a pause) when renewing failed. Never resolves
    /// when the token cannot be renewed: no [`Renew`], or no `exp` to read.
    pub(super) fn renewal(&self) -> impl Future<Output = Option<String>> + 'static {
        let renew = self.renew.clone();
        let exp = token::jwt_exp(&self.current.borrow());
        async move {
            let (Some(renew), Some(exp)) = (renew, exp) else {
                return future::pending().await;
            };
            // The due time is fixed once. Recomputing the delay after each
            // sleep would chase the expiry (80% of what is left, again and
            // again) and renew only as the token expires.
            let now = now_ms().max(0.0) as u64;
            let due = now.saturating_add(token::refresh_delay_ms(exp, now));
            loop {
                let left = due.saturating_sub(now_ms().max(0.0) as u64);
                if left == 0 {
                    break;
                }
                // Long delays go in steps a browser timer can hold.
                sleep(left.min(MAX_TIMER_MS) as u32).await;
            }
            let fresh = renew().await;
            if fresh.is_none() {
                warn("[WebSocket] Could not renew the token; trying again shortly");
                sleep(RENEW_RETRY_MS).await;
            }
            fresh
        }
    }
}
