//! The seat-usage engine, rule by rule, through one `check` helper; then properties that
//! hold for any input.
//!
//! People, roles and policy are written in a small line format:
//! - person: `ID STATUS key=value...` where STATUS is `active`, `offboarded`, `newHire`,
//!   any other word (an unknown status) or `-` (missing); keys `start`, `end`, `verified`
//!   (`true`/`false`), `email`, `name`. Dates are ISO or relative to today: `T`, `T+30`, `T-1`.
//! - role: `ID PERSON key=value...` with keys `eff`, `end`, `title`, `dept`, `to` (manager).
//! - policy: `key=value...` over the defaults: `leaving`, `grace`, `nv` (`on`/`off`),
//!   `lookback`, `upcoming`.
//!
//! In `email` and `to` values, `_` stands for a space.

use std::fmt::Write as _;

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use seatbroker_agent::{Evaluation, JobRole, Person, Pseudonymizer, evaluate};
use seatbroker_protocol::{PersonStatus, SeatState, UsagePolicy};

const TODAY: &str = "2025-06-15";

fn today() -> NaiveDate {
    TODAY.parse().unwrap()
}

/// What a case compares.
#[derive(Clone, Copy)]
enum Show {
    /// `id: state [reason since]` per seat.
    States,
    /// `id: kind [(detail)]` per finding.
    Findings,
    /// `id: title=.. dept=.. manager=..` per seat (the current job role).
    Roles,
    /// The summary, one line per figure.
    Summary,
}

fn date(text: &str) -> NaiveDate {
    if let Some(offset) = text.strip_prefix('T') {
        let t = today();
        return match offset.split_at_checked(1) {
            None | Some(("", _)) => t,
            Some(("+", n)) => t.checked_add_days(Days::new(n.parse().unwrap())).unwrap(),
            Some(("-", n)) => t.checked_sub_days(Days::new(n.parse().unwrap())).unwrap(),
            _ => panic!("bad relative date {text}"),
        };
    }
    text.parse()
        .unwrap_or_else(|e| panic!("bad date {text}: {e}"))
}

fn opt_date(text: &str) -> Option<NaiveDate> {
    (text != "-").then(|| date(text))
}

fn parse_people(text: &str) -> Vec<Person> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let id = words.next().unwrap().to_owned();
            let status = match words.next().expect("status") {
                "-" => None,
                s => Some(PersonStatus::from_wire(s)),
            };
            let mut person = Person {
                id,
                company_id: None,
                first_name: None,
                last_name: None,
                preferred_name: None,
                email: None,
                status,
                employment_start_date: None,
                employment_end_date: None,
                is_verified: None,
            };
            for word in words {
                let (key, value) = word.split_once('=').expect("key=value");
                match key {
                    "start" => person.employment_start_date = opt_date(value),
                    "end" => person.employment_end_date = opt_date(value),
                    "verified" => person.is_verified = Some(value.parse().unwrap()),
                    // `_` stands for a space, so emails with surrounding blanks can be written.
                    "email" => person.email = Some(value.replace('_', " ")),
                    "name" => person.first_name = Some(value.to_owned()),
                    _ => panic!("unknown person key {key}"),
                }
            }
            person
        })
        .collect()
}

fn parse_roles(text: &str) -> Vec<JobRole> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let mut role = JobRole {
                id: words.next().unwrap().to_owned(),
                person_id: words.next().expect("person id").to_owned(),
                job_title: None,
                department: None,
                effective_date: None,
                end_date: None,
                reporting_to: None,
            };
            for word in words {
                let (key, value) = word.split_once('=').expect("key=value");
                match key {
                    "eff" => role.effective_date = opt_date(value),
                    "end" => role.end_date = opt_date(value),
                    "title" => role.job_title = Some(value.to_owned()),
                    "dept" => role.department = Some(value.to_owned()),
                    "to" => role.reporting_to = Some(value.replace('_', " ")),
                    _ => panic!("unknown role key {key}"),
                }
            }
            role
        })
        .collect()
}

fn parse_policy(text: &str) -> UsagePolicy {
    let mut policy = UsagePolicy::default();
    for word in text.split_whitespace() {
        let (key, value) = word.split_once('=').expect("key=value");
        match key {
            "leaving" => policy.leaving_window_days = value.parse().unwrap(),
            "grace" => policy.unverified_grace_days = value.parse().unwrap(),
            "nv" => policy.never_verified_rule = value == "on",
            "lookback" => policy.leavers_lookback_days = value.parse().unwrap(),
            "upcoming" => policy.upcoming_start_days = value.parse().unwrap(),
            _ => panic!("unknown policy key {key}"),
        }
    }
    policy
}

