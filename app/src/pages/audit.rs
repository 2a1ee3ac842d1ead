use crate::api;
use crate::components::{EmptyState, NoWorkspace, load};
use domain::views::{AuditAction, AuditOutcome, AuditPage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Audit() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    // Unknown filter values are ignored rather than failing the page.
    let action: Option<AuditAction> = q.get("action").and_then(|a| a.parse().ok());
    let outcome: Option<AuditOutcome> = q.get("outcome").and_then(|a| a.parse().ok());
    let tenant = q.get("tenant").and_then(|a| a.parse().ok());
    let before = q.get("before").and_then(|a| a.parse().ok());
    drop(q);
    view! {
        <Title text="Audit log · Tenantry"/>
        {load(api::load_audit(action, outcome, tenant, before), move |page: Option<AuditPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Audit log"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let mut next_query = Vec::new();
                if let Some(a) = action { next_query.push(format!("action={}", a.as_str())); }
                if let Some(o) = outcome { next_query.push(format!("outcome={}", o.as_str())); }
                if let Some(t) = tenant { next_query.push(format!("tenant={t}")); }
                let next_href = p.next_before.map(|b| { let mut q = next_query.clone(); q.push(format!("before={b}")); format!("/admin/audit?{}", q.join("&")) });
                view! {
                    <section class="page">
                        <h1 class="page-title">"Audit log"</h1>
                        <p class="muted">"Every change in " {p.workspace.name.clone()} ", newest first. How long entries are kept: " <a class="link" href="/admin/retention">"Data retention"</a> "."</p>
                        <form method="get" action="/admin/audit" class="filters" aria-label="Filter the audit log">
                            <div class="field">
                                <label for="f-action">"Action"</label>
                                <select id="f-action" name="action" class="input input-sm">
                                    <option value="">"Any action"</option>
                                    {AuditAction::ALL.iter().map(|a| view! { <option value=a.as_str() selected=Some(*a) == action>{a.label()}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for="f-outcome">"Outcome"</label>
                                <select id="f-outcome" name="outcome" class="input input-sm">
                                    <option value="">"Any outcome"</option>
                                    {[AuditOutcome::Succeeded, AuditOutcome::Failed, AuditOutcome::Denied].iter().map(|o| view! { <option value=o.as_str() selected=Some(*o) == outcome>{o.as_str()}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for="f-tenant">"Tenant"</label>
                                <select id="f-tenant" name="tenant" class="input input-sm">
                                    <option value="">"Any tenant"</option>
                                    {p.tenants.iter().map(|t| view! { <option value=t.id.to_string() selected=Some(t.id) == tenant>{t.display_name.clone()}</option> }).collect_view()}
                                </select>
                            </div>
                            <button type="submit" class="btn btn-secondary">"Filter"</button>
                            <a href="/admin/audit" class="link">"Clear"</a>
                        </form>
                        {if p.entries.is_empty() {
                            view! { <EmptyState title="No entries match">"Try another filter, or clear the filters."</EmptyState> }.into_any()
                        } else {
                            view! {
                                <table class="table" tabindex="0" aria-label="Audit log">
                                    <caption class="sr-only">"Audit entries"</caption>
                                    <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"Tenant"</th><th scope="col">"Outcome"</th><th scope="col">"Detail"</th></tr></thead>
                                    <tbody>
                                        {p.entries.iter().map(|e| view! {
                                            <tr>
                                                <td>{crate::time::when(e.at)}</td>
                                                <td>{e.actor.clone()}</td>
                                                <td>{e.action.label()}</td>
                                                <td>{e.target.clone()}</td>
                                                <td>{e.tenant.clone().unwrap_or_default()}</td>
                                                <td><span class=match e.outcome { AuditOutcome::Succeeded => "badge badge-ok", AuditOutcome::Failed => "badge badge-bad", AuditOutcome::Denied => "badge badge-warn" }>{e.outcome.as_str()}</span></td>
                                                <td>{e.detail.clone().unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                        {next_href.map(|h| view! { <p class="mt-4"><a class="btn btn-secondary" href=h>"Older entries"</a></p> })}
                    </section>
                }.into_any()
            }
        })}
    }
}
