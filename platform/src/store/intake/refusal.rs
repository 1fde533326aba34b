//! Why an upload is refused, and the one approval check every intake step uses.

use seatbroker_protocol::SourceState;

/// Why a part was refused. Each maps to one protocol error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartRefusal {
    /// The source id is not one of this agent's sources.
    SourceForeign,
    SourcePending,
    SourceRejected,
    SourceRevoked,
    /// Same id, different content or metadata, or another agent's snapshot id.
    Conflict(String),
    /// Not newer than the last snapshot applied for this agent's source.
    Stale {
        sequence: u64,
        last_applied: i64,
    },
    /// The assembled snapshot does not match its checksum.
    ChecksumMismatch(String),
    /// The assembled payload does not decode or fails validation.
    PayloadInvalid(String),
    /// A licence delta whose base is not what the source holds: the agent sends the
    /// snapshot whole.
    BaseMismatch(String),
}

/// Whether a link may upload, given its own state and the state of the source it feeds
/// (`None` when it feeds none). Receiving a part and applying a snapshot both ask this,
/// so they never disagree.
///
/// Only an approved or merged link feeding an approved source may upload. A link state
/// this platform does not know (`Other`, e.g. written by a newer release) is refused as
/// not approved (`SourcePending`): nothing is stored, and the agent keeps its spool and
/// waits, which loses no data whichever way the state turns out.
pub(crate) fn approval(link: &SourceState, source_state: Option<&str>) -> Option<PartRefusal> {
    match link {
        SourceState::Approved | SourceState::Merged => match source_state {
            Some("approved") => None,
            // The source was revoked (or its row is gone): the link feeds nothing.
            _ => Some(PartRefusal::SourceRevoked),
        },
        SourceState::Rejected => Some(PartRefusal::SourceRejected),
        SourceState::Revoked => Some(PartRefusal::SourceRevoked),
        SourceState::Pending | SourceState::Other(_) => Some(PartRefusal::SourcePending),
    }
}

/// The refusal of a snapshot whose `sequence` is not newer than the link's last applied.
pub(crate) fn stale(sequence: u64, last_applied: Option<i64>) -> Option<PartRefusal> {
    let stored = i64::try_from(sequence).unwrap_or(i64::MAX);
    last_applied
        .filter(|last| stored <= *last)
        .map(|last| PartRefusal::Stale {
            sequence,
            last_applied: last,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_approved_link_of_an_approved_source_passes() {
        let check = |link: SourceState, source: Option<&str>, expected: Option<PartRefusal>| {
            assert_eq!(approval(&link, source), expected, "{link:?} / {source:?}");
        };
        check(SourceState::Approved, Some("approved"), None);
        check(SourceState::Merged, Some("approved"), None);
        check(
            SourceState::Approved,
            Some("revoked"),
            Some(PartRefusal::SourceRevoked),
        );
        check(SourceState::Merged, None, Some(PartRefusal::SourceRevoked));
        check(
            SourceState::Rejected,
            None,
            Some(PartRefusal::SourceRejected),
        );
        check(
            SourceState::Revoked,
            Some("approved"),
            Some(PartRefusal::SourceRevoked),
        );
        check(SourceState::Pending, None, Some(PartRefusal::SourcePending));
        check(
            SourceState::Other("paused".into()),
            Some("approved"),
            Some(PartRefusal::SourcePending),
        );
    }

    #[test]
    fn only_newer_sequences_pass() {
        assert_eq!(stale(3, None), None);
        assert_eq!(stale(3, Some(2)), None);
        assert_eq!(
            stale(2, Some(2)),
            Some(PartRefusal::Stale {
                sequence: 2,
                last_applied: 2
            })
        );
    }
}
