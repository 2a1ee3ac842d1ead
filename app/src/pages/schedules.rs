use crate::components::{EmptyState, NoWorkspace, load};
use crate::forms::ServerForm;
use domain::ids::WorkspaceId;
use domain::schedules::{ScheduleView, SchedulesPage, Target, schedulable};
use leptos::prelude::*;
use leptos_meta::Title;

/// The form's fields, shared by "New schedule" and each row's "Edit".
fn schedule_fields(
    p: &SchedulesPage,
    prefix: &str,
    current: Option<&ScheduleView>,
) -> impl IntoView + use<> {
    let id = |f: &str| format!("{prefix}-{f}");
    let op = current.map(|s| s.op_type);
    let target = current.map(|s| s.target);
    let tags = p.tags.clone();
    let tenants = p.tenants.clone();
    view! {
        <div class="field">
            <label for=id("name")>"Name"</label>
            <input id=id("name") name="name" class="input" required maxlength="80"
                value=current.map(|s| s.name.clone()).unwrap_or_else(|| "Nightly inventory".into())/>
        </div>
        <div class="field">
            <label for=id("op")>"Operation"</label>
            <select id=id("op") name="op_type" class="input">
                {schedulable().iter().map(|o| view! {
                    <option value=o.as_str() selected=op == Some(*o)>{o.label()}</option>
                }).collect_view()}
            </select>
        </div>
        <div class="field">
            <label for=id("target")>"Run it on"</label>
            <select id=id("target") name="target" class="input">
                <option value="all" selected=target.is_none_or(|t| t == Target::AllActive)>"Every active tenant"</option>
                {(!tags.is_empty()).then(|| view! {
                    <optgroup label="Tags">
                        {tags.iter().map(|g| {
                            let t = Target::Tag(g.id);
                            view! { <option value=t.form_value() selected=target == Some(t)>{format!("Tag: {}", g.name)}</option> }
                        }).collect_view()}
                    </optgroup>
                })}
                <optgroup label="One tenant">
                    {tenants.iter().map(|(tid, name)| {
                        let t = Target::Tenant(*tid);
                        view! { <option value=t.form_value() selected=target == Some(t)>{name.clone()}</option> }
                    }).collect_view()}
                </optgroup>
            </select>
        </div>
        <div class="field">
            <label for=id("cron")>"When (cron: minute hour day month weekday)"</label>
            <input id=id("cron") name="cron" class="input" required maxlength="100" aria-describedby=id("cron-help")
                value=current.map(|s| s.cron.clone()).unwrap_or_else(|| "0 3 * * *".into())/>
            <p id=id("cron-help") class="muted text-sm">"Examples: 0 3 * * * (every day at 03:00), 30 6 * * 1-5 (weekdays at 06:30), */15 * * * * (every 15 minutes)."</p>
        </div>
        <div class="field">
            <label for=id("tz")>"Time zone"</label>
            <input id=id("tz") name="time_zone" class="input" required maxlength="100" list="time-zones"
                value=current.map(|s| s.time_zone.clone()).unwrap_or_else(|| "UTC".into())/>
        </div>
        <div class="field">
            <label for=id("spread")>"Spread the starts over (seconds)"</label>
            <input id=id("spread") name="spread_seconds" class="input" type="number" min="0" max="3600"
                value=current.map(|s| s.spread_seconds.to_string()).unwrap_or_else(|| "60".into())/>
        </div>
    }
}

