//! `/admin/fleet`: the whole fleet in one sortable, filterable table, every
//! number a link to the page that explains it, with server-rendered SVG
//! charts (no script): each tenant's compliance trend, and per day over 30
//! days the fleet's runs by outcome, its drift and its baseline alignment.

use crate::api;
use crate::components::{EmptyState, NoWorkspace, load};
use domain::fleet::{FLEET_PAGE_SIZE, FleetPage, FleetQuery, FleetRow, FleetSort};
use domain::runs::filter::{Range, RunFilter, Tab};
use domain::views::thousands;
use leptos::prelude::*;
use leptos_meta::Title;

/// A compliance sparkline: per cent compliant over the latest snapshots.
fn sparkline(points: &[i64]) -> impl IntoView + use<> {
    let label = if points.is_empty() {
        "No compliance snapshots yet".to_string()
    } else {
        format!(
            "Compliance over the last {} snapshots: {}",
            points.len(),
            points
                .iter()
                .map(|p| format!("{p} %"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let step = if points.len() > 1 {
        60.0 / (points.len() - 1) as f64
    } else {
        0.0
    };
    let line = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                18.0 - *p as f64 * 16.0 / 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let title = label.clone();
    view! {
        <svg class="sparkline" viewBox="0 0 60 20" width="60" height="20" role="img" aria-label=label>
            <title>{title}</title>
            {(points.len() > 1).then(|| view! { <polyline points=line fill="none" stroke="currentColor" stroke-width="1.5"/> })}
            {(points.len() == 1).then(|| view! { <circle cx="30" cy=format!("{:.1}", 18.0 - points[0] as f64 * 16.0 / 100.0) r="2" fill="currentColor"/> })}
        </svg>
    }
}

fn header(q: FleetQuery, sort: FleetSort, label: &'static str) -> impl IntoView {
    let current = q.sort == sort;
    let aria_sort = current.then_some(if q.desc { "descending" } else { "ascending" });
    view! {
        <th scope="col" aria-sort=aria_sort>
            <a class="link" href=q.sort_link(sort)>{label}{current.then_some(if q.desc { " ↓" } else { " ↑" })}</a>
        </th>
    }
}

fn row(r: FleetRow, now: i64) -> impl IntoView {
    let t = r.tenant;
    let hub = |f: RunFilter| f.for_tenant(Some(t)).hub_link();
    let compliance = match (r.compliant, r.compliance_percent()) {
        (Some((ok, total)), Some(pct)) => format!("{ok} / {total} ({pct} %)"),
        (Some(_), None) => "no devices".into(),
        _ => "not synced".into(),
    };
    let inventory = match r.inventory_at {
        Some(at) => crate::time::when(at).into_any(),
        None => "never".into_any(),
    };
    let connection = match (r.connection, r.consent, r.connection_enabled) {
        (None, _, _) => view! { <span class="badge badge-bad">"No connection"</span> }.into_any(),
        (Some(c), consent, enabled) => {
            let href = format!("/admin/t/{t}/connections/{c}");
            let (class, words) = match (enabled, consent, r.secret_days(now)) {
                (Some(false), _, _) => ("badge badge-muted", "Disabled".to_string()),
                (_, Some(false), _) => ("badge badge-warn", "Consent missing".to_string()),
                (_, _, Some(d)) if d < 0 => ("badge badge-bad", "Secret expired".to_string()),
                (_, _, Some(d)) if d <= 30 => {
                    ("badge badge-warn", format!("Secret expires in {d} d"))
                }
                (_, _, Some(d)) => ("badge badge-ok", format!("OK · secret {d} d")),
                (_, _, None) => ("badge badge-ok", "OK".to_string()),
            };
            view! { <a href=href class="link"><span class=class>{words}</span></a> }.into_any()
        }
    };
    view! {
        <tr data-tenant=t.to_string()>
            <th scope="row">
                <a class="link" href=format!("/admin/t/{t}")>{r.name.clone()}</a>
                {(!r.active).then(|| view! { " " <span class="badge badge-muted">"Inactive"</span> })}
            </th>
            <td><a class="link" href=format!("/admin/t/{t}/inventory")>{inventory}</a></td>
            <td>
                <a class="link" href=format!("/admin/t/{t}/compliance")>{compliance}</a>
                " " {sparkline(&r.compliance_trend)}
            </td>
            <td data-drift=r.drift_7d><a class="link" href=format!("/admin/t/{t}/changes?days=7")>{r.drift_7d}</a></td>
            <td data-alignment=r.alignment_percent().map(|p| p.to_string()).unwrap_or_default()>
                <a class="link" href="/admin/baselines">{match (r.alignment, r.alignment_percent()) {
                    (Some((a, total)), Some(pct)) => format!("{pct} % ({a} / {total})"),
                    _ => "not compared".to_string(),
                }}</a>
            </td>
            <td>{connection}</td>
            <td data-active=r.active_runs><a class="link" href=hub(RunFilter::tab(Tab::Active))>{r.active_runs}</a></td>
            <td data-failed=r.failed_7d><a class="link" href=hub(RunFilter {
                outcome: Some(domain::runs::RunOutcome::Failed),
                range: Some(Range::LastWeek),
                ..RunFilter::default()
            })>{r.failed_7d}</a></td>
        </tr>
    }
}

/// "Tenants 101–200 of 1,000" with the previous and next pages (sorted
/// over the whole fleet; only when there is more than one page).
fn pager(q: FleetQuery, total: usize, range: String) -> impl IntoView {
    let page = q.page_number();
    let pages = total.div_ceil(FLEET_PAGE_SIZE).max(1) as u32;
    (pages > 1).then(|| {
        view! {
            <nav class="pager mt-4" aria-label="Fleet pages" data-testid="fleet-pager">
                <span class="muted">{range}</span>
                {(page > 1).then(|| view! { <a class="link" rel="prev" href=q.page_link(page - 1)>"Previous"</a> })}
                {(page < pages).then(|| view! { <a class="link" rel="next" href=q.page_link(page + 1)>"Next"</a> })}
            </nav>
        }
    })
}

fn fleet(p: FleetPage) -> impl IntoView {
    let q = p.query;
    let now = p.now;
    let n = p.rows.len();
    view! {
        {(!p.tags.is_empty()).then(|| view! {
            <nav class="filters" aria-label="Filter the fleet by tag">
                <a class="link" href=FleetQuery { tag: None, page: 1, ..q }.link() aria-current=q.tag.is_none().then_some("page")>"All"</a>
                {p.tags.iter().map(|(id, name)| {
                    let link = FleetQuery { tag: Some(*id), page: 1, ..q }.link();
                    view! { <a class="link" href=link aria-current=(q.tag == Some(*id)).then_some("page")>{name.clone()}</a> }
                }).collect_view()}
            </nav>
        })}
        {crate::charts::runs_per_day("fleet-runs", "Runs that ended per day across the fleet, last 30 days".into(), &p.runs_by_day)}
        <section class="card mt-4" aria-labelledby="fleet-drift" data-testid="drift-chart">
            <h2 id="fleet-drift" class="section-title">"Policy changes across the fleet, last 30 days"</h2>
            {crate::charts::daily_bars("fleet-drift", "Policy changes found per day", &p.days, vec![crate::charts::Series {
                label: "Changes found",
                class: "chart-drift",
                values: p.drift_by_day.iter().map(|n| Some(*n)).collect(),
            }], crate::charts::Scale::Count, "changes")}
        </section>
        <section class="card mt-4" aria-labelledby="fleet-alignment" data-testid="alignment-chart">
            <h2 id="fleet-alignment" class="section-title">"Baseline alignment across the fleet, last 30 days"</h2>
            {crate::charts::daily_bars("fleet-alignment", "Baseline alignment per day", &p.days, vec![crate::charts::Series {
                label: "Aligned",
                class: "chart-aligned",
                values: p.alignment_by_day.clone(),
            }], crate::charts::Scale::Percent, "per cent")}
        </section>
        {if p.rows.is_empty() && p.total > 0 {
            view! { <p class="muted mt-4">"This page is past the last tenant. " <a class="link" href=q.page_link(1)>"Back to the first page"</a></p> }.into_any()
        } else if p.rows.is_empty() {
            view! { <p class="muted mt-4">{if q.tag.is_some() { "No tenants carry this tag." } else { "No tenants to show yet." }}</p> }.into_any()
        } else {
            let first = (q.page_number() as usize - 1) * FLEET_PAGE_SIZE + 1;
            let range = format!("Tenants {}–{} of {}", thousands(first as i64), thousands((first + n - 1) as i64), thousands(p.total as i64));
            view! {
                {pager(q, p.total, range.clone())}
                <table class="table mt-4" data-testid="fleet-table" data-count=n data-total=p.total>
                    <caption class="sr-only">{range}</caption>
                    <thead><tr>
                        {header(q, FleetSort::Name, "Tenant")}
                        {header(q, FleetSort::Inventory, "Last inventory")}
                        {header(q, FleetSort::Compliance, "Compliance")}
                        {header(q, FleetSort::Drift, "Changes (7 d)")}
                        {header(q, FleetSort::Alignment, "Baseline alignment")}
                        {header(q, FleetSort::Secret, "Connection")}
                        {header(q, FleetSort::Active, "Active runs")}
                        {header(q, FleetSort::Failed, "Failed (7 d)")}
                    </tr></thead>
                    <tbody>{p.rows.into_iter().map(|r| row(r, now)).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
pub fn Fleet() -> impl IntoView {
    let query = crate::pages::operations::current_query();
    view! {
        <Title text="Fleet · Tenantry"/>
        <section class="page">
            <h1 class="page-title">"Fleet"</h1>
            <p class="muted">"Every tenant you may see, with what to look at first. Each number opens the page that explains it."</p>
            {load(api::load_fleet(query), |p: Option<FleetPage>| match p {
                None => view! { <NoWorkspace/> }.into_any(),
                Some(p) if p.total == 0 && p.query.tag.is_none() => view! {
                    <EmptyState title="No tenants yet">"Add tenants on the Tenants page; they appear here with their health at a glance."</EmptyState>
                }.into_any(),
                Some(p) => fleet(p).into_any(),
            })}
        </section>
    }
}
