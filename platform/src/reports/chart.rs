//! The trend chart: daily counts per seat state as an inline SVG line chart, drawn on the
//! server so the console needs no JavaScript.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use super::escape_html;

/// One line of the chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    /// CSS colour of the line and its legend swatch.
    pub colour: &'static str,
    /// One value per day of [`Chart::days`].
    pub values: Vec<u64>,
}

/// A line chart over consecutive days.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub title: String,
    pub days: Vec<NaiveDate>,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;
/// Up to this many days, every data point is drawn as a dot as well as on the line.
const MARKED_DAYS: usize = 62;

impl Chart {
    /// The chart as a standalone `<svg>` element. All text is XML-escaped.
    pub(crate) fn to_svg(&self) -> String {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}"><title>{}</title>"#,
            escape_html(&self.title),
            escape_html(&self.title)
        );
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        if self.days.is_empty() {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle" class="empty">No daily history in this period yet.</text></svg>"#,
                WIDTH / 2.0,
                HEIGHT / 2.0
            );
            return svg;
        }
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .max()
            .unwrap_or(0);
        let top_value = nice_ceiling(max);
        let x_of = |i: usize| -> f64 {
            if self.days.len() == 1 {
                LEFT + plot_w / 2.0
            } else {
                LEFT + plot_w * i as f64 / (self.days.len() - 1) as f64
            }
        };
        let y_of = |v: u64| -> f64 { TOP + plot_h - plot_h * v as f64 / top_value as f64 };

        // Horizontal grid lines and y labels: five steps.
        for step in 0..=4u64 {
            let value = top_value * step / 4;
            let y = y_of(value);
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{value}</text>"#,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0
            );
        }
        // X labels at the first day of each month (and the first day shown), thinned so
        // that at most about eight fit.
        let month_starts: Vec<usize> = self
            .days
            .iter()
            .enumerate()
            .filter(|(i, d)| *i == 0 || d.day() == 1)
            .map(|(i, _)| i)
            .collect();
        let stride = month_starts.len().div_ceil(8).max(1);
        for &i in month_starts.iter().step_by(stride) {
            let x = x_of(i);
            let _ = write!(
                svg,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text class="axis" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                TOP + plot_h,
                TOP + plot_h + 4.0,
                TOP + plot_h + 18.0,
                if self.days.len() == 1 {
                    // One day: say which.
                    self.days[i].format("%Y-%m-%d")
                } else {
                    self.days[i].format("%b %Y")
                }
            );
        }
        let _ = write!(
            svg,
            r#"<line class="axisline" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
            LEFT + plot_w,
            TOP + plot_h,
            TOP + plot_h
        );
        for (n, series) in self.series.iter().enumerate() {
            let mut points = String::new();
            for (i, v) in series.values.iter().enumerate().take(self.days.len()) {
                let _ = write!(points, "{:.1},{:.1} ", x_of(i), y_of(*v));
            }
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
                series.colour,
                points.trim_end(),
                escape_html(&series.name)
            );
            // A line needs two points: with few days every point gets a visible dot, so a
            // single upload (or a single reconstructed day) still shows.
            if self.days.len() <= MARKED_DAYS {
                for (i, v) in series.values.iter().enumerate().take(self.days.len()) {
                    let _ = write!(
                        svg,
                        r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{}: {} on {}</title></circle>"#,
                        x_of(i),
                        y_of(*v),
                        series.colour,
                        escape_html(&series.name),
                        v,
                        self.days[i]
                    );
                }
            }
            let ly = TOP + 8.0 + 20.0 * n as f64;
            let lx = WIDTH - RIGHT + 16.0;
            let last = series.values.last().copied().unwrap_or(0);
            let _ = write!(
                svg,
                r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text class="legend" x="{:.1}" y="{:.1}">{} ({last})</text>"#,
                ly - 10.0,
                series.colour,
                lx + 18.0,
                ly,
                escape_html(&series.name)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// The smallest "nice" number (1, 2 or 5 times a power of ten, divisible into four grid
/// steps) not below `max`; at least 4.
fn nice_ceiling(max: u64) -> u64 {
    if max <= 4 {
        return 4;
    }
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = m * magnitude;
            if candidate >= max {
                // A multiple of 4, so the grid labels are whole numbers.
                return candidate.div_ceil(4) * 4;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn nice_ceiling_is_round_and_covers_the_maximum() {
        for (max, expected) in [
            (0, 4),
            (3, 4),
            (7, 12),
            (10, 12),
            (17, 20),
            (99, 100),
            (101, 200),
            (4999, 5000),
        ] {
            assert_eq!(nice_ceiling(max), expected, "max {max}");
        }
    }

    #[test]
    fn draws_one_polyline_per_series_with_escaped_names() {
        let chart = Chart {
            title: "Seats <by> state".into(),
            days: vec![day("2026-01-31"), day("2026-02-01"), day("2026-02-02")],
            series: vec![
                Series {
                    name: "active".into(),
                    colour: "#2b7",
                    values: vec![10, 12, 11],
                },
                Series {
                    name: "in<active".into(),
                    colour: "#c33",
                    values: vec![0, 1, 2],
                },
            ],
        };
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("in&lt;active (2)"));
        assert!(svg.contains("Seats &lt;by&gt; state"));
        assert!(!svg.contains("in<active"));
        assert!(svg.contains("Feb 2026"));
        // The highest point (12 of a 12 ceiling) is at the top of the plot.
        assert!(svg.contains(&format!("{:.1}", TOP)));
    }

    #[test]
    fn a_single_day_is_a_visible_dot_with_its_date() {
        let chart = Chart {
            title: "t".into(),
            days: vec![day("2026-03-05")],
            series: vec![Series {
                name: "active".into(),
                colour: "#2b7",
                values: vec![7],
            }],
        };
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("active: 7 on 2026-03-05"), "{svg}");
        assert!(svg.contains(">2026-03-05</text>"), "{svg}");
        // A long period is drawn as lines only.
        let days: Vec<NaiveDate> = (0..90)
            .map(|i| day("2026-01-01") + chrono::Duration::days(i))
            .collect();
        let chart = Chart {
            title: "t".into(),
            series: vec![Series {
                name: "active".into(),
                colour: "#2b7",
                values: vec![1; days.len()],
            }],
            days,
        };
        assert_eq!(chart.to_svg().matches("<circle").count(), 0);
    }

    #[test]
    fn empty_chart_says_so() {
        let chart = Chart {
            title: "t".into(),
            days: vec![],
            series: vec![],
        };
        assert!(chart.to_svg().contains("No daily history"));
    }
}
