use crate::api;
use crate::components::tone_class;
use crate::components::{EmptyState, NoWorkspace, load};
use crate::forms::browser;
use domain::runs::OperationType;
use domain::runs::filter::{HubQuery, InitiatorFilter, Range, RunFilter, Tab};
use domain::runs::views::{HubPage, RunRow, RunShortList, RunSummary};
use domain::runs::{RunOutcome, RunStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

/// A table of runs, every label from the shared presenter; run ids link to
/// `{link_base}/{id}`.
pub fn run_table(
    rows: Vec<RunRow>,
    show_workspace: bool,
    link_base: &'static str,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="run-table">
            <caption class="sr-only">"Operation runs"</caption>
            <thead><tr>
                <th scope="col">"Run"</th>
                {show_workspace.then(|| view! { <th scope="col">"Workspace"</th> })}
                <th scope="col">"Tenant"</th><th scope="col">"Operation"</th><th scope="col">"Status"</th>
                <th scope="col">"Started"</th><th scope="col">"Finished"</th><th scope="col">"Why"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr data-run=r.id.to_string()>
                        <td><a class="link" href=format!("{link_base}/{}", r.id)>{format!("#{}", r.id)}</a></td>
                        {show_workspace.then(|| view! { <td>{r.workspace_name.clone()}</td> })}
                        <td>{r.tenant_name.clone().unwrap_or_default()}</td>
                        <td>{r.operation.clone()}</td>
                        <td>
                            <span class=tone_class(r.headline.tone)>{r.headline.label.clone()}</span>
                            {run_badges(&r)}
                        </td>
                        <td>{crate::time::when(r.created_at)}</td>
                        <td>{crate::time::when_or_dash(r.completed_at)}</td>
                        <td>{r.reason.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "N runs match", the same words and number every summary links here with.
fn count_line(count: domain::runs::filter::CappedCount) -> impl IntoView {
    let noun = if !count.capped && count.value == 1 {
        "run matches"
    } else {
        "runs match"
    };
    view! { <p class="muted" data-testid="hub-count" data-count=count.value>{count.to_string()} " " {noun} "."</p> }
}

/// Tabs by problem class, keeping the other filters.
fn tabs(filter: RunFilter, base: &'static str) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Run lists">
            {Tab::ALL.into_iter().map(|t| {
                let href = RunFilter { tab: t, ..filter }.link(base);
                let current = (t == filter.tab).then_some("page");
                view! { <a class="tab" href=href aria-current=current>{t.label()}</a> }
            }).collect_view()}
        </nav>
    }
}

fn select<T: Copy + PartialEq>(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    any: &'static str,
    options: Vec<(T, String, String)>,
    current: Option<T>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name=name class="input">
                <option value="" selected=current.is_none()>{any}</option>
                {options.into_iter().map(|(v, value, text)| view! {
                    <option value=value selected=current == Some(v)>{text}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

fn operation_options() -> Vec<(OperationType, String, String)> {
    domain::operations::ALL
        .iter()
        .filter(|t| !t.spec().test_only)
        .map(|t| (*t, t.as_str().to_string(), t.label().to_string()))
        .collect()
}

/// The filter form: a plain GET form, so filters live in the URL and work
/// without JavaScript. `choices` adds the tenant and initiator selects.
fn filter_form(
    base: &'static str,
    filter: RunFilter,
    tenants: Vec<(domain::ids::TenantId, String)>,
    members: Vec<(domain::ids::UserId, String)>,
    tags: Vec<(domain::ids::TagId, String)>,
    workspace_choices: bool,
) -> impl IntoView {
    let tag_options: Vec<_> = tags
        .into_iter()
        .map(|(id, name)| (id, id.to_string(), name))
        .collect();
    let statuses = RunStatus::ALL
        .iter()
        .map(|s| (*s, s.as_str().to_string(), s.as_str().replace('_', " ")))
        .collect();
    let outcomes = RunOutcome::ALL
        .iter()
        .map(|o| (*o, o.as_str().to_string(), o.as_str().replace('_', " ")))
        .collect();
    let ranges = Range::ALL
        .iter()
        .map(|r| (*r, r.as_str().to_string(), r.label().to_string()))
        .collect();
    let tenant_options = tenants
        .into_iter()
        .map(|(id, name)| (id, id.to_string(), name))
        .collect();
    let mut initiators: Vec<(InitiatorFilter, String, String)> = members
        .into_iter()
        .map(|(id, email)| {
            let f = InitiatorFilter::User(id);
            (f, f.to_param(), email)
        })
        .collect();
    initiators.push((
        InitiatorFilter::Schedule,
        "schedule".into(),
        "The schedule".into(),
    ));
    initiators.push((
        InitiatorFilter::System,
        "system".into(),
        "The system".into(),
    ));
    view! {
        <form method="get" action=base class="filters" aria-label="Filter runs">
            {(filter.tab != Tab::All).then(|| view! { <input type="hidden" name="tab" value=filter.tab.as_str()/> })}
            {select("f-status", "status", "Status", "Any status", statuses, filter.status)}
            {select("f-outcome", "outcome", "Outcome", "Any outcome", outcomes, filter.outcome)}
            {select("f-type", "type", "Operation", "Any operation", operation_options(), filter.op_type)}
            {workspace_choices.then(|| view! {
                {select("f-tenant", "tenant", "Tenant", "Any tenant", tenant_options, filter.tenant)}
                {select("f-initiator", "initiator", "Started by", "Anyone", initiators, filter.initiator)}
                {(!tag_options.is_empty()).then(|| select("f-tag", "tag", "Tag", "Any tag", tag_options, filter.tag))}
            })}
            // A schedule fire's runs (its counts link here): kept while other filters change.
            {filter.fire.map(|f| view! { <input type="hidden" name="fire" value=f.to_string()/> })}
            {filter.bulk.map(|b| view! { <input type="hidden" name="bulk" value=b.to_string()/> })}
            {select("f-range", "range", "Created", "Any time", ranges, filter.range)}
            <div class="filter-actions">
                <button type="submit" class="btn btn-primary">"Apply filters"</button>
                {filter.is_narrowed().then(|| view! { <a class="link" href=RunFilter::tab(filter.tab).link(base)>"Clear filters"</a> })}
            </div>
        </form>
    }
}

fn pager(base: &'static str, query: HubQuery, next: Option<String>) -> impl IntoView {
    let first = query.before.map(|_| query.filter.link(base));
    view! {
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a class="link" href=href>"← Newest"</a> })}
            {next.map(|q| view! { <a class="link" rel="next" href=format!("{base}?{q}")>"Older runs →"</a> })}
        </nav>
    }
}

/// One page of a run list as the domain returned it.
pub struct ListData {
    pub query: HubQuery,
    pub count: domain::runs::filter::CappedCount,
    pub runs: Vec<RunRow>,
    pub next: Option<String>,
}

/// The hub and the system lists share this body.
pub fn run_list(
    base: &'static str,
    link_base: &'static str,
    show_workspace: bool,
    data: ListData,
    form: AnyView,
    show_tabs: bool,
) -> impl IntoView {
    let ListData {
        query,
        count,
        runs,
        next,
    } = data;
    let filter = query.filter;
    view! {
        {show_tabs.then(|| tabs(filter, base))}
        {form}
        {count_line(count)}
        {if runs.is_empty() {
            if filter.is_narrowed() || filter.tab != Tab::All || query.before.is_some() {
                view! {
                    <EmptyState title="No runs match">
                        <p>"Nothing matches this tab and these filters. " <a class="link" href=base>"Show every run"</a></p>
                    </EmptyState>
                }.into_any()
            } else {
                view! {
                    <EmptyState title="No operation runs yet">
                        <p>"Runs appear here when someone verifies a tenant, syncs inventory or starts another operation."</p>
                    </EmptyState>
                }.into_any()
            }
        } else {
            run_table(runs, show_workspace, link_base).into_any()
        }}
        {pager(base, query, next)}
    }
}

/// The current page's query string (for loaders that take it whole).
pub fn current_query() -> String {
    use_location().search.get_untracked()
}

/// The operations hub: the one run collection of the admin plane.
#[component]
pub fn Operations() -> impl IntoView {
    let query = current_query();
    view! {
        <Title text="Operations · Tenantry"/>
        {load(api::load_hub(query), |page: Option<HubPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Operations"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let form = filter_form("/admin/operations", p.query.filter, p.tenants, p.members, p.tags, true).into_any();
                view! {
                    <section class="page">
                        <h1 class="page-title">"Operations"</h1>
                        <p class="muted">"Every operation run in " {p.workspace.name.clone()} " you may see, newest first."</p>
                        {crate::charts::runs_per_day("runs-per-day", "Runs that ended per day, last 30 days".into(), &p.trend)}
                        {run_list("/admin/operations", "/admin/operations", false,
                            ListData { query: p.query, count: p.count, runs: p.runs, next: p.next }, form, true)}
                    </section>
                }.into_any()
            }
        })}
    }
}

/// The system plane's filter form (no workspace-specific choices).
pub fn system_filter_form(base: &'static str, filter: RunFilter) -> AnyView {
    filter_form(base, filter, vec![], vec![], vec![], false).into_any()
}

/// The badges every run list shows beside the status, from the presenter:
/// the problem class, and "went stale" when the reconciler acted on it.
fn run_badges(r: &domain::runs::views::RunRow) -> impl IntoView + use<> {
    let problem = r.headline.problem.map(|p| {
        view! { <span class="badge badge-muted ml-2" data-testid="problem-class">{p.label()}</span> }
    });
    let stale = r.reconciled_lineage.then(|| {
        view! { <span class="badge badge-warn ml-2" title="The reconciler acted on this run" data-testid="went-stale">"went stale"</span> }
    });
    (problem, stale)
}

fn short_list(list: RunShortList, empty: &'static str) -> impl IntoView {
    view! {
        <section class="card" aria-label=list.title.clone()>
            <h3 class="section-title">
                {list.title.clone()} " "
                <a class="link text-sm" href=list.link.clone() data-testid="list-count" data-count=list.count.value>{format!("({})", list.count)}</a>
            </h3>
            {if list.runs.is_empty() {
                view! { <p class="muted">{empty}</p> }.into_any()
            } else {
                view! {
                    <ul class="run-list">
                        {list.runs.into_iter().map(|r| view! {
                            <li>
                                <a class="link" href=domain::runs::presenter::run_link(r.id)>{format!("{} #{}", r.operation, r.id)}</a>
                                {r.tenant_name.clone().map(|t| view! { <span class="muted">" · " {t}</span> })}
                                " " <span class=tone_class(r.headline.tone)>{r.headline.label.clone()}</span>
                                {run_badges(&r)}
                                <span class="muted text-sm">" " {crate::time::when_text(r.created_at)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <a class="link text-sm" href=list.link.clone()>"Open in operations"</a>
                }.into_any()
            }}
        </section>
    }
}

/// The run summary on the tenant dashboard (`tenant`) or the workspace
/// overview. Refreshes every 10 s only while it shows active runs, at once
/// when an operation is started on the page, and once when the operator
/// comes back to the tab.
#[island]
pub fn LiveRunSummary(
    initial: RunSummary,
    #[prop(optional)] tenant: Option<domain::ids::TenantId>,
) -> impl IntoView {
    let state = RwSignal::new(initial);
    let polling = StoredValue::new(false);
    let has_active = |s: &RunSummary| {
        s.tiles
            .iter()
            .any(|t| t.kpi == domain::runs::filter::Kpi::Active && t.count.value > 0)
    };
    let watch = move |immediately: bool| {
        refresh_while_active(
            polling,
            immediately,
            move || async move {
                match tenant {
                    Some(t) => api::load_tenant_runs(t, Some(true)).await,
                    None => api::load_workspace_runs(Some(true))
                        .await
                        .map(|s| s.unwrap_or_else(|| state.get_untracked())),
                }
            },
            move |fresh: RunSummary| {
                let active = has_active(&fresh);
                if state.get_untracked() != fresh {
                    state.set(fresh);
                }
                active
            },
        );
    };
    Effect::new(move |_| {
        if has_active(&state.get_untracked()) {
            watch(false);
        }
        crate::forms::browser::on_run_started(move || watch(true));
        crate::forms::browser::on_return(move || watch(true));
    });
    move || run_summary(state.get())
}

/// KPI tiles, needs-attention and recent operations (tenant dashboard and
/// workspace overview). Every number links to the hub with its filter.
fn run_summary(summary: RunSummary) -> impl IntoView {
    let empties = [
        "Nothing looks stuck.",
        "Nothing failed, was blocked or partly succeeded in the last 7 days.",
    ];
    view! {
        <section aria-labelledby="run-kpis" class="mt-6">
            <h2 id="run-kpis" class="section-title">"Operations"</h2>
            <div class="kpis">
                {summary.tiles.into_iter().map(|t| view! {
                    <a class="kpi" href=t.link data-kpi=format!("{:?}", t.kpi) data-count=t.count.value>
                        <span class="kpi-value">{t.count.to_string()}</span>
                        <span class="kpi-label">{t.kpi.label()}</span>
                    </a>
                }).collect_view()}
            </div>
            <h2 class="section-title mt-4">"Needs attention"</h2>
            <div class="grid-2">
                {summary.attention.into_iter().zip(empties).map(|(l, e)| short_list(l, e)).collect_view()}
            </div>
            <div class="mt-4">{short_list(summary.recent, "No operations yet.")}</div>
        </section>
    }
}

/// The progress overlay in the `/admin` shell: active runs of the current
/// workspace you may see. Polls every 10 s only while it lists any (and not
/// while the tab is hidden); a run that ended drops out at the next poll. A
/// start from any button on the page wakes it at once; coming back to the
/// tab (visible again, or focus) checks once, so a run started elsewhere
/// appears without idle polling.
#[island]
pub fn ProgressOverlay(initial: domain::runs::views::ActiveRuns) -> impl IntoView {
    let state = RwSignal::new(initial);
    let polling = StoredValue::new(false);
    let shows = |a: &domain::runs::views::ActiveRuns| !a.runs.is_empty() || !a.bulks.is_empty();
    // Set when the page's own poll saw the last entry end (`crate::live`).
    let dropped = StoredValue::new(false);
    let apply = move |runs: domain::runs::views::ActiveRuns| {
        let active = shows(&runs);
        if state.get_untracked() != runs {
            state.set(runs);
        }
        active
    };
    let watch = move |immediately: bool| {
        refresh_while_active(
            polling,
            immediately,
            // While the run page polls, its poll brings this list: no
            // second stream (`crate::live`).
            move || async move {
                while crate::live::feeding() {
                    browser::sleep(250).await;
                }
                let now = state.get_untracked();
                if dropped.get_value() && !shows(&now) {
                    // The page saw the last entry end and dropped it:
                    // nothing to ask (and the loop ends).
                    dropped.set_value(false);
                    return Ok(now);
                }
                crate::api::poll_active_runs().await
            },
            apply,
        );
    };
    Effect::new(move |_| {
        let now = state.get_untracked();
        if shows(&now) {
            watch(false);
        }
        crate::live::listen(move |news| match news {
            crate::live::News::Runs(runs) => {
                apply(runs);
            }
            crate::live::News::Ended(run) => {
                // The page saw it end: drop it now, not at the next poll.
                let mut now = state.get_untracked();
                let before = now.runs.len();
                now.runs.retain(|r| r.id != run);
                if now.runs.len() < before {
                    now.total = (now.total - 1).max(0);
                    dropped.set_value(!shows(&now));
                    state.set(now);
                }
            }
        });
        browser::on_run_started(move || {
            dropped.set_value(false);
            watch(true)
        });
        browser::on_return(move || watch(true));
    });
    view! {
        <div class="progress-overlay-region" aria-live="polite">
            {move || {
                let a = state.get();
                (!a.runs.is_empty() || !a.bulks.is_empty()).then(|| {
                    let heading = match a.total + a.bulks.len() as i64 {
                        1 => "1 operation in progress".to_string(),
                        n => format!("{n} operations in progress"),
                    };
                    let more = (a.total > a.runs.len() as i64).then(|| a.link.clone());
                    view! {
                        <aside class="progress-overlay" aria-label="Operations in progress" data-testid="progress-overlay">
                            <p class="overlay-title">{heading}</p>
                            <ul class="overlay-list">
                                {a.bulks.into_iter().map(|b| {
                                    let label = format!("{} of {} done", b.done, b.total);
                                    view! {
                                        <li data-bulk=b.id.to_string() data-done=b.done data-total=b.total>
                                            <a class="link" href=b.link.clone()>{format!("{} · {}", b.operation, b.selection)}</a>
                                            " "
                                            <span class="muted text-sm">{label.clone()}</span>
                                            <progress class="progress" max=b.total value=b.done aria-label=format!("{} on {}: {label}", b.operation, b.selection)>{label.clone()}</progress>
                                        </li>
                                    }
                                }).collect_view()}
                                {a.runs.into_iter().map(|r| {
                                    let name = match r.tenant_name {
                                        Some(t) => format!("{} · {t}", r.operation),
                                        None => r.operation.clone(),
                                    };
                                    view! {
                                        <li data-run=r.id.to_string()>
                                            <a class="link" href=domain::runs::presenter::run_link(r.id)>{name}</a>
                                            " "
                                            <span class=crate::components::tone_class(r.headline.tone)>{r.headline.label}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {more.map(|href| view! { <a class="link text-sm" href=href>"See all active runs"</a> })}
                        </aside>
                    }
                })
            }}
        </div>
    }
}

/// The refresh loop of lists that show active runs (the overlay, dashboard
/// summaries): every 10 s, skipped while the tab is hidden, for as long as
/// `apply` says the fresh value still shows an active run. One loop at a time
/// per island (`running`); `immediately` fetches once before the first wait.
pub(crate) fn refresh_while_active<T, Fut>(
    running: StoredValue<bool>,
    immediately: bool,
    fetch: impl Fn() -> Fut + 'static,
    apply: impl Fn(T) -> bool + 'static,
) where
    T: 'static,
    Fut: std::future::Future<Output = Result<T, crate::error::ApiError>> + 'static,
{
    use domain::runs::presenter::ACTIVE_LIST_POLL_MS;
    if running.get_value() {
        return;
    }
    running.set_value(true);
    leptos::task::spawn_local(async move {
        let mut first = immediately;
        loop {
            if !first {
                browser::sleep(ACTIVE_LIST_POLL_MS).await;
                while browser::hidden() {
                    browser::sleep(250).await;
                }
            }
            first = false;
            match fetch().await {
                Ok(value) => {
                    if !apply(value) {
                        break;
                    }
                }
                // Signed out or no longer allowed: stop quietly.
                Err(e) if e.0.http_status() < 500 => break,
                Err(_) => {}
            }
        }
        running.set_value(false);
    });
}
