//! The OpenAPI document: what `/api/openapi.json` serves is the committed
//! `protocol/openapi.json`, and its operations are exactly the routes the router serves
//! under `/api/agent/v1` and `/api/v1/reports` and the ones `protocol/README.md` lists.
//!
//! After changing an API on purpose: `UPDATE_OPENAPI=1 cargo test -p seatbroker-platform
//! --test it openapi`, then update the README's tables.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header;

use crate::TestDb;
use crate::console::Platform;

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_file(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

async fn served(base: &str) -> String {
    let response = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    response.text().await.unwrap()
}

/// (METHOD, path) of every operation of the document.
fn document_operations(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// (METHOD, path) of every table row of `markdown` that names an API route:
/// ``| `GET` | `/api/...` |``.
fn readme_operations(markdown: &str) -> BTreeSet<(String, String)> {
    markdown
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let method = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let path = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            (path.starts_with("/api/agent/") || path.starts_with("/api/v1/reports/"))
                .then(|| (method.to_owned(), path.to_owned()))
        })
        .collect()
}

/// (METHOD, path) of every `.route(PATH, method(...))` in a router's source under the two
/// APIs, with `paths::NAME` resolved through the protocol crate.
fn router_operations(source: &str) -> BTreeSet<(String, String)> {
    let constants = [
        ("paths::ENROLL", seatbroker_protocol::paths::ENROLL),
        ("paths::STATUS", seatbroker_protocol::paths::STATUS),
        ("paths::HEARTBEAT", seatbroker_protocol::paths::HEARTBEAT),
    ];
    let compact: String = source.split_whitespace().collect();
    let mut out = BTreeSet::new();
    for call in compact.split(".route(").skip(1) {
        let Some((path, rest)) = call.split_once(',') else {
            continue;
        };
        let path = match constants.iter().find(|(name, _)| *name == path) {
            Some((_, value)) => (*value).to_owned(),
            None => path.trim_matches('"').to_owned(),
        };
        if !(path.starts_with("/api/agent/") || path.starts_with("/api/v1/reports/")) {
            continue;
        }
        let method = rest.split('(').next().unwrap_or_default();
        out.insert((method.to_uppercase(), path));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_committed_one() {
    let db = TestDb::sqlite().await;
    let platform = Platform::start(db.store.clone()).await;
    let text = served(&platform.url).await;
    let committed = repo_file("protocol/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&committed, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        on_disk == text,
        "protocol/openapi.json differs from what the platform serves; after an intended API \
         change run `UPDATE_OPENAPI=1 cargo test -p seatbroker-platform --test it openapi` \
         and update protocol/README.md"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn readme_router_and_document_list_the_same_operations() {
    let doc: serde_json::Value = serde_json::from_str(&read("protocol/openapi.json")).unwrap();
    let documented = document_operations(&doc);
    let readme = read("protocol/README.md");
    assert!(
        readme.contains("](openapi.json)"),
        "protocol/README.md must link the committed document"
    );
    assert_eq!(
        readme_operations(&readme),
        documented,
        "protocol/README.md's route tables and protocol/openapi.json disagree"
    );
    let mut routed = router_operations(&read("platform/src/api/mod.rs"));
    routed.extend(router_operations(&read("platform/src/web/mod.rs")));
    assert_eq!(
        routed, documented,
        "the router serves other API routes than protocol/openapi.json documents"
    );
    // Both APIs are there.
    assert!(
        documented
            .iter()
            .any(|(_, p)| p.starts_with("/api/agent/v1/"))
    );
    assert!(documented.contains(&("GET".to_owned(), "/api/v1/reports/licences".to_owned())));
}

#[test]
fn the_route_parsers_see_what_they_should() {
    let source = r#"Router::new()
        .route(paths::STATUS, get(status::status))
        .route(
            "/api/agent/v1/snapshots/{snapshot_id}/parts/{part}",
            put(upload::upload_part),
        )
        .route("/seats", get(reports::seats))
        .route("/api/v1/reports/trends", get(reports::trends))"#;
    let found = router_operations(source);
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/api/agent/v1/status"),
        ("PUT", "/api/agent/v1/snapshots/{snapshot_id}/parts/{part}"),
        ("GET", "/api/v1/reports/trends"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(found, expected);
    let table = "| method | path |\n|---|---|\n| `POST` | `/api/agent/v1/enroll` | x |\n| `GET` | `/healthz` |";
    assert_eq!(
        readme_operations(table),
        [("POST".to_owned(), "/api/agent/v1/enroll".to_owned())].into()
    );
}
