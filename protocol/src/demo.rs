//! The demo shop's catalogue: what the browser's demo checkout puts in a
//! cart and what the relay's `--demo` simulator orders. One list, so the
//! demo's orders and the page's agree on ids, names and prices.

/// Things the demo shop sells: `(product id, name, unit price)`.
pub const CATALOGUE: [(&str, &str, f64); 6] = [
    ("p-kettle", "Electric kettle", 39.90),
    ("p-mug", "Stoneware mug", 12.50),
    ("p-beans", "Coffee beans 1 kg", 24.00),
    ("p-grinder", "Burr grinder", 89.00),
    ("p-filters", "Paper filters ×100", 4.90),
    ("p-scale", "Pour-over scale", 29.95),
];