fn render(show: Show, evaluation: &Evaluation) -> String {
    let mut out = String::new();
    match show {
        Show::States => {
            for s in &evaluation.seats {
                write!(out, "{}: {}", s.person_id, s.state).unwrap();
                if let Some(reason) = &s.reason {
                    write!(out, " {reason}").unwrap();
                }
                if s.reason.is_some() || s.since.is_some() {
                    let since = s.since.map_or("-".to_owned(), |d| d.to_string());
                    write!(out, " {since}").unwrap();
                }
                out.push('\n');
            }
        }
        Show::Findings => {
            for f in &evaluation.findings {
                write!(out, "{}: {}", f.person_id, f.kind).unwrap();
                if let Some(detail) = &f.detail {
                    write!(out, " ({detail})").unwrap();
                }
                out.push('\n');
            }
        }
        Show::Roles => {
            for s in &evaluation.seats {
                let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "{}: title={} dept={} manager={}",
                    s.person_id,
                    field(&s.job_title),
                    field(&s.department),
                    field(&s.manager_id)
                )
                .unwrap();
            }
        }
        Show::Summary => {
            let s = &evaluation.summary;
            let c = &s.counts;
            writeln!(
                out,
                "counts: pre_hire={} active={} leaving={} inactive={} offboarded={} unknown={}",
                c.pre_hire, c.active, c.leaving, c.inactive, c.offboarded, c.unknown
            )
            .unwrap();
            writeln!(
                out,
                "inactive: ended_not_offboarded={} never_verified={}",
                s.inactive_reasons.ended_not_offboarded, s.inactive_reasons.never_verified
            )
            .unwrap();
            let utilisation = s.utilisation.map_or("-".to_owned(), |u| format!("{u:.3}"));
            writeln!(
                out,
                "billable={} in_use={} utilisation={utilisation}",
                s.billable, s.in_use
            )
            .unwrap();
            writeln!(
                out,
                "pre_hires_starting_soon={} recent_leavers={}",
                s.pre_hires_starting_soon, s.recent_leavers
            )
            .unwrap();
            for d in &s.departments {
                writeln!(
                    out,
                    "dept {:?}: total={} billable={}",
                    d.department,
                    d.counts.total(),
                    d.counts.billable()
                )
                .unwrap();
            }
            out.push_str("findings:");
            for (kind, n) in s.findings.iter().filter(|(_, n)| **n > 0) {
                write!(out, " {kind}={n}").unwrap();
            }
            out.push('\n');
        }
    }
    out
}

/// Evaluates `people` and `roles` under `policy` on [`TODAY`] and compares the part of the
/// result that `show` selects with `expected` (an error renders as `error: message`).
#[track_caller]
fn check(policy: &str, people: &str, roles: &str, show: Show, expected: &str) {
    let people = parse_people(people);
    let roles = parse_roles(roles);
    let actual = match evaluate(&people, &roles, &parse_policy(policy), today(), None) {
        Ok(evaluation) => render(show, &evaluation),
        Err(error) => format!("error: {error}\n"),
    };
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        actual, expected,
        "\nactual:\n{actual}\nexpected:\n{expected}"
    );
}

#[test]
fn status_rules() {
    check(
        "",
        "
        missing -
        odd suspended start=2020-01-01
        off1 offboarded start=2020-01-01 end=2025-05-01
        off2 offboarded
        new1 newHire start=T+10
        new2 newHire start=T-3
        new3 newHire
        ",
        "",
        Show::States,
        "
        missing: unknown unknown_status -
        new1: pre_hire new_hire 2025-06-25
        new2: pre_hire new_hire 2025-06-12
        new3: pre_hire new_hire -
        odd: unknown unknown_status -
        off1: offboarded offboarded 2025-05-01
        off2: offboarded offboarded -
        ",
    );
}

