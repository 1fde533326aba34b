//! `status`: what the agent knows about itself and each source. [`gather`] asks the platform
//! (when enrolled), the state file and the spool and fills a [`StatusReport`]; [`render`]
//! puts it in words and does nothing else.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use seatbroker_protocol::{AgentState, SourceState};

use crate::config::{Config, SourceKindConfig};
use crate::paths::Paths;
use crate::spool::Spool;
use crate::state::{AgentRecord, SourceRecord, StateStore};
use crate::uplink::{Timeouts, Uplink};

use super::error::CliError;
use super::{Cli, human_bytes, load_config, open_state, stderr_logging};

pub(super) async fn status(cli: &Cli, paths: &Paths, out: &mut dyn Write) -> Result<(), CliError> {
    let config = load_config(paths)?;
    let _log = stderr_logging(cli, Some(&config));
    let store = open_state(paths)?;
    let report = gather(&config, &store).await;
    out.write_all(render(&report).as_bytes())?;
    Ok(())
}

/// Everything `status` shows.
#[derive(Debug)]
pub(super) struct StatusReport {
    pub(super) now: DateTime<Utc>,
    pub(super) platform_url: String,
    pub(super) platform: Platform,
    /// The state file, after taking in the platform's answer.
    pub(super) record: AgentRecord,
    pub(super) sources: Vec<SourceReport>,
    /// Files set aside in the spool's quarantine folder, and that folder.
    pub(super) quarantined: Option<(usize, PathBuf)>,
}

/// What the platform said just now.
#[derive(Debug)]
pub(super) enum Platform {
    /// Not enrolled: nothing to ask with.
    NotAsked,
    Reachable,
    /// Unreachable, or it refused; the error in words.
    Unreachable(String),
}

/// One configured source.
#[derive(Debug)]
pub(super) struct SourceReport {
    pub(super) name: String,
    pub(super) kind: SourceKindConfig,
    /// `Humaans, https://app.humaans.io`, `Entra ID, tenant …`, `seat list, /path`.
    pub(super) description: String,
    pub(super) record: SourceRecord,
    /// Snapshots waiting to upload and their bytes; `None` when the spool cannot be read.
    pub(super) waiting: Option<(usize, u64)>,
}

/// Asks the platform for the current states (when enrolled; the answer is saved to the
/// state file), then reads the state file and the spool.
async fn gather(config: &Config, store: &StateStore) -> StatusReport {
    let answer = match store.credential() {
        Ok(Some(credential)) => Some(
            match Uplink::with_timeouts(&config.platform, Timeouts::INTERACTIVE) {
                Ok(uplink) => uplink.status(&credential).await,
                Err(error) => Err(error),
            },
        ),
        _ => None,
    };
    let now = Utc::now();
    let platform = match answer {
        None => Platform::NotAsked,
        Some(Ok(status)) => {
            let _ = store.update(|r| r.apply_status(&status, now));
            Platform::Reachable
        }
        Some(Err(error)) => Platform::Unreachable(error.to_string()),
    };
    let record = store.load().unwrap_or_default();
    let spool = Spool::open(&store.spool_dir(), config.spool.max_bytes.0).ok();
    let sources = config
        .sources
        .iter()
        .map(|source| SourceReport {
            name: source.name.clone(),
            kind: source.kind,
            description: crate::appsource::describe(source),
            record: record
                .sources
                .get(&source.name)
                .cloned()
                .unwrap_or_default(),
            waiting: spool.as_ref().map(|spool| {
                let pending = spool.pending(&source.name).unwrap_or_default();
                (pending.len(), pending.iter().map(|e| e.bytes).sum())
            }),
        })
        .collect();
    let quarantined = spool.as_ref().map(|spool| {
        let files = spool.quarantined().map(|q| q.len()).unwrap_or(0);
        (files, spool.quarantine_dir())
    });
    StatusReport {
        now,
        platform_url: config.platform.url.clone(),
        platform,
        record,
        sources,
        quarantined,
    }
}

