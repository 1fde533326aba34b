//! Plain words for the HR codes the console shows: seat states, their reasons and the
//! data-quality finding kinds. Pages show these; CSV and JSON keep the codes. An unknown
//! code (a newer agent) is shown as it is, underscores as spaces, never hidden.

/// An HR seat state (`active`, `inactive`...) in words.
pub(crate) fn state_label(code: &str) -> String {
    let text = match code {
        "active" => "Active",
        "leaving" => "Leaving soon",
        "inactive" => "Inactive (billable, unused)",
        "pre_hire" => "Pre-hire (not started)",
        "offboarded" => "Offboarded (left)",
        "unknown" => "Unknown HR status",
        other => return other.replace('_', " "),
    };
    text.to_owned()
}

/// The reason of an HR seat state in words.
pub(crate) fn reason_label(code: &str) -> String {
    let text = match code {
        "new_hire" => "new hire in Humaans, not started yet",
        "starts_in_future" => "employment starts in the future",
        "end_date_within_window" => "employment ends within the leaving window",
        "ended_not_offboarded" => "employment ended, but not offboarded in Humaans",
        "never_verified" => "never signed in to Humaans (heuristic)",
        "offboarded" => "offboarded in Humaans",
        "unknown_status" => "Humaans sent a status the agent does not know",
        other => return other.replace('_', " "),
    };
    text.to_owned()
}

/// A data-quality finding kind in words.
pub(crate) fn finding_label(code: &str) -> String {
    let text = match code {
        "no_current_job_role" => "No current job role",
        "no_manager" => "No manager",
        "no_start_date" => "No start date",
        "end_before_start" => "Employment ends before it starts",
        "duplicate_work_email" => "Work email shared with another person",
        "manager_offboarded" => "Manager is offboarded",
        other => return other.replace('_', " "),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatbroker_protocol::{FindingKind, SeatReason, SeatState};

    /// Every code the protocol knows has its own words (not the code with spaces).
    #[test]
    fn every_known_code_has_words() {
        for code in SeatState::KNOWN.iter().map(|c| c.as_str()) {
            assert_ne!(state_label(code), code.replace('_', " "), "{code}");
        }
        for code in SeatReason::KNOWN.iter().map(|c| c.as_str()) {
            assert_ne!(reason_label(code), code.replace('_', " "), "{code}");
        }
        for code in FindingKind::KNOWN.iter().map(|c| c.as_str()) {
            assert_ne!(finding_label(code), code.replace('_', " "), "{code}");
        }
        assert_eq!(state_label("some_new_state"), "some new state");
    }
}
