//! The seat-usage engine: pure functions from people, job roles, policy and "today" to seat
//! records, a summary and data-quality findings. No I/O, no clock: "today" is an argument,
//! so every rule can be tested exhaustively and a dry run can be replayed for any date.
//!
//! The rules are those of DESIGN.md §2.2 (exact wording in `helpers/COMMON.md`), made
//! exact in [`classify`] (seat states), [`crate::humaans::model::current_role`] (which job
//! role counts) and the findings module (data quality).
//! The output does not depend on the order of the input: seats are sorted by person id,
//! findings by person id and kind.
//!
//! Cost: O((people + roles) · log people); 100,000 people and 250,000 roles take a few
//! hundred milliseconds at most (`cargo run --release -p seatbroker-agent --example
//! engine_bench`). The indexes use `rustc-hash` (fast, not DoS-resistant): the input is the
//! customer's own HR data, and the worst an adversarial id set can do is slow one run.

pub mod accounts;
mod findings;
mod pseudonym;
mod states;
mod summary;

use std::collections::hash_map::Entry;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use seatbroker_protocol::{Finding, PolicyError, SeatRecord, Summary, UsagePolicy};

use crate::humaans::model::{JobRole, Person, current_role, last_known_role};

pub use pseudonym::Pseudonymizer;
pub(crate) use pseudonym::{PseudonymKeyError, normalise_email};
pub(crate) use states::Classification;
pub use states::classify;
pub(crate) use summary::summarise;

/// Everything the engine computes for one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// One record per person, sorted by person id.
    pub seats: Vec<SeatRecord>,
    pub summary: Summary,
    /// Data-quality findings, sorted by person id, then kind.
    pub findings: Vec<Finding>,
    /// Remarks about the whole collection instead of one person, in a fixed order.
    pub warnings: Vec<CollectionWarning>,
}

/// A data-quality remark about the whole collection rather than one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionWarning {
    /// Not one job role names a manager: the manager field is not filled in this company
    /// (or Humaans names it in a way the agent does not read), so `no_manager` is left out
    /// instead of being reported for every person.
    NoManagerOnAnyJobRole { job_roles: usize },
}

impl std::fmt::Display for CollectionWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectionWarning::NoManagerOnAnyJobRole { job_roles } => write!(
                f,
                "none of the {job_roles} job roles read from Humaans names a manager \
                 (reportingTo or managerId), so no_manager is not reported for each person; \
                 if your company keeps reporting lines in Humaans, the API names the manager \
                 differently: report this message with the agent version"
            ),
        }
    }
}

/// Computes every person's seat, the summary and the findings as of `today`.
///
/// The policy is validated first: a nonsensical policy is an error, never silently
/// replaced. With a `pseudonymizer`, seat records carry keyed pseudonyms instead of names
/// and work emails (duplicate detection still compares the real emails).
///
/// Person ids are expected to be unique (the Humaans client removes duplicates).
/// Runs in O((people + roles) · log people).
pub fn evaluate(
    people: &[Person],
    roles: &[JobRole],
    policy: &UsagePolicy,
    today: NaiveDate,
    pseudonymizer: Option<&Pseudonymizer>,
) -> Result<Evaluation, PolicyError> {
    policy.validate()?;
    let current = current_role_index(roles, today);

    // Work in person-id order from the start: seats come out sorted, findings nearly so,
    // and only references move while sorting (a stable sort keeps the result independent of
    // the input order).
    let mut people: Vec<&Person> = people.iter().collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));

    let classified: Vec<(Classification, Option<&JobRole>)> = people
        .iter()
        .map(|p| {
            (
                classify(p, policy, today),
                current.get(p.id.as_str()).copied(),
            )
        })
        .collect();

    let managers: Vec<Option<&str>> = classified
        .iter()
        .map(|(_, role)| role.and_then(findings::manager_of))
        .collect();
    let subjects: Vec<findings::Subject<'_>> = people
        .iter()
        .zip(&classified)
        .zip(&managers)
        .map(|((person, (c, role)), manager)| findings::Subject {
            person,
            current_role: *role,
            manager: *manager,
            state: &c.state,
        })
        .collect();
    // A company that keeps no reporting lines in Humaans would otherwise get `no_manager`
    // on every person: one collection-level warning says it once.
    let any_manager = roles.iter().any(|r| findings::manager_of(r).is_some());
    let mut warnings = Vec::new();
    if !any_manager && !roles.is_empty() {
        warnings.push(CollectionWarning::NoManagerOnAnyJobRole {
            job_roles: roles.len(),
        });
    }
    let mut findings = findings::find(&subjects, any_manager);
    // Already grouped by person; this orders the kinds within each person.
    findings.sort_by(|a, b| (&a.person_id, &a.kind).cmp(&(&b.person_id, &b.kind)));

    // Leavers and pre-hires have no current role: their seat shows the last known one
    // (or the coming one), so they keep a department and manager on the reports.
    let fallback = last_known_role_index(roles, today, &current);
    let seats: Vec<SeatRecord> = people
        .iter()
        .zip(classified)
        .zip(managers)
        .map(|((person, (c, role)), manager)| {
            let (role, manager) = match role {
                Some(role) => (Some(role), manager),
                None => {
                    let role = fallback.get(person.id.as_str()).copied();
                    (role, role.and_then(findings::manager_of))
                }
            };
            seat_record(person, c, role, manager, pseudonymizer)
        })
        .collect();

    let summary = summarise(&seats, &findings, policy, today);
    Ok(Evaluation {
        seats,
        summary,
        findings,
        warnings,
    })
}

