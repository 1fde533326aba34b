//! Reports: the rows the console shows, their CSV and JSON forms, and the trend chart.
//!
//! The store reads rows ([`crate::store::Store`]'s `report_*` queries); this module turns
//! them into what a person or a spreadsheet reads. Nothing here does I/O.

pub(crate) mod chart;
pub(crate) mod csv;
pub(crate) mod labels;
pub(crate) mod model;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use self::csv::CsvWriter;
use self::model::{AppActivity, DailyRow, SeatRow, TrendPoint};

/// `text` safe inside HTML or SVG text and attribute values. The console's one escape:
/// askama escapes templates itself; hand-built markup (the chart, error pages) uses this.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Daily totals from `from` to `to` (inclusive) summed over sources. A source's last
/// known counts carry forward over days without an upload, but never past its last
/// stored day, so a source that stopped uploading drops out instead of freezing.
/// Days before any source has data are left out.
pub(crate) fn fill_trend(rows: &[DailyRow], from: NaiveDate, to: NaiveDate) -> Vec<TrendPoint> {
    let mut by_source: BTreeMap<&str, Vec<&TrendPoint>> = BTreeMap::new();
    for row in rows {
        by_source
            .entry(&row.source_id)
            .or_default()
            .push(&row.point);
    }
    let mut totals: BTreeMap<NaiveDate, TrendPoint> = BTreeMap::new();
    for points in by_source.values_mut() {
        points.sort_by_key(|p| p.day);
        let Some(last_day) = points.last().map(|p| p.day) else {
            continue;
        };
        let mut next = 0;
        let mut current: Option<&TrendPoint> = None;
        let mut day = from;
        while day <= to && day <= last_day {
            while next < points.len() && points[next].day <= day {
                current = Some(points[next]);
                next += 1;
            }
            if let Some(p) = current {
                let total = totals.entry(day).or_insert_with(|| TrendPoint {
                    day,
                    ..TrendPoint::default()
                });
                total.active += p.active;
                total.leaving += p.leaving;
                total.inactive += p.inactive;
                total.pre_hire += p.pre_hire;
                total.offboarded += p.offboarded;
                total.unknown += p.unknown;
                total.billable += p.billable;
                total.in_use += p.in_use;
            }
            day += Duration::days(1);
        }
    }
    totals.into_values().collect()
}

/// A running count per day from `from` to `to` (inclusive): `starts` add on their day,
/// `stops` subtract on theirs (the first day not counted). Changes before `from` set the
/// level `from` starts at. O(changes + days).
pub(crate) fn running_counts(
    starts: &[(NaiveDate, i64)],
    stops: &[(NaiveDate, i64)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, i64)> {
    let mut deltas: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (day, n) in starts {
        *deltas.entry(*day).or_default() += n;
    }
    for (day, n) in stops {
        *deltas.entry(*day).or_default() -= n;
    }
    let mut deltas = deltas.into_iter().peekable();
    let mut level = 0;
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        while let Some((d, n)) = deltas.peek() {
            if *d > day {
                break;
            }
            level += n;
            deltas.next();
        }
        out.push((day, level));
        day += Duration::days(1);
    }
    out
}

/// Wording of the reconstructed headcount, wherever it is shown.
pub(crate) const RECONSTRUCTED_MEANING: &str = "from the employment start and \
     end dates of the people Humaans lists today, not from uploads: people deleted from \
     Humaans, and people without a start date, are missing";

/// The reconstructed HR headcount as a chart (one line, labelled as reconstructed).
pub(crate) fn headcount_chart(points: &[(NaiveDate, i64)]) -> chart::Chart {
    chart::Chart {
        title: "HR headcount per day (reconstructed from employment start and end dates)"
            .to_owned(),
        days: points.iter().map(|p| p.0).collect(),
        series: vec![chart::Series {
            name: "headcount (reconstructed)".to_owned(),
            colour: "#2354c7",
            values: points.iter().map(|p| p.1.max(0) as u64).collect(),
        }],
    }
}

/// One day of the licence history: licences in use and reclaimable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LicencePoint {
    pub day: NaiveDate,
    pub in_use: i64,
    pub reclaimable: i64,
}

