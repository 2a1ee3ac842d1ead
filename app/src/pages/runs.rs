use crate::api;
use crate::components::{NotFound, load, when};
use crate::islands::ServerForm;
use domain::ids::RunId;
use domain::runs::presenter::{Tone, run_link};
use domain::runs::{Freshness, ProblemClass, RunStatus};
use domain::views::{RunPage, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

pub fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Success => "badge badge-ok",
        Tone::Danger => "badge badge-bad",
        Tone::Warning => "badge badge-warn",
        Tone::Info => "badge badge-info",
        Tone::Neutral => "badge badge-muted",
    }
}

/// Run detail: the decision zone first (what happened, is it still moving,
/// what to do next), then counts, failures, context and lineage.
#[component]
pub fn RunDetail() -> impl IntoView {
    let params = use_params_map();
    let run: Option<RunId> = params
        .read_untracked()
        .get("run")
        .and_then(|r| r.parse().ok());
    let Some(run) = run else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_run(run), |p: RunPage| {
            let r = p.run.clone();
            let h = p.headline.clone();
            let label = r.truth.op_type.label();
            let moving = if h.moving {
                match h.freshness {
                    Freshness::LikelyStale => "It is still marked active but looks stuck: no progress within its expected time.",
                    _ if r.truth.status == RunStatus::Queued => "It is waiting for a worker.",
                    _ => "It is running now.",
                }
            } else {
                "It has finished and will not change."
            };
            let next_steps: Vec<String> = r.reason.map(|c| c.next_steps().iter().map(|s| s.to_string()).collect()).unwrap_or_default();
            let attention = match h.problem {
                Some(ProblemClass::TerminalFollowUp) => Some("Needs follow-up"),
                Some(ProblemClass::ActiveStaleAttention) => Some("Looks stuck"),
                None => None,
            };
            view! {
                <Title text=format!("{label} #{} · Tenantry", r.id)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/operations">"Operations"</a> " › #" {r.id.to_string()}</p>
                    <h1 class="page-title">{label} " " <span class=tone_class(h.tone) data-testid="run-status">{h.label.clone()}</span></h1>
                    <section class="card decision" aria-labelledby="decision">
                        <h2 id="decision" class="section-title">"What happened"</h2>
                        <p>{moving}</p>
                        {attention.map(|a| view! { <p><span class="badge badge-warn">{a}</span></p> })}
                        {r.reason.map(|c| view! { <p class="mt-2">{c.message()}</p> })}
                        {(!next_steps.is_empty()).then(|| view! {
                            <h3 class="font-medium mt-3">"What to do next"</h3>
                            <ul class="link-list">{next_steps.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ul>
                        })}
                        {r.cancel_requested.then(|| view! { <p class="notice notice-warn mt-3">"Cancellation was requested; the operation stops at its next check."</p> })}
                        {(p.can_cancel && !r.cancel_requested).then(|| view! {
                            <div class="mt-4">
                                <ServerForm action="/api/runs/cancel".to_string() submit_label="Cancel run".to_string() danger=true
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
                                view! { <dl class="facts">{r.summary.0.iter().map(|(k, v)| view! { <dt>{k.replace('_', " ")}</dt><dd>{*v}</dd> }).collect_view()}</dl> }.into_any()
                            }}
                            {r.failure_summary.clone().map(|f| view! { <h3 class="font-medium mt-3">"Failure"</h3><p class="whitespace-pre-line">{f}</p> })}
                        </section>
                        <section class="card" aria-labelledby="context">
                            <h2 id="context" class="section-title">"Context"</h2>
                            <dl class="facts">
                                <dt>"Tenant"</dt><dd>{r.tenant_id.map(|t| view! { <a class="link" href=format!("/admin/t/{t}")>{r.tenant_name.clone().unwrap_or_default()}</a> })}</dd>
                                <dt>"Started by"</dt><dd>{r.initiator_label.clone().unwrap_or_else(|| r.initiator.as_str().to_string())}</dd>
                                <dt>"Provider connection"</dt><dd>{r.provider_connection_id.map(|c| format!("#{c}")).unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Created"</dt><dd>{format_utc(r.truth.created_at)}</dd>
                                <dt>"Started"</dt><dd>{when(r.truth.started_at)}</dd>
                                <dt>"Finished"</dt><dd>{when(r.completed_at)}</dd>
                                <dt>"Attempts"</dt><dd>{r.attempts}</dd>
                            </dl>
                        </section>
                    </div>
                    {r.reconciliation.clone().map(|rec| view! {
                        <section class="card" aria-labelledby="lineage">
                            <h2 id="lineage" class="section-title">"Lineage"</h2>
                            <p>{rec.why.clone()}</p>
                            <dl class="facts mt-2">
                                <dt>"Seen by the reconciler"</dt><dd>{format_utc(rec.seen_at)}</dd>
                                <dt>"Worker"</dt><dd>{rec.lease_owner.clone().unwrap_or_default()}</dd>
                                <dt>"Last heartbeat"</dt><dd>{when(rec.last_heartbeat_at)}</dd>
                                <dt>"Lease expired"</dt><dd>{when(rec.lease_expired_at)}</dd>
                            </dl>
                        </section>
                    })}
                    <p class="muted text-sm">"Link to this run: " <code>{run_link(r.id)}</code></p>
                </section>
            }
        })}
    }
    .into_any()
}
