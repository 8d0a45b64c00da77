//! Who is asking, and the one rule of who sees an order.
//!
//! The rule, written once: **an admin sees every order; a buyer sees the
//! orders they own**, where the owner is decided by the order's
//! `order.created` (§1.5 of docs/PROTOCOL.md), and an order whose owner is
//! not known yet is for admins only. Snapshots, replays, live delivery,
//! held events released with their created event, and the HTTP API all ask
//! [`Viewer::sees`]; the registry's maps and the model's per-buyer lists are
//! indexes on this rule, never a second one.

use protocol::Role;

/// An authenticated caller: who they are, whether an admin, and until when
/// their credentials hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub role: Role,
    /// When the token stops being valid, in seconds since the Unix epoch.
    pub expires_at: u64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// What this caller may see.
    pub fn viewer(&self) -> Viewer<'_> {
        match self.role {
            Role::Admin => Viewer::Admin,
            Role::User => Viewer::Buyer(&self.id),
        }
    }
}

/// Whose orders a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// Every order, whoever owns it.
    Admin,
    /// The orders this buyer owns.
    Buyer(&'a str),
}

impl Viewer<'_> {
    /// Whether this viewer sees an order owned by `owner` (`None`: the owner
    /// is not known yet, so admins only).
    pub fn sees(self, owner: Option<&str>) -> bool {
        match self {
            Viewer::Admin => true,
            Viewer::Buyer(buyer) => owner == Some(buyer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, role: Role) -> User {
        User {
            id: id.into(),
            role,
            expires_at: u64::MAX,
        }
    }

    #[test]
    fn admins_see_every_order_buyers_their_own() {
        let cases = [
            (Viewer::Admin, Some("alice"), true),
            (Viewer::Admin, None, true),
            (Viewer::Buyer("alice"), Some("alice"), true),
            (Viewer::Buyer("alice"), Some("bob"), false),
            (Viewer::Buyer("alice"), None, false),
            // No prefix or case games: ids are compared whole.
            (Viewer::Buyer("alice"), Some("alice "), false),
            (Viewer::Buyer("alice"), Some("Alice"), false),
            (Viewer::Buyer(""), Some(""), true),
            (Viewer::Buyer(""), None, false),
        ];
        for (viewer, owner, sees) in cases {
            assert_eq!(viewer.sees(owner), sees, "{viewer:?} sees {owner:?}");
        }
    }

    #[test]
    fn the_role_decides_the_viewer_not_the_id() {
        assert_eq!(user("admin", Role::User).viewer(), Viewer::Buyer("admin"));
        assert_eq!(user("alice", Role::Admin).viewer(), Viewer::Admin);
    }
}