/// Licences in use and reclaimable per day, from the day of the first upload (or `from`,
/// if later) to `to`; empty without licence history. Rows count from the day they were
/// opened and stop on the day they were closed.
pub(crate) fn licence_trend(
    opened: &[(NaiveDate, i64, i64)],
    closed: &[(NaiveDate, i64, i64)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<LicencePoint> {
    let Some(first) = opened.iter().map(|o| o.0).min() else {
        return Vec::new();
    };
    let from = from.max(first);
    let pick = |rows: &[(NaiveDate, i64, i64)], f: fn(&(NaiveDate, i64, i64)) -> i64| {
        rows.iter().map(|r| (r.0, f(r))).collect::<Vec<_>>()
    };
    let in_use = running_counts(&pick(opened, |r| r.1), &pick(closed, |r| r.1), from, to);
    let reclaimable = running_counts(&pick(opened, |r| r.2), &pick(closed, |r| r.2), from, to);
    in_use
        .into_iter()
        .zip(reclaimable)
        .map(|((day, in_use), (_, reclaimable))| LicencePoint {
            day,
            in_use,
            reclaimable,
        })
        .collect()
}

/// The licence history as a chart; its title says when the history starts.
pub(crate) fn licence_chart(points: &[LicencePoint]) -> chart::Chart {
    let title = match points.first() {
        Some(p) => format!(
            "Application licences per day (history starts with the first upload, {})",
            p.day
        ),
        None => "Application licences per day (no application upload yet)".to_owned(),
    };
    chart::Chart {
        title,
        days: points.iter().map(|p| p.day).collect(),
        series: vec![
            chart::Series {
                name: "in use".to_owned(),
                colour: "#1f7a3a",
                values: points.iter().map(|p| p.in_use.max(0) as u64).collect(),
            },
            chart::Series {
                name: "reclaimable".to_owned(),
                colour: "#b3261e",
                values: points.iter().map(|p| p.reclaimable.max(0) as u64).collect(),
            },
        ],
    }
}

/// The trend as a chart with one line per state.
pub(crate) fn trend_chart(points: &[TrendPoint], months: u32) -> chart::Chart {
    let series = |name: &str, colour: &'static str, f: fn(&TrendPoint) -> i64| chart::Series {
        name: name.to_owned(),
        colour,
        values: points.iter().map(|p| f(p).max(0) as u64).collect(),
    };
    chart::Chart {
        title: format!("Seats per state, daily, last {months} months"),
        days: points.iter().map(|p| p.day).collect(),
        series: vec![
            series("active", "#1f7a3a", |p| p.active),
            series("leaving", "#c98a00", |p| p.leaving),
            series("inactive", "#b3261e", |p| p.inactive),
            series("pre-hire", "#2354c7", |p| p.pre_hire),
            series("offboarded", "#6b6f7a", |p| p.offboarded),
            series("unknown", "#8e44ad", |p| p.unknown),
        ],
    }
}

/// Trend CSV: one line per day.
pub(crate) fn trend_csv(points: &[TrendPoint]) -> String {
    let mut csv = CsvWriter::new();
    csv.row([
        "day",
        "active",
        "leaving",
        "inactive",
        "pre_hire",
        "offboarded",
        "unknown",
        "billable",
        "in_use",
    ]);
    for p in points {
        csv.row([
            p.day.to_string(),
            p.active.to_string(),
            p.leaving.to_string(),
            p.inactive.to_string(),
            p.pre_hire.to_string(),
            p.offboarded.to_string(),
            p.unknown.to_string(),
            p.billable.to_string(),
            p.in_use.to_string(),
        ]);
    }
    csv.finish()
}

/// What the `never_verified` reason means, wherever the console shows it. Humaans does not
/// define `isVerified`; this is the only reading that fits, so it is named a heuristic.
pub(crate) const NEVER_VERIFIED_MEANING: &str = "heuristic: the person has not accepted the \
     Humaans invitation and signed in within the grace period after starting (30 days unless \
     the agent's policy says otherwise); \
     Humaans does not define the flag, and someone who works without signing in to Humaans \
     still uses their other seats";

/// A plain-words note for a seat reason that needs one (only `never_verified` does).
pub(crate) fn reason_note(reason: Option<&str>) -> Option<&'static str> {
    (reason == Some("never_verified")).then_some(NEVER_VERIFIED_MEANING)
}

