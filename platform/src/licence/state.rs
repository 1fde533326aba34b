//! The seat state of one licence assignment after the join with HR, and plain-language
//! labels for states and reasons (the codes stay in CSV and JSON).

use serde::Serialize;

/// The state of an account x licence after the join, in rule order (first match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SeatLicenceState {
    /// An admin rule says the account is not a person's (guests by default).
    Excluded,
    /// The matched person left (offboarded, or ended but not offboarded in HR).
    Orphaned,
    /// The account is disabled but still holds the licence.
    DisabledHolding,
    /// No HR person matches the account.
    Unidentified,
    /// The matched person has not started yet.
    PreHire,
    /// The source could not read activity.
    UnknownActivity,
    NeverUsed,
    Idle,
    InUse,
}

impl SeatLicenceState {
    /// Every state, in rule order.
    pub(crate) const ALL: [SeatLicenceState; 9] = [
        Self::Excluded,
        Self::Orphaned,
        Self::DisabledHolding,
        Self::Unidentified,
        Self::PreHire,
        Self::UnknownActivity,
        Self::NeverUsed,
        Self::Idle,
        Self::InUse,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Excluded => "excluded",
            Self::Orphaned => "orphaned",
            Self::DisabledHolding => "disabled_holding",
            Self::Unidentified => "unidentified",
            Self::PreHire => "pre_hire",
            Self::UnknownActivity => "unknown_activity",
            Self::NeverUsed => "never_used",
            Self::Idle => "idle",
            Self::InUse => "in_use",
        }
    }

    /// The state stored as `code`, if the platform knows it.
    pub(crate) fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// Whether a seat in this state can be taken back (unassigned units count too).
    pub(crate) fn reclaimable(self) -> bool {
        matches!(
            self,
            Self::Orphaned | Self::DisabledHolding | Self::NeverUsed | Self::Idle
        )
    }

    /// What the state means, for a person reading the console.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Excluded => "Excluded by rule",
            Self::Orphaned => "Holder has left",
            Self::DisabledHolding => "Disabled account holds it",
            Self::Unidentified => "No matching person",
            Self::PreHire => "Holder not started yet",
            Self::UnknownActivity => "Activity unknown",
            Self::NeverUsed => "Never used",
            Self::Idle => "Idle",
            Self::InUse => "In use",
        }
    }
}

/// A reason code in plain words (the join's own reasons and the agent's); unknown codes
/// are shown as they are.
pub(crate) fn reason_label(code: &str) -> String {
    match code {
        "guest_account" => "guest account (default rule)".to_owned(),
        "account_type_rule" => "account type excluded by an admin rule".to_owned(),
        "login_pattern" => "sign-in name matches an exclusion pattern".to_owned(),
        "listed_account" => "account excluded by name".to_owned(),
        "person_offboarded" => "the person is offboarded in HR".to_owned(),
        "ended_not_offboarded" => {
            "the person's employment ended but HR has not offboarded them".to_owned()
        }
        "account_disabled" => "the account is disabled".to_owned(),
        "no_matching_person" => "no HR person has any of the account's addresses".to_owned(),
        "not_started" => "the person starts later".to_owned(),
        "activity_unavailable" => "the source cannot read sign-in activity".to_owned(),
        "grace_period" => "assigned recently, not used yet".to_owned(),
        "no_activity" => "never signed in".to_owned(),
        "no_recent_activity" => "no sign-in for longer than the idle threshold".to_owned(),
        "recent_activity" => "signed in recently".to_owned(),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_four_are_reclaimable() {
        for state in SeatLicenceState::ALL {
            assert_eq!(SeatLicenceState::parse(state.as_str()), Some(state));
        }
        let reclaimable: Vec<_> = SeatLicenceState::ALL
            .into_iter()
            .filter(|s| s.reclaimable())
            .map(SeatLicenceState::as_str)
            .collect();
        assert_eq!(
            reclaimable,
            ["orphaned", "disabled_holding", "never_used", "idle"]
        );
        assert_eq!(SeatLicenceState::parse("nope"), None);
        assert_eq!(reason_label("some_new_code"), "some new code");
    }
}
