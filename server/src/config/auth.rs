//! Who may call the relay: secret rotation, the shop's identity provider,
//! how its claims name users and admins, how sockets carry tokens, and
//! which other origins may call `/api` (CORS).

use std::time::Duration;

use clap::Args;

use super::kafka::Secret;
use crate::core::claims::{AdminRule, ClaimRules};

/// Identity flags (`relay --help`, "Identity").
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Identity")]
pub struct AuthSettings {
    /// Earlier HS256 secrets still accepted (never used to sign): during a
    /// rotation, tokens signed with the old secret keep working until they
    /// expire. Repeatable; the environment form is comma-separated.
    #[arg(
        long = "jwt-previous-secret",
        env = "JWT_PREVIOUS_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub jwt_previous_secrets: Vec<Secret>,

    /// The identity provider's issuer URL (the tokens' `iss`, checked when
    /// set). Its OpenID discovery document
    /// (`<issuer>/.well-known/openid-configuration`) names the key set
    /// unless --jwt-jwks-url does.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The identity provider's JWKS address: tokens signed with RS256/384/512,
    /// PS256/384/512, ES256/384 or EdDSA are verified with its keys.
    #[arg(long, env = "JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// The audience the provider's tokens must name (`aud`); repeatable, any
    /// one matches; the environment form is comma-separated. Unset: not
    /// checked.
    #[arg(long = "jwt-audience", env = "JWT_AUDIENCE", value_delimiter = ',')]
    pub jwt_audience: Vec<String>,

    /// The claim that holds the user id (orders belong to it).
    #[arg(long, env = "JWT_USER_CLAIM", default_value = "sub")]
    pub jwt_user_claim: String,

    /// Who is an admin: `claim=value`, the claim being that string or a list
    /// holding it; dots walk into objects (`realm_access.roles=order-admin`
    /// for Keycloak, `groups=order-admins`, `role=admin`).
    #[arg(long, env = "JWT_ADMIN_CLAIM", default_value = "role=admin")]
    pub jwt_admin_claim: String,

    /// Clock leeway for the provider's tokens' `exp` and `nbf`, in seconds
    /// (the relay's own HS256 tokens have none).
    #[arg(long, env = "JWT_LEEWAY_SECS", default_value_t = 30)]
    pub jwt_leeway_secs: u64,

    /// The least time between two fetches of the provider's keys that are
    /// not due, in seconds: a token with an unknown `kid` (a rotation)
    /// triggers a fetch at most this often.
    #[arg(long, env = "JWT_JWKS_REFRESH_MIN_SECS", default_value_t = 10)]
    pub jwt_jwks_refresh_min_secs: u64,

    /// Whether `/ws?token=<JWT>` is accepted. The token then sits in a URL,
    /// where proxies and servers log it: clients should open `/ws?auth=message`
    /// and send the token in an `auth` frame. Kept on for existing clients.
    #[arg(long, env = "WS_QUERY_TOKEN", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub ws_query_token: bool,

    /// An origin (`https://shop.example`) whose pages may call `/api` from
    /// the browser (CORS, preflight answered); repeatable, the environment
    /// form is comma-separated. Unset: same origin only.
    #[arg(long = "cors-origin", env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

/// An identity setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum AuthSettingError {
    #[error("--jwt-admin-claim {0}")]
    AdminRule(String),
    #[error("--jwt-user-claim must name a claim")]
    UserClaim,
    #[error("--{0} `{1}` is not an http(s) URL")]
    NotUrl(&'static str, String),
    #[error("--jwt-previous-secret: every secret must be at least 16 bytes long")]
    WeakPreviousSecret,
    #[error("--cors-origin `{0}` is not an origin: give scheme://host[:port] with no path, such as https://shop.example")]
    Origin(String),
}

impl AuthSettings {
    /// Whether tokens from an identity provider are accepted.
    pub fn has_provider(&self) -> bool {
        self.jwt_issuer.is_some() || self.jwt_jwks_url.is_some()
    }

    pub fn validate(&self) -> Result<(), AuthSettingError> {
        self.claim_rules()?;
        for (flag, url) in [
            ("jwt-issuer", &self.jwt_issuer),
            ("jwt-jwks-url", &self.jwt_jwks_url),
        ] {
            if let Some(url) = url {
                if !is_http_url(url) {
                    return Err(AuthSettingError::NotUrl(flag, url.clone()));
                }
            }
        }
        if self
            .jwt_previous_secrets
            .iter()
            .any(|s| s.expose().len() < 16)
        {
            return Err(AuthSettingError::WeakPreviousSecret);
        }
        if let Some(bad) = self.cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(AuthSettingError::Origin(bad.clone()));
        }
        Ok(())
    }

    /// How tokens' claims name users and admins.
    pub fn claim_rules(&self) -> Result<ClaimRules, AuthSettingError> {
        let user_claim = self.jwt_user_claim.trim();
        if user_claim.is_empty() {
            return Err(AuthSettingError::UserClaim);
        }
        Ok(ClaimRules {
            user_claim: user_claim.to_owned(),
            admin: AdminRule::parse(&self.jwt_admin_claim).map_err(AuthSettingError::AdminRule)?,
        })
    }

    pub fn jwks_refresh_min(&self) -> Duration {
        Duration::from_secs(self.jwt_jwks_refresh_min_secs)
    }
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

/// `scheme://host[:port]`, as a browser sends it in `Origin`.
fn is_origin(text: &str) -> bool {
    is_http_url(text)
        && text
            .split_once("://")
            .is_some_and(|(_, host)| !host.contains(['/', '?', '#', ' ', '*']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        auth: AuthSettings,
    }

    fn parse(args: &[&str]) -> AuthSettings {
        Flags::try_parse_from(std::iter::once("relay").chain(args.iter().copied()))
            .unwrap()
            .auth
    }

    #[test]
    fn the_defaults_read_the_relays_own_tokens() {
        let settings = parse(&[]);
        assert!(settings.validate().is_ok());
        assert!(!settings.has_provider());
        assert!(settings.ws_query_token);
        assert_eq!(settings.claim_rules().unwrap(), ClaimRules::default());
    }

    #[test]
    fn a_keycloak_style_setup_parses() {
        let settings = parse(&[
            "--jwt-issuer",
            "https://id.shop.example/realms/shop",
            "--jwt-audience",
            "order-relay",
            "--jwt-audience",
            "account",
            "--jwt-user-claim",
            "preferred_username",
            "--jwt-admin-claim",
            "realm_access.roles=order-admin",
            "--cors-origin",
            "https://shop.example",
            "--cors-origin",
            "http://localhost:8080",
            "--ws-query-token",
            "false",
        ]);
        assert!(settings.validate().is_ok());
        assert!(settings.has_provider());
        assert_eq!(settings.jwt_audience, ["order-relay", "account"]);
        assert!(!settings.ws_query_token);
        assert_eq!(
            settings.claim_rules().unwrap().user_claim,
            "preferred_username"
        );
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        for bad in [
            &["--jwt-admin-claim", "admin"][..],
            &["--jwt-user-claim", " "],
            &["--jwt-issuer", "id.shop.example"],
            &["--jwt-jwks-url", "file:///etc/jwks.json"],
            &["--jwt-previous-secret", "short"],
            &["--cors-origin", "https://shop.example/"],
            &["--cors-origin", "*"],
            &["--cors-origin", "shop.example"],
        ] {
            assert!(parse(bad).validate().is_err(), "{bad:?}");
        }
    }
}
