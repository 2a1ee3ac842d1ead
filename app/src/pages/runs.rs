use crate::api;
use crate::components::{NotFound, load, tone_class, when};
use crate::forms::{GateForm, ServerForm};
use domain::ids::RunId;
use domain::runs::presenter::{movement, poll_delay_ms, run_link};
use domain::runs::views::RunPage;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn run_param() -> Option<RunId> {
    use_params_map()
        .read_untracked()
        .get("run")
        .and_then(|r| r.parse().ok())
}

/// Run detail: the live island renders the decision zone first (what
/// happened, is it still moving, what to do next), then counts, failures,
/// context and lineage.
#[component]
pub fn RunDetail() -> impl IntoView {
    let Some(run) = run_param() else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_run(run), |p: RunPage| {
            let items = p.items.clone();
            view! {
                <Title text=format!("{} #{} · Tenantry", p.run.truth.op_type.label(), p.run.id)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/operations">"Operations"</a> " › #" {p.run.id.to_string()}</p>
                    {(p.run.tenant_id.is_some() && p.can_request_support).then(|| view! { <crate::pages::support::RequestSupport run=p.run.id.0/> })}
                    <RunLive page=p/>
                    {items.map(item_results)}
                </section>
            }
        })}
    }
    .into_any()
}

/// Whether the page is still refreshing, in words (never a guess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    Every(u32),
    Paused,
    Retrying,
    Finished,
    Stopped,
}

impl Live {
    fn text(self) -> String {
        match self {
            Live::Every(ms) if ms <= 1_000 => "Live: checking every second.".into(),
            Live::Every(ms) => format!("Live: checking every {} seconds.", ms / 1_000),
            Live::Paused => {
                "Live updates are paused while this tab is hidden or a dialog is open.".into()
            }
            Live::Retrying => "Cannot reach Tenantry right now; retrying.".into(),
            Live::Finished => "Finished: this page no longer refreshes.".into(),
            Live::Stopped => {
                "Live updates stopped: this run is no longer available to you. Reload the page."
                    .into()
            }
        }
    }
}

fn live_of(p: &RunPage) -> Live {
    match poll_delay_ms(&p.run.truth, p.now) {
        Some(ms) => Live::Every(ms),
        None => Live::Finished,
    }
}

/// The run-detail island. Polls `/api/runs/poll` while the run is queued or
/// running (1 s for its first 10 s, 5 s until 60 s, then 10 s), pauses while
/// the tab is hidden or a dialog is open, and stops for good once the run is
/// terminal.
#[island]
pub fn RunLive(page: RunPage) -> impl IntoView {
    let live = RwSignal::new(live_of(&page));
    let checked = RwSignal::new(page.now);
    let state = RwSignal::new(page);
    Effect::new(move |_| {
        use crate::forms::browser;
        if live.get_untracked() == Live::Finished {
            return;
        }
        let run = state.get_untracked().run.id;
        leptos::task::spawn_local(async move {
            use domain::runs::presenter::ACTIVE_LIST_POLL_MS;
            let mut retry_ms = 1_000;
            // This page's poll feeds the overlay too (one stream of polls).
            crate::live::set_feeding(true);
            let mut since_overlay: u32 = 0;
            loop {
                let current = state.get_untracked();
                let Some(delay) = poll_delay_ms(&current.run.truth, current.now) else {
                    live.set(Live::Finished);
                    crate::live::tell(crate::live::News::Ended(run));
                    break;
                };
                let delay = if live.get_untracked() == Live::Retrying {
                    retry_ms
                } else {
                    delay
                };
                browser::sleep(delay).await;
                since_overlay = since_overlay.saturating_add(delay);
                while browser::paused() {
                    live.set(Live::Paused);
                    browser::sleep(250).await;
                }
                let with_overlay = since_overlay >= ACTIVE_LIST_POLL_MS;
                match api::poll_run(run, Some(with_overlay)).await {
                    Ok(poll) => {
                        if let Some(overlay) = poll.overlay {
                            since_overlay = 0;
                            crate::live::tell(crate::live::News::Runs(overlay));
                        }
                        let pulse = poll.pulse;
                        retry_ms = 1_000;
                        let before = state.get_untracked();
                        let mut next = before.clone();
                        next.apply(pulse);
                        live.set(live_of(&next));
                        checked.set(next.now);
                        // Re-render only when something a reader sees changed.
                        if next.run != before.run || next.headline != before.headline {
                            state.set(next);
                        } else {
                            state.update_untracked(|s| s.now = next.now);
                        }
                    }
                    // Signed out, removed from the workspace, or the run is gone.
                    Err(e) if e.0.http_status() < 500 => {
                        live.set(Live::Stopped);
                        break;
                    }
                    Err(_) => {
                        retry_ms = (retry_ms * 2).min(10_000);
                        live.set(Live::Retrying);
                    }
                }
            }
            crate::live::set_feeding(false);
        });
    });
    move || run_sections(state.get(), Some((live, checked)), "/admin/t")
}

