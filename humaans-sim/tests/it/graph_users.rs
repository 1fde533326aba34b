//! `/v1.0/users`: `$select`, `$top` and its 120 cap, `@odata.nextLink` paging, and
//! `/v1.0/subscribedSkus`.

use std::collections::{BTreeSet, HashMap};

use humaans_sim::graph::GraphOptions;
use reqwest::StatusCode;

use crate::graph_support::{
    SELECT, SELECT_WITHOUT_SIGN_IN, all_pages, all_users, graph_error, graph_get, options, start,
    token,
};

#[tokio::test]
async fn paging_follows_next_links_with_the_sign_in_cap() {
    let sim = start(options(700, 11)).await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let expected_total = sim.truth(true).accounts.total as usize;
    // (path, largest page allowed)
    let cases = [
        (format!("/v1.0/users?$select={SELECT}&$top=999"), 120),
        (format!("/v1.0/users?$select={SELECT}&$top=120"), 120),
        (format!("/v1.0/users?$select={SELECT}&$top=50"), 50),
        (
            format!("/v1.0/users?$select={SELECT_WITHOUT_SIGN_IN}&$top=999"),
            999,
        ),
        (format!("/v1.0/users?$select={SELECT_WITHOUT_SIGN_IN}"), 100),
    ];
    for (path, cap) in cases {
        let pages = all_pages(&sim, &token, &path).await;
        let sizes: Vec<usize> = pages
            .iter()
            .map(|p| p["value"].as_array().unwrap().len())
            .collect();
        assert!(sizes.iter().all(|&n| n <= cap), "{path}: {sizes:?}");
        let ids: BTreeSet<String> = pages
            .iter()
            .flat_map(|p| p["value"].as_array().unwrap().clone())
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), expected_total, "{path}: every user exactly once");
        assert_eq!(sizes.iter().sum::<usize>(), expected_total, "{path}");
        for page in &pages[..pages.len() - 1] {
            let next = page["@odata.nextLink"].as_str().unwrap();
            assert!(
                next.starts_with(&format!("{}/v1.0/users?", sim.graph_url())),
                "{next}"
            );
            assert!(next.contains("$skiptoken="), "{next}");
        }
        if cap < expected_total {
            // Server-driven paging: some page before the last is shorter than the cap.
            assert!(
                sizes[..sizes.len() - 1].iter().any(|&n| n < cap),
                "{path}: {sizes:?}"
            );
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn full_pages_and_refusing_large_tops_are_options() {
    let sim = start(GraphOptions {
        short_pages: false,
        refuse_large_sign_in_top: true,
        ..options(400, 12)
    })
    .await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let refused = graph_get(
        &sim,
        Some(&token),
        &format!("/v1.0/users?$select={SELECT}&$top=121"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(graph_error(&refused), "BadRequest");
    let pages = all_pages(
        &sim,
        &token,
        &format!("/v1.0/users?$select={SELECT}&$top=120"),
    )
    .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["value"].as_array().unwrap().len())
        .collect();
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&n| n == 120),
        "{sizes:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn without_select_only_default_properties_come_back() {
    let sim = start(options(60, 13)).await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let users = all_users(&sim, &token, "/v1.0/users").await;
    let expected: BTreeSet<&str> = [
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ]
    .into();
    for user in &users {
        let keys: BTreeSet<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected);
    }
    let selected = all_users(&sim, &token, &format!("/v1.0/users?$select={SELECT}")).await;
    let keys: BTreeSet<&str> = selected[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, SELECT.split(',').collect());
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_queries_are_400() {
    let sim = start(options(60, 14)).await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let first = graph_get(&sim, Some(&token), "/v1.0/users?$top=5").await;
    let next = first.json()["@odata.nextLink"].as_str().unwrap().to_owned();
    let tampered = next.replace("$skiptoken=", "$skiptoken=x");
    for path in [
        "/v1.0/users?$top=0".to_owned(),
        "/v1.0/users?$top=1000".to_owned(),
        "/v1.0/users?$top=ten".to_owned(),
        "/v1.0/users?$select=id,salary".to_owned(),
        "/v1.0/users?$filter=accountEnabled eq false".to_owned(),
        tampered.trim_start_matches(sim.graph_url()).to_owned(),
        "/v1.0/groups".to_owned(),
    ] {
        let reply = graph_get(&sim, Some(&token), &path).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        graph_error(&reply);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn consumed_units_count_the_holders() {
    let sim = start(options(500, 15)).await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let skus = graph_get(&sim, Some(&token), "/v1.0/subscribedSkus")
        .await
        .json();
    let users = all_users(
        &sim,
        &token,
        &format!("/v1.0/users?$select={SELECT}&$top=120"),
    )
    .await;
    let mut holders: HashMap<String, u64> = HashMap::new();
    for user in &users {
        for licence in user["assignedLicenses"].as_array().unwrap() {
            *holders
                .entry(licence["skuId"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let skus = skus["value"].as_array().unwrap();
    let names: BTreeSet<&str> = skus
        .iter()
        .map(|s| s["skuPartNumber"].as_str().unwrap())
        .collect();
    for name in ["ENTERPRISEPACK", "SPE_E5", "POWER_BI_PRO", "FLOW_FREE"] {
        assert!(names.contains(name), "{names:?}");
    }
    let mut free = false;
    let mut suspended = false;
    let mut unassigned = 0;
    for sku in skus {
        let id = sku["skuId"].as_str().unwrap();
        let consumed = sku["consumedUnits"].as_u64().unwrap();
        assert_eq!(consumed, holders.get(id).copied().unwrap_or(0), "{sku}");
        let enabled = sku["prepaidUnits"]["enabled"].as_u64().unwrap();
        free |= enabled == 10_000;
        suspended |= sku["prepaidUnits"]["suspended"].as_u64().unwrap() > 0;
        unassigned += enabled.saturating_sub(consumed);
    }
    assert!(free && suspended && unassigned > 0);
    sim.shutdown().await;
}
