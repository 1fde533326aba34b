//! Shared helpers: start a simulator, make requests, walk every page.

use chrono::NaiveDate;
use humaans_sim::{SimConfig, Simulator};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub(crate) fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).expect("valid date")
}

pub(crate) fn config(people: usize, seed: u64) -> SimConfig {
    SimConfig {
        people,
        seed,
        as_of: as_of(),
        ..SimConfig::default()
    }
}

pub(crate) async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }
}

/// GET `path` (which starts with `/api`) with an optional bearer token.
pub(crate) async fn get(sim: &Simulator, token: Option<&str>, path: &str) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{}{path}", sim.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request is answered");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body arrives"),
    }
}

/// Every item of a list endpoint, page by page (`path` may already have a query).
pub(crate) async fn get_all(sim: &Simulator, token: &str, path: &str, limit: u64) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    loop {
        let reply = get(
            sim,
            Some(token),
            &format!("{path}{separator}$limit={limit}&$skip={}", items.len()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let page = reply.json();
        let data = page["data"].as_array().expect("data is an array").clone();
        let total = page["total"].as_u64().expect("total is a number") as usize;
        let done = data.is_empty();
        items.extend(data);
        if done || items.len() >= total {
            assert_eq!(items.len(), total, "paging yields exactly `total` items");
            return items;
        }
    }
}
