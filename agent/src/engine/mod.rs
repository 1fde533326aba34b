//! The seat-usage engine: pure functions from people, job roles, policy and "today" to seat
//! records, a summary and data-quality findings. No I/O, no clock: "today" is an argument,
//! so every rule can be tested exhaustively and a dry run can be replayed for any date.
//!
//! The rules are those of DESIGN.md §2.2, made exact in [`states::classify`] (seat states),
//! [`crate::humaans::model::current_role`] (which job role counts) and the findings module (data quality).
//! The output does not depend on the order of the input: seats are sorted by person id,
//! findings by person id and kind.

mod findings;
mod pseudonym;
mod states;
mod summary;

use chrono::NaiveDate;
use seatbroker_protocol::{Finding, PolicyError, SeatRecord, Summary, UsagePolicy};

use crate::humaans::model::{JobRole, Person, current_roles};

pub use pseudonym::{PseudonymKeyError, Pseudonymizer, normalise_email};
pub use states::{Classification, classify};
pub use summary::summarise;

/// Everything the engine computes for one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// One record per person, sorted by person id.
    pub seats: Vec<SeatRecord>,
    pub summary: Summary,
    /// Data-quality findings, sorted by person id, then kind.
    pub findings: Vec<Finding>,
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
    let current = current_roles(roles, today);

    let classified: Vec<(Classification, Option<&JobRole>)> = people
        .iter()
        .map(|p| {
            (
                classify(p, policy, today),
                current.get(p.id.as_str()).copied(),
            )
        })
        .collect();

    let subjects: Vec<findings::Subject<'_>> = people
        .iter()
        .zip(&classified)
        .map(|(person, (c, role))| findings::Subject {
            person,
            current_role: *role,
            state: &c.state,
        })
        .collect();
    let mut findings = findings::find(&subjects);
    findings.sort_unstable_by(|a, b| (&a.person_id, &a.kind).cmp(&(&b.person_id, &b.kind)));

    let mut seats: Vec<SeatRecord> = people
        .iter()
        .zip(classified)
        .map(|(person, (c, role))| seat_record(person, c, role, pseudonymizer))
        .collect();
    seats.sort_by(|a, b| a.person_id.cmp(&b.person_id));

    let summary = summarise(&seats, &findings, policy, today);
    Ok(Evaluation {
        seats,
        summary,
        findings,
    })
}

/// The minimised record of one person (DESIGN.md §2.1): nothing but these fields leaves
/// the site.
fn seat_record(
    person: &Person,
    classification: Classification,
    role: Option<&JobRole>,
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
        name,
        work_email,
        status: person
            .status
            .clone()
            .unwrap_or_else(|| seatbroker_protocol::PersonStatus::Other(String::new())),
        employment_start_date: person.employment_start_date,
        employment_end_date: person.employment_end_date,
        job_title: role.and_then(|r| r.job_title.clone()),
        department: role.and_then(|r| r.department.clone()),
        manager_id: role.and_then(findings::manager_of).map(str::to_owned),
        is_verified: person.is_verified,
        state: classification.state,
        reason: classification.reason,
        since: classification.since,
    }
}
