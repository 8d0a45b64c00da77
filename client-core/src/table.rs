//! The admin's table of orders: which rows one page shows, for a search, two
//! filters, a sort and a page number, and how that query reads in the URL.
//!
//! Pure: it reads the state and returns ids. The page renders one page of
//! [`PAGE_SIZE`] rows whatever the shop holds, so 10,000 orders cost what 50
//! do in the DOM; filtering and sorting 10,000 orders is a pass over plain
//! data (client/tests/bench.rs measures both).

use protocol::{Order, OrderStatus};

use crate::state::AppState;

/// Rows on one page.
pub const PAGE_SIZE: usize = 50;

/// How the rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Placed, newest first (the list's own order).
    #[default]
    Newest,
    Oldest,
    /// Total, largest first.
    TotalDesc,
    TotalAsc,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Oldest, Sort::TotalDesc, Sort::TotalAsc];

    /// Its name in the URL (`sort=total-desc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::TotalDesc => "total-desc",
            Sort::TotalAsc => "total-asc",
        }
    }

    /// Its words in the sort menu.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest first",
            Sort::Oldest => "Oldest first",
            Sort::TotalDesc => "Highest total",
            Sort::TotalAsc => "Lowest total",
        }
    }

    pub fn parse(name: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What the admin asked the table for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Matches an order number (`1A2B`, `#1A2B3C4D`), an order id or a
    /// buyer, ignoring case. Empty matches everything.
    pub search: String,
    pub status: Option<OrderStatus>,
    pub buyer: Option<String>,
    pub sort: Sort,
    /// From 0.
    pub page: usize,
}

/// The URL's keys, so the page keeps any other parameter it finds.
pub const KEYS: [&str; 5] = ["q", "status", "buyer", "sort", "page"];

impl Query {
    /// Sets the part named by a URL key (a filter control carries the same
    /// name); an unknown key changes nothing, and an unknown value leaves the
    /// default: a bookmarked URL from another version still opens.
    pub fn set(&mut self, key: &str, value: &str) {
        match key {
            "q" => self.search = value.trim().to_owned(),
            "status" => self.status = OrderStatus::parse(value),
            "buyer" => self.buyer = (!value.is_empty()).then(|| value.to_owned()),
            "sort" => self.sort = Sort::parse(value).unwrap_or_default(),
            "page" => self.page = value.parse::<usize>().map_or(0, |p| p.saturating_sub(1)),
            _ => {}
        }
    }

    /// The value of the URL parameter `key` (one of [`KEYS`]), `None` when
    /// the query leaves it at its default.
    pub fn param(&self, key: &str) -> Option<String> {
        match key {
            "q" => Some(self.search.clone()).filter(|q| !q.is_empty()),
            "status" => self.status.map(|s| s.as_str().to_owned()),
            "buyer" => self.buyer.clone(),
            "sort" => (self.sort != Sort::Newest).then(|| self.sort.as_str().to_owned()),
            "page" => (self.page > 0).then(|| (self.page + 1).to_string()),
            _ => None,
        }
    }

    /// Whether an order passes the search and the filters.
    pub fn matches(&self, order: &Order) -> bool {
        self.status.is_none_or(|s| order.status == s)
            && self.buyer.as_deref().is_none_or(|b| order.buyer_id == b)
            && self.matches_search(order)
    }

    fn matches_search(&self, order: &Order) -> bool {
        // An order number is the id's last eight characters, so searching
        // the id finds it too.
        let needle = self.search.trim_start_matches('#');
        contains_ignoring_case(&order.order_id, needle)
            || contains_ignoring_case(&order.buyer_id, needle)
    }
}

/// Whether `needle` is in `haystack`, ASCII case ignored. A plain scan: the
/// standard library's substring search is several KB of the browser's
/// bundle, and ids and buyers are short.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// One page of the table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The rows' ids, in the table's order.
    pub ids: Vec<String>,
    /// How many orders match in all.
    pub matching: usize,
    /// The page shown (the query's, or the last one when it asks past it).
    pub page: usize,
    pub pages: usize,
}

