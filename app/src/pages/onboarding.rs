//! The onboarding wizard: a list of drafts to resume and the wizard of one
//! draft. Each step's form is rendered on the server; the live island shows
//! the step's runs and reloads the page when the draft moves to a new step.

use crate::api;
use crate::components::{EmptyState, NoWorkspace, NotFound, TenantIdentityFields, load};
use crate::forms::browser;
use crate::forms::{GateForm, ServerForm};
use domain::onboarding::{BOOTSTRAP_OPERATIONS, DraftView, OnboardingList, Step, StepRun};
use domain::runs::presenter::run_link;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Onboarding() -> impl IntoView {
    view! {
        <Title text="Onboarding · Tenantry"/>
        {load(api::load_onboarding(), |l: Option<OnboardingList>| match l {
            None => view! { <section class="page"><h1 class="page-title">"Onboard a tenant"</h1><NoWorkspace/></section> }.into_any(),
            Some(l) => view! {
                <section class="page">
                    <h1 class="page-title">"Onboard a tenant"</h1>
                    <p class="muted">"Create the tenant, connect it, verify it and run the first syncs — one step at a time. Drafts are kept for "
                        {l.workspace.name.clone()} " so you can come back to them."</p>
                    <section class="card mt-4" aria-labelledby="drafts">
                        <h2 id="drafts" class="section-title">"In progress"</h2>
                        {if l.open.is_empty() {
                            view! { <p class="muted">"No onboarding in progress."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="data-list">
                                    {l.open.iter().map(|d| view! {
                                        <li>
                                            <a class="link" href=format!("/admin/onboarding/{}", d.id)>{d.tenant_name.clone().unwrap_or_else(|| format!("Draft #{}", d.id))}</a>
                                            " · next: " {d.step.label()} " · " {crate::time::when(d.updated_at)}
                                            {d.created_by.clone().map(|b| format!(" · by {b}"))}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <section class="card mt-4" aria-labelledby="new-onboarding">
                        <h2 id="new-onboarding" class="section-title">"1. The tenant"</h2>
                        <ServerForm action={crate::forms::target::<crate::api::StartOnboarding>()} submit_label="Create tenant and continue".to_string() pending_label="Creating…".to_string()>
                            <input type="hidden" name="workspace" value=l.workspace.id.to_string()/>
                            <TenantIdentityFields prefix="onb"/>
                        </ServerForm>
                    </section>
                    {(!l.finished.is_empty()).then(|| view! {
                        <section class="card mt-4" aria-labelledby="finished">
                            <h2 id="finished" class="section-title">"Finished"</h2>
                            <ul class="data-list">
                                {l.finished.iter().map(|d| view! {
                                    <li><a class="link" href=format!("/admin/onboarding/{}", d.id)>{d.tenant_name.clone().unwrap_or_default()}</a>
                                        " · " {crate::time::when(d.updated_at)}</li>
                                }).collect_view()}
                            </ul>
                        </section>
                    })}
                </section>
            }.into_any(),
        })}
    }
}

#[component]
pub fn OnboardingWizard() -> impl IntoView {
    let draft: Option<domain::ids::OnboardingDraftId> = use_params_map()
        .read_untracked()
        .get("draft")
        .and_then(|d| d.parse().ok());
    let Some(draft) = draft else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_onboarding_draft(draft), |d: DraftView| {
            let name = d.tenant.as_ref().map(|t| t.1.clone()).unwrap_or_default();
            view! {
                <Title text=format!("Onboarding {name} · Tenantry")/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/onboarding">"Onboarding"</a> " › " {name.clone()}</p>
                    <h1 class="page-title">"Onboard " {name.clone()}</h1>
                    <ol class="wizard-steps" aria-label="Steps">
                        {Step::ALL.into_iter().filter(|s| *s != Step::Done).map(|s| view! {
                            <li aria-current=(s == d.step).then_some("step") class=if s < d.step { "done" } else { "" }>{s.label()}</li>
                        }).collect_view()}
                    </ol>
                    {d.discarded.then(|| view! { <p class="notice notice-warn" role="status">"This onboarding was discarded."</p> })}
                    {(!d.discarded).then(|| step_form(&d))}
                    <OnboardingLive initial=d.clone()/>
                    {(!d.discarded && d.step != Step::Done).then(|| view! {
                        <div class="mt-6">
                            <ServerForm action={crate::forms::target::<crate::api::OnboardingDiscard>()} submit_label="Discard this onboarding".to_string() danger=true
                                confirm="Discard this onboarding? The tenant and its connection stay; operations that already started keep running.".to_string()
                                confirm_label="Discard".to_string()>
                                <input type="hidden" name="draft" value=d.id.to_string()/>
                            </ServerForm>
                        </div>
                    })}
                </section>
            }
        })}
    }
    .into_any()
}

fn step_form(d: &DraftView) -> impl IntoView + use<> {
    let id = d.id.to_string();
    let tenant = d.tenant.clone();
    let stopped = d.stopped.clone();
    match d.step {
        Step::Tenant => view! {
            <EmptyState title="The tenant is gone">"This draft's tenant no longer exists. Discard it and start again."</EmptyState>
        }.into_any(),
        Step::Connection => view! {
            <section class="card mt-4" aria-labelledby="step-connection">
                <h2 id="step-connection" class="section-title">"2. Provider connection"</h2>
                <p class="muted">"The app registration Tenantry signs in with. The client secret is sealed and never shown again."</p>
                <ServerForm action={crate::forms::target::<crate::api::OnboardingConnection>()} submit_label="Save connection and continue".to_string() pending_label="Saving…".to_string()>
                    <input type="hidden" name="draft" value=id/>
                    <div class="field"><label for="onb-conn-name">"Connection name"</label>
                        <input id="onb-conn-name" name="display_name" required maxlength="120" class="input" value="Tenantry app"/></div>
                    <div class="field"><label for="onb-entra">"Entra tenant id"</label>
                        <input id="onb-entra" name="entra_tenant_id" required class="input" value=tenant.map(|t| t.2).unwrap_or_default()/></div>
                    <div class="field"><label for="onb-client">"Application (client) id"</label>
                        <input id="onb-client" name="client_id" required class="input" placeholder="00000000-0000-0000-0000-000000000000"/></div>
                    <div class="field"><label for="onb-secret">"Client secret"</label>
                        <input id="onb-secret" name="client_secret" type="password" required class="input" autocomplete="off"/></div>
                    <div class="field"><label for="onb-expires">"Secret expires on"</label>
                        <input id="onb-expires" name="expires_on" type="date" required class="input"/></div>
                </ServerForm>
            </section>
        }.into_any(),
        Step::Verify => {
            let running = d.verification.as_ref().is_some_and(|v| v.active);
            view! {
                <section class="card mt-4" aria-labelledby="step-verify">
                    <h2 id="step-verify" class="section-title">"3. Verify"</h2>
                    <p class="muted">"Checks sign-in, the tenant's identity and the permissions Tenantry needs, through the start gate."</p>
                    {(!running).then(|| view! {
                        <GateForm action={crate::forms::target::<crate::api::OnboardingVerify>()}
                            submit_label=if d.verification.is_some() { "Verify again".to_string() } else { "Verify the tenant".to_string() }
                            pending_label="Starting verification…".to_string()>
                            <input type="hidden" name="draft" value=id/>
                        </GateForm>
                    })}
                </section>
            }.into_any()
        }
        Step::Choose => view! {
            <section class="card mt-4" aria-labelledby="step-choose">
                <h2 id="step-choose" class="section-title">"4. Choose the bootstrap"</h2>
                <p class="muted">"The chosen operations run one at a time on the tenant's connection; each starts by itself when the previous one ends, even if you close this page."</p>
                <GateForm action={crate::forms::target::<crate::api::OnboardingBootstrap>()} submit_label="Start the bootstrap".to_string() pending_label="Starting…".to_string()>
                    <input type="hidden" name="draft" value=id/>
                    <fieldset class="field">
                        <legend>"Operations"</legend>
                        {BOOTSTRAP_OPERATIONS.into_iter().map(|op| {
                            let input_id = format!("onb-op-{}", op.as_str());
                            let label_for = input_id.clone();
                            view! {
                                <label for=label_for class="checkbox">
                                    <input type="checkbox" id=input_id name=format!("op_{}", op.as_str()) value="on" checked/>
                                    " " {op.label()}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                </GateForm>
            </section>
        }.into_any(),
        Step::Bootstrap => view! {
            <section class="card mt-4" aria-labelledby="step-bootstrap">
                <h2 id="step-bootstrap" class="section-title">"5. Bootstrap"</h2>
                <p class="muted">"One operation at a time; the next starts by itself when the previous one ends."</p>
            </section>
        }.into_any(),
        Step::Done => {
            let link = tenant.map(|t| view! {
                <a class="link" href=format!("/admin/t/{}", t.0)>"Open the tenant's dashboard"</a>
            });
            match stopped {
                None => view! {
                    <section class="card mt-4" aria-labelledby="step-done">
                        <h2 id="step-done" class="section-title">"Onboarded"</h2>
                        <p>"Every chosen operation has ended. " {link}</p>
                    </section>
                }.into_any(),
                Some(reason) => view! {
                    <section class="card mt-4" aria-labelledby="step-done">
                        <h2 id="step-done" class="section-title">"Bootstrap stopped"</h2>
                        <p class="notice notice-warn" role="status" data-testid="onboarding-stopped">{reason}</p>
                        <p>"Operations that did not start can be started from the tenant's dashboard once it has a working connection. " {link}</p>
                    </section>
                }.into_any(),
            }
        }
    }
}

/// One run line of the wizard: the presenter's headline and the link. An
/// operation without a run waits for the previous one, or — once the
/// wizard is done — never started.
pub fn step_run_line(label: &'static str, run: Option<StepRun>, done: bool) -> impl IntoView {
    view! {
        <li data-op=label>
            <span class="font-medium">{label}</span> " — "
            {match run {
                None if done => view! { <span class="muted">"Not started"</span> }.into_any(),
                None => view! { <span class="muted">"Waiting for the previous operation"</span> }.into_any(),
                Some(r) => view! {
                    <span class=crate::components::tone_class(r.headline.tone) data-testid="step-status">{r.headline.label.clone()}</span>
                    {r.reason.clone().filter(|_| !r.usable && !r.active).map(|w| view! { " " <span class="muted text-sm">{w}</span> })}
                    " " <a class="link text-sm" href=run_link(r.run)>"Open the run"</a>
                }.into_any(),
            }}
        </li>
    }
}

/// The onboarding wizard's live part: the verification run and each
/// bootstrap operation with the presenter's headline. Refreshes every 2 s
/// while a run of the draft can move (not while the tab is hidden); when the
/// draft reaches another step, reloads so that step's form is rendered.
#[island]
pub fn OnboardingLive(initial: domain::onboarding::DraftView) -> impl IntoView {
    use domain::onboarding::{DraftView, Step, WIZARD_POLL_MS};
    let step = initial.step;
    let id = initial.id;
    let state = RwSignal::new(initial);
    let running = StoredValue::new(false);
    let watch = move || {
        if running.get_value() {
            return;
        }
        running.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                browser::sleep(WIZARD_POLL_MS).await;
                while browser::hidden() {
                    browser::sleep(250).await;
                }
                match crate::api::load_onboarding_draft(id).await {
                    Ok(fresh) => {
                        let moved = fresh.step != step;
                        let more = fresh.polls();
                        if state.get_untracked() != fresh {
                            state.set(fresh);
                        }
                        if moved {
                            browser::navigate(None);
                            break;
                        }
                        if !more {
                            break;
                        }
                    }
                    Err(e) if e.0.http_status() < 500 => break,
                    Err(_) => {}
                }
            }
            running.set_value(false);
        });
    };
    Effect::new(move |_| {
        if state.get_untracked().polls() {
            watch();
        }
        browser::on_run_started(watch);
    });
    view! {
        <section class="card mt-4" aria-labelledby="onb-runs" aria-live="polite" data-testid="onboarding-live">
            <h2 id="onb-runs" class="section-title">"Progress"</h2>
            {move || {
                let d: DraftView = state.get();
                let verification = d.verification.clone();
                let done = d.step == Step::Done;
                view! {
                    <ul class="data-list">
                        {(d.step >= Step::Verify).then(|| step_run_line("Verification", verification, false))}
                        {d.entries.into_iter().map(|e| step_run_line(e.op.label(), e.run, done)).collect_view()}
                    </ul>
                    {d.waiting_on.map(|r| view! {
                        <p class="muted text-sm">"Another operation holds the connection; the next one starts when it ends. "
                            <a class="link" href=domain::runs::presenter::run_link(r)>"Open it"</a></p>
                    })}
                    {(d.step < Step::Verify).then(|| view! { <p class="muted">"Nothing has started yet."</p> })}
                }
            }}
        </section>
    }
}
