//! The browser client, served like a production web server.
//!
//! - Precompressed files (`.br`, `.gz`, written next to each file by the
//!   release build's hook, `.ci/precompress`) go to browsers that accept
//!   them; others get the plain file.
//! - Hashed file names (trunk's `client-<hash>_bg.wasm`, …) never change
//!   content: `Cache-Control: public, max-age=31536000, immutable`. Anything
//!   else (`index.html`, the route fallback) is `no-cache`: revalidated on
//!   every visit, so a new release is picked up at once.
//! - A Content-Security-Policy that allows only this origin's scripts, the
//!   WebAssembly compile, and the hashes of `index.html`'s inline scripts
//!   (trunk's loader), computed from the file at start-up; no framing.
//!   Every response of the relay carries the security headers (see
//!   [`security_headers`]); the CSP is set on pages.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

/// The router that serves `dir`, unknown paths getting `index.html` so that
/// client-side routes survive a reload.
pub fn router(dir: &Path) -> Router {
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap_or_else(|e| {
        tracing::warn!(
            "cannot read {}: {e}; serving without a CSP for inline scripts",
            dir.join("index.html").display()
        );
        String::new()
    });
    let csp = HeaderValue::from_str(&content_security_policy(&html))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let csp = csp.clone();
            async move {
                let immutable = is_hashed(request.uri().path());
                let mut response = next.run(request).await;
                let headers = response.headers_mut();
                let cache = if immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
                response
            }
        }))
}

/// Headers every response gets: no MIME sniffing, no referrer to other
/// sites, no framing by anyone.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether a path names a content-hashed file (`name-<hex>.ext` or
/// `name-<hex>_bg.wasm`, as trunk writes them). Trunk writes its 64-bit
/// hash without leading zeros, so a name may carry fewer than 16 digits
/// (one in 4,096 has 13 or fewer: CI met `tabs-a0c90a10daf81.js`); 10 or
/// more are taken as a hash, which fewer than one name in 16 million lacks.
const MIN_HASH_DIGITS: usize = 10;

fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        hash.len() >= MIN_HASH_DIGITS && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The policy for a page: scripts from this origin and the inline scripts
/// of this page (by hash), WebAssembly compilation, styles and connections
/// (`/api`, `/ws`) to this origin only, no plugins, no framing.
fn content_security_policy(html: &str) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (tag, body) = rest.split_once('>')?;
        let (body, _) = body.split_once("</script>")?;
        (!tag.contains("src=")).then_some(body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_names_with_a_hash_are_immutable_and_nothing_else() {
        assert!(is_hashed("/client-3f6a1b2c4d5e6f70_bg.wasm"));
        assert!(is_hashed("/client-3f6a1b2c4d5e6f70.js"));
        assert!(is_hashed("/main-0123456789abcdef.css"));
        // A hash with leading zeros, which trunk drops.
        assert!(is_hashed("/tabs-a0c90a10daf81.js"));
        assert!(!is_hashed("/"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/orders"));
        assert!(!is_hashed("/client-1234.js"));
        assert!(!is_hashed("/client-zzzzzzzzzzzzzzzz.js"));
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_scripts() {
        let html = r#"<head><script type="module">import init from '/a.js';</script>
            <script src="/b.js"></script></head>"#;
        let scripts: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(scripts, ["import init from '/a.js';"]);
        let csp = content_security_policy(html);
        let digest = Sha256::digest(b"import init from '/a.js';");
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
