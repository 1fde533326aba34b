//! Injected faults hit exactly the configured request numbers.

use std::time::Duration;

use humaans_sim::{Faults, RateLimit, RateLimitWhen, SimConfig, SlowBody, Truncate, TruncateMode};
use reqwest::StatusCode;

use crate::support::{config, get, start};

fn with_faults(faults: Faults) -> SimConfig {
    SimConfig {
        faults,
        ..config(120, 41)
    }
}

/// Statuses of `n` sequential GETs of `/api/people`.
async fn statuses(sim: &humaans_sim::Simulator, n: usize) -> Vec<u16> {
    let token = sim.tokens().full.clone();
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            get(sim, Some(&token), "/api/people?$limit=5")
                .await
                .status
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn status_faults_follow_the_request_counter() {
    let rate = |when| {
        Some(RateLimit {
            when,
            retry_after_secs: 7,
        })
    };
    // (faults, expected statuses of requests 1..=6)
    let cases: Vec<(Faults, [u16; 6])> = vec![
        (Faults::default(), [200; 6]),
        (
            Faults {
                rate_limit: rate(RateLimitWhen::Every(3)),
                ..Faults::default()
            },
            [200, 200, 429, 200, 200, 429],
        ),
        (
            Faults {
                rate_limit: rate(RateLimitWhen::Requests { from: 2, count: 3 }),
                ..Faults::default()
            },
            [200, 429, 429, 429, 200, 200],
        ),
        (
            Faults {
                server_error_every: Some(2),
                ..Faults::default()
            },
            [200, 502, 200, 502, 200, 502],
        ),
        (
            // Both hit request 6: the rate limit wins.
            Faults {
                rate_limit: rate(RateLimitWhen::Every(3)),
                server_error_every: Some(2),
                ..Faults::default()
            },
            [200, 502, 429, 502, 200, 429],
        ),
        (
            Faults {
                server_error_every: Some(0),
                ..Faults::default()
            },
            [200; 6],
        ),
    ];
    for (faults, expected) in cases {
        let sim = start(with_faults(faults.clone())).await;
        assert_eq!(statuses(&sim, 6).await, expected, "{faults:?}");
        assert_eq!(sim.requests(), 6);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn fault_bodies() {
    let faults = Faults {
        rate_limit: Some(RateLimit {
            when: RateLimitWhen::Every(2),
            retry_after_secs: 7,
        }),
        server_error_every: Some(3),
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;
    let token = sim.tokens().full.clone();
    let _ = get(&sim, Some(&token), "/api/people").await;
    let limited = get(&sim, Some(&token), "/api/people").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "7");
    assert_eq!(limited.json()["code"], 429);
    let bad_gateway = get(&sim, Some(&token), "/api/people").await;
    assert_eq!(bad_gateway.status, StatusCode::BAD_GATEWAY);
    assert!(
        bad_gateway.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(serde_json::from_str::<serde_json::Value>(&bad_gateway.text).is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_and_slow_bodies() {
    let sim = start(config(120, 42)).await;
    let token = sim.tokens().full.clone();
    let path = "/api/people?$limit=50";
    let intact = get(&sim, Some(&token), path).await.text;

    sim.set_faults(Faults {
        truncate: Some(Truncate {
            every: 1,
            mode: TruncateMode::CutJson,
        }),
        ..Faults::default()
    });
    let cut = get(&sim, Some(&token), path).await;
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(
        cut.headers["content-length"],
        cut.text.len().to_string().as_str()
    );
    assert!(intact.starts_with(&cut.text) && cut.text.len() < intact.len());
    assert!(serde_json::from_str::<serde_json::Value>(&cut.text).is_err());

    sim.set_faults(Faults {
        truncate: Some(Truncate {
            every: 1,
            mode: TruncateMode::CloseMidBody,
        }),
        ..Faults::default()
    });
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(
        response.headers()["content-length"],
        intact.len().to_string().as_str()
    );
    assert!(response.bytes().await.is_err(), "the body breaks off");

    sim.set_faults(Faults {
        slow_body: Some(SlowBody {
            every: 1,
            chunk_bytes: 1000,
            chunk_delay: Duration::from_millis(1),
        }),
        ..Faults::default()
    });
    let slow = get(&sim, Some(&token), path).await;
    assert_eq!(slow.text, intact, "a slow body is still the whole body");
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_response() {
    let sim = start(with_faults(Faults {
        latency: Duration::from_secs(30),
        ..Faults::default()
    }))
    .await;
    let token = sim.tokens().full.clone();
    let started = tokio::time::Instant::now();
    let reply = get(&sim, Some(&token), "/api/people").await;
    assert_eq!(reply.status, StatusCode::OK);
    // Paused time: the clock only moves through the server's sleep.
    assert!(started.elapsed() >= Duration::from_secs(30));
    sim.shutdown().await;
}
