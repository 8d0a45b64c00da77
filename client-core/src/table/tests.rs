//! The admin table's query: search, filters, sorts, pages and the URL.

use protocol::order::order_number;
use protocol::OrderStatus::{Cancelled, Pending, Shipped};

use super::{menus_html, page, pager_html, search_html, Query, Sort, KEYS, PAGE_SIZE};
use crate::fixtures::{cancelled, run, snapshot, updated};
use crate::state::AppState;

/// `n` orders `ord-0000`… with totals 1, 2, …; bob's every third, the
/// rest alice's; newest last.
fn shop(n: usize) -> AppState {
    let orders = (0..n)
        .map(|i| {
            let mut order = crate::fixtures::order(&format!("ord-{i:04}"), i as i64);
            order.total = (i + 1) as f64;
            if i % 3 == 0 {
                order.buyer_id = "bob".into();
            }
            order
        })
        .collect();
    run([snapshot(orders)])
}

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

fn ids(state: &AppState, query: &Query) -> Vec<String> {
    page(state, query).ids
}

fn query(f: impl FnOnce(&mut Query)) -> Query {
    let mut query = Query::default();
    f(&mut query);
    query
}

#[test]
fn search_filters_and_sorts_pick_the_rows() {
    let mut state = shop(10);
    for action in [
        updated("ord-0004", Shipped, 100),
        cancelled("ord-0005", 100),
    ] {
        crate::reduce::reduce(&mut state, action);
    }
    let bobs = ["ord-0009", "ord-0006", "ord-0003", "ord-0000"];
    let cases: Vec<(&str, Query, Vec<String>)> = vec![
        (
            "all, newest first",
            Query::default(),
            (0..10).rev().map(|i| format!("ord-{i:04}")).collect(),
        ),
        (
            "by status",
            query(|q| q.status = Some(Shipped)),
            owned(&["ord-0004"]),
        ),
        (
            "cancelled",
            query(|q| q.status = Some(Cancelled)),
            owned(&["ord-0005"]),
        ),
        (
            "by buyer",
            query(|q| q.buyer = Some("bob".into())),
            owned(&bobs),
        ),
        (
            "search a buyer, any case",
            query(|q| q.search = "BO".into()),
            owned(&bobs),
        ),
        (
            "search an id",
            query(|q| q.search = "ord-0007".into()),
            owned(&["ord-0007"]),
        ),
        (
            "filters and search together",
            query(|q| {
                q.buyer = Some("bob".into());
                q.status = Some(Pending);
                q.search = "00".into();
            }),
            owned(&bobs),
        ),
        (
            "nothing matches",
            query(|q| q.search = "zzz".into()),
            vec![],
        ),
        (
            "oldest first",
            query(|q| {
                q.sort = Sort::Oldest;
                q.buyer = Some("bob".into());
            }),
            owned(&["ord-0000", "ord-0003", "ord-0006", "ord-0009"]),
        ),
        (
            "highest total",
            query(|q| {
                q.sort = Sort::TotalDesc;
                q.buyer = Some("bob".into());
            }),
            owned(&bobs),
        ),
        (
            "lowest total",
            query(|q| {
                q.sort = Sort::TotalAsc;
                q.buyer = Some("bob".into());
            }),
            owned(&["ord-0000", "ord-0003", "ord-0006", "ord-0009"]),
        ),
    ];
    for (name, query, expected) in cases {
        assert_eq!(ids(&state, &query), expected, "{name}");
    }
}

#[test]
fn a_search_by_order_number_ignores_the_hash_and_case() {
    let state = shop(3);
    let number = order_number("ord-0002");
    for search in [number.clone(), format!("#{number}"), number.to_lowercase()] {
        assert_eq!(ids(&state, &query(|q| q.search = search)), ["ord-0002"]);
    }
}

#[test]
fn pages_cut_the_rows_and_a_page_past_the_end_shows_the_last() {
    let state = shop(2 * PAGE_SIZE + 7);
    let first = page(&state, &Query::default());
    assert_eq!(
        (first.ids.len(), first.matching, first.pages),
        (PAGE_SIZE, 2 * PAGE_SIZE + 7, 3)
    );
    let last = page(&state, &query(|q| q.page = 2));
    assert_eq!(last.ids.len(), 7);
    assert_eq!(last.ids.last().map(String::as_str), Some("ord-0000"));
    let past = page(&state, &query(|q| q.page = 99));
    assert_eq!((past.page, past.ids), (2, last.ids));
    let none = page(&AppState::default(), &Query::default());
    assert_eq!((none.matching, none.pages, none.page), (0, 1, 0));
}