/// Inactive-seats CSV: the table's columns plus ids, a note on heuristic reasons, and the
/// application activity that contradicts a `never_verified` reason (`<application> <day>`).
pub(crate) fn seats_csv(rows: &[SeatRow]) -> String {
    let mut csv = CsvWriter::new();
    csv.row([
        "person",
        "work_email",
        "department",
        "job_title",
        "manager",
        "state",
        "reason",
        "since",
        "days",
        "source",
        "source_id",
        "person_id",
        "manager_id",
        "source_stale",
        "reason_note",
        "app_activity",
    ]);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    for r in rows {
        csv.row([
            text(&r.name),
            text(&r.work_email),
            text(&r.department),
            text(&r.job_title),
            text(&r.manager_name),
            r.state.clone(),
            text(&r.reason),
            r.since.map(|d| d.to_string()).unwrap_or_default(),
            r.days.map(|d| d.to_string()).unwrap_or_default(),
            r.source_name.clone(),
            r.source_id.clone(),
            r.person_id.clone(),
            text(&r.manager_id),
            r.source_stale.to_string(),
            reason_note(r.reason.as_deref())
                .unwrap_or_default()
                .to_owned(),
            r.app_activity
                .as_ref()
                .map(AppActivity::summary)
                .unwrap_or_default(),
        ]);
    }
    csv.finish()
}

/// `0.873` → `87.3%`; `None` → `–`.
pub(crate) fn percent(value: Option<f64>) -> String {
    match value {
        Some(v) => format!("{:.1}%", v * 100.0),
        None => "–".to_owned(),
    }
}

/// A past instant relative to `now`: `3 min ago`, `5 h ago`, `2 days ago`, or `never`.
pub(crate) fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    let secs = (now - at).num_seconds().max(0);
    let rel = match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    };
    format!("{} ({rel})", at.format("%Y-%m-%d %H:%M UTC"))
}

