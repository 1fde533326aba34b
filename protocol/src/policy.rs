use serde::{Deserialize, Serialize};

/// The rules the usage engine applies (DESIGN.md §2.2). A plain value: the agent reads it
/// from its configuration today, and the platform can send it in a status response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsagePolicy {
    /// A person whose employment ends within this many days is `leaving`.
    pub leaving_window_days: u32,
    /// An active person whose account is still unverified this many days after their start
    /// date is `inactive` with reason `never_verified`.
    pub unverified_grace_days: u32,
    /// Whether the `never_verified` rule applies at all. `isVerified` is a heuristic whose
    /// meaning Humaans does not document, so it can be switched off.
    pub never_verified_rule: bool,
    /// Offboarded people whose employment ended within this many days count as recent
    /// leavers in the summary.
    pub leavers_lookback_days: u32,
    /// Pre-hires starting within this many days count as upcoming in the summary.
    pub upcoming_start_days: u32,
}

impl Default for UsagePolicy {
    fn default() -> Self {
        Self {
            leaving_window_days: 30,
            unverified_grace_days: 30,
            never_verified_rule: true,
            leavers_lookback_days: 90,
            upcoming_start_days: 30,
        }
    }
}

/// A policy that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid usage policy: {field} = {value}: {reason}")]
pub struct PolicyError {
    pub field: &'static str,
    pub value: u32,
    pub reason: &'static str,
}

impl UsagePolicy {
    /// Longest window any field may have (ten years).
    pub const MAX_DAYS: u32 = 3650;

    /// Checks the policy; a nonsensical value is an error, never silently replaced.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fields = [
            ("leaving_window_days", self.leaving_window_days),
            ("unverified_grace_days", self.unverified_grace_days),
            ("leavers_lookback_days", self.leavers_lookback_days),
            ("upcoming_start_days", self.upcoming_start_days),
        ];
        for (field, value) in fields {
            if value > Self::MAX_DAYS {
                return Err(PolicyError {
                    field,
                    value,
                    reason: "must be at most 3650 days (ten years)",
                });
            }
        }
        if self.leavers_lookback_days == 0 {
            return Err(PolicyError {
                field: "leavers_lookback_days",
                value: 0,
                reason: "must be at least 1 day, or no leaver would ever be counted",
            });
        }
        Ok(())
    }
}