#[test]
fn start_and_end_dates() {
    check(
        "",
        "
        future active start=T+1
        starts_today active start=T
        no_dates active
        ends_today active start=2020-01-01 end=T
        ended_yesterday active start=2020-01-01 end=T-1
        window_edge active start=2020-01-01 end=T+30
        past_window active start=2020-01-01 end=T+31
        future_and_ended active start=T+5 end=T-5
        end_only active end=T+3
        ",
        "",
        Show::States,
        "
        end_only: leaving end_date_within_window 2025-06-18
        ended_yesterday: inactive ended_not_offboarded 2025-06-14
        ends_today: leaving end_date_within_window 2025-06-15
        future: pre_hire starts_in_future 2025-06-16
        future_and_ended: pre_hire starts_in_future 2025-06-20
        no_dates: active
        past_window: active
        starts_today: active
        window_edge: leaving end_date_within_window 2025-07-15
        ",
    );
}

#[test]
fn leaving_window_of_zero_days_still_counts_today() {
    check(
        "leaving=0",
        "
        a active start=2020-01-01 end=T
        b active start=2020-01-01 end=T+1
        ",
        "",
        Show::States,
        "
        a: leaving end_date_within_window 2025-06-15
        b: active
        ",
    );
}

#[test]
fn never_verified_rule() {
    check(
        "",
        "
        at_grace active start=T-30 verified=false
        before_grace active start=T-29 verified=false
        verified active start=2020-01-01 verified=true
        unsent active start=2020-01-01
        no_start active verified=false
        also_leaving active start=2020-01-01 end=T+5 verified=false
        also_ended active start=2020-01-01 end=T-1 verified=false
        not_started active start=T+1 verified=false
        ",
        "",
        Show::States,
        "
        also_ended: inactive ended_not_offboarded 2025-06-14
        also_leaving: inactive never_verified 2020-01-31
        at_grace: inactive never_verified 2025-06-15
        before_grace: active
        no_start: active
        not_started: pre_hire starts_in_future 2025-06-16
        unsent: active
        verified: active
        ",
    );
    // Switched off, nobody is inactive for being unverified.
    check(
        "nv=off",
        "
        at_grace active start=T-30 verified=false
        also_leaving active start=2020-01-01 end=T+5 verified=false
        ",
        "",
        Show::States,
        "
        also_leaving: leaving end_date_within_window 2025-06-20
        at_grace: active
        ",
    );
    // With no grace at all, an unverified person is inactive from their first day.
    check(
        "grace=0",
        "a active start=T verified=false",
        "",
        Show::States,
        "a: inactive never_verified 2025-06-15",
    );
}

#[test]
fn current_job_role() {
    check(
        "",
        "
        future_role active start=2020-01-01
        ended_yesterday active start=2020-01-01
        ends_today active start=2020-01-01
        starts_today active start=2020-01-01
        tie active start=2020-01-01
        undated active start=2020-01-01
        ",
        "
        r1 future_role eff=2024-01-01 title=Dev dept=Eng to=boss
        r2 future_role eff=T+1 title=Lead dept=Sales to=other
        r3 ended_yesterday eff=2024-01-01 end=T-1 title=Dev dept=Eng
        r4 ends_today eff=2024-01-01 end=T title=Dev dept=Eng
        r5 starts_today eff=2024-01-01 title=Dev dept=Eng
        r6 starts_today eff=T title=Lead dept=Ops
        r7 tie eff=2024-01-01 title=A
        r8 tie eff=2024-01-01 title=B
        r9 undated title=Old
        r10 undated eff=2021-01-01 title=New
        ",
        Show::Roles,
        "
        ended_yesterday: title=Dev dept=Eng manager=-
        ends_today: title=Dev dept=Eng manager=-
        future_role: title=Dev dept=Eng manager=boss
        starts_today: title=Lead dept=Ops manager=-
        tie: title=B dept=- manager=-
        undated: title=New dept=- manager=-
        ",
    );
}

