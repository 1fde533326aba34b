//! Dates built for a planted activity category, including a few planted exactly at the
//! rule boundaries (idle after 30 days, never-used grace of 14 days).

use chrono::{NaiveDate, TimeDelta};

use super::Activity;
use crate::rng::Rng;

/// A UTC instant at second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp {
    pub(crate) date: NaiveDate,
    /// Seconds since midnight, below 86,400.
    pub(crate) secs: u32,
}

/// Where in its day a stamp falls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Time {
    First,
    Last,
    Any,
}

impl Stamp {
    pub(crate) fn at(date: NaiveDate, time: Time, rng: &mut Rng) -> Self {
        let secs = match time {
            Time::First => 0,
            Time::Last => 86_399,
            Time::Any => rng.below(86_400) as u32,
        };
        Self { date, secs }
    }

    /// `2026-03-15T08:05:09Z`.
    pub(crate) fn iso(&self) -> String {
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            self.date,
            self.secs / 3600,
            (self.secs / 60) % 60,
            self.secs % 60
        )
    }

    pub(crate) fn minus_days(self, n: i64) -> Self {
        Self {
            date: self.date - TimeDelta::days(n),
            ..self
        }
    }
}

/// How many boundary cases [`boundary`] knows.
pub(crate) const BOUNDARY_CASES: usize = 7;

/// The planted dates of an account: its last activity and its grace start (licence
/// assignment, or creation where no assignment date exists).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planted {
    pub(crate) activity: Activity,
    pub(crate) last: Option<Stamp>,
    pub(crate) start: Stamp,
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// Boundary case `k` (< [`BOUNDARY_CASES`]) around the as-of day `d`: the last second of
/// a day that is still in use, the first second of one that is idle, activity after `d`,
/// and grace starts on day 14 and 15.
pub(crate) fn boundary(k: usize, d: NaiveDate, rng: &mut Rng) -> Planted {
    let mut back = |n: i64, time| Stamp::at(d - days(n), time, rng);
    let (activity, last, start) = match k {
        // D - L = 30: not more than 30, still in use.
        0 => (
            Activity::Recent,
            Some(back(30, Time::First)),
            back(400, Time::Any),
        ),
        // D - L = 31: idle since L + 30.
        1 => (
            Activity::Idle,
            Some(back(31, Time::Last)),
            back(500, Time::Any),
        ),
        // Activity on the as-of day itself, at its last second.
        2 => (
            Activity::Recent,
            Some(back(0, Time::Last)),
            back(90, Time::Any),
        ),
        // Activity after the as-of day counts as in use.
        3 => (
            Activity::Recent,
            Some(back(-1, Time::First)),
            back(200, Time::Any),
        ),
        // D - G = 14: still in the grace period.
        4 => (Activity::Grace, None, back(14, Time::First)),
        // D - G = 15: never used.
        5 => (Activity::Never, None, back(15, Time::Last)),
        // Created on the as-of day.
        _ => (Activity::Grace, None, back(0, Time::Any)),
    };
    Planted {
        activity,
        last,
        start,
    }
}

/// Dates for `activity`, away from the boundaries by at least one day.
pub(crate) fn planted(activity: Activity, d: NaiveDate, rng: &mut Rng) -> Planted {
    let (last, start) = match activity {
        Activity::Recent => {
            let last = Stamp::at(d - days(rng.range(0, 29)), Time::Any, rng);
            let start = Stamp::at(last.date - days(rng.range(0, 1200)), Time::Any, rng);
            (Some(last), start)
        }
        Activity::Idle => {
            let last = Stamp::at(d - days(rng.range(32, 700)), Time::Any, rng);
            let start = Stamp::at(last.date - days(rng.range(0, 900)), Time::Any, rng);
            (Some(last), start)
        }
        Activity::Grace => (None, Stamp::at(d - days(rng.range(0, 13)), Time::Any, rng)),
        Activity::Never => (
            None,
            Stamp::at(d - days(rng.range(16, 1500)), Time::Any, rng),
        ),
    };
    Planted {
        activity,
        last,
        start,
    }
}

/// An activity category in the shares of a typical tenant: mostly in use.
pub(crate) fn pick_activity(rng: &mut Rng) -> Activity {
    match rng.below(100) {
        0..70 => Activity::Recent,
        70..85 => Activity::Idle,
        85..95 => Activity::Never,
        _ => Activity::Grace,
    }
}