/// The `status` report, in words.
pub(super) fn render(report: &StatusReport) -> String {
    let now = report.now;
    let record = &report.record;
    let mut text = String::new();
    let agent = match (record.agent_id.as_deref(), record.agent_state.as_ref()) {
        (None, _) => "not enrolled; run `seatbroker-agent enroll`".to_owned(),
        (Some(id), Some(AgentState::Pending)) => {
            format!("{id}, waiting for an administrator to approve it in the console")
        }
        (Some(id), Some(AgentState::Approved)) => format!("{id}, approved"),
        (Some(id), Some(AgentState::Rejected)) => {
            format!("{id}, rejected by an administrator; nothing is uploaded")
        }
        (Some(id), Some(AgentState::Revoked)) => format!(
            "{id}, revoked: uploads stopped, the spool is kept; run `seatbroker-agent enroll` with a new enrollment token"
        ),
        (Some(id), state) => format!(
            "{id}, state {}",
            state.map_or("unknown", AgentState::as_str)
        ),
    };
    let platform = match &report.platform {
        Platform::NotAsked => "not asked (the agent is not enrolled)".to_owned(),
        Platform::Reachable => {
            "reachable; the states below are the platform's answer just now".to_owned()
        }
        Platform::Unreachable(error) => format!(
            "not reachable or refused ({error}); the states below are what the agent last knew"
        ),
    };
    text.push_str(&format!("Agent:    {agent}\n"));
    if let Some(message) = &record.agent_message {
        text.push_str(&format!("          platform says: {message}\n"));
    }
    text.push_str(&format!("Platform: {} — {platform}\n", report.platform_url));
    for source in &report.sources {
        let r = &source.record;
        let target = r.source_id.as_deref().unwrap_or("?");
        let state = match &r.state {
            None => "not known to the platform yet".to_owned(),
            Some(SourceState::Pending) => {
                "waiting for approval; snapshots are collected and kept".to_owned()
            }
            Some(SourceState::Approved) => format!("approved; uploads go to source {target}"),
            Some(SourceState::Merged) => {
                format!("approved and merged into source {target}; uploads go there")
            }
            Some(SourceState::Rejected) => "rejected: no longer collected or uploaded".to_owned(),
            Some(SourceState::Revoked) => "revoked: no longer collected or uploaded".to_owned(),
            Some(SourceState::Other(other)) => other.clone(),
        };
        text.push_str(&format!(
            "\nSource {} ({}): {state}\n",
            source.name, source.description
        ));
        if let Some(message) = &r.message {
            text.push_str(&format!("  platform says: {message}\n"));
        }
        match &r.last_collection {
            Some(last) if last.succeeded => text.push_str(&format!(
                "  last collection: succeeded {} ({} {})\n",
                ago(last.at, now),
                last.people,
                if source.kind.is_app() {
                    "accounts"
                } else {
                    "people"
                }
            )),
            Some(last) => text.push_str(&format!(
                "  last collection: FAILED {}: {}\n",
                ago(last.at, now),
                last.error.as_deref().unwrap_or("unknown error")
            )),
            None => text.push_str("  last collection: none yet\n"),
        }
        if let Some(warning) = r.last_collection.as_ref().and_then(|l| l.warning.as_ref()) {
            text.push_str(&format!("  WARNING: {warning}\n"));
        }
        match r.next_collection_at {
            Some(at) if at > now => text.push_str(&format!(
                "  next collection: {} ({})\n",
                until(at, now),
                at.format("%Y-%m-%d %H:%M UTC")
            )),
            Some(_) => text.push_str("  next collection: due now (if the agent is running)\n"),
            None => text.push_str("  next collection: when the agent runs\n"),
        }
        if let Some(at) = r.last_upload_at {
            text.push_str(&format!("  last upload: {}\n", ago(at, now)));
        }
        if let Some((snapshots, bytes)) = source.waiting {
            text.push_str(&format!(
                "  waiting to upload: {snapshots} snapshot(s), {}\n",
                human_bytes(bytes)
            ));
        }
    }
    if let Some((files, dir)) = &report.quarantined
        && *files > 0
    {
        text.push_str(&format!(
            "\nSet aside: {files} file(s) in {} (damaged or refused for good)\n",
            dir.display()
        ));
    }
    match (&record.last_error, record.last_error_at) {
        (Some(error), Some(at)) => {
            text.push_str(&format!("\nLast error ({}): {error}\n", ago(at, now)))
        }
        (Some(error), None) => text.push_str(&format!("\nLast error: {error}\n")),
        _ => text.push_str("\nLast error: none\n"),
    }
    text
}

