//! The parts of Graph's answers the agent reads, parsed straight into reduced structs, and
//! their conversion to the licence engine's input. Unknown fields are ignored; `null`
//! lists are empty lists.

use chrono::{DateTime, Utc};
use seatbroker_protocol::AccountType;
use serde::{Deserialize, Deserializer};

use crate::engine::accounts::{Account, Held, Pool};

/// `GET /v1.0/subscribedSkus` item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub consumed_units: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub prepaid_units: PrepaidUnits,
    #[serde(default)]
    pub capability_status: Option<String>,
}

/// `prepaidUnits` of a SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepaidUnits {
    #[serde(default, deserialize_with = "null_default")]
    pub enabled: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub warning: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub suspended: u64,
}

impl SubscribedSku {
    /// One pool per SKU: purchased = `prepaidUnits.enabled`, assigned = `consumedUnits`.
    pub fn to_pool(&self) -> Pool {
        Pool {
            id: self.sku_id.clone(),
            name: self
                .sku_part_number
                .clone()
                .unwrap_or_else(|| self.sku_id.clone()),
            application: None,
            purchased: Some(self.prepaid_units.enabled),
            assigned: Some(self.consumed_units),
        }
    }
}

/// A `users` item with the selected properties.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub other_mails: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub proxy_addresses: Vec<String>,
    /// `null` is taken as enabled: only an explicit `false` marks a disabled account.
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_default")]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// Absent or `null`: never signed in.
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
}

/// One `assignedLicenses` item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    pub sku_id: String,
}

/// `signInActivity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    #[serde(default)]
    pub last_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_non_interactive_sign_in_date_time: Option<DateTime<Utc>>,
}

/// Only the id of a user record that could not be parsed.
#[derive(Debug, Deserialize)]
pub(crate) struct IdOnly {
    #[serde(default)]
    pub(crate) id: Option<serde_json::Value>,
}

/// One page of a Graph listing.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub(crate) value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub(crate) next_link: Option<String>,
}

impl User {
    /// The later of the interactive and non-interactive sign-ins; year 1 counts as absent.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        let activity = self.sign_in_activity.as_ref()?;
        [
            activity.last_sign_in_date_time,
            activity.last_non_interactive_sign_in_date_time,
        ]
        .into_iter()
        .flatten()
        .filter(|t| chrono::Datelike::year(t) > 1)
        .max()
    }

    /// The engine's view of the account. Aliases: `proxyAddresses` of type SMTP (the
    /// `smtp:` prefix removed, any case), then `otherMails`.
    pub fn to_account(&self) -> Account {
        let mut aliases = Vec::new();
        for address in &self.proxy_addresses {
            match address.split_once(':') {
                Some((kind, rest)) if kind.eq_ignore_ascii_case("smtp") => {
                    aliases.push(rest.to_owned())
                }
                // SIP:, X500: and other address types are not mail addresses.
                Some(_) => {}
                None => aliases.push(address.clone()),
            }
        }
        aliases.extend(self.other_mails.iter().cloned());
        Account {
            id: self.id.clone(),
            login: self.user_principal_name.clone(),
            email: self.mail.clone(),
            aliases,
            enabled: self.account_enabled != Some(false),
            account_type: match self.user_type.as_deref() {
                None => AccountType::Member,
                Some(t) if t.eq_ignore_ascii_case("member") => AccountType::Member,
                Some(t) if t.eq_ignore_ascii_case("guest") => AccountType::Guest,
                Some(other) => AccountType::Other(other.to_ascii_lowercase()),
            },
            created: self.created_date_time,
            last_activity: self.last_activity(),
            licences: self
                .assigned_licenses
                .iter()
                .map(|l| Held {
                    pool_id: l.sku_id.clone(),
                    assigned: None,
                })
                .collect(),
        }
    }
}

fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_with_nulls_and_year_one() {
        let user: User = serde_json::from_str(
            r#"{"id":"u1","userPrincipalName":"Ann@Acme.com","mail":null,"otherMails":null,
                "proxyAddresses":["SMTP:ann@acme.com","smtp:a@acme.com","SIP:ann@acme.com"],
                "accountEnabled":null,"userType":"Guest","createdDateTime":"2024-01-02T03:04:05Z",
                "assignedLicenses":[{"skuId":"s1","disabledPlans":[]}],
                "signInActivity":{"lastSignInDateTime":"2026-01-01T00:00:00Z",
                  "lastNonInteractiveSignInDateTime":"0001-01-01T00:00:00Z"},
                "futureField":{"x":1}}"#,
        )
        .unwrap();
        let account = user.to_account();
        assert_eq!(account.aliases, vec!["ann@acme.com", "a@acme.com"]);
        assert!(account.enabled);
        assert_eq!(account.account_type, AccountType::Guest);
        assert_eq!(
            account.last_activity,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(account.licences[0].pool_id, "s1");
        let never: User = serde_json::from_str(r#"{"id":"u2","signInActivity":null}"#).unwrap();
        assert_eq!(never.last_activity(), None);
    }
}
