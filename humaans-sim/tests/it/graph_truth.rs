//! The Graph truth equals an independent count of what the simulator serves over HTTP,
//! and its `joined` agrees with the Humaans company; the directory is deterministic.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use humaans_sim::graph::{GraphOptions, GraphSimulator};
use humaans_sim::{Company, CompanySpec, SeatState};
use serde_json::Value;

use crate::graph_support::{SELECT, SELECT_WITHOUT_SIGN_IN, all_users, graph_get, start, token};
use crate::tally::{Account, Hr, PoolIn, date, tally};

fn last_sign_in(user: &Value) -> Option<NaiveDate> {
    let activity = user.get("signInActivity")?;
    ["lastSignInDateTime", "lastNonInteractiveSignInDateTime"]
        .iter()
        .filter_map(|key| activity.get(*key)?.as_str())
        .filter(|text| !text.starts_with("0001-"))
        .map(date)
        .max()
}

fn account(user: &Value) -> Account {
    let strings = |key: &str| -> Vec<String> {
        user[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is an array: {user}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let upn = user["userPrincipalName"].as_str().unwrap().to_owned();
    let mut addresses: Vec<String> = user["mail"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    addresses.push(upn.clone());
    for proxy in strings("proxyAddresses") {
        let stripped = if proxy.len() > 5 && proxy[..5].eq_ignore_ascii_case("smtp:") {
            proxy[5..].to_owned()
        } else {
            proxy
        };
        addresses.push(stripped);
    }
    addresses.extend(strings("otherMails"));
    Account {
        addresses,
        excluded: user["userType"] == "Guest",
        enabled: user["accountEnabled"].as_bool().unwrap(),
        licences: user["assignedLicenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["skuId"].as_str().unwrap().to_owned())
            .collect(),
        last_activity: last_sign_in(user),
        grace_start: Some(date(user["createdDateTime"].as_str().unwrap())),
    }
}

/// What the agent would see with `secret`, counted independently.
async fn served(sim: &GraphSimulator, secret: &str, activity: bool, hr: &Hr<'_>) -> Value {
    let token = token(sim, secret).await;
    let skus = graph_get(sim, Some(&token), "/v1.0/subscribedSkus")
        .await
        .json();
    let pools = skus["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sku| PoolIn {
            id: sku["skuId"].as_str().unwrap().to_owned(),
            name: sku["skuPartNumber"].as_str().unwrap().to_owned(),
            purchased: sku["prepaidUnits"]["enabled"].as_u64(),
            assigned: sku["consumedUnits"].as_u64().unwrap(),
        })
        .collect();
    let select = if activity {
        SELECT
    } else {
        SELECT_WITHOUT_SIGN_IN
    };
    let users = all_users(
        sim,
        &token,
        &format!("/v1.0/users?$select={select}&$top=120"),
    )
    .await;
    let accounts: Vec<Account> = users.iter().map(account).collect();
    tally(
        "entra_id",
        sim.company().spec().as_of,
        activity,
        &accounts,
        pools,
        hr,
    )
}

#[tokio::test]
async fn truth_equals_an_independent_count_of_the_http_answers() {
    let cases: [(u64, usize, &str); 4] = [
        (1, 50, "2025-06-15"),
        (7, 600, "2024-02-29"),
        (42, 1_500, "2025-12-31"),
        (3, 9, "2026-03-01"),
    ];
    for (seed, people, as_of) in cases {
        let sim = start(GraphOptions {
            people,
            seed,
            as_of: as_of.parse().unwrap(),
            ..GraphOptions::default()
        })
        .await;
        let company = sim.company().clone();
        let hr = Hr::new(&company);
        let case = format!("seed {seed}, {people} people, as of {as_of}");

        let full = served(&sim, &sim.secrets().full.clone(), true, &hr).await;
        let truth = serde_json::to_value(sim.truth(true)).unwrap();
        assert_eq!(full, truth, "{case}: with activity");
        let library = humaans_sim::graph::truth(company.spec(), true).unwrap();
        assert_eq!(serde_json::to_value(&library).unwrap(), truth, "{case}");

        // A secret without AuditLog.Read.All is refused signInActivity; collected without it.
        let without = served(&sim, &sim.secrets().no_audit_log.clone(), false, &hr).await;
        let truth = serde_json::to_value(sim.truth(false)).unwrap();
        assert_eq!(without, truth, "{case}: without activity");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn joined_agrees_with_the_humaans_truth_and_every_category_is_planted() {
    let spec = CompanySpec::new(2_000, 11, "2026-03-15".parse().unwrap());
    let company = Company::generate(&spec).unwrap();
    let truth = humaans_sim::graph::truth_of(&company, true);
    let humaans = company.truth();
    let joined = &truth.joined;
    // Every category the platform shows is planted in a company this size.
    let c = &joined.counts;
    for (name, n) in [
        ("excluded", c.excluded),
        ("orphaned", c.orphaned),
        ("disabled_holding", c.disabled_holding),
        ("unidentified", c.unidentified),
        ("pre_hire", c.pre_hire),
        ("never_used", c.never_used),
        ("idle", c.idle),
        ("in_use", c.in_use),
    ] {
        assert!(n > 0, "{name} is planted: {joined:?}");
    }
    assert_eq!(c.unknown_activity, 0);
    let a = &truth.accounts.counts;
    assert!(a.in_use > 0 && a.idle > 0 && a.never_used > 0 && a.disabled_holding > 0);
    // Assignments, whichever way they are split, are the same number.
    let total = |c: &humaans_sim::graph::JoinedCounts| {
        c.excluded
            + c.orphaned
            + c.disabled_holding
            + c.unidentified
            + c.pre_hire
            + c.unknown_activity
            + c.never_used
            + c.idle
            + c.in_use
    };
    assert_eq!(
        total(c),
        a.in_use + a.idle + a.never_used + a.disabled_holding + a.unknown_activity
    );
    let pool_sum: u64 = joined.pools.iter().map(|p| total(&p.counts)).sum();
    assert_eq!(pool_sum, total(c));
    let assigned: u64 = truth.pools.iter().map(|p| p.assigned).sum();
    assert_eq!(assigned, total(c), "consumed units are the assignments");
    // Without activity, the join moves only the activity states to unknown_activity.
    let blind = humaans_sim::graph::truth_of(&company, false);
    let b = &blind.joined.counts;
    assert_eq!(
        (
            b.excluded,
            b.orphaned,
            b.disabled_holding,
            b.unidentified,
            b.pre_hire
        ),
        (
            c.excluded,
            c.orphaned,
            c.disabled_holding,
            c.unidentified,
            c.pre_hire
        )
    );
    assert_eq!(b.unknown_activity, c.never_used + c.idle + c.in_use);
    assert!(!blind.activity_available);
    assert_eq!(blind.accounts.counts.disabled_holding, a.disabled_holding);

    // People behind the orphaned and pre-hire assignments exist in the Humaans truth.
    let left = humaans.counts.offboarded + humaans.inactive_reasons.ended_not_offboarded;
    let pre_hires = humaans.counts.pre_hire;
    let people = company.people();
    let left_people = people
        .iter()
        .filter(|p| {
            p.expected.state == SeatState::Offboarded
                || p.expected.reason == Some(humaans_sim::SeatReason::EndedNotOffboarded)
        })
        .count() as u64;
    assert_eq!(left_people, left);
    assert!(c.orphaned > 0 && left > 0 && pre_hires > 0);
}

#[tokio::test]
async fn accounts_are_planted_on_the_rule_boundaries() {
    let sim = start(crate::graph_support::options(200, 17)).await;
    let d = sim.company().spec().as_of;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let users = all_users(
        &sim,
        &token,
        &format!("/v1.0/users?$select={SELECT}&$top=120"),
    )
    .await;
    let enabled_licensed: Vec<Account> = users
        .iter()
        .map(account)
        .filter(|a| a.enabled && !a.licences.is_empty())
        .collect();
    let days_since = |date: NaiveDate| (d - date).num_days();
    let last = |n: i64| {
        enabled_licensed
            .iter()
            .any(|a| a.last_activity.map(days_since) == Some(n))
    };
    let created_unused = |n: i64| {
        enabled_licensed
            .iter()
            .any(|a| a.last_activity.is_none() && a.grace_start.map(days_since) == Some(n))
    };
    assert!(
        last(30) && last(31) && last(0) && last(-1),
        "idle boundary and activity after D"
    );
    assert!(created_unused(14) && created_unused(15), "grace boundary");
    // Never signed in, in all three forms: null, year 1, and null dates.
    let sign_ins: Vec<&Value> = users.iter().map(|u| &u["signInActivity"]).collect();
    assert!(sign_ins.iter().any(|s| s.is_null()));
    assert!(
        sign_ins
            .iter()
            .any(|s| s["lastSignInDateTime"] == "0001-01-01T00:00:00Z")
    );
    assert!(sign_ins.iter().any(|s| s.is_object()
        && s["lastSignInDateTime"].is_null()
        && s["lastNonInteractiveSignInDateTime"].is_null()));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_directory_is_the_same_for_a_seed() {
    let serve = |seed| async move {
        let sim = start(crate::graph_support::options(300, seed)).await;
        let token = token(&sim, &sim.secrets().full.clone()).await;
        let users = all_users(
            &sim,
            &token,
            &format!("/v1.0/users?$select={SELECT}&$top=120"),
        )
        .await;
        let skus = graph_get(&sim, Some(&token), "/v1.0/subscribedSkus")
            .await
            .json()["value"]
            .clone();
        let ids = (
            sim.tenant_id().to_owned(),
            sim.client_id().to_owned(),
            sim.secrets().clone(),
        );
        sim.shutdown().await;
        (users, skus, ids)
    };
    let one = serve(5).await;
    let two = serve(5).await;
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
    assert_eq!(one.2, two.2);
    let other = serve(6).await;
    assert_ne!(one.0, other.0);
    assert_ne!(one.2.0, other.2.0);
    let upns: BTreeSet<&str> = one
        .0
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns.len(), one.0.len(), "UPNs are unique");
    // Some people's UPN and mail are not their work email: they match only through
    // proxyAddresses or otherMails.
    let company = Company::generate(&CompanySpec::new(300, 5, crate::support::as_of())).unwrap();
    let work: BTreeSet<String> = company
        .people()
        .iter()
        .filter_map(|p| p.email.as_deref())
        .map(|e| e.trim().to_lowercase())
        .collect();
    let is_work = |v: &Value| {
        v.as_str()
            .is_some_and(|a| work.contains(&a.trim().to_lowercase()))
    };
    let strip = |v: &Value| Value::from(v.as_str().unwrap()[5..].to_owned());
    let through = |u: &&Value, key: &str| -> bool {
        !is_work(&u["userPrincipalName"])
            && !is_work(&u["mail"])
            && u[key].as_array().unwrap().iter().any(|a| {
                if key == "proxyAddresses" {
                    is_work(&strip(a))
                } else {
                    is_work(a)
                }
            })
    };
    assert!(one.0.iter().any(|u| through(&u, "proxyAddresses")));
    assert!(one.0.iter().any(|u| through(&u, "otherMails")));
    // Guests look like guests.
    assert!(
        one.0.iter().any(|u| u["userType"] == "Guest"
            && u["userPrincipalName"].as_str().unwrap().contains("#EXT#@"))
    );
}