fn words(duration: TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs / 60 % 60),
        _ => format!("{} days {} h", secs / 86_400, secs / 3600 % 24),
    }
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", words(now - at))
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("in {}", words(at - now))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use crate::state::LastCollection;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    fn report(agent: Option<AgentState>, source: Option<SourceState>) -> StatusReport {
        StatusReport {
            now: now(),
            platform_url: "https://platform.example".into(),
            platform: Platform::Reachable,
            record: AgentRecord {
                agent_id: Some("agent1".into()),
                agent_state: agent,
                ..AgentRecord::default()
            },
            sources: vec![SourceReport {
                name: "acme".into(),
                kind: SourceKindConfig::Humaans,
                description: "Humaans, https://app.humaans.io".into(),
                record: SourceRecord {
                    source_id: Some("src_1".into()),
                    state: source,
                    ..SourceRecord::default()
                },
                waiting: None,
            }],
            quarantined: None,
        }
    }

    /// The first line of `render` (the agent) and the line naming the source.
    fn check(agent: Option<AgentState>, source: Option<SourceState>, expected: [&str; 2]) {
        let text = render(&report(agent, source));
        let lines: Vec<&str> = text.lines().collect();
        let source_line = lines.iter().find(|l| l.starts_with("Source acme")).unwrap();
        assert_eq!([lines[0], *source_line], expected, "{text}");
    }

    #[test]
    fn each_approval_state_in_words() {
        use AgentState as A;
        use SourceState as S;
        check(
            Some(A::Pending),
            Some(S::Pending),
            [
                "Agent:    agent1, waiting for an administrator to approve it in the console",
                "Source acme (Humaans, https://app.humaans.io): waiting for approval; snapshots are collected and kept",
            ],
        );
        check(
            Some(A::Approved),
            Some(S::Approved),
            [
                "Agent:    agent1, approved",
                "Source acme (Humaans, https://app.humaans.io): approved; uploads go to source src_1",
            ],
        );
        check(
            Some(A::Approved),
            Some(S::Merged),
            [
                "Agent:    agent1, approved",
                "Source acme (Humaans, https://app.humaans.io): approved and merged into source src_1; uploads go there",
            ],
        );
        check(
            Some(A::Rejected),
            Some(S::Rejected),
            [
                "Agent:    agent1, rejected by an administrator; nothing is uploaded",
                "Source acme (Humaans, https://app.humaans.io): rejected: no longer collected or uploaded",
            ],
        );
        check(
            Some(A::Revoked),
            Some(S::Revoked),
            [
                "Agent:    agent1, revoked: uploads stopped, the spool is kept; run `seatbroker-agent enroll` with a new enrollment token",
                "Source acme (Humaans, https://app.humaans.io): revoked: no longer collected or uploaded",
            ],
        );
        check(
            Some(A::Other("suspended".into())),
            Some(S::Other("frozen".into())),
            [
                "Agent:    agent1, state suspended",
                "Source acme (Humaans, https://app.humaans.io): frozen",
            ],
        );
        check(
            None,
            None,
            [
                "Agent:    agent1, state unknown",
                "Source acme (Humaans, https://app.humaans.io): not known to the platform yet",
            ],
        );
    }

    #[test]
    fn the_whole_report() {
        let mut report = report(Some(AgentState::Approved), Some(SourceState::Approved));
        report.platform = Platform::Unreachable("connection refused".into());
        report.record.agent_message = Some("welcome".into());
        report.record.last_error = Some("the heartbeat failed".into());
        report.record.last_error_at = Some(now() - TimeDelta::minutes(5));
        let source = &mut report.sources[0];
        source.record.last_collection = Some(LastCollection {
            at: now() - TimeDelta::hours(2),
            succeeded: true,
            people: 120,
            error: None,
            warning: Some("the token cannot read private data".into()),
        });
        source.record.next_collection_at = Some(now() + TimeDelta::minutes(90));
        source.record.last_upload_at = Some(now() - TimeDelta::seconds(30));
        source.waiting = Some((2, 3 * 1024));
        report.quarantined = Some((1, PathBuf::from("/state/spool/quarantine")));
        assert_eq!(
            render(&report),
            "\
Agent:    agent1, approved
          platform says: welcome
Platform: https://platform.example — not reachable or refused (connection refused); the states below are what the agent last knew

Source acme (Humaans, https://app.humaans.io): approved; uploads go to source src_1
  last collection: succeeded 2 h 0 min ago (120 people)
  WARNING: the token cannot read private data
  next collection: in 1 h 30 min (2026-03-02 13:30 UTC)
  last upload: 30 s ago
  waiting to upload: 2 snapshot(s), 3.0 KiB

Set aside: 1 file(s) in /state/spool/quarantine (damaged or refused for good)

Last error (5 min ago): the heartbeat failed
"
        );
    }
}
