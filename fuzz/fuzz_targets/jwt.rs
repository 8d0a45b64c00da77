//! A bearer token from anyone: verification is total, and nothing but a
//! token signed with the relay's secret is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::web::auth::Keys;

fuzz_target!(|token: &str| {
    let keys = Keys::new(b"fuzzing-secret-0123456789abcdef");
    assert!(keys.verify(token).is_err(), "an unsigned token was accepted: {token:?}");
});