/// The rows of `query`'s page: the orders being placed and the confirmed
/// ones ([`AppState::shown_ids`]), filtered, sorted, cut to one page.
pub fn page(state: &AppState, query: &Query) -> Page {
    let order = |id: &String| state.shown(id).map(|(order, _)| order);
    let mut ids: Vec<String> = state
        .shown_ids()
        .filter(|id| order(id).is_some_and(|o| query.matches(o)))
        .cloned()
        .collect();
    match query.sort {
        Sort::Newest => {}
        Sort::Oldest => ids.reverse(),
        Sort::TotalAsc | Sort::TotalDesc => {
            // By total, then as the list orders them (placed newest first,
            // then id): a total order, so the one unstable sort of the
            // bundle (`crate::sort`) gives one answer.
            let key = |id: &String| order(id).map(|o| (o.total, o.created_at));
            let descending = query.sort == Sort::TotalDesc;
            crate::sort::sort_strings(&mut ids, &mut |a, b| {
                let (Some(x), Some(y)) = (key(a), key(b)) else {
                    return b.cmp(a);
                };
                let by_total = if descending {
                    y.0.total_cmp(&x.0)
                } else {
                    x.0.total_cmp(&y.0)
                };
                by_total.then(y.1.cmp(&x.1)).then(b.cmp(a))
            });
        }
    }
    let matching = ids.len();
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.min(pages - 1);
    ids.truncate((page + 1) * PAGE_SIZE);
    let ids = ids.split_off(page * PAGE_SIZE);
    Page {
        ids,
        matching,
        page,
        pages,
    }
}

/// The search box as HTML, with the query's text, escaped. Drawn once: only
/// the admin's typing changes it, and a box redrawn under their typing would
/// lose its focus.
pub fn search_html(query: &Query) -> String {
    let mut html = String::from(
        "<label><span>Search</span><input type=\"search\" name=\"q\" \
         placeholder=\"Order number or buyer\" value=\"",
    );
    escape_into(&mut html, &query.search);
    html.push_str("\"></label>");
    html
}

/// The status, buyer and sort menus as HTML, each named by its URL key and
/// showing the query's value. Written as text, not as view code: the same
/// controls as views cost the browser's bundle several KB, and the page only
/// needs to hear their `input` events (one listener). Every text is
/// escaped. The search box is not among them ([`search_html`]): the menus
/// are redrawn when a new buyer appears.
pub fn menus_html(query: &Query, buyers: &[String]) -> String {
    let mut html = String::new();
    let mut menu =
        |label: &str, key: &str, chosen: &str, options: &mut dyn Iterator<Item = (&str, &str)>| {
            html.push_str("<label><span>");
            html.push_str(label);
            html.push_str("</span><select name=\"");
            html.push_str(key);
            html.push_str("\">");
            for (value, text) in options {
                html.push_str("<option value=\"");
                escape_into(&mut html, value);
                html.push('"');
                if value == chosen {
                    html.push_str(" selected");
                }
                html.push('>');
                escape_into(&mut html, text);
                html.push_str("</option>");
            }
            html.push_str("</select></label>");
        };
    let status = query.status.map_or("", OrderStatus::as_str);
    menu(
        "Status",
        "status",
        status,
        &mut std::iter::once(("", "All statuses")).chain(
            OrderStatus::ALL
                .iter()
                .map(|s| (s.as_str(), crate::format::status_label(*s))),
        ),
    );
    menu(
        "Buyer",
        "buyer",
        query.buyer.as_deref().unwrap_or(""),
        &mut std::iter::once(("", "All buyers"))
            .chain(buyers.iter().map(|b| (b.as_str(), b.as_str()))),
    );
    menu(
        "Sort",
        "sort",
        query.sort.as_str(),
        &mut Sort::ALL.iter().map(|s| (s.as_str(), s.label())),
    );
    html
}

/// The pager as HTML: "Previous" and "Next" carry the page they go to
/// (`data-page`, from 0) and are disabled at the ends; between them,
/// "Page 2 of 9 · 431 orders". Nothing when everything fits on one page.
pub fn pager_html(page: &Page) -> String {
    if page.pages <= 1 {
        return String::new();
    }
    let button = |html: &mut String, to: Option<usize>, name: &str, text: &str| {
        html.push_str("<button class=\"btn\" aria-label=\"");
        html.push_str(name);
        html.push_str("\" data-page=\"");
        html.push_str(&to.unwrap_or(page.page).to_string());
        html.push('"');
        if to.is_none() {
            html.push_str(" disabled");
        }
        html.push('>');
        html.push_str(text);
        html.push_str("</button>");
    };
    let mut html = String::new();
    button(
        &mut html,
        page.page.checked_sub(1),
        "Previous page",
        "Previous",
    );
    html.push_str(&format!(
        "<span class=\"pager-at\">Page {} of {} · {} orders</span>",
        page.page + 1,
        page.pages,
        page.matching
    ));
    let next = Some(page.page + 1).filter(|n| *n < page.pages);
    button(&mut html, next, "Next page", "Next");
    html
}

/// Appends `text` with `& < > " '` escaped, safe in HTML text and in a
/// quoted attribute.
fn escape_into(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
}

/// Every buyer, once each, sorted: the buyer filter's choices.
pub fn buyers(state: &AppState) -> Vec<String> {
    let mut buyers: Vec<String> = state
        .orders_newest_first()
        .map(|o| o.buyer_id.clone())
        .collect();
    crate::sort::sort_strings(&mut buyers, &mut |a, b| a.cmp(b));
    buyers.dedup();
    buyers
}

#[cfg(test)]
mod tests;