/// The run page's sections; `tenant_base` is where the tenant name links
/// (`None`-like empty string on the system plane, where it does not link).
fn run_sections(
    p: RunPage,
    live: Option<(RwSignal<Live>, RwSignal<i64>)>,
    tenant_base: &'static str,
) -> impl IntoView {
    let r = p.run;
    let h = p.headline;
    let label = r.truth.op_type.label();
    let moving = movement(&r.truth, &h);
    let next_steps = domain::runs::presenter::run_next_steps(&r);
    view! {
        <h1 class="page-title">{label} " " <span class=tone_class(h.tone) data-testid="run-status" aria-live="polite">{h.label.clone()}</span></h1>
        <section class="card decision" aria-labelledby="decision">
            <h2 id="decision" class="section-title">"What happened"</h2>
            <p data-testid="run-movement">{moving}</p>
            {live.map(|(l, at)| view! {
                <p class="muted text-sm" data-testid="live-status" data-live=move || format!("{:?}", l.get()).to_lowercase()>
                    {move || l.get().text()} " Last checked " {move || crate::time::when_text(at.get())} "."
                </p>
            })}
            {h.problem.map(|c| view! { <p><span class="badge badge-warn">{c.label()}</span></p> })}
            {domain::runs::presenter::stuck_guidance(&r.truth, p.now, crate::time::when_text).map(|g| view! { <p class="notice notice-warn mt-2" data-testid="stuck-guidance">{g}</p> })}
            {r.reason.map(|c| view! { <p class="mt-2">{c.message()}</p> })}
            {(!next_steps.is_empty()).then(|| view! {
                <h3 class="font-medium mt-3">"What to do next"</h3>
                {crate::components::next_steps_list(next_steps, "link-list")}
            })}
            {r.cancel_requested.then(|| view! { <p class="notice notice-warn mt-3">"Cancellation was requested; the operation stops at its next check."</p> })}
            {(p.can_cancel && !r.cancel_requested).then(|| view! {
                <div class="mt-4">
                    <ServerForm action={crate::forms::target::<crate::api::CancelRun>()} submit_label="Cancel run".to_string() danger=true
                        confirm="Cancel this run? A queued run stops at once; a running one stops at its next check.".to_string()
                        confirm_label="Cancel run".to_string()>
                        <input type="hidden" name="run" value=r.id.to_string()/>
                    </ServerForm>
                </div>
            })}
        </section>
        <div class="grid-2">
            <section class="card" aria-labelledby="counts">
                <h2 id="counts" class="section-title">"Summary"</h2>
                {if r.summary.0.is_empty() {
                    view! { <p class="muted">"No counts reported yet."</p> }.into_any()
                } else {
                    view! { <dl class="facts" data-testid="run-summary">{r.summary.0.iter().map(|(k, v)| view! { <dt>{k.replace('_', " ")}</dt><dd>{*v}</dd> }).collect_view()}</dl> }.into_any()
                }}
                {r.failure_summary.clone().map(|f| view! { <h3 class="font-medium mt-3">"Failure"</h3><p class="whitespace-pre-line">{f}</p> })}
            </section>
            <section class="card" aria-labelledby="context">
                <h2 id="context" class="section-title">"Context"</h2>
                <dl class="facts">
                    <dt>"Tenant"</dt><dd>{match (r.tenant_id, tenant_base.is_empty()) {
                        (Some(t), false) => view! { <a class="link" href=format!("{tenant_base}/{t}")>{r.tenant_name.clone().unwrap_or_default()}</a> }.into_any(),
                        (Some(_), true) => view! { <span>{r.tenant_name.clone().unwrap_or_default()}</span> }.into_any(),
                        (None, _) => view! { <span>"—"</span> }.into_any(),
                    }}</dd>
                    <dt>"Started by"</dt><dd>{match (r.initiator, r.initiator_label.clone()) {
                        (domain::runs::InitiatorKind::User, Some(l)) => l,
                        (kind, Some(l)) => format!("{} (for {l})", kind.as_str()),
                        (kind, None) => kind.as_str().to_string(),
                    }}</dd>
                    {r.rerun_of.map(|orig| {
                        let href = if tenant_base.is_empty() { format!("/system/ops/runs/{orig}") } else { run_link(orig) };
                        view! { <dt>"Started again from"</dt><dd><a class="link" href=href>{format!("run #{orig}")}</a></dd> }
                    })}
                    <dt>"Provider connection"</dt><dd>{r.provider_connection_id.map(|c| format!("#{c}")).unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Created"</dt><dd>{crate::time::when(r.truth.created_at)}</dd>
                    <dt>"Started"</dt><dd>{when(r.truth.started_at)}</dd>
                    <dt>"Finished"</dt><dd>{when(r.completed_at)}</dd>
                    <dt>"Attempts"</dt><dd>{r.attempts}</dd>
                </dl>
            </section>
        </div>
        {r.reconciliation.clone().map(|rec| view! {
            <section class="card" aria-labelledby="lineage" data-testid="run-lineage">
                <h2 id="lineage" class="section-title">"Lineage"</h2>
                <p>{rec.why.clone()}</p>
                <dl class="facts mt-2">
                    <dt>"Seen by the reconciler"</dt><dd>{crate::time::when(rec.seen_at)}</dd>
                    <dt>"What it saw"</dt><dd>{rec.status_seen.as_str()}</dd>
                    <dt>"What it did"</dt><dd>{rec.action.clone()}</dd>
                    <dt>"Worker"</dt><dd>{rec.lease_owner.clone().unwrap_or_default()}</dd>
                    <dt>"Last heartbeat"</dt><dd>{when(rec.last_heartbeat_at)}</dd>
                    <dt>"Lease expired"</dt><dd>{when(rec.lease_expired_at)}</dd>
                </dl>
            </section>
        })}
        <p class="muted text-sm">"Link to this run: " <code>{run_link(r.id)}</code></p>
    }
}

/// A run on the system plane: the same sections, no polling, no actions.
#[component]
pub fn SystemRunDetail() -> impl IntoView {
    let Some(run) = run_param() else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_system_run(run), |p: RunPage| view! {
            <Title text=format!("{} #{} · System · Tenantry", p.run.truth.op_type.label(), p.run.id)/>
            <section class="page">
                <p class="breadcrumb"><a class="link" href="/system/ops/runs">"All runs"</a> " › #" {p.run.id.to_string()}</p>
                {system_actions(&p)}
                {run_sections(RunPage { can_cancel: false, ..p }, None, "")}
            </section>
        })}
    }
    .into_any()
}