#[test]
fn the_query_round_trips_through_the_url() {
    let asked = Query {
        search: "1A2B".into(),
        status: Some(Shipped),
        buyer: Some("bob".into()),
        sort: Sort::TotalAsc,
        page: 2,
    };
    // What `url::write_query` writes, and what `url::read_query` reads.
    let to_params = |query: &Query| -> Vec<(&str, String)> {
        KEYS.iter()
            .filter_map(|key| Some((*key, query.param(key)?)))
            .collect()
    };
    let from_params = |params: &[(&str, &str)]| {
        let mut query = Query::default();
        for (key, value) in params {
            query.set(key, value);
        }
        query
    };
    let params = to_params(&asked);
    assert_eq!(
        params,
        [
            ("q", "1A2B".to_owned()),
            ("status", "shipped".to_owned()),
            ("buyer", "bob".to_owned()),
            ("sort", "total-asc".to_owned()),
            ("page", "3".to_owned()),
        ]
    );
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = from_params(&pairs);
    assert_eq!(back, asked);
    assert!(to_params(&Query::default()).is_empty());
    // Unknown keys and values are ignored; a bad page is the first.
    let odd = from_params(&[
        ("status", "lost"),
        ("sort", "x"),
        ("page", "0"),
        ("token", "t"),
        ("page", "x"),
    ]);
    assert_eq!(odd, Query::default());
}

#[test]
fn the_menus_show_the_query_and_escape_every_text() {
    let query = Query {
        status: Some(Shipped),
        buyer: Some("<b>\"o'&".into()),
        sort: Sort::TotalAsc,
        ..Query::default()
    };
    let query = Query {
        search: "a\"><script>".into(),
        ..query
    };
    let html = menus_html(&query, &["alice".into(), "<b>\"o'&".into()]);
    assert!(
        !html.contains("script"),
        "the search is not among the menus"
    );
    assert_eq!(
        search_html(&query),
        "<label><span>Search</span><input type=\"search\" name=\"q\" \
         placeholder=\"Order number or buyer\" value=\"a&quot;&gt;&lt;script&gt;\"></label>"
    );
    assert!(html.contains(r#"<select name="status">"#));
    assert!(html.contains(r#"<option value="shipped" selected>Shipped</option>"#));
    assert!(html.contains(
        r#"<option value="&lt;b&gt;&quot;o&#39;&amp;" selected>&lt;b&gt;&quot;o&#39;&amp;</option>"#
    ));
    assert!(html.contains(r#"<option value="total-asc" selected>Lowest total</option>"#));
    assert!(!html.contains("<b>"), "{html}");
    assert_eq!(html.matches(" selected").count(), 3);
    // Each menu's name is the URL key its value sets.
    let mut back = Query::default();
    back.set("status", "shipped");
    back.set("buyer", "<b>\"o'&");
    back.set("sort", "total-asc");
    back.set("q", "a\"><script>");
    assert_eq!(back, query);
}

#[test]
fn the_pager_goes_one_page_each_way_and_stops_at_the_ends() {
    let state = shop(2 * PAGE_SIZE + 7);
    let first = pager_html(&page(&state, &Query::default()));
    assert_eq!(
        first,
        "<button class=\"btn\" aria-label=\"Previous page\" data-page=\"0\" disabled>Previous</button>\
         <span class=\"pager-at\">Page 1 of 3 · 107 orders</span>\
         <button class=\"btn\" aria-label=\"Next page\" data-page=\"1\">Next</button>"
    );
    let last = pager_html(&page(&state, &query(|q| q.page = 2)));
    assert!(last.contains(r#"data-page="1">Previous"#), "{last}");
    assert!(last.contains(r#"data-page="2" disabled>Next"#), "{last}");
    assert_eq!(
        pager_html(&page(&shop(3), &Query::default())),
        "",
        "one page: no pager"
    );
}
