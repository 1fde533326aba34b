//! The licence engine (`engine::accounts`), rule by rule, through one `check` helper.
//!
//! An account is one line: `ID key=value...` with keys
//! - `on` (`true`/`false`, default true: enabled),
//! - `last` (last activity: a date-time, `T-31` days before today at noon, or `year1`),
//! - `created` (like `last`),
//! - `lic` (comma-separated pool ids; `pool@T-3` gives an assignment day),
//! - `mail`, `upn`, `alias` (comma-separated).
//!
//! The expected output is `ID/POOL: state reason [since]` per assignment, then the counts.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use seatbroker_agent::Pseudonymizer;
use seatbroker_agent::accounts::{Account, Held, Pool, evaluate_licences};
use seatbroker_protocol::{AccountType, LicencePolicy, LicenceSnapshot};

const TODAY: &str = "2026-11-25";

fn today() -> NaiveDate {
    TODAY.parse().unwrap()
}

fn day(value: &str) -> NaiveDate {
    match value.strip_prefix('T') {
        Some("") => today(),
        Some(rest) => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                today() - Days::new(n.unsigned_abs())
            } else {
                today() + Days::new(n as u64)
            }
        }
        None => value.parse().unwrap(),
    }
}

fn instant(value: &str) -> DateTime<Utc> {
    if value == "year1" {
        return "0001-01-01T00:00:00Z".parse().unwrap();
    }
    if value.contains(':') {
        return value.parse().unwrap();
    }
    day(value)
        .and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap())
        .and_utc()
}

fn account(line: &str) -> Account {
    let mut words = line.split_whitespace();
    let mut account = Account {
        id: words.next().unwrap().to_owned(),
        login: None,
        email: None,
        aliases: vec![],
        enabled: true,
        account_type: AccountType::Member,
        created: None,
        last_activity: None,
        licences: vec![],
    };
    for word in words {
        let (key, value) = word.split_once('=').unwrap();
        match key {
            "on" => account.enabled = value.parse().unwrap(),
            "last" => account.last_activity = Some(instant(value)),
            "created" => account.created = Some(instant(value)),
            "lic" => {
                account.licences = value
                    .split(',')
                    .map(|l| match l.split_once('@') {
                        Some((pool, at)) => Held {
                            pool_id: pool.into(),
                            assigned: Some(day(at)),
                        },
                        None => Held {
                            pool_id: l.into(),
                            assigned: None,
                        },
                    })
                    .collect()
            }
            "mail" => account.email = Some(value.into()),
            "upn" => account.login = Some(value.into()),
            "alias" => account.aliases = value.split(',').map(Into::into).collect(),
            other => panic!("unknown key {other}"),
        }
    }
    account
}

fn render(snapshot: &LicenceSnapshot) -> String {
    let mut out = String::new();
    for account in &snapshot.accounts {
        for held in &account.licences {
            out.push_str(&format!(
                "{}/{}: {} {}",
                account.account_id,
                held.pool_id,
                held.state,
                held.reason.as_ref().map(|r| r.as_str()).unwrap_or("-")
            ));
            if let Some(since) = held.since {
                out.push_str(&format!(" {since}"));
            }
            out.push('\n');
        }
    }
    let c = &snapshot.counts;
    out.push_str(&format!(
        "counts in_use={} idle={} never_used={} disabled_holding={} unknown_activity={} total={}\n",
        c.in_use,
        c.idle,
        c.never_used,
        c.disabled_holding,
        c.unknown_activity,
        snapshot.accounts_total
    ));
    out
}

fn evaluate(accounts: &str, activity: bool, policy: LicencePolicy) -> LicenceSnapshot {
    let accounts = accounts
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(account)
        .collect();
    evaluate_licences(accounts, vec![], activity, &policy, today(), None).unwrap()
}

/// Evaluates `accounts` with the default policy (idle after 30 days, 14 days' grace).
fn check(accounts: &str, activity: bool, expected: &str) {
    check_with(accounts, activity, LicencePolicy::default(), expected);
}

fn check_with(accounts: &str, activity: bool, policy: LicencePolicy, expected: &str) {
    let got = render(&evaluate(accounts, activity, policy));
    let want: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want, "\naccounts:\n{accounts}");
}

#[test]
fn recent_and_idle_activity_around_the_threshold() {
    check(
        "a last=T lic=E3
         b last=T-30 lic=E3
         c last=T-31 lic=E3
         d last=2026-10-25T23:59:59Z lic=E3
         e last=2026-10-26T00:00:00Z lic=E3",
        true,
        "a/E3: in_use recent_activity 2026-11-25
         b/E3: in_use recent_activity 2026-10-26
         c/E3: idle no_recent_activity 2026-11-24
         d/E3: idle no_recent_activity 2026-11-24
         e/E3: in_use recent_activity 2026-10-26
         counts in_use=3 idle=2 never_used=0 disabled_holding=0 unknown_activity=0 total=5",
    );
}

#[test]
fn activity_after_today_is_in_use() {
    check(
        "a last=T+3 lic=E3",
        true,
        "a/E3: in_use recent_activity 2026-11-28
         counts in_use=1 idle=0 never_used=0 disabled_holding=0 unknown_activity=0 total=1",
    );
}

#[test]
fn never_used_and_the_grace_period() {
    check(
        "a created=T-14 lic=E3
         b created=T-15 lic=E3
         c lic=E3
         d created=T-400 lic=E3@T-3
         e created=T-400 lic=E3@T-15
         f created=T+2 lic=E3",
        true,
        "a/E3: in_use grace_period 2026-11-11
         b/E3: never_used no_activity 2026-11-24
         c/E3: never_used no_activity
         d/E3: in_use grace_period 2026-11-22
         e/E3: never_used no_activity 2026-11-24
         f/E3: in_use grace_period 2026-11-27
         counts in_use=3 idle=0 never_used=3 disabled_holding=0 unknown_activity=0 total=6",
    );
}

