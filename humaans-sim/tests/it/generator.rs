//! The generator: determinism, every category present, and every planted person checked
//! against an independent implementation of the seat-state and findings rules (COMMON.md).

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, TimeDelta};
use humaans_sim::{Category, Company, CompanySpec, Finding, SeatReason, SeatState};
use serde_json::Value;

use crate::support::as_of;

fn spec(people: usize, seed: u64, as_of: NaiveDate) -> CompanySpec {
    CompanySpec::new(people, seed, as_of)
}

fn date(value: &Value, key: &str) -> Option<NaiveDate> {
    value
        .get(key)?
        .as_str()
        .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

/// The seat rules of COMMON.md, written from the text, over the served JSON.
fn seat(person: &Value, t: NaiveDate) -> (&'static str, Option<&'static str>, Option<NaiveDate>) {
    let s = date(person, "employmentStartDate");
    let e = date(person, "employmentEndDate");
    let verified = person.get("isVerified").and_then(Value::as_bool);
    match person.get("status").and_then(Value::as_str) {
        Some("offboarded") => ("offboarded", Some("offboarded"), e),
        Some("newHire") => ("pre_hire", Some("new_hire"), s),
        Some("active") => {
            if s.is_some_and(|s| s > t) {
                ("pre_hire", Some("starts_in_future"), s)
            } else if let Some(e) = e.filter(|&e| e < t) {
                ("inactive", Some("ended_not_offboarded"), Some(e))
            } else if let Some(s) =
                s.filter(|&s| verified == Some(false) && t >= s + TimeDelta::days(30))
            {
                (
                    "inactive",
                    Some("never_verified"),
                    Some(s + TimeDelta::days(30)),
                )
            } else if let Some(e) = e.filter(|&e| (e - t).num_days() <= 30) {
                ("leaving", Some("end_date_within_window"), Some(e))
            } else {
                ("active", None, None)
            }
        }
        _ => ("unknown", Some("unknown_status"), None),
    }
}

/// Current job role: effectiveDate <= t (or missing), endDate missing or >= t; greatest
/// effectiveDate, ties by greatest id.
fn current_role<'a>(roles: &[&'a Value], t: NaiveDate) -> Option<&'a Value> {
    roles
        .iter()
        .copied()
        .filter(|r| date(r, "effectiveDate").is_none_or(|d| d <= t))
        .filter(|r| date(r, "endDate").is_none_or(|d| d >= t))
        .max_by(|a, b| {
            (date(a, "effectiveDate"), a["id"].as_str())
                .cmp(&(date(b, "effectiveDate"), b["id"].as_str()))
        })
}

fn findings(company: &Company, t: NaiveDate) -> HashMap<String, Vec<&'static str>> {
    let people: Vec<Value> = company
        .people()
        .iter()
        .map(|p| serde_json::from_str(&p.json()).unwrap())
        .collect();
    let roles: Vec<Value> = company
        .job_roles()
        .iter()
        .map(|r| serde_json::from_str(r.json()).unwrap())
        .collect();
    let mut roles_of: HashMap<&str, Vec<&Value>> = HashMap::new();
    for role in &roles {
        roles_of
            .entry(role["personId"].as_str().unwrap())
            .or_default()
            .push(role);
    }
    let status: HashMap<&str, Option<&str>> = people
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["status"].as_str()))
        .collect();
    let current: HashMap<&str, Option<&Value>> = people
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap();
            (
                id,
                current_role(roles_of.get(id).map_or(&[][..], |r| r.as_slice()), t),
            )
        })
        .collect();
    let managers: HashSet<&str> = current
        .values()
        .flatten()
        .filter_map(|r| r["reportingTo"].as_str())
        .collect();
    let mut emails: HashMap<String, usize> = HashMap::new();
    for p in &people {
        if let Some(email) = p["email"].as_str() {
            *emails.entry(email.trim().to_lowercase()).or_default() += 1;
        }
    }
    let mut out = HashMap::new();
    for p in &people {
        let id = p["id"].as_str().unwrap();
        let mut found = Vec::new();
        if seat(p, t).0 != "offboarded" {
            match current[id] {
                None => found.push("no_current_job_role"),
                Some(role) => match role["reportingTo"].as_str() {
                    None if !managers.contains(id) => found.push("no_manager"),
                    Some(m) if status.get(m).copied().flatten() == Some("offboarded") => {
                        found.push("manager_offboarded")
                    }
                    _ => {}
                },
            }
            let s = date(p, "employmentStartDate");
            if s.is_none() {
                found.push("no_start_date");
            }
            if let (Some(s), Some(e)) = (s, date(p, "employmentEndDate"))
                && e < s
            {
                found.push("end_before_start");
            }
            if p["email"]
                .as_str()
                .is_some_and(|e| emails[&e.trim().to_lowercase()] > 1)
            {
                found.push("duplicate_work_email");
            }
        }
        found.sort();
        out.insert(id.to_owned(), found);
    }
    out
}

