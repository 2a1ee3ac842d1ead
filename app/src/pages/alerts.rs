//! The alerts page (tabs, filters in the URL, keyset pages, acknowledge many),
//! one alert's page, and the rules page with webhook endpoints and their
//! delivery logs. Server-rendered; forms are `ServerForm` islands.

use crate::components::{EmptyState, NoWorkspace, load};
use crate::forms::{ServerForm, target};
use domain::alerts::{
    AlertDetail, AlertState, AlertView, AlertsPage, ConditionKind, EndpointView, RuleView,
    RulesPage, Scope, Severity, Tab,
};
use domain::rbac::Role;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn severity_badge(s: Severity) -> impl IntoView {
    let class = match s {
        Severity::Critical => "badge badge-bad",
        Severity::Warning => "badge badge-warn",
        Severity::Info => "badge badge-muted",
    };
    view! { <span class=class data-severity=s.as_str()>{s.label()}</span> }
}

fn state_words(a: &AlertView, now: i64) -> (&'static str, String) {
    match a.tab(now) {
        Tab::Snoozed => ("badge badge-muted", "Snoozed".to_string()),
        Tab::Resolved => ("badge badge-ok", "Resolved".to_string()),
        Tab::Acknowledged => ("badge badge-info", "Acknowledged".to_string()),
        Tab::Open => ("badge badge-bad", "Open".to_string()),
    }
}

/// Acknowledge / snooze / resolve for one alert (`back`: where to return).
fn alert_actions(a: &AlertView, now: i64, back: String) -> impl IntoView + use<> {
    let id = a.id;
    let (back_ack, back_snooze, back_resolve) = (back.clone(), back.clone(), back);
    let open = a.state == AlertState::Open;
    let unresolved = a.state != AlertState::Resolved;
    let snoozed = a.snoozed_until.is_some_and(|u| u > now);
    let note_id = format!("ack-note-{id}");
    let hours_id = format!("snooze-{id}");
    view! {
        <div class="button-row">
            {open.then(|| view! {
                <ServerForm action={target::<crate::api::alerts::AcknowledgeAlert>()} submit_label="Acknowledge".to_string() inline=true>
                    <input type="hidden" name="alert" value=id.to_string()/>
                    <input type="hidden" name="back" value=back_ack/>
                    <label class="sr-only" for=note_id.clone()>"Note (optional)"</label>
                    <input id=note_id.clone() name="note" class="input input-sm" maxlength="500" placeholder="Note (optional)"/>
                </ServerForm>
            })}
            {(unresolved && !snoozed).then(|| view! {
                <ServerForm action={target::<crate::api::alerts::SnoozeAlert>()} submit_label="Snooze".to_string() inline=true>
                    <input type="hidden" name="alert" value=id.to_string()/>
                    <input type="hidden" name="back" value=back_snooze/>
                    <label class="sr-only" for=hours_id.clone()>"Snooze for"</label>
                    <select id=hours_id.clone() name="hours" class="input input-sm">
                        <option value="1">"1 hour"</option>
                        <option value="4">"4 hours"</option>
                        <option value="24" selected=true>"1 day"</option>
                        <option value="168">"1 week"</option>
                    </select>
                </ServerForm>
            })}
            {unresolved.then(|| view! {
                <ServerForm action={target::<crate::api::alerts::ResolveAlert>()} submit_label="Resolve".to_string() inline=true
                    confirm="Resolve this alert by hand? It opens again if its condition is seen again.".to_string() confirm_label="Resolve".to_string()>
                    <input type="hidden" name="alert" value=id.to_string()/>
                    <input type="hidden" name="back" value=back_resolve/>
                </ServerForm>
            })}
        </div>
    }
}

