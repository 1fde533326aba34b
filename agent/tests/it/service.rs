//! The whole run loop (`Service::run`) against a mockito platform, observed through the
//! service's events. A generous timeout guards each wait against a hang; no test depends on
//! how long anything takes.

use std::time::Duration;

use chrono::Utc;
use mockito::Matcher;
use seatbroker_agent::Event;
use seatbroker_protocol::SourceState;
use tokio_util::sync::CancellationToken;

use crate::uplink::Harness;

const HANG_GUARD: Duration = Duration::from_secs(30);

/// Waits for the first event matching `want`, returning everything seen until then.
async fn until(h: &mut Harness, want: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = match tokio::time::timeout(HANG_GUARD, h.events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the service ended; events so far: {seen:?}"),
            Err(_) => panic!("the service went quiet; events so far: {seen:?}"),
        };
        let done = want(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn start(h: &Harness) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let service = h.service.clone();
    let token = cancel.clone();
    let task = tokio::spawn(async move { service.run(token).await.unwrap() });
    (cancel, task)
}

async fn stop(cancel: CancellationToken, task: tokio::task::JoinHandle<()>) {
    cancel.cancel();
    tokio::time::timeout(HANG_GUARD, task)
        .await
        .expect("the service did not stop")
        .unwrap();
}

#[tokio::test]
async fn collects_at_start_and_uploads_once_approved() {
    let mut h = Harness::new(&["acme"], true).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    let put = h.accept_parts(Matcher::Any).await;
    let (cancel, task) = start(&h);
    // Both the upload and the scheduling of the next collection, in whatever order.
    let mut seen = Vec::new();
    let mut next = None;
    while next.is_none()
        || !seen
            .iter()
            .any(|e| matches!(e, Event::Uploaded { sequence: 1, .. }))
    {
        let event = until(&mut h, |_| true).await.remove(0);
        let collected = seen.iter().any(|e| matches!(e, Event::Collected { .. }));
        if let (true, Event::Scheduled { at, .. }) = (collected, &event) {
            next = Some(*at);
        }
        seen.push(event);
    }
    // The next collection is an interval (1 h ± 10 %) away.
    let at = next.unwrap();
    let ahead = (at - Utc::now()).num_minutes();
    assert!((50..=66).contains(&ahead), "next collection in {ahead} min");
    stop(cancel, task).await;
    put.assert_async().await;
    assert!(h.spooled("acme").is_empty());
    let state = h.store.load().unwrap();
    assert!(
        state.sources["acme"]
            .last_collection
            .as_ref()
            .unwrap()
            .succeeded
    );
}

#[tokio::test]
async fn a_recent_collection_is_not_repeated_at_start() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("pending", &[("acme", "pending", "src_1")]).await;
    h.heartbeat().await;
    let (cancel, task) = start(&h);
    let seen = until(&mut h, |e| matches!(e, Event::Scheduled { .. })).await;
    let Some(Event::Scheduled { at, .. }) = seen.last() else {
        unreachable!()
    };
    assert!((*at - Utc::now()).num_minutes() >= 58, "due {at}");
    stop(cancel, task).await;
    assert_eq!(h.spooled("acme"), vec![1]);
}

#[tokio::test]
async fn a_rejected_source_is_not_collected() {
    let mut h = Harness::new(&["acme"], true).await;
    h.store
        .update(|r| {
            r.sources.entry("acme".into()).or_default().state = Some(SourceState::Rejected);
        })
        .unwrap();
    h.status("approved", &[("acme", "rejected", "src_1")]).await;
    h.heartbeat().await;
    let (cancel, task) = start(&h);
    let seen = until(&mut h, |e| matches!(e, Event::SourceStopped { .. })).await;
    stop(cancel, task).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::CollectionStarted { .. }))
    );
    assert!(h.spooled("acme").is_empty());
}

#[tokio::test]
async fn a_failed_collection_is_recorded_and_retried_sooner() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collector
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    h.status("pending", &[("acme", "pending", "src_1")]).await;
    let heartbeat = h
        .server
        .mock("POST", "/api/agent/v1/heartbeat")
        .match_body(Matcher::Regex("Humaans is down".into()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(serde_json::json!({"received_at": Utc::now()}).to_string())
        .expect_at_least(1)
        .create_async()
        .await;
    let (cancel, task) = start(&h);
    until(&mut h, |e| matches!(e, Event::CollectionFailed { .. })).await;
    let seen = until(&mut h, |e| matches!(e, Event::Scheduled { .. })).await;
    let Some(Event::Scheduled { at, .. }) = seen.last() else {
        unreachable!()
    };
    let ahead = (*at - Utc::now()).num_seconds();
    assert!((240..=300).contains(&ahead), "retry in {ahead} s");
    // The next round's heartbeat carries the failure.
    h.service.round(&CancellationToken::new()).await;
    stop(cancel, task).await;
    heartbeat.assert_async().await;
    let state = h.store.load().unwrap();
    let last = state.sources["acme"].last_collection.clone().unwrap();
    assert!(!last.succeeded);
    assert!(state.last_error.unwrap().contains("Humaans is down"));
}

#[tokio::test]
async fn shutdown_abandons_a_collection_in_progress_and_spools_nothing() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collector
        .hang
        .store(true, std::sync::atomic::Ordering::SeqCst);
    h.status("pending", &[("acme", "pending", "src_1")]).await;
    h.heartbeat().await;
    let (cancel, task) = start(&h);
    until(&mut h, |e| matches!(e, Event::CollectionStarted { .. })).await;
    stop(cancel, task).await;
    assert!(h.spooled("acme").is_empty());
}

#[tokio::test]
async fn shutdown_interrupts_an_upload_retrying_against_a_down_platform() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    let (tx, mut failed) = tokio::sync::mpsc::unbounded_channel();
    h.server
        .mock("PUT", Matcher::Any)
        .with_status(503)
        .with_body_from_request(move |_| {
            let _ = tx.send(());
            b"down for maintenance".to_vec()
        })
        .expect_at_least(1)
        .create_async()
        .await;
    let (cancel, task) = start(&h);
    // Let it retry a while: wait until it has failed a few times.
    for _ in 0..3 {
        tokio::time::timeout(HANG_GUARD, failed.recv())
            .await
            .unwrap();
    }
    stop(cancel, task).await;
    assert_eq!(
        h.spooled("acme"),
        vec![1],
        "the snapshot stays for the next run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_command_says_what_is_going_on() {
    let mut h = Harness::new(&["acme", "beta"], true).await;
    h.collect("acme", 2).await;
    h.status(
        "approved",
        &[("acme", "pending", "src_1"), ("beta", "rejected", "src_2")],
    )
    .await;
    let config = h.dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        crate::uplink::config_text(&h.server.url(), h.dir.path(), &["acme", "beta"]),
    )
    .unwrap();
    let args = [
        "--config".to_owned(),
        config.display().to_string(),
        "--state-dir".to_owned(),
        h.state_dir().display().to_string(),
        "status".to_owned(),
    ];
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        crate::config::agent(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "Agent:    agent1, approved",
        "reachable; the states below are the platform's answer just now",
        "Source acme (Humaans, https://app.humaans.io): waiting for approval; snapshots are collected and kept",
        "last collection: succeeded",
        "waiting to upload: 2 snapshot(s)",
        "Source beta (Humaans, https://app.humaans.io): rejected: no longer collected or uploaded",
        "last collection: none yet",
        "Last error: none",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
