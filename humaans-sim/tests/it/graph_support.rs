//! Helpers for the Graph simulator: start it, get tokens, call Graph, walk `nextLink`.

use humaans_sim::graph::{GraphOptions, GraphSimulator};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Reply, as_of};

pub(crate) const SELECT: &str = "id,userPrincipalName,mail,otherMails,proxyAddresses,accountEnabled,userType,createdDateTime,assignedLicenses,signInActivity";
pub(crate) const SELECT_WITHOUT_SIGN_IN: &str = "id,userPrincipalName,mail,otherMails,proxyAddresses,accountEnabled,userType,createdDateTime,assignedLicenses";

pub(crate) fn options(people: usize, seed: u64) -> GraphOptions {
    GraphOptions {
        people,
        seed,
        as_of: as_of(),
        ..GraphOptions::default()
    }
}

pub(crate) async fn start(options: GraphOptions) -> GraphSimulator {
    GraphSimulator::start(options)
        .await
        .expect("graph simulator starts")
}

async fn reply(response: reqwest::Response) -> Reply {
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body arrives"),
    }
}

/// POSTs the token form (`pairs`) for `tenant`.
pub(crate) async fn token_request(
    sim: &GraphSimulator,
    tenant: &str,
    pairs: &[(&str, &str)],
) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.login_url()))
        .form(pairs)
        .send()
        .await
        .expect("token request is answered");
    reply(response).await
}

/// The form the agent sends for `secret`.
pub(crate) async fn token_for(sim: &GraphSimulator, secret: &str) -> Reply {
    let scope = format!("{}/.default", sim.graph_url());
    token_request(
        sim,
        sim.tenant_id(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", secret),
            ("scope", &scope),
        ],
    )
    .await
}

/// An access token for `secret` (which must be accepted).
pub(crate) async fn token(sim: &GraphSimulator, secret: &str) -> String {
    let reply = token_for(sim, secret).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["access_token"]
        .as_str()
        .expect("access_token is a string")
        .to_owned()
}

/// GET an absolute URL with an optional bearer token.
pub(crate) async fn get_url(url: &str, token: Option<&str>) -> Reply {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request.send().await.expect("request is answered")).await
}

/// GET `{graph_url}{path}`.
pub(crate) async fn graph_get(sim: &GraphSimulator, token: Option<&str>, path: &str) -> Reply {
    get_url(&format!("{}{path}", sim.graph_url()), token).await
}

/// Every page of a listing, following `@odata.nextLink` verbatim.
pub(crate) async fn all_pages(sim: &GraphSimulator, token: &str, path: &str) -> Vec<Value> {
    let mut url = format!("{}{path}", sim.graph_url());
    let mut pages = Vec::new();
    loop {
        let reply = get_url(&url, Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        let page = reply.json();
        let next = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(next) => url = next,
            None => return pages,
        }
        assert!(pages.len() < 10_000, "runaway paging");
    }
}

/// Every user of the listing.
pub(crate) async fn all_users(sim: &GraphSimulator, token: &str, path: &str) -> Vec<Value> {
    all_pages(sim, token, path)
        .await
        .into_iter()
        .flat_map(|page| page["value"].as_array().expect("value is an array").clone())
        .collect()
}

/// Asserts a Graph error body and returns its code.
pub(crate) fn graph_error(reply: &Reply) -> String {
    let body = reply.json();
    let error = &body["error"];
    for key in ["date", "request-id", "client-request-id"] {
        assert!(
            error["innerError"][key].is_string(),
            "innerError.{key} missing: {}",
            reply.text
        );
    }
    assert!(error["message"].is_string(), "{}", reply.text);
    error["code"].as_str().expect("error.code").to_owned()
}
