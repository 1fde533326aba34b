//! The modes of `ApiShape`: list answers with `total` exact, `-1`, absent or a bare array;
//! an order that is stable only under `$sort`; a refused sort; `/api/token-info` missing or
//! refused; the manager under `reportingTo`, `managerId` or nowhere.

use std::collections::BTreeSet;

use humaans_sim::{ApiShape, ListingTotal, ManagerField, SimConfig, TokenInfo};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{config, get, start};

fn shaped(people: usize, api: ApiShape) -> SimConfig {
    SimConfig {
        api,
        ..config(people, 23)
    }
}

const SORT: &str = "&$sort[createdAt]=1&$sort[id]=1";

/// The records of one list answer, whatever its shape.
fn records(page: &Value) -> Vec<Value> {
    match page {
        Value::Array(items) => items.clone(),
        other => other["data"].as_array().expect("data is an array").clone(),
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn each_listing_shape_is_served_as_configured() {
    // (shape, expected total member, envelope or bare array)
    let cases = [
        (ListingTotal::Exact, Some(Value::from(57)), true),
        (ListingTotal::MinusOne, Some(Value::from(-1)), true),
        (ListingTotal::Absent, None, true),
        (ListingTotal::BareArray, None, false),
    ];
    for (listing_total, total, envelope) in cases {
        let sim = start(shaped(
            57,
            ApiShape {
                listing_total,
                ..ApiShape::default()
            },
        ))
        .await;
        let token = sim.tokens().full.clone();
        let mut all = Vec::new();
        for skip in (0..57).step_by(20) {
            let reply = get(
                &sim,
                Some(&token),
                &format!("/api/people?$limit=20&$skip={skip}"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{listing_total:?}");
            let page = reply.json();
            assert_eq!(
                page.is_object(),
                envelope,
                "{listing_total:?}: {}",
                reply.text
            );
            if envelope {
                assert_eq!(page.get("total").cloned(), total, "{listing_total:?}");
                assert_eq!(page["limit"], 20, "{listing_total:?}");
            }
            all.extend(records(&page));
        }
        let got: BTreeSet<String> = ids(&all).into_iter().collect();
        assert_eq!(
            got.len(),
            57,
            "{listing_total:?}: $limit and $skip still apply"
        );
        let roles = get(&sim, Some(&token), "/api/job-roles?$limit=5")
            .await
            .json();
        assert_eq!(
            roles.is_object(),
            envelope,
            "{listing_total:?}: job roles too"
        );
        assert_eq!(records(&roles).len(), 5);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_unstable_order_moves_between_requests_unless_sorted() {
    let sim = start(shaped(
        90,
        ApiShape {
            unstable_order: true,
            ..ApiShape::default()
        },
    ))
    .await;
    let token = sim.tokens().full.clone();
    let page = |query: String| {
        let sim = &sim;
        let token = token.clone();
        async move { ids(&records(&get(sim, Some(&token), &query).await.json())) }
    };
    // Unsorted: two reads of the same page differ, and paging through misses people.
    let first = page("/api/people?$limit=30&$skip=0".into()).await;
    let again = page("/api/people?$limit=30&$skip=0".into()).await;
    assert_ne!(first, again, "the unsorted order changes between requests");
    let mut unsorted = BTreeSet::new();
    for skip in [0, 30, 60] {
        unsorted.extend(page(format!("/api/people?$limit=30&$skip={skip}")).await);
    }
    assert!(
        unsorted.len() < 90,
        "unsorted paging misses people: {}",
        unsorted.len()
    );

    // Sorted: the same every time, everyone once, by creation time then id.
    let mut sorted = Vec::new();
    for skip in [0, 30, 60] {
        let ids = page(format!("/api/people?$limit=30&$skip={skip}{SORT}")).await;
        assert_eq!(
            ids,
            page(format!("/api/people?$limit=30&$skip={skip}{SORT}")).await
        );
        sorted.extend(ids);
    }
    assert_eq!(sorted.iter().collect::<BTreeSet<_>>().len(), 90);
    let people = get(&sim, Some(&token), &format!("/api/people?$limit=90{SORT}"))
        .await
        .json();
    let keys: Vec<(String, String)> = records(&people)
        .iter()
        .map(|p| {
            (
                p["createdAt"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut ordered = keys.clone();
    ordered.sort();
    assert_eq!(keys, ordered, "sorted by createdAt, then id");
    let roles = ids(&records(
        &get(
            &sim,
            Some(&token),
            &format!("/api/job-roles?$limit=250{SORT}"),
        )
        .await
        .json(),
    ));
    assert_eq!(roles.len(), sim.company().job_roles().len());
    sim.shutdown().await;

    // The default order is stable without a sort.
    let sim = start(shaped(90, ApiShape::default())).await;
    let token = sim.tokens().full.clone();
    let one = get(&sim, Some(&token), "/api/people?$limit=30&$skip=30")
        .await
        .text;
    let two = get(&sim, Some(&token), "/api/people?$limit=30&$skip=30")
        .await
        .text;
    assert_eq!(one, two);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_sort_is_a_bad_request_naming_it() {
    let sim = start(shaped(
        10,
        ApiShape {
            refuse_sort: true,
            ..ApiShape::default()
        },
    ))
    .await;
    let token = sim.tokens().full.clone();
    for path in ["/api/people", "/api/job-roles"] {
        let reply = get(&sim, Some(&token), &format!("{path}?$limit=5{SORT}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        let body = reply.json();
        assert_eq!(body["className"], "bad-request");
        assert!(
            body["message"].as_str().unwrap().contains("$sort"),
            "{body}"
        );
        let plain = get(&sim, Some(&token), &format!("{path}?$limit=5")).await;
        assert_eq!(plain.status, StatusCode::OK, "{path} without a sort");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn token_info_answers_as_configured() {
    let cases = [
        (TokenInfo::Present, StatusCode::OK, None),
        (TokenInfo::Absent, StatusCode::NOT_FOUND, Some("not-found")),
        (
            TokenInfo::MethodNotAllowed,
            StatusCode::METHOD_NOT_ALLOWED,
            Some("method-not-allowed"),
        ),
        (
            TokenInfo::BadRequest,
            StatusCode::BAD_REQUEST,
            Some("bad-request"),
        ),
    ];
    for (token_info, status, class) in cases {
        let sim = start(shaped(
            5,
            ApiShape {
                token_info,
                ..ApiShape::default()
            },
        ))
        .await;
        let reply = get(&sim, Some(&sim.tokens().full), "/api/token-info").await;
        assert_eq!(reply.status, status, "{token_info:?}");
        match class {
            Some(class) => assert_eq!(reply.json()["className"], class, "{token_info:?}"),
            None => assert!(reply.json()["scopes"].is_array()),
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_manager_member_is_named_as_configured() {
    for (field, key) in [
        (ManagerField::ReportingTo, Some("reportingTo")),
        (ManagerField::ManagerId, Some("managerId")),
        (ManagerField::None, None),
    ] {
        let sim = start(shaped(
            40,
            ApiShape {
                manager_field: field,
                ..ApiShape::default()
            },
        ))
        .await;
        let token = sim.tokens().full.clone();
        let roles = records(
            &get(&sim, Some(&token), "/api/job-roles?$limit=250")
                .await
                .json(),
        );
        assert_eq!(roles.len(), sim.company().job_roles().len());
        for (role, planted) in roles.iter().zip(sim.company().job_roles()) {
            assert_eq!(role["id"], planted.id.as_str());
            let other = ["reportingTo", "managerId"]
                .into_iter()
                .filter(|k| Some(*k) != key);
            for absent in other {
                assert!(role.get(absent).is_none(), "{field:?}: {role}");
            }
            if let Some(key) = key {
                assert_eq!(
                    role[key].as_str(),
                    planted.reporting_to.as_deref(),
                    "{field:?}"
                );
            }
        }
        // The single-record endpoint agrees with the listing.
        let one = get(
            &sim,
            Some(&token),
            &format!("/api/job-roles/{}", roles[0]["id"].as_str().unwrap()),
        )
        .await
        .json();
        assert_eq!(one, roles[0]);
        sim.shutdown().await;
    }
}