/// A collection interval in words.
pub(crate) fn interval(secs: i64) -> String {
    match secs {
        s if s <= 0 => "not reported (daily assumed)".to_owned(),
        s if s % 86_400 == 0 => format!("every {} day(s)", s / 86_400),
        s if s % 3600 == 0 => format!("every {} h", s / 3600),
        s => format!("every {} min", s.saturating_add(59) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn row(source: &str, day: &str, active: i64, inactive: i64) -> DailyRow {
        DailyRow {
            source_id: source.to_owned(),
            point: TrendPoint {
                day: d(day),
                active,
                inactive,
                billable: active + inactive,
                in_use: active,
                ..TrendPoint::default()
            },
        }
    }

    fn actives(points: &[TrendPoint]) -> Vec<(String, i64)> {
        points
            .iter()
            .map(|p| (p.day.to_string(), p.active))
            .collect()
    }

    #[test]
    fn trend_carries_forward_and_sums_sources() {
        let rows = vec![
            // Source a: a row before the window (carried in), then a gap.
            row("a", "2026-01-01", 10, 1),
            row("a", "2026-01-04", 12, 0),
            row("a", "2026-01-06", 13, 0),
            // Source b stops after the 3rd: it drops out, it does not freeze.
            row("b", "2026-01-02", 100, 5),
            row("b", "2026-01-03", 101, 5),
        ];
        let points = fill_trend(&rows, d("2026-01-02"), d("2026-01-07"));
        assert_eq!(
            actives(&points),
            vec![
                ("2026-01-02".into(), 110),
                ("2026-01-03".into(), 111),
                ("2026-01-04".into(), 12),
                ("2026-01-05".into(), 12),
                ("2026-01-06".into(), 13),
            ]
        );
        assert_eq!(points[0].inactive, 6);
    }

    #[test]
    fn headcount_is_reconstructed_from_start_and_end_dates() {
        // Two people started before the window, one starts inside it; one leaves on the
        // 3rd (counted through that day, gone from the 4th).
        let starts = [(d("2025-12-01"), 2), (d("2026-01-02"), 1)];
        let stops = [(d("2026-01-04"), 1)];
        let points = running_counts(&starts, &stops, d("2026-01-01"), d("2026-01-05"));
        let levels: Vec<i64> = points.iter().map(|p| p.1).collect();
        assert_eq!(levels, [2, 3, 3, 2, 2]);
        assert_eq!(points[0].0, d("2026-01-01"));
        // Nothing known: zero every day, not an empty chart.
        assert_eq!(
            running_counts(&[], &[], d("2026-01-01"), d("2026-01-02")),
            [(d("2026-01-01"), 0), (d("2026-01-02"), 0)]
        );
    }

    #[test]
    fn licence_history_starts_at_the_first_upload() {
        // First upload on the 10th: 5 in use, 3 reclaimable; on the 12th one reclaimable
        // seat is reclaimed (closed) and one in-use licence becomes idle.
        let opened = [(d("2026-01-10"), 5, 3), (d("2026-01-12"), 0, 1)];
        let closed = [(d("2026-01-12"), 1, 1)];
        let points = licence_trend(&opened, &closed, d("2026-01-01"), d("2026-01-13"));
        assert_eq!(points.first().map(|p| p.day), Some(d("2026-01-10")));
        let values: Vec<(i64, i64)> = points.iter().map(|p| (p.in_use, p.reclaimable)).collect();
        assert_eq!(values, [(5, 3), (5, 3), (4, 3), (4, 3)]);
        assert!(
            licence_chart(&points)
                .title
                .contains("first upload, 2026-01-10")
        );
        assert!(licence_trend(&[], &[], d("2026-01-01"), d("2026-01-13")).is_empty());
    }

    #[test]
    fn trend_of_nothing_is_empty() {
        assert!(fill_trend(&[], d("2026-01-01"), d("2026-03-01")).is_empty());
    }

    #[test]
    fn seats_csv_quotes_people_data() {
        let r = SeatRow {
            source_id: "src1".into(),
            source_name: "Acme, Inc".into(),
            person_id: "p1".into(),
            name: Some("O'Brien, \"Pat\"".into()),
            work_email: Some("pat@acme.test".into()),
            department: Some("=cmd".into()),
            job_title: None,
            manager_id: None,
            manager_name: None,
            state: "inactive".into(),
            reason: Some("never_verified".into()),
            since: Some(d("2026-01-01")),
            days: Some(30),
            source_stale: false,
            app_activity: None,
        };
        let mut signed_in = r.clone();
        signed_in.app_activity = Some(AppActivity {
            application: "Microsoft 365".into(),
            day: d("2026-01-29"),
        });
        let csv = seats_csv(&[r, signed_in]);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(
            line,
            format!(
                "\"O'Brien, \"\"Pat\"\"\",pat@acme.test,\"'=cmd\",,,inactive,never_verified,2026-01-01,30,\"Acme, Inc\",src1,p1,,false,\"{NEVER_VERIFIED_MEANING}\","
            )
        );
        let line = csv.lines().nth(2).unwrap();
        assert!(
            line.ends_with(&format!(
                "false,\"{NEVER_VERIFIED_MEANING}\",Microsoft 365 2026-01-29"
            )),
            "{line}"
        );
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .ends_with(",reason_note,app_activity")
        );
        assert_eq!(reason_note(Some("ended_not_offboarded")), None);
        assert_eq!(reason_note(None), None);
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(percent(Some(0.8734)), "87.3%");
        assert_eq!(percent(None), "–");
        assert_eq!(interval(86_400), "every 1 day(s)");
        assert_eq!(interval(7200), "every 2 h");
        assert_eq!(interval(90), "every 2 min");
        let now: DateTime<Utc> = "2026-01-10T00:00:00Z".parse().unwrap();
        assert_eq!(ago(None, now), "never");
        assert!(ago(Some(now - Duration::hours(3)), now).ends_with("(3 h ago)"));
    }
}
