//! `/metrics` for operators: agents by state, stale sources, each source's last successful
//! apply, the apply duration histogram and email send failures, read over HTTP.

use chrono::Duration;
use reqwest::StatusCode;

use crate::console::{
    ADMIN_PASSWORD, Agent, Platform, Session, company, create_token, create_users,
};
use crate::{TestDb, t0};

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_agents_staleness_and_last_applies() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;

    let text = scrape(&platform.url).await;
    for state in ["pending", "approved", "rejected", "revoked"] {
        assert_eq!(
            sample(&text, &format!("seatbroker_agents{{state=\"{state}\"}}")),
            Some(0.0),
            "{text}"
        );
    }
    assert_eq!(sample(&text, "seatbroker_sources_stale"), Some(0.0));
    assert_eq!(
        sample(&text, "seatbroker_email_send_failures_total"),
        Some(0.0)
    );
    assert_eq!(sample(&text, "seatbroker_database_up"), Some(1.0));

    let token = create_token(&mut admin).await;
    let approved = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let rejected = Agent::enroll(&platform.url, &token, &[("main", "tenant-2")]).await;
    let _pending = Agent::enroll(&platform.url, &token, &[("main", "tenant-3")]).await;
    admin
        .act(
            &format!("/approvals/agents/{}/approve", approved.enrolled.agent_id),
            &[],
        )
        .await;
    admin
        .act(
            &format!("/approvals/sources/{}/approve", approved.source_id(0)),
            &[],
        )
        .await;
    admin
        .act(
            &format!("/approvals/agents/{}/reject", rejected.enrolled.agent_id),
            &[],
        )
        .await;
    let source = approved.source_id(0);
    let text = scrape(&platform.url).await;
    assert_eq!(
        sample(&text, "seatbroker_agents{state=\"approved\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "seatbroker_agents{state=\"rejected\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "seatbroker_agents{state=\"pending\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "seatbroker_sources{health=\"awaiting_first_upload\"}"
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("seatbroker_source_last_apply_timestamp_seconds{"),
        "{text}"
    );

    // One applied snapshot: its time per source, and one apply in the histogram.
    db.clock.set(t0() + Duration::minutes(10));
    approved
        .upload(
            &[&platform.url],
            &source,
            &"a".repeat(32),
            1,
            t0(),
            company(),
        )
        .await;
    let text = scrape(&platform.url).await;
    let series = format!(
        "seatbroker_source_last_apply_timestamp_seconds{{source=\"{source}\",kind=\"humaans\"}}"
    );
    assert_eq!(
        sample(&text, &series),
        Some((t0() + Duration::minutes(10)).timestamp() as f64),
        "{text}"
    );
    assert_eq!(sample(&text, "seatbroker_apply_seconds_count"), Some(1.0));
    assert_eq!(
        sample(&text, "seatbroker_apply_seconds_bucket{le=\"+Inf\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "seatbroker_sources{health=\"healthy\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "seatbroker_sources_stale"), Some(0.0));

    // The agent said it collects hourly: three hours without an upload is stale.
    db.clock.set(t0() + Duration::hours(3));
    let text = scrape(&platform.url).await;
    assert_eq!(
        sample(&text, "seatbroker_sources_stale"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "seatbroker_sources{health=\"healthy\"}"),
        Some(0.0)
    );

    // A scrape without a database says so instead of failing.
    db.store.close().await;
    let text = scrape(&platform.url).await;
    assert_eq!(sample(&text, "seatbroker_database_up"), Some(0.0));
    assert!(text.contains("seatbroker_apply_seconds_count 1"));
}