#[test]
fn year_one_timestamps_count_as_absent() {
    check(
        "a last=year1 created=T-100 lic=E3
         b last=year1 created=year1 lic=E3",
        true,
        "a/E3: never_used no_activity 2026-08-31
         b/E3: never_used no_activity
         counts in_use=0 idle=0 never_used=2 disabled_holding=0 unknown_activity=0 total=2",
    );
}

#[test]
fn disabled_wins_over_everything() {
    check(
        "a on=false last=T lic=E3,BI
         b on=false lic=E3",
        true,
        "a/BI: disabled_holding account_disabled
         a/E3: disabled_holding account_disabled
         b/E3: disabled_holding account_disabled
         counts in_use=0 idle=0 never_used=0 disabled_holding=3 unknown_activity=0 total=2",
    );
    check(
        "a on=false lic=E3",
        false,
        "a/E3: disabled_holding account_disabled
         counts in_use=0 idle=0 never_used=0 disabled_holding=1 unknown_activity=0 total=1",
    );
}

#[test]
fn unknown_activity_never_guesses() {
    check(
        "a last=T-200 lic=E3
         b created=T-400 lic=E3
         c last=T lic=E3",
        false,
        "a/E3: unknown_activity activity_unavailable
         b/E3: unknown_activity activity_unavailable
         c/E3: unknown_activity activity_unavailable
         counts in_use=0 idle=0 never_used=0 disabled_holding=0 unknown_activity=3 total=3",
    );
}

#[test]
fn accounts_without_licences_count_only_in_the_total() {
    check(
        "a last=T
         b last=T-5 lic=E3",
        true,
        "b/E3: in_use recent_activity 2026-11-20
         counts in_use=1 idle=0 never_used=0 disabled_holding=0 unknown_activity=0 total=2",
    );
}

#[test]
fn policy_windows_come_from_the_source() {
    let policy = LicencePolicy {
        idle_after_days: 7,
        never_used_grace_days: 0,
    };
    check_with(
        "a last=T-7 lic=E3
         b last=T-8 lic=E3
         c created=T lic=E3
         d created=T-1 lic=E3",
        true,
        policy,
        "a/E3: in_use recent_activity 2026-11-18
         b/E3: idle no_recent_activity 2026-11-24
         c/E3: in_use grace_period 2026-11-25
         d/E3: never_used no_activity 2026-11-24
         counts in_use=2 idle=1 never_used=1 disabled_holding=0 unknown_activity=0 total=4",
    );
    let bad = LicencePolicy {
        idle_after_days: 0,
        never_used_grace_days: 14,
    };
    let error = evaluate_licences(vec![], vec![], true, &bad, today(), None).unwrap_err();
    assert_eq!(error.field, "idle_after_days");
}

#[test]
fn pools_count_holders_or_take_the_source_figure() {
    let accounts = ["a lic=S/Pro", "b on=false lic=S/Pro", "c lic=S/Basic"]
        .iter()
        .map(|l| account(l))
        .collect();
    let pool = |id: &str, purchased: Option<u64>, assigned: Option<u64>| Pool {
        id: id.into(),
        name: id.into(),
        application: None,
        purchased,
        assigned,
    };
    let snapshot = evaluate_licences(
        accounts,
        vec![
            pool("S/Pro", Some(5), None),
            pool("S/Basic", None, None),
            pool("E3", Some(10), Some(12)),
        ],
        true,
        &LicencePolicy::default(),
        today(),
        None,
    )
    .unwrap();
    let got: Vec<_> = snapshot
        .pools
        .iter()
        .map(|p| (p.id.as_str(), p.purchased, p.assigned, p.unassigned))
        .collect();
    assert_eq!(
        got,
        vec![
            ("E3", Some(10), 12, Some(0)),
            ("S/Basic", None, 1, None),
            ("S/Pro", Some(5), 2, Some(3)),
        ]
    );
}

#[test]
fn addresses_are_normalised_or_pseudonymised_like_work_emails() {
    let line = "a mail=Ann@Acme.COM upn=ann@acme.onmicrosoft.com alias=ANN@acme.com,a.b@acme.com,ann@acme.com lic=E3";
    let plain = evaluate_licences(
        vec![account(line)],
        vec![],
        true,
        &LicencePolicy::default(),
        today(),
        None,
    )
    .unwrap();
    let record = &plain.accounts[0];
    assert_eq!(record.email.as_deref(), Some("ann@acme.com"));
    assert_eq!(record.login.as_deref(), Some("ann@acme.onmicrosoft.com"));
    assert_eq!(record.aliases, vec!["ann@acme.com", "a.b@acme.com"]);

    let key = [7u8; 32];
    let pseudonymizer = Pseudonymizer::new(&key).unwrap();
    let hidden = evaluate_licences(
        vec![account(line)],
        vec![],
        true,
        &LicencePolicy::default(),
        today(),
        Some(&pseudonymizer),
    )
    .unwrap();
    let record = &hidden.accounts[0];
    let person_email = pseudonymizer.email("ann@acme.com");
    assert_eq!(record.email.as_deref(), Some(person_email.as_str()));
    assert_eq!(record.aliases[0], person_email);
    assert!(!format!("{record:?}").contains("acme"), "{record:?}");
}
