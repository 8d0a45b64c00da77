//! The identity provider's keys, fetched and kept: the JWKS address from
//! `--jwt-jwks-url` or from OIDC discovery on `--jwt-issuer`; the set kept
//! for its HTTP cache lifetime (`Cache-Control: max-age`, clamped); fetched
//! again when a token names a `kid` the set lacks, at most once per
//! `--jwt-jwks-refresh-min-secs`, so a flood of made-up `kid`s costs the
//! provider one request per period; and the last good set kept while the
//! provider is down or answers nonsense.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::{HeaderMap, CACHE_CONTROL};
use serde::Deserialize;
use tokio::time::Instant;

use super::jwks::{KeySet, Lookup};
use super::AuthError;
use crate::metrics::{JwksFetch, Metrics};

/// How long a key set is kept when the provider says nothing about it.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// The longest a key set is kept, whatever the provider says: a key the
/// provider withdrew stops verifying within a day.
pub const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// One fetch's time limit.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 256 * 1024;

/// Where the keys are and how often they may be fetched.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The token issuer (`iss`); its discovery document names the JWKS when
    /// `jwks_url` is not given.
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
    /// The least time between two fetches that are not due (unknown `kid`s,
    /// failures).
    pub min_refresh: Duration,
}

/// What the relay knows of the provider's keys.
struct Cached {
    keys: Arc<KeySet>,
    /// When the set should be fetched again.
    stale_at: Instant,
}

pub struct Provider {
    settings: ProviderSettings,
    client: reqwest::Client,
    cached: RwLock<Option<Cached>>,
    /// Held through a fetch: callers that find the set wanting wait for the
    /// fetch under way instead of starting their own. Holds the JWKS address
    /// once known, and when the last fetch started.
    fetching: tokio::sync::Mutex<Fetching>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Fetching {
    jwks_url: Option<String>,
    last: Option<Instant>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Provider {
    pub fn new(settings: ProviderSettings, metrics: Arc<Metrics>) -> Provider {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("order-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default TLS");
        let jwks_url = settings.jwks_url.clone();
        Provider {
            settings,
            client,
            cached: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(Fetching {
                jwks_url,
                last: None,
            }),
            metrics,
        }
    }

    /// The key that verifies a token signed with `alg` under `kid`: from
    /// the kept set when it has the key and is not stale, else from a fresh
    /// one when a fetch is allowed.
    pub async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        if let Some((keys, fresh)) = self.kept() {
            match keys.find(kid, alg) {
                Lookup::Found(key) if fresh => return Ok(key.clone()),
                // Stale but holding the key: verify with it now and fetch
                // in the background, so no request waits on the provider
                // (nor fails while it is down).
                Lookup::Found(key) => {
                    let key = key.clone();
                    let provider = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Ok(fetching) = provider.fetching.try_lock() {
                            let _ = provider.refresh_locked(fetching, Instant::now()).await;
                        }
                    });
                    return Ok(key);
                }
                Lookup::WrongAlgorithm => return Err(wrong_algorithm(kid, alg)),
                Lookup::Unknown => {}
            }
        }
        let fetch_error = self.refresh().await.err();
        let Some((keys, _)) = self.kept() else {
            return Err(AuthError::KeysUnavailable(
                fetch_error.unwrap_or_else(|| "no key set fetched yet".into()),
            ));
        };
        match keys.find(kid, alg) {
            Lookup::Found(key) => Ok(key.clone()),
            Lookup::WrongAlgorithm => Err(wrong_algorithm(kid, alg)),
            Lookup::Unknown => Err(AuthError::Invalid(match kid {
                Some(kid) => format!("the identity provider has no key `{kid}`"),
                None => format!("no `kid`, and no single {alg:?} key to choose"),
            })),
        }
    }

    /// Fetches the set now (at start, so the first token does not wait).
    pub async fn warm_up(&self) {
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, "cannot fetch the identity provider's keys yet: tokens it signs are refused until it answers");
        }
    }

    fn kept(&self) -> Option<(Arc<KeySet>, bool)> {
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .map(|c| (Arc::clone(&c.keys), Instant::now() < c.stale_at))
    }

    /// Fetches the set unless one was fetched (or tried) within
    /// `min_refresh`; callers that come during a fetch wait for it and fetch
    /// nothing themselves.
    async fn refresh(&self) -> Result<(), String> {
        let started = Instant::now();
        let fetching = self.fetching.lock().await;
        self.refresh_locked(fetching, started).await
    }

    async fn refresh_locked(
        &self,
        mut fetching: tokio::sync::MutexGuard<'_, Fetching>,
        started: Instant,
    ) -> Result<(), String> {
        if let Some(last) = fetching.last {
            // Another caller fetched while this one waited, or one did
            // shortly before: take what it got.
            if last >= started || last.elapsed() < self.settings.min_refresh {
                return Ok(());
            }
        }
        fetching.last = Some(Instant::now());
        match self.fetch(&mut fetching).await {
            Ok((keys, max_age)) => {
                for skipped in &keys.skipped {
                    tracing::warn!(key = %skipped, "a key of the identity provider's JWKS is not used");
                }
                self.metrics.jwks_fetches.add(JwksFetch::Ok);
                self.metrics.jwks_keys.set(keys.len() as i64);
                tracing::info!(
                    keys = keys.len(),
                    max_age_secs = max_age.as_secs(),
                    "fetched the identity provider's keys"
                );
                *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
                    keys: Arc::new(keys),
                    stale_at: Instant::now() + max_age,
                });
                Ok(())
            }
            Err(error) => {
                self.metrics.jwks_fetches.add(JwksFetch::Failed);
                tracing::warn!(%error, "cannot fetch the identity provider's keys: keeping the last good ones");
                Err(error)
            }
        }
    }

    async fn fetch(&self, fetching: &mut Fetching) -> Result<(KeySet, Duration), String> {
        let url = match &fetching.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = self.discover().await?;
                fetching.jwks_url = Some(url.clone());
                url
            }
        };
        let (body, headers) = self.get(&url).await?;
        let keys = KeySet::parse(&body).map_err(|e| format!("{url}: {e}"))?;
        Ok((keys, max_age(&headers, self.settings.min_refresh)))
    }

    /// The JWKS address from the issuer's OpenID discovery document, whose
    /// `issuer` must be the configured one (OpenID Connect Discovery §4.3).
    async fn discover(&self) -> Result<String, String> {
        let issuer = self
            .settings
            .issuer
            .as_deref()
            .ok_or("neither --jwt-jwks-url nor --jwt-issuer is set")?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("{url}: not an OpenID discovery document ({e})"))?;
        if discovery.issuer != issuer {
            return Err(format!(
                "{url} names issuer `{}`, not `{issuer}`: set --jwt-issuer to the provider's issuer exactly",
                discovery.issuer
            ));
        }
        Ok(discovery.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<(Vec<u8>, HeaderMap), String> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{url}: {}", error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("{url}: the document is over {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, headers))
    }
}

