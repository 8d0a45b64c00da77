//! The one sort of strings in the client: the order book's (every sort of
//! strings in the bundle is this one instantiation; each comparator type
//! would otherwise compile its own copy of the sort).

pub use protocol::book::sort_ids as sort_strings;
