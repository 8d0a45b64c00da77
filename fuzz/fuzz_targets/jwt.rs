//! A bearer token from anyone: verification is total, and nothing but a
//! token signed with the relay's secret is accepted. The same bytes as a
//! provider's JWKS document: reading it is total too.
#![no_main]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use server::web::auth::jwks::KeySet;
use server::web::auth::{Keys, Verifier};

/// Runs a future that never waits: HS256 verification without a provider
/// fetches nothing.
fn at_once<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("verification without a provider waited"),
    }
}

fuzz_target!(|token: &str| {
    let verifier = Verifier::hs256(Keys::new(b"fuzzing-secret-0123456789abcdef"));
    assert!(
        at_once(verifier.verify(token)).is_err(),
        "an unsigned token was accepted: {token:?}"
    );
    let _ = KeySet::parse(token.as_bytes());
});
