//! A resume cursor sent by a client: parsing is total, and a parsed cursor
//! prints back to a text that parses to the same cursor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::core::cursor::Cursor;

fuzz_target!(|text: &str| {
    if let Some(cursor) = Cursor::parse(text) {
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
    }
});