/// Leavers and pre-hires have no current role, but keep a department, title and manager on
/// their seat: the last role that ended, else the first that has not started. They still
/// get `no_current_job_role` where that finding applies.
#[test]
fn leavers_and_pre_hires_keep_their_last_known_department() {
    let people = "
        leaver offboarded start=2020-01-01 end=2025-03-31
        ended active start=2020-01-01 end=2025-05-31
        newbie newHire start=T+20
        rehire newHire start=T+10
        ";
    let roles = "
        r1 leaver eff=2020-01-01 end=2023-12-31 title=Dev dept=Eng to=boss
        r2 leaver eff=2024-01-01 end=2025-03-31 title=Lead dept=Sales to=chief
        r3 ended eff=2020-01-01 end=2025-05-31 title=Dev dept=Ops to=boss
        r4 newbie eff=T+30 title=Later dept=Finance
        r5 newbie eff=T+20 title=First dept=Legal to=chief
        r6 rehire eff=2019-01-01 end=2019-12-31 title=Old dept=Support
        r7 rehire eff=T+10 title=New dept=Product
        ";
    check(
        "",
        people,
        roles,
        Show::Roles,
        "
        ended: title=Dev dept=Ops manager=boss
        leaver: title=Lead dept=Sales manager=chief
        newbie: title=First dept=Legal manager=chief
        rehire: title=Old dept=Support manager=-
        ",
    );
    check(
        "",
        people,
        roles,
        Show::Findings,
        "
        ended: no_current_job_role
        newbie: no_current_job_role
        rehire: no_current_job_role
        ",
    );
}

#[test]
fn hierarchy_findings() {
    // `ceo` manages others and has no manager: the top, excepted. `orphan` has no manager and
    // manages nobody. `lost` reports to someone offboarded; `ghost` to an id nobody has.
    check(
        "",
        "
        ceo active start=2020-01-01
        cto active start=2020-01-01
        orphan active start=2020-01-01
        lost active start=2020-01-01
        ghost active start=2020-01-01
        gone offboarded start=2019-01-01 end=2025-01-01
        norole active start=2020-01-01
        ",
        "
        r1 ceo eff=2020-01-01
        r2 cto eff=2020-01-01 to=ceo
        r3 orphan eff=2020-01-01
        r4 lost eff=2020-01-01 to=gone
        r5 ghost eff=2020-01-01 to=nobody
        r6 gone eff=2019-01-01
        ",
        Show::Findings,
        "
        lost: manager_offboarded (manager gone is offboarded)
        norole: no_current_job_role
        orphan: no_manager
        ",
    );
    // Two separate trees: both roots are excepted (a blank manager id counts as none).
    check(
        "",
        "
        a active start=2020-01-01
        a1 active start=2020-01-01
        b active start=2020-01-01
        b1 active start=2020-01-01
        ",
        "
        ra a eff=2020-01-01
        ra1 a1 eff=2020-01-01 to=a
        rb b eff=2020-01-01 to=_
        rb1 b1 eff=2020-01-01 to=b
        ",
        Show::Findings,
        "",
    );
}

#[test]
fn record_findings() {
    check(
        "",
        "
        nostart active
        backwards active start=2025-01-01 end=2024-12-31
        dup1 active start=2020-01-01 email=_Ann@Example.COM_
        dup2 newHire start=T+3 email=ann@example.com
        dup3 active start=2020-01-01 email=ANN@example.com
        left offboarded start=2019-01-01 end=2020-01-01 email=bob@example.com
        bob active start=2020-01-01 email=bob@example.com
        done offboarded
        ",
        "
        r1 nostart to=m
        r2 backwards to=m
        r3 dup1 to=m
        r4 dup2 to=m
        r5 dup3 to=m
        r6 bob to=m
        ",
        Show::Findings,
        "
        backwards: end_before_start (employment ends 2024-12-31, before it starts 2025-01-01)
        dup1: duplicate_work_email (work email shared with dup2, dup3)
        dup2: duplicate_work_email (work email shared with dup1, dup3)
        dup3: duplicate_work_email (work email shared with dup1, dup2)
        nostart: no_start_date
        ",
    );
}

#[test]
fn summary_figures() {
    check(
        "",
        "
        a active start=2020-01-01
        b active start=2020-01-01 end=T+10
        c active start=2020-01-01 end=T-1
        d active start=T-40 verified=false
        e newHire start=T+30
        f newHire start=T+31
        g newHire start=T-1
        h offboarded end=T
        i offboarded end=T-90
        j offboarded end=T-91
        k -
        ",
        "
        ra a dept=Eng to=k
        rb b dept=Eng to=k
        rc c dept=Sales to=k
        ",
        Show::Summary,
        "
        counts: pre_hire=3 active=1 leaving=1 inactive=2 offboarded=3 unknown=1
        inactive: ended_not_offboarded=1 never_verified=1
        billable=4 in_use=2 utilisation=0.500
        pre_hires_starting_soon=1 recent_leavers=2
        dept \"\": total=8 billable=1
        dept \"Eng\": total=2 billable=2
        dept \"Sales\": total=1 billable=1
        findings: no_current_job_role=5 no_start_date=1
        ",
    );
    check(
        "",
        "",
        "",
        Show::Summary,
        "
        counts: pre_hire=0 active=0 leaving=0 inactive=0 offboarded=0 unknown=0
        inactive: ended_not_offboarded=0 never_verified=0
        billable=0 in_use=0 utilisation=-
        pre_hires_starting_soon=0 recent_leavers=0
        findings:
        ",
    );
}

