//! Data-quality findings: problems in the HR data a person should fix in Humaans.

use rustc_hash::{FxHashMap, FxHashSet};
use seatbroker_protocol::{Finding, FindingKind, PersonStatus, SeatState};

use crate::humaans::model::{JobRole, Person};

use super::pseudonym::normalise_email;

/// Longest list of other person ids named in a duplicate-email finding's detail.
const MAX_IDS_IN_DETAIL: usize = 5;

/// One person as the finding rules see them.
pub(crate) struct Subject<'a> {
    pub(crate) person: &'a Person,
    pub(crate) current_role: Option<&'a JobRole>,
    /// The manager on the current role ([`manager_of`]).
    pub(crate) manager: Option<&'a str>,
    pub(crate) state: &'a SeatState,
}

/// Findings for every subject whose state is not `offboarded`, unsorted. Without
/// `managers_recorded` (no job role names a manager), `no_manager` is left out: the engine
/// reports that once for the collection instead.
pub(crate) fn find(subjects: &[Subject<'_>], managers_recorded: bool) -> Vec<Finding> {
    let status_by_id: FxHashMap<&str, Option<&PersonStatus>> = subjects
        .iter()
        .map(|s| (s.person.id.as_str(), s.person.status.as_ref()))
        .collect();
    // People someone else reports to on their current role.
    let managers: FxHashSet<&str> = subjects
        .iter()
        .filter_map(|s| s.manager.filter(|m| *m != s.person.id))
        .collect();
    let duplicates = duplicate_emails(subjects);

    let mut findings = Vec::new();
    for (index, subject) in subjects.iter().enumerate() {
        if *subject.state == SeatState::Offboarded {
            continue;
        }
        let person = subject.person;
        let mut add = |kind: FindingKind, detail: Option<String>| {
            findings.push(Finding {
                person_id: person.id.clone(),
                kind,
                detail,
            });
        };
        match subject.current_role {
            None => add(FindingKind::NoCurrentJobRole, None),
            Some(_) => match subject.manager {
                // The top of the hierarchy manages others and has no manager.
                None if managers.contains(person.id.as_str()) || !managers_recorded => {}
                None => add(FindingKind::NoManager, None),
                Some(manager) => {
                    if let Some(Some(PersonStatus::Offboarded)) = status_by_id.get(manager) {
                        add(
                            FindingKind::ManagerOffboarded,
                            Some(format!("manager {manager} is offboarded")),
                        );
                    }
                }
            },
        }
        match (person.employment_start_date, person.employment_end_date) {
            (None, _) => add(FindingKind::NoStartDate, None),
            (Some(start), Some(end)) if end < start => add(
                FindingKind::EndBeforeStart,
                Some(format!("employment ends {end}, before it starts {start}")),
            ),
            _ => {}
        }
        if let Some(others) = &duplicates[index] {
            add(FindingKind::DuplicateWorkEmail, Some(others.clone()));
        }
    }
    findings
}

/// For each subject (by index), a detail naming the others when another non-offboarded
/// subject shares their normalised work email.
fn duplicate_emails(subjects: &[Subject<'_>]) -> Vec<Option<String>> {
    let mut by_email: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (index, subject) in subjects.iter().enumerate() {
        if *subject.state == SeatState::Offboarded {
            continue;
        }
        if let Some(email) = subject.person.email.as_deref() {
            let email = normalise_email(email);
            if !email.is_empty() {
                by_email.entry(email).or_default().push(index);
            }
        }
    }
    let mut details = vec![None; subjects.len()];
    for group in by_email.into_values().filter(|g| g.len() > 1) {
        let mut ids: Vec<&str> = group
            .iter()
            .map(|&i| subjects[i].person.id.as_str())
            .collect();
        ids.sort_unstable();
        for &index in &group {
            let own = subjects[index].person.id.as_str();
            // Only the first few ids are named, so a huge group stays linear.
            let named: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| *id != own)
                .take(MAX_IDS_IN_DETAIL)
                .collect();
            if named.is_empty() {
                // The same person listed twice is not a duplicate of anyone.
                continue;
            }
            let more = (ids.len() - 1).saturating_sub(named.len());
            details[index] = Some(shared_with(&named, more));
        }
    }
    details
}

fn shared_with(named: &[&str], more: usize) -> String {
    let mut detail = format!("work email shared with {}", named.join(", "));
    if more > 0 {
        detail.push_str(&format!(" and {more} more"));
    }
    detail
}

/// The manager's person id on a role; a blank id counts as none.
pub(crate) fn manager_of(role: &JobRole) -> Option<&str> {
    role.reporting_to
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
}
