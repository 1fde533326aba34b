//! Microsoft Entra ID (Microsoft 365 licences) through Microsoft Graph, app-only.
//!
//! [`EntraClient`] gets a client-credentials token from `{login_url}/{tenant}/oauth2/v2.0/token`
//! (cached, renewed before expiry and once on a 401), reads the tenant's licence pools
//! (`GET /v1.0/subscribedSkus`) and every user with their licences and sign-in activity
//! (`GET /v1.0/users`, following `@odata.nextLink` serially, 120 per page with
//! `signInActivity`). When Graph refuses sign-in activity (no Entra ID P1/P2, or no
//! `AuditLog.Read.All`) it collects again without it and says so (`activity_available`).
//! Throttling (429/503/504) honours `Retry-After`; a page that fails for good fails the
//! whole collection.
//!
//! [`to_licences`] turns a [`Directory`] into the snapshot's licence section through the
//! pure licence engine (`crate::engine::accounts`).

mod client;
mod config;
mod error;
mod model;
mod token;

use chrono::NaiveDate;
use seatbroker_protocol::{LicencePolicy, LicenceSnapshot, PolicyError};

pub use client::{
    Directory, EntraAccess, EntraClient, NO_ACTIVITY, NON_PREMIUM, REQUEST_DENIED, UserListing,
};
pub use config::{EntraConfig, PAGE_WITH_ACTIVITY, PAGE_WITHOUT_ACTIVITY};
pub use error::{EntraError, TokenProblem};
pub use model::{AssignedLicense, PrepaidUnits, SignInActivity, SubscribedSku, User};
pub use token::{NEEDED_PERMISSIONS, missing_permissions, token_roles};

use crate::engine::Pseudonymizer;
use crate::engine::accounts::evaluate_licences;

/// Evaluates a collected directory as of `today`: one pool per SKU, one account per user.
pub fn to_licences(
    directory: &Directory,
    policy: &LicencePolicy,
    today: NaiveDate,
    pseudonymizer: Option<&Pseudonymizer>,
) -> Result<LicenceSnapshot, PolicyError> {
    let accounts = directory.users.iter().map(User::to_account).collect();
    let pools = directory.skus.iter().map(SubscribedSku::to_pool).collect();
    let mut snapshot = evaluate_licences(
        accounts,
        pools,
        directory.activity_available,
        policy,
        today,
        pseudonymizer,
    )?;
    snapshot.unparsable_records = match pseudonymizer {
        // Parse errors may quote values (an address); a pseudonymised snapshot keeps the ids.
        Some(_) => directory
            .unparsable_users
            .iter()
            .map(|u| u.split(": ").next().unwrap_or_default().to_owned())
            .collect(),
        None => directory.unparsable_users.clone(),
    };
    Ok(snapshot)
}
