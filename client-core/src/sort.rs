//! The one sort of strings in the client.

use std::cmp::Ordering;

/// Sorts strings with a comparator behind `dyn`: every sort of strings in
/// the client (the order list, the admin's buyer filter) is this one
/// instantiation; each comparator type would otherwise compile its own copy
/// of the sort into the bundle.
pub fn sort_strings(list: &mut [String], compare: &mut dyn FnMut(&String, &String) -> Ordering) {
    list.sort_unstable_by(|a, b| compare(a, b));
}
