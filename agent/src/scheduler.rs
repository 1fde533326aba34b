//! When to collect and when to poll: pure functions of the last run, the interval, the
//! jitter and "now", so the schedule is tested without waiting for time.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When the first collection after a start is due: at once, unless the last successful
/// collection (from the state file or the newest spooled snapshot) is younger than the
/// interval, in which case when the interval has passed since it.
pub(crate) fn first_due(
    last_success: Option<DateTime<Utc>>,
    interval: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last_success {
        Some(last) => {
            let due = last + chrono::Duration::from_std(interval).unwrap_or(chrono::TimeDelta::MAX);
            // A last run "in the future" (the clock was set back) counts as just now.
            let due = due
                .min(now + chrono::Duration::from_std(interval).unwrap_or(chrono::TimeDelta::MAX));
            due.max(now)
        }
        None => now,
    }
}

/// `interval` spread by up to ±`jitter` of itself; `unit` is a random number in [0, 1).
pub(crate) fn jittered(interval: Duration, jitter: f64, unit: f64) -> Duration {
    let factor = 1.0 + jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    interval.mul_f64(factor.max(0.0))
}

/// The delay before collecting again after `failures` failed collections in a row:
/// 5 minutes, doubling, never longer than the interval.
pub(crate) fn retry_after_failure(failures: u32, interval: Duration) -> Duration {
    let base = Duration::from_secs(300);
    let doubled = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(interval)
}

/// The wait before polling the platform again: its hint, spread by ±10 %, at least `floor`.
pub(crate) fn poll_delay(poll_after_secs: u32, unit: f64, floor: Duration) -> Duration {
    jittered(Duration::from_secs(u64::from(poll_after_secs)), 0.1, unit).max(floor)
}

/// A uniformly random number in [0, 1).
pub(crate) fn random_unit() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + chrono::Duration::hours(hours)
    }

    #[test]
    fn first_collection() {
        let six = Duration::from_secs(6 * 3600);
        let check = |last: Option<i64>, now: i64, expected: i64| {
            assert_eq!(
                first_due(last.map(at), six, at(now)),
                at(expected),
                "last {last:?} now {now}"
            );
        };
        check(None, 10, 10);
        check(Some(0), 10, 10); // older than the interval: at once
        check(Some(8), 10, 14); // younger: when the interval has passed
        check(Some(50), 10, 16); // from the future: one interval from now
    }

    #[test]
    fn jitter_and_retries() {
        let hour = Duration::from_secs(3600);
        assert_eq!(jittered(hour, 0.1, 0.0), Duration::from_secs(3240));
        assert_eq!(jittered(hour, 0.1, 0.5), hour);
        assert_eq!(jittered(hour, 0.0, 0.9), hour);
        assert_eq!(retry_after_failure(1, hour), Duration::from_secs(300));
        assert_eq!(retry_after_failure(3, hour), Duration::from_secs(1200));
        assert_eq!(retry_after_failure(30, hour), hour);
        assert_eq!(poll_delay(30, 0.5, Duration::ZERO), Duration::from_secs(30));
        assert_eq!(
            poll_delay(0, 0.5, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
