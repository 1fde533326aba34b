//! What the token may see: `/api/token-info` when Humaans has it, else probing what
//! `/api/people` and `/api/job-roles` return. The endpoint is known from one public client
//! only, so a 404, 405, 400 or 403 there is normal, not an error.
//!
//! Without `private:read` Humaans hides new hires and offboarded people (reference notes
//! §2, "Visibility by scope"), so every seat count would be silently wrong. The agent
//! detects that and says so instead.

use serde::Deserialize;

use super::client::HumaansClient;
use super::error::HumaansError;
use super::paging::ListBody;

/// `/api/token-info` is missing or refused: 404, 403, 405, 400. (An answer without scopes
/// is treated the same way.)
fn token_info_unavailable(error: &HumaansError) -> bool {
    matches!(
        error,
        HumaansError::NotFound { .. }
            | HumaansError::Forbidden { .. }
            | HumaansError::Rejected {
                status: 400 | 405,
                ..
            }
    )
}

/// How `Access::private_access` was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessEvidence {
    /// `/api/token-info` listed the token's scopes.
    TokenInfo,
    /// `/api/token-info` is not available (404, 405, 400 or 403); the first page of people
    /// and of job roles were inspected: private access is assumed when a non-active person
    /// or a private field is visible and job roles can be read.
    Probe,
}

/// The result of [`HumaansClient::check_access`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The person who owns the token (`/api/me` or token-info), when known.
    pub person_id: Option<String>,
    /// The company id of the token owner, when known.
    pub company_id: Option<String>,
    /// The scopes, when `/api/token-info` told them.
    pub scopes: Option<Vec<String>>,
    /// Whether the token can read private data (pre-hires, leavers, end dates).
    pub private_access: bool,
    pub evidence: AccessEvidence,
}

/// The message shown when the token cannot read private data.
pub(crate) const NO_PRIVATE_ACCESS: &str = "the Humaans token lacks private:read: pre-hires and leavers are \
     invisible and end dates are hidden, so seat counts would be wrong; create a token with \
     'View public and private data' (Humaans menu > API access tokens > Generate new token) \
     and update the agent's token file";

impl Access {
    /// An actionable warning when the token cannot see everything the agent needs.
    pub fn warning(&self) -> Option<&'static str> {
        (!self.private_access).then_some(NO_PRIVATE_ACCESS)
    }
}

/// `/api/token-info` (unconfirmed endpoint; see the reference notes §1).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenInfo {
    #[serde(default)]
    person_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Me {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) company_id: Option<String>,
}

/// Fields that only a token with private access is expected to see filled.
const PRIVATE_FIELDS: [&str; 6] = [
    "employmentEndDate",
    "personalEmail",
    "birthday",
    "probationEndDate",
    "taxId",
    "leavingReason",
];

fn shows_private_data(person: &serde_json::Value) -> bool {
    let status = person.get("status").and_then(|s| s.as_str());
    if status.is_some_and(|s| s != "active") {
        return true;
    }
    PRIVATE_FIELDS
        .iter()
        .any(|f| person.get(*f).is_some_and(|v| !v.is_null()))
}

impl HumaansClient {
    /// Checks the token: rejected tokens fail with [`HumaansError::Unauthorized`]; a token
    /// without private read comes back with `private_access: false` (see
    /// `Access::warning`). Used by `seatbroker-agent check` and at the start of every
    /// collection.
    pub async fn check_access(&self) -> Result<Access, HumaansError> {
        let me = self.me().await?;
        match self.get_json::<TokenInfo>("/api/token-info").await {
            // An answer without scopes tells nothing (another shape, or not this endpoint).
            Ok(info) if !info.scopes.is_empty() => {
                let private_access = info.scopes.iter().any(|s| s == "private:read");
                Ok(Access {
                    person_id: info.person_id.or(me.id),
                    company_id: me.company_id,
                    scopes: Some(info.scopes),
                    private_access,
                    evidence: AccessEvidence::TokenInfo,
                })
            }
            answer => {
                match answer {
                    Err(error) if !token_info_unavailable(&error) => return Err(error),
                    Err(error) => {
                        tracing::info!(%error, "Humaans has no usable /api/token-info; judging the token's access from /api/people and /api/job-roles.");
                    }
                    Ok(_) => {
                        tracing::info!(
                            "Humaans' /api/token-info lists no scopes; judging the token's access from /api/people and /api/job-roles."
                        );
                    }
                }
                let private_access = self.probe_private_access().await?;
                Ok(Access {
                    person_id: me.id,
                    company_id: me.company_id,
                    scopes: None,
                    private_access,
                    evidence: AccessEvidence::Probe,
                })
            }
        }
    }

    /// Private access judged from answers: the first page of people shows a non-active
    /// person or a private field, and job roles (job titles and reporting lines, private
    /// data in Humaans' terms) can be read.
    async fn probe_private_access(&self) -> Result<bool, HumaansError> {
        // Any 250 people will do, so no sort order is asked for.
        let page: ListBody = self.get_json("/api/people?%24limit=250&%24skip=0").await?;
        let people_show_private = page.data.iter().any(|raw| {
            serde_json::from_str::<serde_json::Value>(raw.get())
                .is_ok_and(|person| shows_private_data(&person))
        });
        if !people_show_private {
            return Ok(false);
        }
        match self
            .get_json::<ListBody>("/api/job-roles?%24limit=1&%24skip=0")
            .await
        {
            Ok(_) => Ok(true),
            Err(HumaansError::Forbidden { .. }) => Ok(false),
            // No job-role listing at all: the people page is the only evidence.
            Err(HumaansError::NotFound { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn me(&self) -> Result<Me, HumaansError> {
        self.get_json("/api/me").await
    }
}