fn last_fire(s: &ScheduleView) -> impl IntoView + use<> {
    match &s.last_fire {
        None => view! { <span class="muted">"Not fired yet"</span> }.into_any(),
        Some(f) => {
            let fire = domain::runs::filter::RunFilter {
                fire: Some(f.id),
                ..Default::default()
            };
            let created = domain::runs::filter::RunFilter {
                initiator: Some(domain::runs::filter::InitiatorFilter::Schedule),
                ..fire
            }
            .hub_link();
            let blocked = domain::runs::filter::RunFilter {
                outcome: Some(domain::runs::RunOutcome::Blocked),
                ..fire
            }
            .hub_link();
            let all = fire.hub_link();
            // Queued and blocked runs are the fire's own; "already running"
            // and "scope busy" name the runs that were there first.
            let d = f.progress.decided;
            let counts = view! {
                <a class="link" href=created>{format!("{} queued", d.queued)}</a>
                " · " <a class="link" href=all.clone()>{format!("{} already running", d.already_running)}</a>
                " · " <a class="link" href=all.clone()>{format!("{} scope busy", d.scope_busy)}</a>
                " · " <a class="link" href=blocked>{format!("{} blocked", d.blocked)}</a>
                {(d.skipped > 0).then(|| format!(" · {} skipped (no longer there)", d.skipped))}
                " · " <a class="link" href=all>"all its runs"</a>
            };
            let results = f.progress.tally();
            let when = crate::time::when(f.slot_at);
            view! {
                <div>
                    <div>{when}
                        {f.late.then(|| view! { <span class="badge badge-warn">"Late"</span> })}
                        {(f.missed > 0).then(|| view! { <span class="muted text-sm">{format!(" (stood for {} missed slots)", f.missed)}</span> })}
                    </div>
                    <div class="muted text-sm">{counts}
                        {(!f.finished).then_some(" · starting…")}
                    </div>
                    <div class="muted text-sm" data-testid="fire-results">{results}</div>
                </div>
            }.into_any()
        }
    }
}

/// A fire in the schedule's zone, and in the reader's when that differs:
/// `2026-12-02 03:00 CET (2026-12-02 11:00 JST for you)`.
fn in_both_zones(at: i64, schedule_local: &str) -> String {
    let mine = crate::time::when_text(at);
    if mine == schedule_local {
        mine
    } else {
        format!("{schedule_local} ({mine} for you)")
    }
}

fn schedule_row(p: &SchedulesPage, s: &ScheduleView, ws: WorkspaceId) -> impl IntoView + use<> {
    let id = s.id;
    let can_manage = p.can_manage;
    let fields = schedule_fields(p, &format!("edit-{id}"), Some(s));
    let confirm = format!(
        "Delete the schedule \u{201c}{}\u{201d}? It stops firing; runs it started are kept.",
        s.name
    );
    let upcoming = s.upcoming.clone();
    let next = match (&s.next_fire_local, s.next_fire_at, s.enabled) {
        (_, _, false) => "Paused".to_string(),
        (Some(local), Some(at), true) => in_both_zones(at, local),
        _ => "—".to_string(),
    };
    view! {
        <tr id=format!("schedule-{id}")>
            <td>
                <div>{s.name.clone()}</div>
                <div class="muted text-sm">{s.op_label.clone()} " · " {s.target_label.clone()}</div>
            </td>
            <td><code>{s.cron.clone()}</code><div class="muted text-sm">{s.time_zone.clone()}</div></td>
            <td>
                <span class=if s.enabled { "badge badge-ok" } else { "badge badge-muted" }>{if s.enabled { "Enabled" } else { "Paused" }}</span>
                <div class="text-sm">{next}</div>
            </td>
            <td>{last_fire(s)}</td>
            <td>
                {can_manage.then(|| view! {
                    {if s.enabled {
                        view! {
                            <ServerForm action={crate::forms::target::<crate::api::schedules::PauseSchedule>()} submit_label="Pause".to_string() inline=true>
                                <input type="hidden" name="workspace" value=ws.to_string()/>
                                <input type="hidden" name="schedule" value=id.to_string()/>
                            </ServerForm>
                        }.into_any()
                    } else {
                        view! {
                            <ServerForm action={crate::forms::target::<crate::api::schedules::ResumeSchedule>()} submit_label="Resume".to_string() inline=true>
                                <input type="hidden" name="workspace" value=ws.to_string()/>
                                <input type="hidden" name="schedule" value=id.to_string()/>
                            </ServerForm>
                        }.into_any()
                    }}
                    <ServerForm action={crate::forms::target::<crate::api::schedules::DeleteSchedule>()} submit_label="Delete".to_string() danger=true inline=true
                        confirm=confirm.clone() confirm_label="Delete schedule".to_string()>
                        <input type="hidden" name="workspace" value=ws.to_string()/>
                        <input type="hidden" name="schedule" value=id.to_string()/>
                    </ServerForm>
                })}
                <details>
                    <summary class="link">{if can_manage { "Edit · next fires" } else { "Next fires" }}</summary>
                    {if upcoming.is_empty() {
                        view! { <p class="muted text-sm">"Paused: it fires again from the next slot after you resume it."</p> }.into_any()
                    } else {
                        view! {
                            <ol class="text-sm" aria-label="Next five fires">
                                {upcoming.into_iter().map(|(at, local)| view! { <li>{in_both_zones(at, &local)}</li> }).collect_view()}
                            </ol>
                        }.into_any()
                    }}
                    {can_manage.then(|| view! {
                        <ServerForm action={crate::forms::target::<crate::api::schedules::UpdateSchedule>()} submit_label="Save changes".to_string() pending_label="Saving…".to_string()>
                            <input type="hidden" name="workspace" value=ws.to_string()/>
                            <input type="hidden" name="schedule" value=id.to_string()/>
                            {fields}
                        </ServerForm>
                    })}
                </details>
            </td>
        </tr>
    }
}