/// Each person's current job role, in one pass over all roles and without a list per
/// person. The choice itself is [`current_role`]'s (the one implementation of the rule):
/// the best role so far competes with each further role of the same person.
fn current_role_index(roles: &[JobRole], today: NaiveDate) -> FxHashMap<&str, &JobRole> {
    let mut index: FxHashMap<&str, &JobRole> = FxHashMap::default();
    for role in roles {
        match index.entry(role.person_id.as_str()) {
            Entry::Occupied(mut best) => {
                if let Some(winner) = current_role([*best.get(), role], today) {
                    best.insert(winner);
                }
            }
            Entry::Vacant(slot) => {
                if let Some(role) = current_role([role], today) {
                    slot.insert(role);
                }
            }
        }
    }
    index
}

/// For each person without a current role, [`last_known_role`]'s choice, in one pass:
/// the best role so far competes with each further role of the same person.
fn last_known_role_index<'a>(
    roles: &'a [JobRole],
    today: NaiveDate,
    current: &FxHashMap<&str, &JobRole>,
) -> FxHashMap<&'a str, &'a JobRole> {
    let mut index: FxHashMap<&str, &JobRole> = FxHashMap::default();
    for role in roles {
        if current.contains_key(role.person_id.as_str()) {
            continue;
        }
        match index.entry(role.person_id.as_str()) {
            Entry::Occupied(mut best) => {
                if let Some(winner) = last_known_role([*best.get(), role], today) {
                    best.insert(winner);
                }
            }
            Entry::Vacant(slot) => {
                if let Some(role) = last_known_role([role], today) {
                    slot.insert(role);
                }
            }
        }
    }
    index
}

/// The minimised record of one person (DESIGN.md §2.1): nothing but these fields leaves
/// the site.
fn seat_record(
    person: &Person,
    classification: Classification,
    role: Option<&JobRole>,
    manager: Option<&str>,
    pseudonymizer: Option<&Pseudonymizer>,
) -> SeatRecord {
    let email = person
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let name = person.display_name();
    let (name, work_email) = match pseudonymizer {
        Some(p) => (name.map(|n| p.name(&n)), email.map(|e| p.email(e))),
        None => (name, email.map(str::to_owned)),
    };
    SeatRecord {
        person_id: person.id.clone(),
        name: without_nul(name),
        work_email: without_nul(work_email),
        status: person
            .status
            .clone()
            .unwrap_or_else(|| seatbroker_protocol::PersonStatus::Other(String::new())),
        employment_start_date: person.employment_start_date,
        employment_end_date: person.employment_end_date,
        job_title: without_nul(role.and_then(|r| r.job_title.clone())),
        department: without_nul(role.and_then(|r| r.department.clone())),
        manager_id: manager.map(str::to_owned),
        is_verified: person.is_verified,
        state: classification.state,
        reason: classification.reason,
        since: classification.since,
    }
}

/// Free text from Humaans without NUL characters, which no database column accepts and the
/// platform refuses; everything else is kept as typed.
fn without_nul(text: Option<String>) -> Option<String> {
    text.map(|t| {
        if t.contains('\0') {
            t.replace('\0', "")
        } else {
            t
        }
    })
}
