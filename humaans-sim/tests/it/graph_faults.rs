//! Graph faults hit exactly the configured Graph request numbers.

use std::time::Duration;

use humaans_sim::graph::{
    GraphFaults, GraphOptions, RateLimitWhen, Revoke, Throttle, ThrottleStatus,
};
use reqwest::StatusCode;

use crate::graph_support::{graph_error, graph_get, options, start, token, token_for};

fn with_faults(faults: GraphFaults) -> GraphOptions {
    GraphOptions {
        faults,
        ..options(80, 21)
    }
}

#[tokio::test]
async fn throttling_follows_the_graph_request_counter() {
    let throttle = |when, status| {
        Some(Throttle {
            when,
            status,
            retry_after_secs: 7,
        })
    };
    // (faults, expected statuses of Graph requests 1..=6, expected error code)
    let cases = [
        (GraphFaults::default(), [200; 6], None),
        (
            GraphFaults {
                throttle: throttle(RateLimitWhen::Every(3), ThrottleStatus::TooManyRequests),
                ..GraphFaults::default()
            },
            [200, 200, 429, 200, 200, 429],
            Some("TooManyRequests"),
        ),
        (
            GraphFaults {
                throttle: throttle(
                    RateLimitWhen::Requests { from: 2, count: 2 },
                    ThrottleStatus::ServiceUnavailable,
                ),
                ..GraphFaults::default()
            },
            [200, 503, 503, 200, 200, 200],
            Some("ServiceNotAvailable"),
        ),
        (
            GraphFaults {
                throttle: throttle(RateLimitWhen::Every(4), ThrottleStatus::GatewayTimeout),
                ..GraphFaults::default()
            },
            [200, 200, 200, 504, 200, 200],
            Some("GatewayTimeout"),
        ),
    ];
    for (faults, expected, code) in cases {
        let sim = start(with_faults(faults.clone())).await;
        // Token requests are not counted.
        let token = token(&sim, &sim.secrets().full.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let reply = graph_get(&sim, Some(&token), "/v1.0/subscribedSkus").await;
            if reply.status != StatusCode::OK {
                assert_eq!(reply.headers["retry-after"], "7", "{faults:?}");
                assert_eq!(Some(graph_error(&reply).as_str()), code, "{faults:?}");
            }
            statuses.push(reply.status.as_u16());
        }
        assert_eq!(statuses, expected, "{faults:?}");
        assert_eq!(sim.requests(), 6);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_failing_page_fails_every_time() {
    let sim = start(with_faults(GraphFaults {
        fail_page: Some(2),
        ..GraphFaults::default()
    }))
    .await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let first = graph_get(&sim, Some(&token), "/v1.0/users?$top=10").await;
    assert_eq!(first.status, StatusCode::OK);
    let next = first.json()["@odata.nextLink"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let reply = crate::graph_support::get_url(&next, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(graph_error(&reply), "generalException");
    }
    // Page 1 still works.
    let again = graph_get(&sim, Some(&token), "/v1.0/users?$top=10").await;
    assert_eq!(again.status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_secret_is_revoked_after_n_requests() {
    let options = options(80, 22);
    let secret = humaans_sim::graph::GraphSecrets::for_seed(options.seed).full;
    let sim = start(GraphOptions {
        faults: GraphFaults {
            revoke: Some(Revoke {
                secret: secret.clone(),
                after_requests: 2,
            }),
            ..GraphFaults::default()
        },
        ..options
    })
    .await;
    let token = token(&sim, &secret).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            graph_get(&sim, Some(&token), "/v1.0/subscribedSkus")
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 401, 401]);
    assert_eq!(
        token_for(&sim, &secret).await.status,
        StatusCode::UNAUTHORIZED
    );
    sim.shutdown().await;

    // Revoked from the start: the token endpoint refuses it before any Graph request.
    let options = options_with_revoke(0);
    let secret = options.faults.revoke.clone().unwrap().secret;
    let sim = start(options).await;
    let refused = token_for(&sim, &secret).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "invalid_client");
    sim.shutdown().await;
}

fn options_with_revoke(after_requests: u64) -> GraphOptions {
    let options = options(40, 23);
    let secret = humaans_sim::graph::GraphSecrets::for_seed(options.seed).no_audit_log;
    GraphOptions {
        faults: GraphFaults {
            revoke: Some(Revoke {
                secret,
                after_requests,
            }),
            ..GraphFaults::default()
        },
        ..options
    }
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_request() {
    let sim = start(with_faults(GraphFaults {
        latency: Duration::from_secs(20),
        ..GraphFaults::default()
    }))
    .await;
    let started = tokio::time::Instant::now();
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let reply = graph_get(&sim, Some(&token), "/v1.0/subscribedSkus").await;
    assert_eq!(reply.status, StatusCode::OK);
    // Paused time: the clock only moves through the server's sleeps (token and Graph).
    assert!(started.elapsed() >= Duration::from_secs(40));
    sim.shutdown().await;
}