#[test]
fn invalid_policy_is_an_error() {
    let person = "a active start=2020-01-01";
    check(
        "leaving=3651",
        person,
        "",
        Show::States,
        "error: invalid usage policy: leaving_window_days = 3651: must be at most 3650 days (ten years)",
    );
    check(
        "lookback=0",
        person,
        "",
        Show::States,
        "error: invalid usage policy: leavers_lookback_days = 0: must be at least 1 day, or no leaver would ever be counted",
    );
    check(
        "grace=4000",
        person,
        "",
        Show::States,
        "error: invalid usage policy: unverified_grace_days = 4000: must be at most 3650 days (ten years)",
    );
    // The largest allowed values work.
    check(
        "leaving=3650 grace=3650 lookback=3650 upcoming=3650",
        person,
        "",
        Show::States,
        "a: active",
    );
}

#[test]
fn pseudonymised_records_keep_no_name_or_email() {
    let people = parse_people(
        "
        a active start=2020-01-01 email=Ann@Example.com name=Ann
        b active start=2020-01-01 email=_ann@example.com name=Ann
        ",
    );
    let key = Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let run = || evaluate(&people, &[], &UsagePolicy::default(), today(), Some(&key)).unwrap();
    let first = run();
    assert_eq!(first, run(), "pseudonyms are stable");
    let json = serde_json::to_string(&first.seats).unwrap();
    assert!(!json.to_lowercase().contains("ann"), "{json}");
    assert!(!json.contains("example"), "{json}");
    // Same email up to case and blanks: same pseudonym, and still found as duplicates.
    assert_eq!(first.seats[0].work_email, first.seats[1].work_email);
    assert_eq!(first.summary.findings["duplicate_work_email"], 2);
    let plain = evaluate(&people, &[], &UsagePolicy::default(), today(), None).unwrap();
    assert_eq!(
        plain.seats[0].work_email.as_deref(),
        Some("Ann@Example.com")
    );
    assert_eq!(plain.seats[1].name.as_deref(), Some("Ann"));
}

#[test]
fn nul_characters_never_reach_a_seat_record() {
    let mut people = parse_people("a active start=2020-01-01 email=ann@example.com name=Ann");
    people[0].first_name = Some("A\0nn".to_owned());
    people[0].email = Some("ann\0@example.com".to_owned());
    let roles = vec![JobRole {
        id: "r".to_owned(),
        person_id: "a".to_owned(),
        job_title: Some("Eng\0ineer".to_owned()),
        department: Some("\0Sales".to_owned()),
        effective_date: None,
        end_date: None,
        reporting_to: None,
    }];
    let seat = &evaluate(&people, &roles, &UsagePolicy::default(), today(), None)
        .unwrap()
        .seats[0];
    assert_eq!(seat.work_email.as_deref(), Some("ann@example.com"));
    assert!(
        seat.name.as_deref().is_some_and(|n| n.starts_with("Ann")),
        "{seat:?}"
    );
    assert_eq!(seat.job_title.as_deref(), Some("Engineer"));
    assert_eq!(seat.department.as_deref(), Some("Sales"));
}

// ----- properties -----

fn arb_date() -> impl Strategy<Value = Option<NaiveDate>> {
    // Dates within about a year and a half of today, so every rule's edges are reachable.
    prop::option::of((-500i64..500).prop_map(|d| today() + chrono::Duration::days(d)))
}

fn arb_person(id: usize) -> impl Strategy<Value = Person> {
    (
        prop::option::of(prop::sample::select(vec![
            PersonStatus::Active,
            PersonStatus::Active,
            PersonStatus::NewHire,
            PersonStatus::Offboarded,
            PersonStatus::Other("weird".into()),
        ])),
        arb_date(),
        arb_date(),
        prop::option::of(any::<bool>()),
        prop::option::of(0u8..8),
    )
        .prop_map(move |(status, start, end, verified, email)| Person {
            id: format!("p{id:04}"),
            company_id: None,
            first_name: Some(format!("First{id}")),
            last_name: None,
            preferred_name: None,
            email: email.map(|e| format!("user{e}@example.com")),
            status,
            employment_start_date: start,
            employment_end_date: end,
            is_verified: verified,
        })
}