fn wrong_algorithm(kid: Option<&str>, alg: Algorithm) -> AuthError {
    AuthError::Invalid(format!(
        "the key `{}` does not verify {alg:?} tokens",
        kid.unwrap_or_default()
    ))
}

/// An error with its causes, which reqwest keeps apart ("error sending
/// request" alone says nothing).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long to keep a key set: the response's `max-age`, no less than
/// `floor` (a provider saying `no-cache` would otherwise be asked on every
/// token) and no more than [`LONGEST_MAX_AGE`]; [`DEFAULT_MAX_AGE`] when it
/// says nothing.
pub fn max_age(headers: &HeaderMap, floor: Duration) -> Duration {
    let mut age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        for directive in value.to_str().unwrap_or_default().split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if let Some(secs) = directive.strip_prefix("max-age=") {
                age = secs
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            } else if directive == "no-cache" || directive == "no-store" {
                age = Some(Duration::ZERO);
            }
        }
    }
    age.unwrap_or(DEFAULT_MAX_AGE)
        .clamp(floor, LONGEST_MAX_AGE.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn the_cache_lifetime_follows_the_provider_within_bounds() {
        let floor = Duration::from_secs(10);
        let secs = |values: &[&str]| max_age(&with(values), floor).as_secs();
        assert_eq!(secs(&[]), DEFAULT_MAX_AGE.as_secs());
        assert_eq!(secs(&["public, max-age=3600"]), 3600);
        assert_eq!(secs(&["max-age=\"120\", must-revalidate"]), 120);
        assert_eq!(secs(&["no-cache"]), 10);
        assert_eq!(secs(&["no-store", "max-age=60"]), 60);
        assert_eq!(secs(&["max-age=1"]), 10);
        assert_eq!(secs(&["max-age=99999999"]), LONGEST_MAX_AGE.as_secs());
        assert_eq!(secs(&["max-age=soon"]), DEFAULT_MAX_AGE.as_secs());
    }
}