fn alert_card(
    a: &AlertView,
    now: i64,
    can_respond: bool,
    back: String,
    heading_link: bool,
) -> impl IntoView + use<> {
    let (state_class, state_label) = state_words(a, now);
    let link = domain::alerts::alert_link(a.id);
    let title = a.title.clone();
    view! {
        <article class="card alert" id=format!("alert-{}", a.id) data-alert=a.id.to_string() data-state=a.state.as_str() data-occurrences=a.occurrences>
            <header class="alert-head">
                {severity_badge(a.severity)}
                " "
                <span class=state_class>{state_label}</span>
                " "
                {if heading_link {
                    view! { <h2 class="alert-title"><a class="link" href=link>{title}</a></h2> }.into_any()
                } else {
                    view! { <p class="alert-title">{title}</p> }.into_any()
                }}
            </header>
            <p>{a.detail.clone()}</p>
            <dl class="facts text-sm">
                <dt>"Seen"</dt><dd data-testid="occurrences">{format!("{}×", a.occurrences)} " · last " {crate::time::when(a.last_seen_at)} " · opened " {crate::time::when(a.opened_at)}</dd>
                {a.tenant.clone().map(|(t, name)| view! { <dt>"Tenant"</dt><dd><a class="link" href=format!("/admin/t/{t}")>{name}</a></dd> })}
                <dt>"Rule"</dt><dd>{a.rule.clone().map_or_else(|| a.condition.label().to_string(), |r| r.1)}</dd>
                {a.acknowledged.clone().map(|(by, at, note)| view! {
                    <dt>"Acknowledged"</dt><dd>{by} " · " {crate::time::when(at)} {note.map(|n| view! { <q class="muted">{n}</q> })}</dd>
                })}
                {a.snoozed_until.filter(|u| *u > now).map(|u| view! { <dt>"Snoozed until"</dt><dd>{crate::time::when(u)}</dd> })}
                {a.resolved_at.filter(|_| a.state == AlertState::Resolved).map(|r| view! { <dt>"Resolved"</dt><dd>{crate::time::when(r)}</dd> })}
                {a.ticket.clone().map(|(reference, url)| view! {
                    <dt>"Ticket"</dt><dd>{match url {
                        Some(u) => view! { <a class="link" href=u rel="noreferrer" target="_blank">{reference}</a> }.into_any(),
                        None => view! { <span>{reference}</span> }.into_any(),
                    }}</dd>
                })}
            </dl>
            {(!a.evidence.is_empty()).then(|| view! {
                <ul class="chips" aria-label="Evidence">
                    {a.evidence.iter().map(|e| view! { <li class="chip"><a class="link" href=e.href.clone()>{e.label.clone()}</a></li> }).collect_view()}
                </ul>
            })}
            {can_respond.then(|| alert_actions(a, now, back))}
        </article>
    }
}

fn tabs(p: &AlertsPage) -> impl IntoView + use<> {
    let current = p.filter.tab.unwrap_or(Tab::Open);
    view! {
        <nav class="tabs" aria-label="Alert states">
            {Tab::ALL.iter().map(|t| {
                let href = domain::alerts::AlertFilter { tab: Some(*t), after: None, ..p.filter.clone() }.link();
                let here = *t == current;
                view! {
                    <a class=if here { "tab tab-current" } else { "tab" } href=href aria-current=here.then_some("page") data-tab=t.as_str()>
                        {t.label()} " " <span class="count">{p.counts.of(*t)}</span>
                    </a>
                }
            }).collect_view()}
        </nav>
    }
}

