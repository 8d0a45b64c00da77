//! Who a verified token names: its user id and whether it is an admin's,
//! read from the token's claims by the shop's rules (`--jwt-user-claim`,
//! `--jwt-admin-claim`). Pure: the signature, issuer, audience and expiry
//! were checked before (`web::auth`); this reads what they vouch for.

use protocol::Role;
use serde_json::{Map, Value};

use super::viewer::User;

/// Longest user id a token may carry (ids are keys in the relay's maps and
/// go into logs).
pub const MAX_USER_ID: usize = 256;

/// How a token's claims name its user and admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// The claim holding the user id (`sub` unless configured).
    pub user_claim: String,
    pub admin: AdminRule,
}

impl Default for ClaimRules {
    /// The relay's own tokens: `sub` and `role=admin`.
    fn default() -> ClaimRules {
        ClaimRules {
            user_claim: "sub".into(),
            admin: AdminRule::parse("role=admin").expect("a valid rule"),
        }
    }
}

/// Admin is `path=value`: the claim at `path` (dots walk into objects,
/// as in `realm_access.roles`) is the string `value`, or a list holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRule {
    path: Vec<String>,
    value: String,
}

impl AdminRule {
    /// Reads `role=admin` or `realm_access.roles=order-admin`.
    pub fn parse(text: &str) -> Result<AdminRule, String> {
        let (path, value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not `claim=value` (for example `role=admin` or `realm_access.roles=order-admin`)"))?;
        let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
        let value = value.trim();
        if path.iter().any(String::is_empty) || value.is_empty() {
            return Err(format!(
                "`{text}`: the claim path and the value must both be non-empty"
            ));
        }
        Ok(AdminRule {
            path,
            value: value.to_owned(),
        })
    }

    /// Whether these claims make their bearer an admin.
    pub fn matches(&self, claims: &Map<String, Value>) -> bool {
        let mut at = self.path.iter();
        let Some(first) = at.next() else { return false };
        let mut value = claims.get(first);
        for step in at {
            value = value.and_then(|v| v.get(step));
        }
        match value {
            Some(Value::String(s)) => *s == self.value,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(&self.value)),
            _ => false,
        }
    }
}

impl std::fmt::Display for AdminRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path.join("."), self.value)
    }
}

impl ClaimRules {
    /// The caller these claims name, valid until `expires_at` (seconds since
    /// the epoch). `Err` says which claim is missing or wrong.
    pub fn user(&self, claims: &Map<String, Value>, expires_at: u64) -> Result<User, String> {
        let id = match claims.get(&self.user_claim) {
            Some(Value::String(id)) if !id.trim().is_empty() => id,
            Some(Value::String(_)) => return Err(format!("empty `{}`", self.user_claim)),
            Some(_) => return Err(format!("`{}` is not a string", self.user_claim)),
            None => return Err(format!("no `{}` claim (the user id)", self.user_claim)),
        };
        if id.len() > MAX_USER_ID {
            return Err(format!(
                "`{}` is longer than {MAX_USER_ID} bytes",
                self.user_claim
            ));
        }
        let role = if self.admin.matches(claims) {
            Role::Admin
        } else {
            Role::User
        };
        Ok(User {
            id: id.clone(),
            role,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_default_rules_read_the_relays_own_tokens() {
        let rules = ClaimRules::default();
        let admin = rules
            .user(&claims(json!({"sub": "root", "role": "admin"})), 9)
            .unwrap();
        assert_eq!(
            (admin.id.as_str(), admin.role, admin.expires_at),
            ("root", Role::Admin, 9)
        );
        for user in [
            json!({"sub": "alice"}),
            json!({"sub": "alice", "role": "user"}),
            json!({"sub": "alice", "role": 1}),
        ] {
            assert_eq!(rules.user(&claims(user), 9).unwrap().role, Role::User);
        }
    }

    #[test]
    fn a_nested_list_claim_can_name_admins() {
        let rules = ClaimRules {
            user_claim: "preferred_username".into(),
            admin: AdminRule::parse("realm_access.roles=order-admin").unwrap(),
        };
        let token = |roles: Value| {
            claims(
                json!({"sub": "f81d4fae", "preferred_username": "carol", "realm_access": {"roles": roles}}),
            )
        };
        let admin = rules
            .user(&token(json!(["offline_access", "order-admin"])), 1)
            .unwrap();
        assert_eq!((admin.id.as_str(), admin.role), ("carol", Role::Admin));
        for not_admin in [
            json!(["order-admins"]),
            json!("order-admin-x"),
            json!({"order-admin": true}),
            json!(null),
        ] {
            assert_eq!(
                rules.user(&token(not_admin.clone()), 1).unwrap().role,
                Role::User,
                "{not_admin}"
            );
        }
        // A role at the top level does not count under another rule.
        let top = claims(json!({"preferred_username": "dave", "role": "admin"}));
        assert_eq!(rules.user(&top, 1).unwrap().role, Role::User);
    }

    #[test]
    fn a_token_without_a_usable_user_id_is_refused() {
        let rules = ClaimRules::default();
        for (bad, why) in [
            (json!({}), "no `sub` claim"),
            (json!({"sub": ""}), "empty `sub`"),
            (json!({"sub": "  "}), "empty `sub`"),
            (json!({"sub": 42}), "not a string"),
            (json!({"sub": "x".repeat(MAX_USER_ID + 1)}), "longer than"),
        ] {
            let error = rules.user(&claims(bad), 1).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }

    #[test]
    fn admin_rules_are_checked_when_read() {
        for bad in ["role", "=admin", "role=", "realm_access..roles=x", ""] {
            assert!(AdminRule::parse(bad).is_err(), "{bad}");
        }
        let rule = AdminRule::parse(" groups = shop-admins ").unwrap();
        assert_eq!(rule.to_string(), "groups=shop-admins");
    }
}