fn check(people: usize, seed: u64, t: NaiveDate) {
    let company = Company::generate(&spec(people, seed, t)).unwrap();
    let truth = company.truth();
    assert_eq!(truth.counts.total(), people as u64, "truth sums to N");
    let mut states: HashMap<&str, u64> = HashMap::new();
    let mut reasons: HashMap<&str, u64> = HashMap::new();
    let expected_findings = findings(&company, t);
    for planted in company.people() {
        let json: Value = serde_json::from_str(&planted.json()).unwrap();
        let (state, reason, since) = seat(&json, t);
        let context = format!(
            "N={people} seed={seed} {:?} {}",
            planted.category, planted.id
        );
        assert_eq!(state, planted.expected.state.as_str(), "{context}");
        assert_eq!(
            reason,
            planted.expected.reason.map(SeatReason::as_str),
            "{context}"
        );
        assert_eq!(since, planted.expected.since, "{context}");
        assert_eq!(
            planted.category.state(),
            planted.expected.state,
            "{context}"
        );
        let mut planted_findings: Vec<&str> = planted.findings.iter().map(|f| f.as_str()).collect();
        planted_findings.sort();
        assert_eq!(
            planted_findings, expected_findings[&planted.id],
            "{context}"
        );
        *states.entry(state).or_default() += 1;
        if let Some(reason) = reason {
            *reasons.entry(reason).or_default() += 1;
        }
    }
    let count = |state: SeatState| states.get(state.as_str()).copied().unwrap_or(0);
    assert_eq!(truth.counts.pre_hire, count(SeatState::PreHire));
    assert_eq!(truth.counts.active, count(SeatState::Active));
    assert_eq!(truth.counts.leaving, count(SeatState::Leaving));
    assert_eq!(truth.counts.inactive, count(SeatState::Inactive));
    assert_eq!(truth.counts.offboarded, count(SeatState::Offboarded));
    assert_eq!(truth.counts.unknown, count(SeatState::Unknown));
    assert_eq!(
        truth.inactive_reasons.ended_not_offboarded,
        reasons.get("ended_not_offboarded").copied().unwrap_or(0)
    );
    assert_eq!(
        truth.inactive_reasons.never_verified,
        reasons.get("never_verified").copied().unwrap_or(0)
    );
    let finding_total: usize = expected_findings.values().map(Vec::len).sum();
    let f = &truth.findings;
    let truth_total = f.no_current_job_role
        + f.no_manager
        + f.no_start_date
        + f.end_before_start
        + f.duplicate_work_email
        + f.manager_offboarded;
    assert_eq!(truth_total as usize, finding_total);
}

#[test]
fn planted_people_satisfy_the_rules_of_their_category() {
    for people in [1, 2, 3, 5, 9, 10, 11, 20, 50, 137] {
        check(people, 5, as_of());
    }
    for (seed, date) in [(1, "2026-01-01"), (2, "2024-02-29"), (99, "2030-12-31")] {
        check(
            3_000,
            seed,
            NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
        );
    }
}

#[test]
fn every_category_and_finding_is_planted_from_fifty_people() {
    for (people, seed) in [(50, 1), (50, 2), (64, 3), (200, 4), (5_000, 5)] {
        let company = Company::generate(&spec(people, seed, as_of())).unwrap();
        let present: HashSet<Category> = company.people().iter().map(|p| p.category).collect();
        for category in Category::ALL {
            assert!(
                present.contains(&category),
                "{category:?} missing with N={people} seed={seed}"
            );
        }
        if people >= 5_000 {
            let findings: HashSet<Finding> = company
                .people()
                .iter()
                .flat_map(|p| p.findings.iter().copied())
                .collect();
            assert_eq!(findings.len(), 6, "all findings planted: {findings:?}");
            assert!(
                company
                    .people()
                    .iter()
                    .any(|p| p.category == Category::Leaving
                        && p.employment_end_date == Some(as_of())),
                "a leaver ends on the as-of date"
            );
            assert!(
                company
                    .job_roles()
                    .iter()
                    .any(|r| r.effective_date.is_some_and(|d| d > as_of())),
                "future-dated job roles exist"
            );
        }
    }
}

#[test]
fn same_seed_same_company() {
    let a = Company::generate(&spec(500, 77, as_of())).unwrap();
    let b = Company::generate(&spec(500, 77, as_of())).unwrap();
    let c = Company::generate(&spec(500, 78, as_of())).unwrap();
    let dump = |c: &Company| {
        let people: Vec<String> = c.people().iter().map(|p| p.json()).collect();
        let roles: Vec<&str> = c.job_roles().iter().map(|r| r.json()).collect();
        (
            people,
            roles.into_iter().map(str::to_owned).collect::<Vec<_>>(),
            c.company_json(),
        )
    };
    assert_eq!(dump(&a), dump(&b));
    assert_eq!(a.truth(), b.truth());
    assert_ne!(dump(&a).0, dump(&c).0);
}

/// FNV-1a over the whole company: the same seed must give the same bytes forever, whatever
/// crate versions are locked or how many threads render. If this changes on purpose, say so
/// in the commit.
fn fingerprint(people: usize, seed: u64) -> String {
    let company = Company::generate(&spec(people, seed, as_of())).unwrap();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for p in company.people() {
        feed(p.json().as_bytes());
    }
    for r in company.job_roles() {
        feed(r.json().as_bytes());
    }
    feed(company.company_json().as_bytes());
    format!("{hash:016x}")
}

#[test]
fn company_bytes_are_pinned() {
    // 50 people render on one thread, 3,000 on several.
    assert_eq!(
        fingerprint(50, 42),
        "a89233c5865cd8fd",
        "the generator's output changed"
    );
    assert_eq!(
        fingerprint(3_000, 42),
        "742fc59e5818d191",
        "the generator's output changed"
    );
}

#[test]
fn truth_matches_the_library_function() {
    let spec = spec(1_000, 9, as_of());
    assert_eq!(
        &humaans_sim::truth(&spec).unwrap(),
        Company::generate(&spec).unwrap().truth()
    );
    assert!(
        humaans_sim::truth(&CompanySpec {
            people: 0,
            ..spec.clone()
        })
        .is_err()
    );
}