fn filters(p: &AlertsPage) -> impl IntoView + use<> {
    let f = p.filter.clone();
    view! {
        <form method="get" action="/admin/alerts" class="filters" aria-label="Filter alerts">
            <input type="hidden" name="tab" value=f.tab.unwrap_or(Tab::Open).as_str()/>
            <div class="field">
                <label for="f-severity">"Severity"</label>
                <select id="f-severity" name="severity" class="input input-sm">
                    <option value="">"Any"</option>
                    {Severity::ALL.iter().map(|s| view! { <option value=s.as_str() selected=f.severity == Some(*s)>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-rule">"Rule"</label>
                <select id="f-rule" name="rule" class="input input-sm">
                    <option value="">"Any"</option>
                    {p.rules.iter().map(|(id, name)| view! { <option value=id.to_string() selected=f.rule == Some(*id)>{name.clone()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-tenant">"Tenant"</label>
                <select id="f-tenant" name="tenant" class="input input-sm">
                    <option value="">"Any"</option>
                    {p.tenants.iter().map(|(id, name)| view! { <option value=id.to_string() selected=f.tenant == Some(*id)>{name.clone()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-tag">"Tag"</label>
                <select id="f-tag" name="tag" class="input input-sm">
                    <option value="">"Any"</option>
                    {p.tags.iter().map(|(id, name)| view! { <option value=id.to_string() selected=f.tag == Some(*id)>{name.clone()}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="btn btn-secondary">"Filter"</button>
            <a href="/admin/alerts" class="link">"Clear"</a>
        </form>
    }
}

#[component]
pub fn Alerts() -> impl IntoView {
    let query = use_query_map();
    let raw: String = {
        let q = query.read_untracked();
        ["tab", "severity", "rule", "tenant", "tag", "after"]
            .iter()
            .filter_map(|k| q.get(k).map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("&")
    };
    view! {
        <Title text="Alerts · Tenantry"/>
        {load(crate::api::alerts::load_alerts(raw), |page: Option<AlertsPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Alerts"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let tab = p.filter.tab.unwrap_or(Tab::Open);
                let back = domain::alerts::AlertFilter { after: None, ..p.filter.clone() }.link();
                let query_now = domain::alerts::AlertFilter { after: None, ..p.filter.clone() }.query();
                let open_count = p.counts.open;
                let empty = match tab {
                    Tab::Open => "Nothing needs attention: no open alerts match.",
                    Tab::Acknowledged => "No acknowledged alerts match.",
                    Tab::Snoozed => "No snoozed alerts match.",
                    Tab::Resolved => "No resolved alerts match.",
                };
                view! {
                    <section class="page">
                        <h1 class="page-title">"Alerts"</h1>
                        <p class="muted">"What the workspace's rules found in " {p.workspace.name.clone()} ", one alert per condition, newest first."
                            {p.can_manage.then(|| view! { " " <a class="link" href="/admin/alerts/rules">"Rules and webhooks"</a> })}
                        </p>
                        {tabs(&p)}
                        {filters(&p)}
                        {(p.can_respond && tab == Tab::Open && open_count > 0).then(|| view! {
                            <ServerForm action={target::<crate::api::alerts::AcknowledgeAlerts>()} submit_label=format!("Acknowledge all {open_count} shown") inline=true
                                confirm=format!("Acknowledge every open alert these filters show ({open_count}, at most 1,000)? Each reopens if its subject changes.") confirm_label="Acknowledge all".to_string()>
                                <input type="hidden" name="workspace" value=p.workspace.id.to_string()/>
                                <input type="hidden" name="query" value=query_now.clone()/>
                                <label class="sr-only" for="bulk-note">"Note (optional)"</label>
                                <input id="bulk-note" name="note" class="input input-sm" maxlength="500" placeholder="Note (optional)"/>
                            </ServerForm>
                        })}
                        {if p.alerts.is_empty() {
                            view! { <EmptyState title="No alerts here">{empty}</EmptyState> }.into_any()
                        } else {
                            view! {
                                <div class="stack" data-testid="alerts">
                                    {p.alerts.iter().map(|a| alert_card(a, p.now, p.can_respond, back.clone(), true)).collect_view()}
                                </div>
                            }.into_any()
                        }}
                        {p.next.clone().map(|n| view! { <p class="mt-4"><a class="btn btn-secondary" href=n.link()>"Older alerts"</a></p> })}
                    </section>
                }.into_any()
            }
        })}
    }
}

#[component]
pub fn AlertPage() -> impl IntoView {
    let alert: Option<domain::ids::AlertId> = use_params_map()
        .read_untracked()
        .get("alert")
        .and_then(|a| a.parse().ok());
    let Some(alert) = alert else {
        return view! { <crate::components::NotFound/> }.into_any();
    };
    view! {
        {load(crate::api::alerts::load_alert(alert), |d: AlertDetail| {
            let back = domain::alerts::alert_link(d.alert.id);
            view! {
                <Title text=format!("Alert #{} · Tenantry", d.alert.id)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/alerts">"Alerts"</a> " › " {format!("#{}", d.alert.id)}</p>
                    <h1 class="page-title">{d.alert.title.clone()}</h1>
                    {alert_card(&d.alert, d.now, d.can_respond, back, false)}
                </section>
            }
        })}
    }
    .into_any()
}

fn role_plural(r: Role) -> &'static str {
    match r {
        Role::Owner => "Owners",
        Role::Manager => "Managers",
        Role::Operator => "Operators",
        Role::Readonly => "Read-only members",
    }
}

fn routes_words(r: &RuleView, p: &RulesPage) -> String {
    let mut parts = Vec::new();
    if !r.routes.roles.is_empty() {
        parts.push(format!(
            "in-app to {}",
            r.routes
                .roles
                .iter()
                .map(|x| role_plural(*x))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for u in &r.routes.users {
        if let Some((_, email)) = p.members.iter().find(|m| m.0 == *u) {
            parts.push(format!("in-app to {email}"));
        }
    }
    for e in &r.routes.webhooks {
        if let Some(ep) = p.endpoints.iter().find(|x| x.id == *e) {
            parts.push(format!("webhook {}", ep.name));
        }
    }
    if r.routes.ticket {
        parts.push("a desk ticket".into());
    }
    if !r.routes.mail.is_empty() {
        parts.push(format!("mail to {}", r.routes.mail.join(", ")));
    }
    if parts.is_empty() {
        "Shown here only".into()
    } else {
        parts.join(" · ")
    }
}

/// The rule form's fields (new, or one rule's edit).
fn rule_fields(p: &RulesPage, prefix: &str, current: Option<&RuleView>) -> impl IntoView + use<> {
    use domain::alerts::Condition;
    let id = |f: &str| format!("{prefix}-{f}");
    let c = current.map(|r| r.condition.clone());
    let (op, count, window, days, percent, kind) = match &c {
        Some(Condition::RunFailures {
            op_type,
            count,
            window_hours,
        }) => (op_type.clone(), *count, *window_hours, 14, 80, None),
        Some(Condition::CredentialExpiring { days }) => (None, 3, 24, *days, 80, None),
        Some(Condition::ComplianceBelow { percent }) => (None, 3, 24, 14, *percent, None),
        Some(Condition::DriftDetected { kind }) => (None, 3, 24, 14, 80, kind.clone()),
        _ => (None, 3, 24, 14, 80, None),
    };
    let kind_now = c.as_ref().map(|c| c.kind());
    let scope = current.map(|r| r.scope.clone()).unwrap_or(Scope::All);
    let chosen_tenants: Vec<domain::ids::TenantId> = match &scope {
        Scope::Tenants(t) => t.clone(),
        _ => Vec::new(),
    };
    let excluded = current.map(|r| r.exclusions.clone()).unwrap_or_default();
    let routes = current
        .map(|r| r.routes.clone())
        .unwrap_or_else(|| domain::alerts::Routes {
            roles: vec![Role::Owner, Role::Manager],
            ..Default::default()
        });
    let severity = current.map_or(Severity::Warning, |r| r.severity);
    let tenants = p.tenants.clone();
    let tenants2 = p.tenants.clone();
    view! {
        <div class="field">
            <label for=id("name")>"Name"</label>
            <input id=id("name") name="name" class="input" required maxlength="80" value=current.map(|r| r.name.clone()).unwrap_or_else(|| "Nightly runs failing".into())/>
        </div>
        <div class="field">
            <label for=id("condition")>"Watch for"</label>
            <select id=id("condition") name="condition" class="input">
                {ConditionKind::CHOOSABLE.iter().map(|k| view! { <option value=k.as_str() selected=kind_now == Some(*k)>{k.label()}</option> }).collect_view()}
            </select>
        </div>
        <fieldset class="fieldset">
            <legend>"Its numbers (each condition reads its own)"</legend>
            <div class="field">
                <label for=id("op")>"Operation (runs failed)"</label>
                <select id=id("op") name="op_type" class="input">
                    <option value="any">"Any operation"</option>
                    {p.operation_types.iter().map(|(key, label)| view! { <option value=key.clone() selected=op.as_deref() == Some(key.as_str())>{label.clone()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for=id("count")>"Times (runs failed)"</label>
                <input id=id("count") name="count" class="input" type="number" min="1" max="1000" value=count.to_string()/>
            </div>
            <div class="field">
                <label for=id("window")>"Within hours (runs failed)"</label>
                <input id=id("window") name="window_hours" class="input" type="number" min="1" max="720" value=window.to_string()/>
            </div>
            <div class="field">
                <label for=id("days")>"Days before expiry (credentials)"</label>
                <input id=id("days") name="days" class="input" type="number" min="1" max="365" value=days.to_string()/>
            </div>
            <div class="field">
                <label for=id("percent")>"Compliant below % (compliance)"</label>
                <input id=id("percent") name="percent" class="input" type="number" min="1" max="100" value=percent.to_string()/>
            </div>
            <div class="field">
                <label for=id("kind")>"Policy kind (drift)"</label>
                <select id=id("kind") name="policy_kind" class="input">
                    <option value="any">"Any kind"</option>
                    {p.policy_kinds.iter().map(|k| view! { <option value=k.clone() selected=kind.as_deref() == Some(k.as_str())>{k.replace('_', " ")}</option> }).collect_view()}
                </select>
            </div>
        </fieldset>
        <div class="field">
            <label for=id("scope")>"Tenants"</label>
            <select id=id("scope") name="scope" class="input">
                <option value="all" selected=scope == Scope::All>"All tenants"</option>
                {p.tags.iter().map(|(t, name)| view! { <option value=format!("tag:{t}") selected=scope == Scope::Tag(*t)>{format!("Tag: {name}")}</option> }).collect_view()}
                <option value="tenants" selected=matches!(scope, Scope::Tenants(_))>"The tenants ticked below"</option>
            </select>
        </div>
        <details class="field">
            <summary class="link">"Choose tenants · leave tenants out"</summary>
            <fieldset class="fieldset scroll-box">
                <legend>"Tenants (when “The tenants ticked below”)"</legend>
                {tenants.into_iter().enumerate().map(|(i, (t, name))| {
                    let cid = format!("{prefix}-t-{t}");
                    view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("tenants[{i}]") value=t.to_string() checked=chosen_tenants.contains(&t)/> <label for=cid>{name}</label></div> }
                }).collect_view()}
            </fieldset>
            <fieldset class="fieldset scroll-box">
                <legend>"Leave out"</legend>
                {tenants2.into_iter().enumerate().map(|(i, (t, name))| {
                    let cid = format!("{prefix}-x-{t}");
                    view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("exclude_tenants[{i}]") value=t.to_string() checked=excluded.tenants.contains(&t)/> <label for=cid>{name}</label></div> }
                }).collect_view()}
                {p.policy_kinds.iter().enumerate().map(|(i, k)| {
                    let cid = format!("{prefix}-xk-{k}");
                    view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("exclude_kinds[{i}]") value=k.clone() checked=excluded.kinds.contains(k)/> <label for=cid>{format!("Policy kind: {}", k.replace('_', " "))}</label></div> }
                }).collect_view()}
            </fieldset>
        </details>
        <div class="field">
            <label for=id("severity")>"Severity"</label>
            <select id=id("severity") name="severity" class="input">
                {Severity::ALL.iter().map(|s| view! { <option value=s.as_str() selected=*s == severity>{s.label()}</option> }).collect_view()}
            </select>
        </div>
        <fieldset class="fieldset">
            <legend>"Tell"</legend>
            {Role::ALL.iter().enumerate().map(|(i, r)| {
                let cid = format!("{prefix}-role-{}", r.as_str());
                view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("roles[{i}]") value=r.as_str() checked=routes.roles.contains(r)/> <label for=cid>{format!("{} (in-app)", role_plural(*r))}</label></div> }
            }).collect_view()}
            {p.members.iter().enumerate().map(|(i, (u, email))| {
                let cid = format!("{prefix}-user-{u}");
                view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("users[{i}]") value=u.to_string() checked=routes.users.contains(u)/> <label for=cid>{format!("{email} (in-app)")}</label></div> }
            }).collect_view()}
            {p.endpoints.iter().enumerate().map(|(i, e)| {
                let cid = format!("{prefix}-hook-{}", e.id);
                view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name=format!("webhooks[{i}]") value=e.id.to_string() checked=routes.webhooks.contains(&e.id)/> <label for=cid>{format!("Webhook: {}", e.name)}</label></div> }
            }).collect_view()}
            {p.desk_configured.then(|| {
                let cid = format!("{prefix}-ticket");
                view! { <div class="checkbox"><input type="checkbox" class="checkbox" id=cid.clone() name="ticket" value="on" checked=routes.ticket/> <label for=cid>"A ticket in the support desk (one per alert)"</label></div> }
            })}
            <div class="field">
                <label for=id("mail")>{if p.mail_configured { "Mail to (addresses, comma separated)" } else { "Mail to (no SMTP server is configured: nothing is sent until one is)" }}</label>
                <input id=id("mail") name="mail" class="input" maxlength="2000" value=routes.mail.join(", ")/>
            </div>
        </fieldset>
    }
}

fn rule_row(p: &RulesPage, r: &RuleView) -> impl IntoView + use<> {
    let enabled = r.enabled;
    let ws = p.workspace.id;
    let id = r.id;
    let fields = rule_fields(p, &format!("edit-{id}"), Some(r));
    let confirm = format!(
        "Delete the rule “{}” and its {} alert(s)? The audit log keeps what happened.",
        r.name, r.open_alerts
    );
    let alerts_link = domain::alerts::AlertFilter {
        rule: Some(r.id),
        ..Default::default()
    }
    .link();
    view! {
        <tr id=format!("rule-{id}")>
            <td><div>{r.name.clone()}</div><div class="muted text-sm">{r.condition.sentence()}</div></td>
            <td>{r.scope_label.clone()}{(!r.exclusions.tenants.is_empty() || !r.exclusions.kinds.is_empty()).then(|| view! { <div class="muted text-sm">{format!("{} left out", r.exclusions.tenants.len() + r.exclusions.kinds.len())}</div> })}</td>
            <td>{severity_badge(r.severity)}</td>
            <td class="text-sm">{routes_words(r, p)}</td>
            <td>
                <span class=if r.enabled { "badge badge-ok" } else { "badge badge-muted" }>{if r.enabled { "On" } else { "Paused" }}</span>
                <div><a class="link text-sm" href=alerts_link>{format!("{} not resolved", r.open_alerts)}</a></div>
            </td>
            <td>
                {p.can_manage.then(|| view! {
                    <ServerForm action={target::<crate::api::alerts::SetAlertRuleEnabled>()} submit_label=if enabled { "Pause".to_string() } else { "Resume".to_string() } inline=true>
                        <input type="hidden" name="workspace" value=ws.to_string()/>
                        <input type="hidden" name="rule" value=id.to_string()/>
                        <input type="hidden" name="enabled" value=if enabled { "false" } else { "true" }/>
                    </ServerForm>
                    <ServerForm action={target::<crate::api::alerts::DeleteAlertRule>()} submit_label="Delete".to_string() danger=true inline=true confirm=confirm.clone() confirm_label="Delete rule".to_string()>
                        <input type="hidden" name="workspace" value=ws.to_string()/>
                        <input type="hidden" name="rule" value=id.to_string()/>
                    </ServerForm>
                    <details>
                        <summary class="link">"Edit"</summary>
                        <ServerForm action={target::<crate::api::alerts::SaveAlertRule>()} submit_label="Save rule".to_string() pending_label="Saving…".to_string()>
                            <input type="hidden" name="workspace" value=ws.to_string()/>
                            <input type="hidden" name="rule" value=id.to_string()/>
                            {fields}
                        </ServerForm>
                    </details>
                })}
            </td>
        </tr>
    }
}

fn endpoint_card(e: &EndpointView, can_manage: bool) -> impl IntoView + use<> {
    let id = e.id;
    let enabled = e.enabled;
    let delete = format!(
        "Delete the endpoint “{}” and its delivery log? Rules stop sending to it.",
        e.name
    );
    let rotate = "Make a new signing secret? The current one keeps signing for 24 hours, so the receiver can switch over.".to_string();
    view! {
        <article class="card" id=format!("endpoint-{id}") data-endpoint=id.to_string()>
            <h3 class="section-title">{e.name.clone()} " "
                <span class=if e.enabled { "badge badge-ok" } else { "badge badge-bad" }>{if e.enabled { "On" } else { "Off" }}</span>
            </h3>
            <p class="text-sm"><code>{e.url.clone()}</code></p>
            {e.disabled_reason.clone().map(|r| view! { <p class="notice notice-warn" role="status">{r}</p> })}
            {(e.consecutive_failures > 0).then(|| view! { <p class="muted text-sm">{format!("{} failed deliveries in a row (off at {}).", e.consecutive_failures, 10)}</p> })}
            {e.previous_until.map(|u| view! { <p class="muted text-sm">"The previous secret also signs until " {crate::time::when(u)} "."</p> })}
            {can_manage.then(|| view! {
                <div class="button-row">
                    <ServerForm action={target::<crate::api::alerts::TestWebhookEndpoint>()} submit_label="Send test".to_string() inline=true>
                        <input type="hidden" name="endpoint" value=id.to_string()/>
                    </ServerForm>
                    <ServerForm action={target::<crate::api::alerts::RotateWebhookSecret>()} submit_label="New secret".to_string() inline=true confirm=rotate confirm_label="Make a new secret".to_string()>
                        <input type="hidden" name="endpoint" value=id.to_string()/>
                    </ServerForm>
                    <ServerForm action={target::<crate::api::alerts::SetWebhookEndpointEnabled>()} submit_label=if enabled { "Turn off".to_string() } else { "Turn on".to_string() } inline=true>
                        <input type="hidden" name="endpoint" value=id.to_string()/>
                        <input type="hidden" name="enabled" value=if enabled { "false" } else { "true" }/>
                    </ServerForm>
                    <ServerForm action={target::<crate::api::alerts::DeleteWebhookEndpoint>()} submit_label="Delete".to_string() danger=true inline=true confirm=delete confirm_label="Delete endpoint".to_string()>
                        <input type="hidden" name="endpoint" value=id.to_string()/>
                    </ServerForm>
                </div>
            })}
            {if e.deliveries.is_empty() {
                view! { <p class="muted text-sm">"Nothing sent yet. Send a test to check the receiver."</p> }.into_any()
            } else {
                view! {
                    <table class="table table-sm mt-2">
                        <caption class="text-sm">"Newest deliveries"</caption>
                        <thead><tr><th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"State"</th><th scope="col">"Attempts"</th><th scope="col">"Last answer"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {e.deliveries.iter().map(|d| { let delivery = d.id; view! {
                                <tr data-delivery=d.id.to_string() data-state=d.state.clone()>
                                    <td>{crate::time::when(d.created_at)}<div class="muted text-xs"><code>{d.message_id.clone()}</code></div></td>
                                    <td>{d.event.clone()}{d.alert.map(|a| view! { " " <a class="link" href=domain::alerts::alert_link(a)>{format!("#{a}")}</a> })}</td>
                                    <td>{d.state.clone()}{(d.state == "queued" && d.attempts > 0).then(|| view! { <div class="muted text-xs">"next try " {crate::time::when(d.next_attempt_at)}</div> })}</td>
                                    <td>{d.attempts}</td>
                                    <td class="text-sm">
                                        {d.last_status.map(|s| format!("HTTP {s} · "))}
                                        {d.last_outcome.clone().map(|o| o.replace('_', " "))}
                                        {d.last_duration_ms.map(|ms| format!(" · {ms} ms"))}
                                        {d.last_excerpt.clone().filter(|x| !x.is_empty()).map(|x| view! { <div class="muted text-xs"><code>{x}</code></div> })}
                                    </td>
                                    <td>{can_manage.then(|| view! {
                                        <ServerForm action={target::<crate::api::alerts::RedeliverWebhook>()} submit_label="Send again".to_string() inline=true>
                                            <input type="hidden" name="delivery" value=delivery.to_string()/>
                                        </ServerForm>
                                    })}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </article>
    }
}

#[component]
pub fn AlertRules() -> impl IntoView {
    view! {
        <Title text="Alert rules · Tenantry"/>
        {load(crate::api::alerts::load_alert_rules(), |page: Option<RulesPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Alert rules"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let ws = p.workspace.id;
                let new_fields = rule_fields(&p, "new", None);
                view! {
                    <section class="page">
                        <p class="breadcrumb"><a class="link" href="/admin/alerts">"Alerts"</a> " › " "Rules"</p>
                        <h1 class="page-title">"Alert rules"</h1>
                        <p class="muted">"Each rule raises one alert per tenant and subject, counts while the condition holds, and resolves it when the condition clears. Alerts go where the rule says when they open, reopen, wake from a snooze or resolve."</p>
                        {p.revealed.clone().map(|(endpoint, secret)| view! {
                            <div class="notice notice-warn" role="alert" data-testid="webhook-secret">
                                <p><strong>"Signing secret for endpoint #" {endpoint.to_string()} ", shown only now:"</strong></p>
                                <p><code class="secret">{secret}</code></p>
                                <p class="text-sm">"Give it to the receiver: it checks the webhook-signature header with it (Standard Webhooks). Tenantry keeps it sealed and never shows it again."</p>
                            </div>
                        })}
                        {if p.rules.is_empty() {
                            view! { <EmptyState title="No rules yet">{if p.can_manage { "Create one below, e.g. inventory syncs failing 3 times in a day." } else { "Owners and managers create rules." }}</EmptyState> }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <caption class="sr-only">"Alert rules"</caption>
                                    <thead><tr><th scope="col">"Rule"</th><th scope="col">"Tenants"</th><th scope="col">"Severity"</th><th scope="col">"Goes to"</th><th scope="col">"State"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>{p.rules.iter().map(|r| rule_row(&p, r)).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                        {p.can_manage.then(|| view! {
                            <section class="card mt-6" aria-labelledby="new-rule">
                                <h2 id="new-rule" class="section-title">"New rule"</h2>
                                <ServerForm action={target::<crate::api::alerts::SaveAlertRule>()} submit_label="Create rule".to_string() pending_label="Creating…".to_string()>
                                    <input type="hidden" name="workspace" value=ws.to_string()/>
                                    {new_fields}
                                </ServerForm>
                            </section>
                        })}
                        <section class="mt-6" id="endpoints" aria-labelledby="endpoints-title">
                            <h2 id="endpoints-title" class="section-title">"Webhook endpoints"</h2>
                            <p class="muted text-sm">"Messages follow the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature). Failed deliveries are retried for more than a day; an endpoint that answers 410 Gone or fails 10 times in a row is turned off, and an alert says so."</p>
                            {if p.endpoints.is_empty() {
                                view! { <EmptyState title="No webhook endpoints">"Add one to send alerts to a chat, an on-call tool or your own automation."</EmptyState> }.into_any()
                            } else {
                                view! { <div class="stack">{p.endpoints.iter().map(|e| endpoint_card(e, p.can_manage)).collect_view()}</div> }.into_any()
                            }}
                            {p.can_manage.then(|| view! {
                                <section class="card mt-4" aria-labelledby="new-endpoint">
                                    <h3 id="new-endpoint" class="section-title">"New endpoint"</h3>
                                    <ServerForm action={target::<crate::api::alerts::CreateWebhookEndpoint>()} submit_label="Add endpoint".to_string()>
                                        <input type="hidden" name="workspace" value=ws.to_string()/>
                                        <div class="field">
                                            <label for="endpoint-name">"Name"</label>
                                            <input id="endpoint-name" name="name" class="input" required maxlength="80" value="On-call"/>
                                        </div>
                                        <div class="field">
                                            <label for="endpoint-url">"URL (https://…)"</label>
                                            <input id="endpoint-url" name="url" class="input" required maxlength="2000" type="url" placeholder="https://hooks.example.com/tenantry"/>
                                        </div>
                                    </ServerForm>
                                </section>
                            })}
                        </section>
                    </section>
                }.into_any()
            }
        })}
    }
}
