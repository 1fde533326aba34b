//! The Feathers list envelope, `$limit`/`$skip` in both encodings, clamping, and shapes.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{config, get, get_all, start};

#[tokio::test]
async fn envelope_limit_and_skip() {
    let sim = start(config(300, 11)).await;
    let token = sim.tokens().full.clone();
    // (query, expected (limit, skip, data length)); total is always 300.
    let cases: &[(&str, (u64, u64, usize))] = &[
        ("", (100, 0, 100)),
        ("?$limit=250", (250, 0, 250)),
        ("?$limit=1000", (250, 0, 250)),
        ("?%24limit=7&%24skip=298", (7, 298, 2)),
        ("?$limit=7&$skip=298", (7, 298, 2)),
        ("?$limit=0", (0, 0, 0)),
        ("?$skip=1000", (100, 1000, 0)),
        ("?$skip=250", (100, 250, 50)),
    ];
    for &(query, (limit, skip, len)) in cases {
        let reply = get(&sim, Some(&token), &format!("/api/people{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        let page = reply.json();
        let keys: Vec<&str> = page
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{query}: {keys:?}");
        assert_eq!(page["total"], 300, "{query}");
        assert_eq!(page["limit"], limit, "{query}");
        assert_eq!(page["skip"], skip, "{query}");
        assert_eq!(page["data"].as_array().unwrap().len(), len, "{query}");
    }
    for query in ["?$limit=abc", "?$skip=-1", "?%24limit=1.5"] {
        let reply = get(&sim, Some(&token), &format!("/api/people{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()["className"], "bad-request");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn paging_returns_everyone_once_in_a_stable_order() {
    let sim = start(config(523, 12)).await;
    let token = sim.tokens().full.clone();
    let by_100 = get_all(&sim, &token, "/api/people", 100).await;
    let by_37 = get_all(&sim, &token, "/api/people", 37).await;
    assert_eq!(by_100, by_37, "the order does not depend on the page size");
    let ids: Vec<&str> = by_100.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 523);
    let planted: Vec<&str> = sim
        .company()
        .people()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, planted);
    // Served JSON is the planted JSON.
    let first = &sim.company().people()[0];
    assert_eq!(
        by_100[0],
        serde_json::from_str::<Value>(&first.json()).unwrap()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn single_resources_and_job_role_filter() {
    let sim = start(config(200, 13)).await;
    let token = sim.tokens().full.clone();
    let company = sim.company().clone();
    let person = &company.people()[17];
    let reply = get(&sim, Some(&token), &format!("/api/people/{}", person.id)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["id"], person.id.as_str());

    let missing = get(&sim, Some(&token), "/api/people/doesNotExist").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["name"], "NotFound");

    let roles = get_all(&sim, &token, "/api/job-roles", 250).await;
    assert_eq!(roles.len(), company.job_roles().len());
    for person in company.people().iter().take(40) {
        let served = get_all(
            &sim,
            &token,
            &format!("/api/job-roles?personId={}", person.id),
            100,
        )
        .await;
        let planted: Vec<&str> = company
            .job_roles_of(&person.id)
            .map(|r| r.id.as_str())
            .collect();
        let served_ids: Vec<&str> = served.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(served_ids, planted, "roles of {}", person.id);
        assert!(served.iter().all(|r| r["personId"] == person.id.as_str()));
    }
    let role = &company.job_roles()[3];
    let reply = get(&sim, Some(&token), &format!("/api/job-roles/{}", role.id)).await;
    assert_eq!(reply.json()["id"], role.id.as_str());

    let companies = get(&sim, Some(&token), "/api/companies").await.json();
    assert_eq!(companies["total"], 1);
    let id = companies["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, company.id());
    let one = get(&sim, Some(&token), &format!("/api/companies/{id}"))
        .await
        .json();
    assert_eq!(one["name"], company.name());
    sim.shutdown().await;
}

fn is_date(value: &Value) -> bool {
    match value.as_str() {
        Some(text) => text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        None => value.is_null(),
    }
}

fn is_timestamp(value: &Value) -> bool {
    match value.as_str() {
        // 2020-01-28T08:44:42.000Z: 24 characters, milliseconds, `Z`.
        Some(text) => {
            text.len() == 24
                && text.ends_with('Z')
                && text.as_bytes()[19] == b'.'
                && DateTime::parse_from_rfc3339(text).is_ok()
        }
        None => value.is_null(),
    }
}

#[tokio::test]
async fn dates_and_timestamps_have_the_documented_formats() {
    let sim = start(config(400, 14)).await;
    let token = sim.tokens().full.clone();
    let people = get_all(&sim, &token, "/api/people", 250).await;
    let date_keys = [
        "birthday",
        "employmentStartDate",
        "firstWorkingDay",
        "employmentEndDate",
        "lastWorkingDay",
        "probationEndDate",
    ];
    let stamp_keys = ["createdAt", "updatedAt", "seenDocumentsAt"];
    for person in &people {
        for key in date_keys {
            assert!(person.get(key).is_some(), "{key} present");
            assert!(is_date(&person[key]), "{key} = {}", person[key]);
        }
        for key in stamp_keys {
            assert!(is_timestamp(&person[key]), "{key} = {}", person[key]);
        }
        assert!(person["workingDays"].as_array().is_some());
    }
    for role in get_all(&sim, &token, "/api/job-roles", 250).await {
        assert!(
            is_date(&role["effectiveDate"]) && is_date(&role["endDate"]),
            "{role}"
        );
        assert!(
            is_timestamp(&role["createdAt"]) && is_timestamp(&role["updatedAt"]),
            "{role}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn status_filter() {
    let sim = start(config(300, 15)).await;
    let token = sim.tokens().full.clone();
    for status in ["active", "newHire", "offboarded", "suspended"] {
        let served = get_all(&sim, &token, &format!("/api/people?status={status}"), 250).await;
        let planted = sim
            .company()
            .people()
            .iter()
            .filter(|p| p.status.as_deref() == Some(status))
            .count();
        assert_eq!(served.len(), planted, "{status}");
        assert!(served.iter().all(|p| p["status"] == status));
    }
    sim.shutdown().await;
}
