//! Server-rendered SVG charts (no script): axes with round ticks and dates,
//! a legend in words beside the colours, the exact numbers on hover, and a
//! table of the same numbers as the chart's text equivalent. The numbers
//! come from the domain (`RunsPerDay`, `DurationSpread`, the fleet's days);
//! the words for outcomes from the presenter.

use domain::runs::model::RunOutcome;
use domain::runs::presenter::outcome_words;
use domain::runs::views::{DURATION_BUCKETS, DurationSpread, ENDED_OUTCOMES, RunsPerDay};
use domain::views::thousands;
use leptos::prelude::*;

/// One series of a daily bar chart: its words, its colour and a value per
/// day (`None`: nothing that day, as a day without a comparison).
pub struct Series {
    pub label: &'static str,
    pub class: &'static str,
    pub values: Vec<Option<i64>>,
}

/// What a daily chart's values are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Counts, stacked when there are several series.
    Count,
    /// Per cent (one series, 0–100).
    Percent,
}

/// The axis step: the smallest 1, 2 or 5 × 10ⁿ that reaches `max` in at
/// most four steps.
pub fn axis_step(max: i64) -> i64 {
    let max = max.max(1);
    let mut base: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            let step = base.saturating_mul(m);
            if step.saturating_mul(4) >= max {
                return step;
            }
        }
        if base > i64::MAX / 100 {
            return max;
        }
        base *= 10;
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2026-12-07` → `7 Dec`.
pub fn short_date(date: &str) -> String {
    let month = date
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let day = date.get(8..10).and_then(|d| d.parse::<u32>().ok());
    match (day, month) {
        (Some(d), Some(m)) => format!("{d} {m}"),
        _ => date.to_string(),
    }
}

/// The chart's colour class for an outcome (literal, so the stylesheet
/// build sees every one).
fn outcome_class(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Succeeded => "chart-succeeded",
        RunOutcome::PartiallySucceeded => "chart-partial",
        RunOutcome::Failed => "chart-failed",
        RunOutcome::Blocked => "chart-blocked",
        RunOutcome::Cancelled | RunOutcome::Pending => "chart-cancelled",
    }
}

/// Runs that ended per day by outcome, stacked (hub, overview, tenant
/// page, fleet).
pub fn runs_per_day(id: &'static str, title: String, trend: &RunsPerDay) -> AnyView {
    if trend.total() == 0 {
        return view! {
            <section class="card mt-4" aria-labelledby=id data-testid="runs-chart" data-total="0">
                <h2 id=id class="section-title">{title}</h2>
                <p class="muted">"No runs ended in the last 30 days."</p>
            </section>
        }
        .into_any();
    }
    let days: Vec<String> = trend.days.iter().map(|(d, _)| d.clone()).collect();
    let series = ENDED_OUTCOMES
        .iter()
        .enumerate()
        .map(|(i, o)| Series {
            label: outcome_words(*o).0,
            class: outcome_class(*o),
            values: trend.days.iter().map(|(_, c)| Some(c[i])).collect(),
        })
        .collect();
    let total = trend.total();
    view! {
        <section class="card mt-4" aria-labelledby=id data-testid="runs-chart" data-total=total>
            <h2 id=id class="section-title">{title.clone()}</h2>
            {daily_bars(id, &title, &days, series, Scale::Count, "runs")}
        </section>
    }
    .into_any()
}

/// A bar per day with axes, a legend and the numbers as a table.
pub fn daily_bars(
    id: &str,
    title: &str,
    days: &[String],
    series: Vec<Series>,
    scale: Scale,
    unit: &'static str,
) -> impl IntoView + use<> {
    const W: f64 = 600.0;
    const H: f64 = 190.0;
    const LEFT: f64 = 46.0;
    const RIGHT: f64 = 6.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 24.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = days.len().max(1);
    let sums = Totals::of(days.len(), &series);
    let (top, step) = match scale {
        Scale::Percent => (100, 25),
        Scale::Count => {
            let max = sums.per_day.iter().copied().max().unwrap_or(0);
            let step = axis_step(max);
            let steps = (max.max(1) + step - 1) / step;
            (step * steps, step)
        }
    };
    let y = move |v: i64| TOP + plot_h - (v as f64) * plot_h / (top.max(1) as f64);
    let slot = plot_w / n as f64;
    let bar = (slot * 0.72).max(1.0);
    let ticks = (0..=top / step.max(1))
        .map(|k| {
            let v = k * step;
            let at = format!("{:.1}", y(v));
            let label = match scale {
                Scale::Percent => format!("{v} %"),
                Scale::Count => thousands(v),
            };
            view! {
                <line class="chart-grid" x1=LEFT.to_string() x2=(W - RIGHT).to_string() y1=at.clone() y2=at.clone()/>
                <text class="chart-tick" x=(LEFT - 6.0).to_string() y=at dy="0.32em" text-anchor="end">{label}</text>
            }
        })
        .collect_view();
    // A date under today and every seventh day before it.
    let dates = days
        .iter()
        .enumerate()
        .filter(|(i, _)| (days.len() - 1 - i).is_multiple_of(7))
        .map(|(i, d)| {
            let x = format!("{:.1}", LEFT + slot * (i as f64 + 0.5));
            view! { <text class="chart-tick" x=x y=(H - 6.0).to_string() text-anchor="middle">{short_date(d)}</text> }
        })
        .collect_view();
    let words = |d: usize| -> String {
        let parts: Vec<String> = series
            .iter()
            .filter_map(|s| {
                let v = s.values.get(d).copied().flatten()?;
                (v > 0 || series.len() == 1).then(|| match scale {
                    Scale::Percent => format!("{v} % {}", s.label.to_lowercase()),
                    Scale::Count => format!("{} {}", thousands(v), s.label.to_lowercase()),
                })
            })
            .collect();
        if parts.is_empty() {
            format!("no {unit}")
        } else {
            parts.join(", ")
        }
    };
    let bars = days
        .iter()
        .enumerate()
        .map(|(d, date)| {
            let x = format!("{:.1}", LEFT + slot * d as f64 + (slot - bar) / 2.0);
            let mut base = 0;
            let rects = series
                .iter()
                .filter_map(|s| {
                    let v = s.values.get(d).copied().flatten().filter(|v| *v > 0)?;
                    let (y0, y1) = (y(base), y(base + v));
                    base += v;
                    Some(view! {
                        <rect class=s.class x=x.clone() y=format!("{y1:.1}") width=format!("{bar:.1}") height=format!("{:.1}", (y0 - y1).max(0.5))/>
                    })
                })
                .collect_view();
            let hover = format!("{}: {}", short_date(date), words(d));
            view! { <g><title>{hover}</title>{rects}</g> }
        })
        .collect_view();
    let summary = summary_of(title, days, &series, &sums, scale, unit);
    let legend = series
        .iter()
        .zip(&sums.per_series)
        .map(|(s, total)| {
            let count = (scale == Scale::Count).then(|| format!(" ({})", thousands(*total)));
            view! {
                <li><svg width="10" height="10" aria-hidden="true"><rect class=s.class width="10" height="10" rx="2"/></svg>" " {s.label} {count}</li>
            }
        })
        .collect_view();
    let head = series
        .iter()
        .map(|s| view! { <th scope="col">{s.label}</th> })
        .collect_view();
    let rows = days
        .iter()
        .enumerate()
        .rev()
        .map(|(d, date)| {
            let cells = series
                .iter()
                .map(|s| {
                    let v = s.values.get(d).copied().flatten();
                    let text = match (v, scale) {
                        (None, _) => "—".to_string(),
                        (Some(v), Scale::Percent) => format!("{v} %"),
                        (Some(v), Scale::Count) => thousands(v),
                    };
                    view! { <td class="num">{text}</td> }
                })
                .collect_view();
            view! { <tr><th scope="row">{date.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    let caption = format!("{title}, newest day first");
    view! {
        <figure class="chart">
            <svg class="chart-svg" viewBox=format!("0 0 {W} {H}") role="img" aria-label=summary.clone() data-testid=format!("{id}-svg")>
                <title>{summary.clone()}</title>
                {ticks}
                {bars}
                <line class="chart-axis-line" x1=LEFT.to_string() x2=(W - RIGHT).to_string() y1=format!("{:.1}", y(0)) y2=format!("{:.1}", y(0))/>
                {dates}
            </svg>
            <figcaption>
                {(series.len() > 1 || scale == Scale::Count).then(|| view! { <ul class="chart-legend">{legend}</ul> })}
                <details class="chart-table">
                    <summary>"Show the numbers"</summary>
                    <div class="table-scroll" tabindex="0" role="region" aria-label=caption.clone()>
                        <table class="table">
                            <caption class="sr-only">{caption.clone()}</caption>
                            <thead><tr><th scope="col">"Day"</th>{head}</tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                </details>
            </figcaption>
        </figure>
    }
}

/// A chart's sums, added up once: each day over the series, each series
/// over the days.
struct Totals {
    per_day: Vec<i64>,
    per_series: Vec<i64>,
}

impl Totals {
    fn of(days: usize, series: &[Series]) -> Totals {
        Totals {
            per_day: (0..days)
                .map(|d| {
                    series
                        .iter()
                        .filter_map(|s| s.values.get(d).copied().flatten())
                        .sum()
                })
                .collect(),
            per_series: series
                .iter()
                .map(|s| s.values.iter().flatten().sum())
                .collect(),
        }
    }
}

/// The chart in one sentence (its accessible name).
fn summary_of(
    title: &str,
    days: &[String],
    series: &[Series],
    sums: &Totals,
    scale: Scale,
    unit: &str,
) -> String {
    let n = days.len();
    match scale {
        Scale::Percent => {
            let known: Vec<i64> = series
                .first()
                .map(|s| s.values.iter().flatten().copied().collect())
                .unwrap_or_default();
            match (known.first(), known.last()) {
                (Some(first), Some(last)) => format!(
                    "{title}: compared on {} of {n} days, from {first} % to {last} % (latest)",
                    known.len()
                ),
                _ => format!("{title}: nothing compared in {n} days"),
            }
        }
        Scale::Count => {
            let per_day = &sums.per_day;
            let total: i64 = per_day.iter().sum();
            let parts: Vec<String> = series
                .iter()
                .zip(&sums.per_series)
                .filter(|&(_, &t)| t > 0 && series.len() > 1)
                .map(|(s, &t)| format!("{} {}", thousands(t), s.label.to_lowercase()))
                .collect();
            let busiest = per_day
                .iter()
                .enumerate()
                .max_by_key(|(i, v)| (**v, *i))
                .filter(|(_, v)| **v > 0)
                .and_then(|(i, v)| {
                    Some(format!(
                        "; the most on {} ({})",
                        days.get(i)?,
                        thousands(*v)
                    ))
                });
            let split = if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            };
            format!(
                "{title}: {} {unit} in {n} days{split}{}",
                thousands(total),
                busiest.unwrap_or_default()
            )
        }
    }
}

/// The duration colour classes, shortest first (literal for the stylesheet).
const DURATION_CLASSES: [&str; 6] = [
    "chart-d0", "chart-d1", "chart-d2", "chart-d3", "chart-d4", "chart-d5",
];

/// How long each operation type's runs took over the last 30 days: one bar
/// per type split by duration, 0–100 % of its runs (system plane).
pub fn durations(spread: &DurationSpread) -> AnyView {
    let id = "durations";
    if spread.rows.is_empty() {
        return view! {
            <section class="card mt-4" aria-labelledby=id data-testid="durations-chart">
                <h2 id=id class="section-title">"How long operations took, last 30 days"</h2>
                <p class="muted">"No run started and ended in the last 30 days."</p>
            </section>
        }
        .into_any();
    }
    let legend = DURATION_BUCKETS
        .iter()
        .zip(DURATION_CLASSES)
        .map(|((_, words), class)| view! {
            <li><svg width="10" height="10" aria-hidden="true"><rect class=class width="10" height="10" rx="2"/></svg>" " {*words}</li>
        })
        .collect_view();
    let bars = spread
        .rows
        .iter()
        .map(|r| {
            let total = r.total().max(1) as f64;
            let mut at = 0.0;
            let median = r.percentile(50).unwrap_or("—");
            let p95 = r.percentile(95).unwrap_or("—");
            let label = format!(
                "{}: {} runs; half took {median}, 95 % took {p95} or less",
                r.operation,
                thousands(r.total())
            );
            let segments = r
                .counts
                .iter()
                .zip(DURATION_BUCKETS.iter().zip(DURATION_CLASSES))
                .filter(|(n, _)| **n > 0)
                .map(|(n, ((_, words), class))| {
                    let w = *n as f64 * 100.0 / total;
                    let x = at;
                    at += w;
                    view! {
                        <rect class=class x=format!("{x:.2}") y="0" width=format!("{w:.2}") height="10">
                            <title>{format!("{}: {} {words}", r.operation, thousands(*n))}</title>
                        </rect>
                    }
                })
                .collect_view();
            view! {
                <div class="duration-row">
                    <span class="duration-name">{r.operation.clone()}<span class="muted">{format!(" · {}", thousands(r.total()))}</span></span>
                    <svg class="duration-bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label=label>
                        {segments}
                        {[25, 50, 75].map(|g| view! { <line class="chart-grid" x1=g.to_string() x2=g.to_string() y1="0" y2="10" vector-effect="non-scaling-stroke"/> })}
                    </svg>
                </div>
            }
        })
        .collect_view();
    let head = DURATION_BUCKETS
        .iter()
        .map(|(_, words)| view! { <th scope="col">{*words}</th> })
        .collect_view();
    let rows = spread
        .rows
        .iter()
        .map(|r| {
            let cells = r
                .counts
                .iter()
                .map(|n| view! { <td class="num">{thousands(*n)}</td> })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{r.operation.clone()}</th>
                    <td class="num">{thousands(r.total())}</td>
                    {cells}
                    <td>{r.percentile(50).unwrap_or("—")}</td>
                    <td>{r.percentile(95).unwrap_or("—")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card mt-4" aria-labelledby=id data-testid="durations-chart">
            <h2 id=id class="section-title">"How long operations took, last 30 days"</h2>
            <p class="muted text-sm">"From start to end, every workspace; each bar is all of that type's runs."</p>
            <figure class="chart">
                <div class="duration-chart">
                    {bars}
                    <div class="duration-row" aria-hidden="true">
                        <span></span>
                        <span class="duration-axis"><span>"0 %"</span><span>"25 %"</span><span>"50 %"</span><span>"75 %"</span><span>"100 %"</span></span>
                    </div>
                </div>
                <figcaption>
                    <ul class="chart-legend">{legend}</ul>
                    <details class="chart-table">
                        <summary>"Show the numbers"</summary>
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Durations per operation type">
                            <table class="table">
                                <caption class="sr-only">"Runs per operation type by how long they took, last 30 days"</caption>
                                <thead><tr><th scope="col">"Operation"</th><th scope="col">"Runs"</th>{head}<th scope="col">"Half took"</th><th scope="col">"95 % took"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    </details>
                </figcaption>
            </figure>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(axis_step(0), 1);
        assert_eq!(axis_step(3), 1);
        assert_eq!(axis_step(7), 2);
        assert_eq!(axis_step(19), 5);
        assert_eq!(axis_step(41), 20);
        assert_eq!(axis_step(1_000), 500);
        assert_eq!(axis_step(1_999), 500);
        assert!(axis_step(i64::MAX) > 0);
    }

    #[test]
    fn dates_read_short() {
        assert_eq!(short_date("2026-12-07"), "7 Dec");
        assert_eq!(short_date("2026-01-31"), "31 Jan");
        assert_eq!(short_date("garbage"), "garbage");
        assert_eq!(short_date("2026-13-01"), "2026-13-01");
    }

    #[test]
    fn the_summary_says_the_totals_and_the_busiest_day() {
        let days = vec!["2026-12-06".to_string(), "2026-12-07".to_string()];
        let series = vec![
            Series {
                label: "Succeeded",
                class: "chart-succeeded",
                values: vec![Some(1200), Some(3)],
            },
            Series {
                label: "Failed",
                class: "chart-failed",
                values: vec![Some(0), Some(2)],
            },
        ];
        assert_eq!(
            summary_of(
                "Runs",
                &days,
                &series,
                &Totals::of(days.len(), &series),
                Scale::Count,
                "runs"
            ),
            "Runs: 1,205 runs in 2 days (1,203 succeeded, 2 failed); the most on 2026-12-06 (1,200)"
        );
        let pct = vec![Series {
            label: "Aligned",
            class: "chart-succeeded",
            values: vec![None, Some(80)],
        }];
        assert_eq!(
            summary_of(
                "Alignment",
                &days,
                &pct,
                &Totals::of(days.len(), &pct),
                Scale::Percent,
                "per cent"
            ),
            "Alignment: compared on 1 of 2 days, from 80 % to 80 % (latest)"
        );
    }
}