fn arb_company() -> impl Strategy<Value = (Vec<Person>, Vec<JobRole>)> {
    (1usize..40)
        .prop_flat_map(|n| {
            let people: Vec<_> = (0..n).map(arb_person).collect();
            let roles = prop::collection::vec(
                (
                    0..n,
                    arb_date(),
                    arb_date(),
                    prop::option::of(0..n),
                    prop::option::of(0u8..4),
                ),
                0..n * 2,
            );
            (people, roles)
        })
        .prop_map(|(people, roles)| {
            let roles = roles
                .into_iter()
                .enumerate()
                .map(|(i, (person, eff, end, manager, dept))| JobRole {
                    id: format!("r{i:04}"),
                    person_id: format!("p{person:04}"),
                    job_title: None,
                    department: dept.map(|d| format!("Dept{d}")),
                    effective_date: eff,
                    end_date: end,
                    reporting_to: manager.map(|m| format!("p{m:04}")),
                })
                .collect();
            (people, roles)
        })
}

fn arb_policy() -> impl Strategy<Value = UsagePolicy> {
    (0u32..60, 0u32..60, any::<bool>(), 1u32..120, 0u32..60).prop_map(
        |(leaving, grace, rule, lookback, upcoming)| UsagePolicy {
            leaving_window_days: leaving,
            unverified_grace_days: grace,
            never_verified_rule: rule,
            leavers_lookback_days: lookback,
            upcoming_start_days: upcoming,
        },
    )
}

proptest! {
    #[test]
    fn every_person_gets_one_state_and_counts_add_up(
        (people, roles) in arb_company(),
        policy in arb_policy(),
    ) {
        let e = evaluate(&people, &roles, &policy, today(), None).unwrap();
        let s = &e.summary;
        // Exactly one record per person, in person-id order.
        let ids: Vec<&str> = e.seats.iter().map(|s| s.person_id.as_str()).collect();
        let mut expected: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
        expected.sort_unstable();
        prop_assert_eq!(ids, expected);
        prop_assert_eq!(s.counts.total(), people.len() as u64);
        prop_assert!(s.counts.other.is_empty());
        prop_assert_eq!(s.billable, s.counts.active + s.counts.leaving + s.counts.inactive);
        prop_assert_eq!(s.in_use, s.counts.active + s.counts.leaving);
        prop_assert_eq!(
            s.inactive_reasons.ended_not_offboarded + s.inactive_reasons.never_verified,
            s.counts.inactive
        );
        prop_assert!(s.pre_hires_starting_soon <= s.counts.pre_hire);
        prop_assert!(s.recent_leavers <= s.counts.offboarded);
        let dept_total: u64 = s.departments.iter().map(|d| d.counts.total()).sum();
        prop_assert_eq!(dept_total, s.counts.total());
        let dept_billable: u64 = s.departments.iter().map(|d| d.counts.billable()).sum();
        prop_assert_eq!(dept_billable, s.billable);
        prop_assert!(s.departments.windows(2).all(|w| w[0].department < w[1].department));
        let findings_total: u64 = s.findings.values().sum();
        prop_assert_eq!(findings_total, e.findings.len() as u64);
        for seat in &e.seats {
            // Non-active states always carry a reason; active never does.
            prop_assert_eq!(seat.reason.is_none(), seat.state == SeatState::Active);
            if seat.state == SeatState::Offboarded {
                prop_assert!(e.findings.iter().all(|f| f.person_id != seat.person_id));
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_input_order(
        (people, roles) in arb_company(),
        policy in arb_policy(),
        seed in any::<u64>(),
    ) {
        let expected = evaluate(&people, &roles, &policy, today(), None).unwrap();
        let mut people = people;
        let mut roles = roles;
        shuffle(&mut people, seed);
        shuffle(&mut roles, seed.rotate_left(17));
        let actual = evaluate(&people, &roles, &policy, today(), None).unwrap();
        prop_assert_eq!(actual, expected);
    }
}

/// Fisher–Yates with a small xorshift generator, so the shuffle is reproducible from `seed`.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
