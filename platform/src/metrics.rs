//! Platform counters, rendered in the Prometheus text format at `/metrics`.
//!
//! Plain atomics: counting costs a relaxed add, and nothing here is shared between
//! processes (each process exposes its own counters; Prometheus sums them).
//!
//! API: `Metrics::default()`, the `record_*` methods, `Metrics::render_prometheus(&self) -> String`.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seatbroker_protocol::ErrorCode;

use crate::reports::model::Health;
use crate::store::OperatorGauges;

/// Which kind of endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteClass {
    Enroll,
    Status,
    Upload,
    Heartbeat,
    /// Console pages and forms.
    Console,
    /// Report JSON API.
    ReportApi,
    /// `/healthz`, `/metrics`, static files, unknown paths.
    Other,
}

impl RouteClass {
    const ALL: [RouteClass; 7] = [
        Self::Enroll,
        Self::Status,
        Self::Upload,
        Self::Heartbeat,
        Self::Console,
        Self::ReportApi,
        Self::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::Status => "status",
            Self::Upload => "upload",
            Self::Heartbeat => "heartbeat",
            Self::Console => "console",
            Self::ReportApi => "report_api",
            Self::Other => "other",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(6)
    }
}

/// Status classes counted per route.
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// Upper bounds (seconds) of the apply latency histogram.
const APPLY_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The platform's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// requests[route][status class]
    requests: [[AtomicU64; 4]; 7],
    parts_accepted: AtomicU64,
    parts_duplicate: AtomicU64,
    part_bytes: AtomicU64,
    snapshots_applied: AtomicU64,
    seats_applied: AtomicU64,
    apply_seconds_micros: AtomicU64,
    apply_buckets: [AtomicU64; 10],
    enrollments: AtomicU64,
    heartbeats: AtomicU64,
    /// Refusals by problem code (few distinct codes; a mutex is fine).
    refusals: Mutex<Vec<(String, u64)>>,
    /// Connections being served now (a gauge).
    connections_open: AtomicU64,
    /// Connections refused because `--max-connections` were open.
    connections_refused: AtomicU64,
    /// Emails (digests, test messages) given up on after their retries.
    email_send_failures: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub(crate) fn record_request(&self, route: RouteClass, status: u16) {
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        self.requests[route.index()][class].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stored part (`duplicate`: it was already there).
    pub(crate) fn record_part(&self, bytes: usize, duplicate: bool) {
        if duplicate {
            self.parts_duplicate.fetch_add(1, Ordering::Relaxed);
        } else {
            self.parts_accepted.fetch_add(1, Ordering::Relaxed);
            self.part_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Counts an applied snapshot and how long applying it took.
    pub(crate) fn record_apply(&self, seats: usize, took: Duration) {
        self.snapshots_applied.fetch_add(1, Ordering::Relaxed);
        self.seats_applied
            .fetch_add(seats as u64, Ordering::Relaxed);
        self.apply_seconds_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn record_enrollment(&self) {
        self.enrollments.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_heartbeat(&self) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refusal (a problem answered to an agent) by its code.
    pub(crate) fn record_refusal(&self, code: &ErrorCode) {
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match refusals.iter_mut().find(|(c, _)| c == code.as_str()) {
            Some((_, n)) => *n += 1,
            None => refusals.push((code.as_str().to_owned(), 1)),
        }
    }

    /// Counts a connection opened; [`Metrics::record_connection_closed`] undoes it.
    pub(crate) fn record_connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a connection refused at the connection limit.
    pub(crate) fn record_connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an email given up on after its retries.
    pub(crate) fn record_email_send_failure(&self) {
        self.email_send_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Emails given up on so far by this process.
    pub fn email_send_failures(&self) -> u64 {
        self.email_send_failures.load(Ordering::Relaxed)
    }

    /// Snapshots applied so far by this process.
    pub fn snapshots_applied(&self) -> u64 {
        self.snapshots_applied.load(Ordering::Relaxed)
    }

    /// Refusals so far with `code`.
    pub fn refusals(&self, code: &ErrorCode) -> u64 {
        self.refusals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .find(|(c, _)| c == code.as_str())
            .map_or(0, |(_, n)| *n)
    }

    /// Every counter in the Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP seatbroker_requests_by_class_total HTTP requests answered, by route class (agent API call, console, report API...) and status class; seatbroker_http_requests_total has them by route, method and status.\n");
        out.push_str("# TYPE seatbroker_requests_by_class_total counter\n");
        for route in RouteClass::ALL {
            for (i, status) in STATUS_CLASSES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "seatbroker_requests_by_class_total{{route=\"{}\",status=\"{status}\"}} {}",
                    route.as_str(),
                    load(&self.requests[route.index()][i])
                );
            }
        }
        let simple: [(&str, &str, &AtomicU64); 8] = [
            (
                "seatbroker_parts_accepted_total",
                "Snapshot parts stored.",
                &self.parts_accepted,
            ),
            (
                "seatbroker_parts_duplicate_total",
                "Snapshot parts received again (already stored).",
                &self.parts_duplicate,
            ),
            (
                "seatbroker_part_bytes_total",
                "Compressed bytes of stored snapshot parts.",
                &self.part_bytes,
            ),
            (
                "seatbroker_snapshots_applied_total",
                "Snapshots applied.",
                &self.snapshots_applied,
            ),
            (
                "seatbroker_seats_applied_total",
                "Records in applied snapshots: HR seats, and the application accounts an upload carried (a licence delta carries only the changed ones).",
                &self.seats_applied,
            ),
            (
                "seatbroker_enrollments_total",
                "Agents enrolled.",
                &self.enrollments,
            ),
            (
                "seatbroker_heartbeats_total",
                "Agent heartbeats received.",
                &self.heartbeats,
            ),
            (
                "seatbroker_email_send_failures_total",
                "Emails (digests, test messages) given up on after their retries.",
                &self.email_send_failures,
            ),
        ];
        for (name, help, counter) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                load(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP seatbroker_connections_open Connections being served.\n# TYPE seatbroker_connections_open gauge\nseatbroker_connections_open {}",
            load(&self.connections_open)
        );
        let _ = writeln!(
            out,
            "# HELP seatbroker_connections_refused_total Connections refused at the connection limit.\n# TYPE seatbroker_connections_refused_total counter\nseatbroker_connections_refused_total {}",
            load(&self.connections_refused)
        );
        out.push_str("# HELP seatbroker_refusals_total Agent requests refused, by problem code.\n");
        out.push_str("# TYPE seatbroker_refusals_total counter\n");
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        refusals.sort();
        for (code, n) in refusals {
            let _ = writeln!(out, "seatbroker_refusals_total{{code=\"{code}\"}} {n}");
        }
        out.push_str("# HELP seatbroker_apply_seconds Time to apply one snapshot.\n");
        out.push_str("# TYPE seatbroker_apply_seconds histogram\n");
        for (bucket, bound) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            let _ = writeln!(
                out,
                "seatbroker_apply_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let count = load(&self.snapshots_applied);
        let _ = writeln!(
            out,
            "seatbroker_apply_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "seatbroker_apply_seconds_sum {}",
            load(&self.apply_seconds_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "seatbroker_apply_seconds_count {count}");
        out
    }
}

/// Agent states always rendered (0 when none), so an alert on one never sees "no data".
const AGENT_STATES: [&str; 4] = ["pending", "approved", "rejected", "revoked"];

fn health_label(health: Health) -> &'static str {
    match health {
        Health::Healthy => "healthy",
        Health::Stale => "stale",
        Health::AwaitingFirstUpload => "awaiting_first_upload",
        Health::Revoked => "revoked",
    }
}

/// Escapes a label value (backslash, quote, line feed) for the text format.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The gauges read from the database at scrape time; `None` when it did not answer
/// (then only `seatbroker_database_up 0`).
pub(crate) fn render_operator(gauges: Option<&OperatorGauges>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP seatbroker_database_up Whether the database answered this scrape's queries.\n# TYPE seatbroker_database_up gauge\nseatbroker_database_up {}",
        u8::from(gauges.is_some())
    );
    let Some(gauges) = gauges else {
        return out;
    };
    out.push_str("# HELP seatbroker_agents Enrolled agents by state.\n");
    out.push_str("# TYPE seatbroker_agents gauge\n");
    let mut states: Vec<(&str, i64)> = AGENT_STATES.iter().map(|s| (*s, 0)).collect();
    for (state, n) in &gauges.agents_by_state {
        match states.iter_mut().find(|(s, _)| s == state) {
            Some((_, count)) => *count += n,
            // A state this release does not know is still counted, under its own name.
            None => states.push((state.as_str(), *n)),
        }
    }
    for (state, n) in states {
        let _ = writeln!(
            out,
            "seatbroker_agents{{state=\"{}\"}} {n}",
            label_value(state)
        );
    }
    out.push_str("# HELP seatbroker_sources Sources by health (stale: no upload for twice the collection interval).\n");
    out.push_str("# TYPE seatbroker_sources gauge\n");
    for (health, n) in &gauges.sources_by_health {
        let _ = writeln!(
            out,
            "seatbroker_sources{{health=\"{}\"}} {n}",
            health_label(*health)
        );
    }
    let _ = writeln!(
        out,
        "# HELP seatbroker_sources_stale Sources whose uploads stopped (no upload for twice their interval).\n# TYPE seatbroker_sources_stale gauge\nseatbroker_sources_stale {}",
        gauges.sources_with(Health::Stale)
    );
    out.push_str("# HELP seatbroker_source_last_apply_timestamp_seconds When each source's last snapshot was applied (Unix time).\n");
    out.push_str("# TYPE seatbroker_source_last_apply_timestamp_seconds gauge\n");
    for (source, kind, at) in &gauges.last_apply {
        let _ = writeln!(
            out,
            "seatbroker_source_last_apply_timestamp_seconds{{source=\"{}\",kind=\"{}\"}} {}",
            label_value(source),
            label_value(kind),
            at.timestamp()
        );
    }
    let _ = writeln!(
        out,
        "# HELP seatbroker_source_last_apply_omitted Sources without a last-apply series because of the series cap.\n# TYPE seatbroker_source_last_apply_omitted gauge\nseatbroker_source_last_apply_omitted {}",
        gauges.last_apply_omitted
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        metrics.record_request(RouteClass::Upload, 200);
        metrics.record_request(RouteClass::Upload, 409);
        metrics.record_refusal(&ErrorCode::StaleSequence);
        metrics.record_apply(1000, Duration::from_millis(30));
        let text = metrics.render_prometheus();
        assert!(
            text.contains("seatbroker_requests_by_class_total{route=\"upload\",status=\"2xx\"} 1")
        );
        assert!(
            text.contains("seatbroker_requests_by_class_total{route=\"upload\",status=\"4xx\"} 1")
        );
        assert!(text.contains("seatbroker_refusals_total{code=\"stale_sequence\"} 1"));
        assert!(text.contains("seatbroker_apply_seconds_bucket{le=\"0.01\"} 0"));
        assert!(text.contains("seatbroker_apply_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("seatbroker_apply_seconds_count 1"));
        assert!(text.contains("seatbroker_seats_applied_total 1000"));
        assert!(text.contains("seatbroker_email_send_failures_total 0"));
        metrics.record_email_send_failure();
        assert!(
            metrics
                .render_prometheus()
                .contains("seatbroker_email_send_failures_total 1")
        );
    }

    #[test]
    fn renders_operator_gauges_with_every_known_state() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let gauges = OperatorGauges {
            agents_by_state: vec![("approved".into(), 2), ("odd\"state".into(), 1)],
            sources_by_health: vec![(Health::Healthy, 1), (Health::Stale, 3)],
            last_apply: vec![("src_1".into(), "humaans".into(), at)],
            last_apply_omitted: 0,
        };
        let text = render_operator(Some(&gauges));
        for line in [
            "seatbroker_database_up 1",
            "seatbroker_agents{state=\"pending\"} 0",
            "seatbroker_agents{state=\"approved\"} 2",
            "seatbroker_agents{state=\"odd\\\"state\"} 1",
            "seatbroker_sources{health=\"stale\"} 3",
            "seatbroker_sources_stale 3",
            "seatbroker_source_last_apply_timestamp_seconds{source=\"src_1\",kind=\"humaans\"} 1767323045",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let down = render_operator(None);
        assert_eq!(down.lines().last(), Some("seatbroker_database_up 0"));
    }
}