/// Common IANA zones offered while typing (any IANA name is accepted).
const ZONES: [&str; 14] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "Pacific/Auckland",
];

#[component]
pub fn Schedules() -> impl IntoView {
    view! {
        <Title text="Schedules · Tenantry"/>
        {load(crate::api::schedules::load_schedules(), |page: Option<SchedulesPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Schedules"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let ws = p.workspace;
                let new_fields = schedule_fields(&p, "new", None);
                view! {
                    <section class="page">
                        <h1 class="page-title">"Schedules"</h1>
                        <p class="muted">"Operations that start on their own at set times, on one tenant, a tag or every active tenant. Each start goes through the same checks as a click; nobody is notified of a schedule's runs."</p>
                        <datalist id="time-zones">{ZONES.iter().map(|z| view! { <option value=*z/> }).collect_view()}</datalist>
                        {if p.schedules.is_empty() {
                            view! {
                                <EmptyState title="No schedules yet">
                                    {if p.can_manage { "Create one below, e.g. an inventory sync of every tenant each night." } else { "Owners and managers create schedules." }}
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <caption class="sr-only">"Schedules"</caption>
                                    <thead><tr><th scope="col">"Schedule"</th><th scope="col">"When"</th><th scope="col">"Next fire"</th><th scope="col">"Last fire"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>{p.schedules.iter().map(|s| schedule_row(&p, s, ws)).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                        {p.can_manage.then(|| view! {
                            <section class="card mt-6" aria-labelledby="new-schedule">
                                <h2 id="new-schedule" class="section-title">"New schedule"</h2>
                                <ServerForm action={crate::forms::target::<crate::api::schedules::CreateSchedule>()} submit_label="Create schedule".to_string() pending_label="Creating…".to_string()>
                                    <input type="hidden" name="workspace" value=ws.to_string()/>
                                    {new_fields}
                                </ServerForm>
                            </section>
                        })}
                    </section>
                }.into_any()
            }
        })}
    }
}

/// A bulk start's content: counts linking to the hub, the progress of the
/// runs it started, and every tenant's decision with its run.
fn bulk_view(p: domain::schedules::BulkPage) -> impl IntoView {
    use domain::schedules::decision_label;
    let b = p.bulk;
    let hub = b.hub_link();
    let d = b.progress.decided;
    let counts = [
        (d.queued, "Queued", hub.clone()),
        (
            d.already_running,
            "Already running",
            format!("{hub}&tab=active"),
        ),
        (d.scope_busy, "Scope busy", format!("{hub}&tab=active")),
        (d.blocked, "Blocked", format!("{hub}&outcome=blocked")),
    ];
    let active = b.active();
    let done = b.progress.ended();
    let total = b.progress.targets.max(b.progress.decided_total());
    let progress_label = format!("{} · {}", b.progress.bar_label(), b.progress.tally());
    view! {
        <dl class="facts">
            <dt>"Tenants"</dt><dd>{b.selection.clone()} " · " {b.targets}</dd>
            <dt>"Started by"</dt><dd>{b.started_by.clone().unwrap_or_else(|| "a former member".into())}</dd>
            <dt>"Started"</dt><dd>{crate::time::when_text(b.created_at)}</dd>
        </dl>
        <ul class="chips mt-2" aria-label="What the start gate said">
            {counts.into_iter().map(|(n, word, href)| view! {
                <li class="chip" data-decision=word data-count=n><a class="link" href=href>{format!("{n} {}", word.to_lowercase())}</a></li>
            }).collect_view()}
            {(d.skipped > 0).then(|| view! { <li class="chip" data-decision="Skipped" data-count=d.skipped>{format!("{} skipped (no longer there)", d.skipped)}</li> })}
        </ul>
        <div class="mt-4" data-testid="bulk-progress" data-done=done data-total=total>
            <label for="bulk-bar">{progress_label.clone()}</label>
            <progress id="bulk-bar" class="progress" max=total value=done>{progress_label.clone()}</progress>
            <p class="muted text-sm">{if active { "This page refreshes while tenants are still in progress." } else { "Every tenant of this start has ended." }}</p>
        </div>
        {(!b.admitted).then(|| view! {
            <p class="notice notice-warn" role="status">"Not every tenant was decided: the start was interrupted. The tenants listed are the ones it reached."</p>
        })}
        <p class="mt-2"><a class="link" href=hub>"See these runs in the operations hub"</a></p>
        <table class="table mt-4" data-testid="bulk-children">
            <caption class="sr-only">"Tenants of this start"</caption>
            <thead><tr><th scope="col">"Tenant"</th><th scope="col">"Start gate"</th><th scope="col">"Run"</th><th scope="col">"Status"</th></tr></thead>
            <tbody>
                {p.children.into_iter().map(|c| view! {
                    <tr data-tenant=c.tenant.to_string() data-decision=c.decision.clone()>
                        <td><a class="link" href=format!("/admin/t/{}", c.tenant)>{c.tenant_name.clone()}</a></td>
                        <td>{decision_label(&c.decision)}</td>
                        <td>{c.run.as_ref().map(|r| view! { <a class="link" href=domain::runs::presenter::run_link(r.id)>{format!("#{}", r.id)}</a> })}</td>
                        <td>{c.run.map(|r| view! {
                            <span class=crate::components::tone_class(r.headline.tone)>{r.headline.label}</span>
                            {r.reason.map(|why| view! { <span class="muted text-sm">" " {why}</span> })}
                        })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {(p.hidden > 0).then(|| view! { <p class="muted text-sm">{format!("{} more tenants of this start are not assigned to you.", p.hidden)}</p> })}
    }
}

/// Refreshes the bulk's page every 10 s while a run it started is active.
#[island]
pub fn LiveBulk(initial: domain::schedules::BulkPage) -> impl IntoView {
    let state = RwSignal::new(initial);
    let polling = StoredValue::new(false);
    let id = state.get_untracked().bulk.id;
    let watch = move |immediately: bool| {
        crate::pages::operations::refresh_while_active(
            polling,
            immediately,
            move || crate::api::schedules::load_bulk(id),
            move |fresh: domain::schedules::BulkPage| {
                let active = fresh.bulk.active();
                if state.get_untracked() != fresh {
                    state.set(fresh);
                }
                active
            },
        );
    };
    Effect::new(move |_| {
        if state.get_untracked().bulk.active() {
            watch(false);
        }
        crate::forms::browser::on_return(move || watch(true));
    });
    move || bulk_view(state.get())
}

#[component]
pub fn BulkStart() -> impl IntoView {
    let bulk: Option<domain::ids::BulkStartId> = leptos_router::hooks::use_params_map()
        .read_untracked()
        .get("bulk")
        .and_then(|b| b.parse().ok());
    let Some(bulk) = bulk else {
        return view! { <crate::components::NotFound/> }.into_any();
    };
    view! {
        {load(crate::api::schedules::load_bulk(bulk), |p: domain::schedules::BulkPage| {
            let title = format!("{} on many tenants", p.bulk.op_label);
            view! {
                <Title text=format!("{title} · Tenantry")/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/tenants">"Tenants"</a> " › " "Bulk start #" {p.bulk.id.to_string()}</p>
                    <h1 class="page-title">{title}</h1>
                    <LiveBulk initial=p/>
                </section>
            }
        })}
    }
    .into_any()
}