/// The system plane's triage controls: cancel an active run, start a run's
/// operation again (through the gate, as the system, same scope).
fn system_actions(p: &RunPage) -> impl IntoView + use<> {
    let run = p.run.id;
    let label = p.run.truth.op_type.label();
    let active = p.can_cancel;
    let can_rerun = p.run.tenant_id.is_some();
    let tenant = p.run.tenant_name.clone().unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="triage" data-testid="system-actions">
            <h2 id="triage" class="section-title">"Triage"</h2>
            <div class="button-row">
                {active.then(|| view! {
                    <ServerForm action={crate::forms::target::<crate::api::SystemCancelRun>()} submit_label="Cancel run".to_string() danger=true
                        confirm=format!("Cancel {label} #{run} for {tenant}? A queued run stops at once; a running one at its next check. The workspace's audit log records you as the actor.")
                        confirm_label="Cancel run".to_string()>
                        <input type="hidden" name="run" value=run.to_string()/>
                    </ServerForm>
                })}
                {can_rerun.then(|| view! {
                    <GateForm action={crate::forms::target::<crate::api::SystemRunAgain>()} submit_label="Run again".to_string()
                        pending_label="Starting…".to_string() secondary=true
                        confirm=format!("Start {label} again for {tenant}? A new run goes through the start gate as the system, on the same connection, and links back to #{run}.")
                        confirm_label="Run again".to_string()>
                        <input type="hidden" name="run" value=run.to_string()/>
                    </GateForm>
                })}
            </div>
            <p class="help mt-2">"Run again starts a new run through the start gate as the system, on the same tenant and connection; it links back here."</p>
        </section>
    }
}

/// A run's per-item results, as its operation declares them (restore: what
/// it did per policy).
fn item_results(items: domain::runs::views::RunItems) -> impl IntoView {
    view! {
        <section class="card mt-6" aria-labelledby="run-items" data-testid="run-items">
            <h2 id="run-items" class="section-title">{items.heading.clone()}</h2>
            {if items.rows.is_empty() {
                view! { <p class="muted">{items.empty.clone()}</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <caption class="sr-only">{items.caption.clone()}</caption>
                        <thead><tr><th scope="col">{items.subject.clone()}</th><th scope="col">{items.kind.clone()}</th><th scope="col">"Result"</th><th scope="col">"Detail"</th></tr></thead>
                        <tbody>
                            {items.rows.into_iter().map(|i| view! {
                                <tr>
                                    <td>{i.subject}</td>
                                    <td>{i.kind}</td>
                                    <td><span class=tone_class(i.tone)>{i.result}</span></td>
                                    <td>{i.detail}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
