//! From an ID token's claims to a console user: the username and the role. Pure.

use serde_json::Value;

use crate::auth::Role;

/// Which claim holds the groups or roles, and which of its values give which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    /// The claim's name; a dotted path reaches into objects (`realm_access.roles`).
    pub claim: String,
    /// Values that make a user an admin.
    pub admin: Vec<String>,
    /// Values that make a user a viewer (admin wins when both match).
    pub viewer: Vec<String>,
    /// The role of a user whose values match neither list; `None` refuses them.
    pub default: Option<Role>,
}

/// A user the mapping gives no role: no configured value matched and there is no default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "your account is in none of the groups that may use the Seatbroker console (claim `{claim}` has {found} value(s), none of them mapped to admin or viewer); ask your identity administrator to add you to one"
)]
pub(crate) struct Unmapped {
    pub(crate) claim: String,
    pub(crate) found: usize,
}

/// The claim at a dotted `path` of `claims`, if present.
fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    path.split('.')
        .try_fold(claims, |value, key| value.get(key))
}

/// The claim's values: a string, or the strings of an array (other entries are ignored).
fn values(claim: Option<&Value>) -> Vec<&str> {
    match claim {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl RoleMapping {
    /// The role `claims` give: admin when a value is an admin value, else viewer when one is
    /// a viewer value, else the default, else [`Unmapped`].
    pub(crate) fn role(&self, claims: &Value) -> Result<Role, Unmapped> {
        let found = values(claim_at(claims, &self.claim));
        let any_of = |wanted: &[String]| found.iter().any(|v| wanted.iter().any(|w| w == v));
        if any_of(&self.admin) {
            Ok(Role::Admin)
        } else if any_of(&self.viewer) {
            Ok(Role::Viewer)
        } else {
            self.default.ok_or_else(|| Unmapped {
                claim: self.claim.clone(),
                found: found.len(),
            })
        }
    }
}

/// Why no username could be read from the claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoUsername {
    #[error(
        "the identity provider's token has no usable `{0}` claim to name the console user; the operator can choose another with --oidc-username-claim"
    )]
    Missing(String),
    #[error(
        "the identity provider says the email address {0} is not verified; verify it with the provider, or the operator can choose another --oidc-username-claim"
    )]
    Unverified(String),
}

/// The console username: the claim `claim` (a non-empty string of at most 200 characters,
/// trimmed). An `email` whose `email_verified` is `false` is refused.
pub(crate) fn username(claims: &Value, claim: &str) -> Result<String, NoUsername> {
    let value = claim_at(claims, claim)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.chars().count() <= 200 && !v.chars().any(char::is_control))
        .ok_or_else(|| NoUsername::Missing(claim.to_owned()))?;
    if claim == "email" && claims.get("email_verified") == Some(&Value::Bool(false)) {
        return Err(NoUsername::Unverified(value.to_owned()));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(claim: &str, default: Option<Role>) -> RoleMapping {
        RoleMapping {
            claim: claim.to_owned(),
            admin: vec!["sb-admins".to_owned()],
            viewer: vec!["sb-viewers".to_owned(), "finance".to_owned()],
            default,
        }
    }

    #[test]
    fn roles_from_groups_roles_and_nested_claims() {
        let check = |claim: &str, claims: Value, default: Option<Role>, expected: Option<Role>| {
            assert_eq!(
                mapping(claim, default).role(&claims).ok(),
                expected,
                "{claim} {claims}"
            );
        };
        let admin = Some(Role::Admin);
        let viewer = Some(Role::Viewer);
        check("groups", json!({"groups": ["x", "sb-admins"]}), None, admin);
        // Admin wins over viewer.
        check(
            "groups",
            json!({"groups": ["sb-viewers", "sb-admins"]}),
            None,
            admin,
        );
        check("groups", json!({"groups": ["finance"]}), None, viewer);
        // A single string (some providers send one role that way).
        check("roles", json!({"roles": "sb-admins"}), None, admin);
        // Keycloak's realm roles.
        check(
            "realm_access.roles",
            json!({"realm_access": {"roles": ["sb-viewers"]}}),
            None,
            viewer,
        );
        // Unmapped: refused without a default, the default otherwise.
        check("groups", json!({"groups": ["contractors"]}), None, None);
        check("groups", json!({}), None, None);
        check("groups", json!({"groups": [1, null]}), viewer, viewer);
        check("groups", json!({"groups": ["contractors"]}), admin, admin);
        // Matching is exact: no case folding, no prefixes.
        check(
            "groups",
            json!({"groups": ["SB-ADMINS", "sb-admins-x"]}),
            None,
            None,
        );
        let refused = mapping("groups", None)
            .role(&json!({"groups": ["a", "b"]}))
            .unwrap_err();
        assert_eq!(refused.found, 2);
        assert!(refused.to_string().contains("none of the groups"));
    }

    #[test]
    fn usernames_come_from_the_configured_claim() {
        let claims = json!({
            "sub": "123",
            "email": " ann@example.com ",
            "preferred_username": "ann@corp.example",
            "blank": "  ",
        });
        assert_eq!(username(&claims, "email").unwrap(), "ann@example.com");
        assert_eq!(
            username(&claims, "preferred_username").unwrap(),
            "ann@corp.example"
        );
        assert_eq!(
            username(&claims, "blank"),
            Err(NoUsername::Missing("blank".to_owned()))
        );
        assert!(username(&claims, "upn").is_err());
        let unverified = json!({"email": "bob@example.com", "email_verified": false});
        assert!(matches!(
            username(&unverified, "email"),
            Err(NoUsername::Unverified(_))
        ));
        let verified = json!({"email": "bob@example.com", "email_verified": true});
        assert_eq!(username(&verified, "email").unwrap(), "bob@example.com");
    }
}
