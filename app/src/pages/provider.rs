//! Provider pages of a tenant: the dashboard's provider section (readiness and
//! start buttons), connections, the verification report and the data browsers.

use crate::api::provider as api;
use crate::components::{EmptyState, NotFound, load};
use crate::forms::GateForm;
use crate::forms::ServerForm;
use domain::ids::{ProviderConnectionId, TenantId};
use domain::provider::{
    BrowseKind, BrowsePage, CheckStatus, ConnectionPage, ConnectionView, ConnectionsPage,
    ProviderPanel, ReadinessState, VerificationPage,
};
use domain::runs::presenter::run_link;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn param<T: std::str::FromStr>(name: &str) -> Option<T> {
    use_params_map()
        .read_untracked()
        .get(name)
        .and_then(|v| v.parse().ok())
}

fn connection_badges(c: &ConnectionView) -> impl IntoView + use<> {
    let expired = c.secret_expired;
    view! {
        <span class=if c.enabled { "badge badge-ok" } else { "badge badge-muted" }>{if c.enabled { "Enabled" } else { "Disabled" }}</span>
        " "
        <span class=if c.consent_granted { "badge badge-ok" } else { "badge badge-warn" }>{if c.consent_granted { "Consent granted" } else { "Consent not confirmed" }}</span>
        " "
        <span class=if !c.has_secret || expired { "badge badge-bad" } else { "badge badge-muted" }>{
            if !c.has_secret { "No secret".to_string() } else if expired { "Secret expired".to_string() } else { "Secret set".to_string() }
        }</span>
        {c.is_default.then(|| view! { " " <span class="badge badge-info">"Default"</span> })}
    }
}

/// The provider section of the tenant dashboard.
#[component]
pub fn ProviderSection(tenant: TenantId) -> impl IntoView {
    view! {
        {load(api::load_provider_panel(tenant), move |p: ProviderPanel| {
            // Verify now is offered where the member may start verification
            // and there is a connection to verify.
            let may_verify = p.connection.is_some()
                && p.readiness.iter().any(|r| {
                    r.op_type == domain::provider::TENANT_VERIFICATION && r.allowed
                });
            view! {
                <section class="card mt-6" aria-labelledby="provider-ops">
                    <h2 id="provider-ops" class="section-title">"Provider operations"</h2>
                    {match p.connection.clone() {
                        Some(c) => view! {
                            <p class="muted">
                                "Using " <a class="link" href=format!("/admin/t/{tenant}/connections/{}", c.id)>{c.display_name.clone()}</a>
                                " (client " <code>{c.client_id.clone()}</code> ") "
                                {connection_badges(&c)}
                                " · " <a class="link" href=format!("/admin/t/{tenant}/connections")>{format!("{} connection(s)", p.connection_count)}</a>
                            </p>
                        }.into_any(),
                        None => view! {
                            <EmptyState title="No provider connection">
                                "Operations need an app registration with admin consent in the customer tenant. "
                                <a class="link" href=format!("/admin/t/{tenant}/connections")>{if p.can_manage { "Add a provider connection" } else { "See provider connections" }}</a>
                            </EmptyState>
                        }.into_any(),
                    }}
                    <table class="table mt-4" id="start-operations" tabindex="-1">
                        <caption class="sr-only">"Operations and whether they can start now"</caption>
                        <thead><tr><th scope="col">"Operation"</th><th scope="col">"Before you start"</th><th scope="col"><span class="sr-only">"Start"</span></th></tr></thead>
                        <tbody>
                            {p.readiness.iter().map(|r| {
                                let label = r.op_type.label();
                                let state = match &r.state {
                                    ReadinessState::Ready => view! { <span class="badge badge-ok">{r.state.label()}</span> }.into_any(),
                                    ReadinessState::NotVerified => view! {
                                        <span class="badge badge-warn" data-testid="not-verified">{r.state.label()}</span>
                                        {next_steps_startable(r.next_steps.clone(), "next-steps muted", may_verify)}
                                    }.into_any(),
                                    ReadinessState::Blocked { reason } => view! {
                                        <span class="badge badge-bad">{r.state.label()}</span>
                                        " " <span>{reason.message()}</span>
                                        {next_steps_startable(r.next_steps.clone(), "next-steps muted", may_verify)}
                                    }.into_any(),
                                    ReadinessState::Running { run } => view! {
                                        <span class="badge badge-info">{r.state.label()}</span>
                                        " " <a class="link" href=run_link(*run)>"Open the run"</a>
                                    }.into_any(),
                                    ReadinessState::Busy { run, holder } => view! {
                                        <span class="badge badge-warn">{r.state.label()}</span>
                                        " " <span>{format!("{} holds the connection.", holder.label())}</span>
                                        " " <a class="link" href=run_link(*run)>"Open it"</a>
                                    }.into_any(),
                                };
                                view! {
                                    <tr>
                                        <th scope="row">{label}</th>
                                        <td>{state}</td>
                                        <td>{if r.allowed {
                                            view! { <StartOperation tenant=tenant op_type=r.op_type label=format!("Start {}", label.to_lowercase())/> }.into_any()
                                        } else {
                                            view! { <span class="muted" data-testid="not-offered">{r.not_offered.clone().unwrap_or_default()}</span> }.into_any()
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
                <div class="grid-2 mt-6">
                    <section class="card" aria-labelledby="verification">
                        <h2 id="verification" class="section-title">"Verification"</h2>
                        {match p.verification.clone() {
                            None => view! {
                                <p class="muted" data-testid="verification-missing">"Not verified yet. Tenant verification checks sign-in, identity and permissions before anything else runs."</p>
                                {may_verify.then(|| view! {
                                    <StartOperation tenant=tenant op_type=domain::provider::TENANT_VERIFICATION label="Verify now".to_string()/>
                                })}
                            }.into_any(),
                            Some(v) => {
                                let passed = v.checks.iter().filter(|c| c.status == CheckStatus::Passed).count();
                                view! {
                                    <p>{format!("{passed} of {} checks passed", v.checks.len())} " · " {crate::time::when(v.checked_at)}</p>
                                    <p><a class="link" href=format!("/admin/t/{tenant}/verification")>"Read the verification report"</a></p>
                                }.into_any()
                            }
                        }}
                    </section>
                    <section class="card" aria-labelledby="provider-data">
                        <h2 id="provider-data" class="section-title">"Provider data"</h2>
                        <ul class="data-list">
                            {BrowseKind::ALL.iter().map(|k| {
                                let summary = p.data.iter().find(|d| d.kind == *k).cloned();
                                view! {
                                    <li>
                                        <a class="link" href=k.path(tenant)>{k.label()}</a>
                                        " "
                                        {match summary {
                                            Some(d) => format!("{} · as of {}", d.count, crate::time::when_text(d.taken_at)),
                                            None => format!("not synced yet ({})", k.source().label().to_lowercase()),
                                        }}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                </div>
            }
        })}
    }
}

fn connection_fields(c: Option<&ConnectionView>, default_entra: String) -> impl IntoView + use<> {
    let (name, entra, client) = match c {
        Some(c) => (
            c.display_name.clone(),
            c.entra_tenant_id.clone(),
            c.client_id.clone(),
        ),
        None => (String::new(), default_entra, String::new()),
    };
    view! {
        <div class="field">
            <label for="conn-name">"Display name"</label>
            <input id="conn-name" name="display_name" required maxlength="120" class="input" value=name placeholder="Tenantry app"/>
        </div>
        <div class="field">
            <label for="conn-entra">"Entra tenant id"</label>
            <input id="conn-entra" name="entra_tenant_id" required class="input" value=entra aria-describedby="conn-entra-help"/>
            <p id="conn-entra-help" class="help">"The customer tenant's GUID (Entra ID › Overview)."</p>
        </div>
        <div class="field">
            <label for="conn-client">"Application (client) id"</label>
            <input id="conn-client" name="client_id" required class="input" value=client placeholder="00000000-0000-0000-0000-000000000000"/>
        </div>
    }
}

fn secret_fields() -> impl IntoView {
    view! {
        <div class="field">
            <label for="conn-secret">"Client secret value"</label>
            <input id="conn-secret" name="client_secret" type="password" required autocomplete="off" class="input" aria-describedby="conn-secret-help"/>
            <p id="conn-secret-help" class="help">"Stored encrypted and never shown again."</p>
        </div>
        <div class="field">
            <label for="conn-expires">"Secret expires on (optional)"</label>
            <input id="conn-expires" name="expires_on" type="date" class="input"/>
        </div>
    }
}

#[component]
pub fn Connections() -> impl IntoView {
    let Some(tenant) = param::<TenantId>("tenant") else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_connections(tenant), move |p: ConnectionsPage| {
            let t = p.tenant.clone();
            view! {
                <Title text=format!("Provider connections · {} · Tenantry", t.display_name)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/tenants">"Tenants"</a> " › " <a class="link" href=format!("/admin/t/{tenant}")>{t.display_name.clone()}</a></p>
                    <h1 class="page-title">"Provider connections"</h1>
                    <p class="muted">"App registrations Tenantry uses to call Microsoft Graph for this tenant. Operations use the default connection."</p>
                    {if p.connections.is_empty() {
                        view! { <EmptyState title="No provider connections">{if p.can_manage { "Add one below: you need the app's client id and a client secret." } else { "Ask a manager to add one." }}</EmptyState> }.into_any()
                    } else {
                        view! {
                            <table class="table">
                                <caption class="sr-only">"Provider connections"</caption>
                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Client id"</th><th scope="col">"State"</th><th scope="col">"Last checked"</th></tr></thead>
                                <tbody>
                                    {p.connections.iter().map(|c| view! {
                                        <tr>
                                            <td><a class="link" href=format!("/admin/t/{tenant}/connections/{}", c.id)>{c.display_name.clone()}</a></td>
                                            <td><code>{c.client_id.clone()}</code></td>
                                            <td>{connection_badges(c)}</td>
                                            <td>{crate::time::when_or_dash(c.last_checked_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    {p.can_manage.then(|| view! {
                        <section class="card mt-6" aria-labelledby="add-connection">
                            <h2 id="add-connection" class="section-title">"Add a provider connection"</h2>
                            <ServerForm action={crate::forms::target::<crate::api::provider::CreateConnection>()} submit_label="Add connection".to_string() pending_label="Adding…".to_string()>
                                <input type="hidden" name="tenant" value=tenant.to_string()/>
                                {connection_fields(None, t.microsoft_tenant_id.clone())}
                                {secret_fields()}
                                <div class="field">
                                    <label><input type="checkbox" name="make_default" value="1"/> " Make it the default connection"</label>
                                </div>
                            </ServerForm>
                        </section>
                    })}
                </section>
            }
        })}
    }
    .into_any()
}

#[component]
pub fn ConnectionDetail() -> impl IntoView {
    let (Some(tenant), Some(connection)) = (
        param::<TenantId>("tenant"),
        param::<ProviderConnectionId>("connection"),
    ) else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_connection(tenant, connection), move |p: ConnectionPage| {
            let c = p.connection.clone();
            let t = p.tenant.clone();
            let missing = c.missing_permissions();
            let confirm_delete = format!("Delete the connection {}? Operations for {} will be blocked until another connection exists. Run history is kept.", c.display_name, t.display_name);
            let confirm_disable = format!("Disable {}? New operations on it will be blocked.", c.display_name);
            let (enabled, is_default) = (c.enabled, c.is_default);
            let edit_fields = connection_fields(Some(&c), String::new());
            view! {
                <Title text=format!("{} · Provider connection · Tenantry", c.display_name)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href=format!("/admin/t/{tenant}")>{t.display_name.clone()}</a> " › " <a class="link" href=format!("/admin/t/{tenant}/connections")>"Provider connections"</a></p>
                    <h1 class="page-title">{c.display_name.clone()}</h1>
                    <p>{connection_badges(&c)}</p>
                    <dl class="facts mt-4">
                        <dt>"Entra tenant id"</dt><dd><code>{c.entra_tenant_id.clone()}</code></dd>
                        <dt>"Application (client) id"</dt><dd><code>{c.client_id.clone()}</code></dd>
                        <dt>"Client secret"</dt><dd>{if c.has_secret { format!("Set {} (never shown)", c.secret_updated_at.map(crate::time::when_text).unwrap_or_else(|| "—".into())) } else { "Not set".into() }}</dd>
                        <dt>"Secret expires"</dt><dd>{c.credential_expires_at.map(crate::time::when_text).unwrap_or_else(|| "Not recorded".into())}</dd>
                        <dt>"Last checked"</dt><dd>{crate::time::when_or_dash(c.last_checked_at)} {c.last_check_reason.map(|r| format!(" — {}", r.message()))}</dd>
                        <dt>"Permissions"</dt><dd>{if c.last_checked_at.is_none() { "Not checked yet".to_string() } else if missing.is_empty() { "All required permissions granted".to_string() } else { format!("Missing: {}", missing.join(", ")) }}</dd>
                        <dt>"In use"</dt><dd>{match c.active_run { Some(r) => view! { <a class="link" href=run_link(r)>"An operation is running on it"</a> }.into_any(), None => view! { "No operation is running" }.into_any() }}</dd>
                    </dl>
                    {c.consent_unconfirmed.then(|| view! {
                        <div class="notice notice-warn mt-4" role="status" data-testid="consent-unconfirmed">
                            <p>"Microsoft reports admin consent granted for this app. Tenantry confirms it with a tenant verification; until then, operations that need consent are blocked."</p>
                            {p.can_run.then(|| view! {
                                <StartOperation tenant=tenant op_type=domain::provider::TENANT_VERIFICATION label="Verify now".to_string() connection=c.id/>
                            })}
                        </div>
                    })}
                    {(p.can_manage && !c.consent_granted).then(|| view! {
                        <section class="card mt-4" aria-labelledby="grant-consent">
                            <h2 id="grant-consent" class="section-title">"Admin consent"</h2>
                            <p class="muted">"A Global Administrator of the customer tenant grants this app its permissions on Microsoft's consent page, then comes back here."</p>
                            <p class="mt-2"><a class="btn btn-secondary" data-testid="grant-consent" href=format!("/admin/t/{tenant}/connections/{connection}/consent")>"Grant admin consent"</a></p>
                        </section>
                    })}
                    {p.can_run.then(|| view! {
                        <section class="card mt-4" aria-labelledby="connection-operations">
                            <h2 id="connection-operations" class="section-title">"Operations on this connection"</h2>
                            <div class="button-row" data-testid="connection-operations">
                                {domain::provider::TENANT_OPERATIONS.iter().map(|op| view! {
                                    <StartOperation tenant=tenant op_type=*op label=format!("Start {}", op.label().to_lowercase()) connection=c.id/>
                                }).collect_view()}
                            </div>
                        </section>
                    })}
                    {p.can_manage.then(|| view! {
                        <div class="grid-2 mt-6">
                            <section class="card" aria-labelledby="edit-connection">
                                <h2 id="edit-connection" class="section-title">"Edit"</h2>
                                <p class="help">"Changing the tenant or client id means consent must be verified again."</p>
                                <ServerForm action={crate::forms::target::<crate::api::provider::UpdateConnection>()} submit_label="Save".to_string()>
                                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                                    <input type="hidden" name="connection" value=connection.to_string()/>
                                    {edit_fields}
                                </ServerForm>
                            </section>
                            <section class="card" aria-labelledby="rotate-secret">
                                <h2 id="rotate-secret" class="section-title">"Rotate the client secret"</h2>
                                <ServerForm action={crate::forms::target::<crate::api::provider::RotateConnectionSecret>()} submit_label="Replace secret".to_string()>
                                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                                    <input type="hidden" name="connection" value=connection.to_string()/>
                                    {secret_fields()}
                                </ServerForm>
                            </section>
                            <section class="card" aria-labelledby="connection-state">
                                <h2 id="connection-state" class="section-title">"State"</h2>
                                {if enabled {
                                    view! {
                                        <ServerForm action={crate::forms::target::<crate::api::provider::SetConnectionStatus>()} submit_label="Disable connection".to_string() danger=true confirm=confirm_disable.clone() confirm_label="Disable".to_string()>
                                            <input type="hidden" name="tenant" value=tenant.to_string()/>
                                            <input type="hidden" name="connection" value=connection.to_string()/>
                                            <input type="hidden" name="enabled" value="false"/>
                                        </ServerForm>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ServerForm action={crate::forms::target::<crate::api::provider::SetConnectionStatus>()} submit_label="Enable connection".to_string()>
                                            <input type="hidden" name="tenant" value=tenant.to_string()/>
                                            <input type="hidden" name="connection" value=connection.to_string()/>
                                            <input type="hidden" name="enabled" value="true"/>
                                        </ServerForm>
                                    }.into_any()
                                }}
                                {(!is_default).then(|| view! {
                                    <div class="mt-4">
                                        <ServerForm action={crate::forms::target::<crate::api::provider::MakeDefaultConnection>()} submit_label="Make default".to_string()>
                                            <input type="hidden" name="tenant" value=tenant.to_string()/>
                                            <input type="hidden" name="connection" value=connection.to_string()/>
                                        </ServerForm>
                                    </div>
                                })}
                            </section>
                            <section class="card" aria-labelledby="delete-connection">
                                <h2 id="delete-connection" class="section-title">"Delete"</h2>
                                <p class="muted">"Removes the connection and its stored secret. Runs keep their history."</p>
                                <ServerForm action={crate::forms::target::<crate::api::provider::DeleteConnection>()} submit_label="Delete connection".to_string() danger=true confirm=confirm_delete.clone() confirm_label="Delete".to_string()>
                                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                                    <input type="hidden" name="connection" value=connection.to_string()/>
                                </ServerForm>
                            </section>
                        </div>
                    })}
                </section>
            }
        })}
    }
    .into_any()
}

#[component]
pub fn Verification() -> impl IntoView {
    let Some(tenant) = param::<TenantId>("tenant") else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_verification(tenant), move |p: VerificationPage| {
            let t = p.tenant.clone();
            view! {
                <Title text=format!("Verification · {} · Tenantry", t.display_name)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href=format!("/admin/t/{tenant}")>{t.display_name.clone()}</a></p>
                    <h1 class="page-title">"Verification report"</h1>
                    {p.can_run.then(|| view! {
                        <div id="verify" class="mt-2"><StartOperation tenant=tenant op_type=domain::provider::TENANT_VERIFICATION
                            label=if p.report.is_some() { "Verify again".to_string() } else { "Verify now".to_string() }/></div>
                    })}
                    {match p.report {
                        None => view! { <EmptyState title="Not verified yet">"Verification checks sign-in, the organization's identity and the permissions admin consent granted."</EmptyState> }.into_any(),
                        Some(r) => view! {
                            <p class="muted">"Checked " {crate::time::when(r.checked_at)} " by " <a class="link" href=run_link(r.run_id)>{format!("run #{}", r.run_id)}</a></p>
                            <table class="table mt-4">
                                <caption class="sr-only">"Checks"</caption>
                                <thead><tr><th scope="col">"Check"</th><th scope="col">"Result"</th><th scope="col">"Detail"</th></tr></thead>
                                <tbody>
                                    {r.checks.iter().map(|c| view! {
                                        <tr>
                                            <th scope="row">{c.name.clone()}</th>
                                            <td><span class=match c.status { CheckStatus::Passed => "badge badge-ok", CheckStatus::Warning => "badge badge-warn", CheckStatus::Failed => "badge badge-bad", CheckStatus::Skipped => "badge badge-muted" }>{c.status.label()}</span></td>
                                            <td>{c.detail.clone()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }}
                </section>
            }
        })}
    }
    .into_any()
}

fn browse_url(p: &BrowsePage, page: i64) -> String {
    let tenant = p.tenant.id;
    let mut url = p.kind.path(tenant);
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&format!("page={page}"));
    if !p.query.is_empty() {
        url.push_str(&format!("&q={}", urlencode(&p.query)));
    }
    if let Some(s) = &p.state {
        url.push_str(&format!("&state={s}"));
    }
    url
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A paged, searchable table of one kind of provider data.
#[component]
fn Browse(kind: BrowseKind) -> impl IntoView {
    let Some(tenant) = param::<TenantId>("tenant") else {
        return view! { <NotFound/> }.into_any();
    };
    let query = use_query_map();
    let (q, state, page) = query.with_untracked(|m| {
        (
            m.get("q"),
            m.get("state"),
            m.get("page").and_then(|p| p.parse::<i64>().ok()),
        )
    });
    let kind = if matches!(
        kind,
        BrowseKind::DeviceConfigurations
            | BrowseKind::CompliancePolicies
            | BrowseKind::ManagedDevices
    ) {
        query
            .with_untracked(|m| m.get("kind"))
            .and_then(|k| k.parse().ok())
            .filter(|k: &BrowseKind| k.source() == kind.source())
            .unwrap_or(kind)
    } else {
        kind
    };
    view! {
        {load(api::load_browse(tenant, kind, q, state, page), move |p: BrowsePage| {
            let t = p.tenant.clone();
            let title = p.kind.label();
            let siblings: Vec<BrowseKind> = BrowseKind::ALL.into_iter().filter(|k| k.source() == p.kind.source()).collect();
            let action = p.kind.path(tenant);
            let (action_path, kind_field) = match action.split_once("?kind=") {
                Some((path, k)) => (path.to_string(), Some(k.to_string())),
                None => (action.clone(), None),
            };
            let pages = p.pages();
            view! {
                <Title text=format!("{title} · {} · Tenantry", t.display_name)/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href=format!("/admin/t/{tenant}")>{t.display_name.clone()}</a></p>
                    <h1 class="page-title">{title}</h1>
                    {p.can_run.then(|| view! {
                        <div class="mt-2" data-testid="browse-sync"><StartOperation tenant=tenant op_type=p.kind.source()
                            label=format!("Start {}", p.kind.source().label().to_lowercase())/></div>
                    })}
                    {(siblings.len() > 1).then(|| view! {
                        <nav class="tabs" aria-label="Inventory kinds">
                            {siblings.iter().map(|k| view! {
                                <a class=if *k == p.kind { "tab tab-active" } else { "tab" } aria-current=if *k == p.kind { Some("page") } else { None } href=k.path(tenant)>{k.label()}</a>
                            }).collect_view()}
                        </nav>
                    })}
                    {match p.taken_at {
                        None => view! {
                            <EmptyState title="Nothing synced yet">
                                {format!("Run {} to fill this list.", p.kind.source().label().to_lowercase())}
                            </EmptyState>
                        }.into_any(),
                        Some(at) => view! {
                            <p class="muted">"As of " {crate::time::when(at)} {p.run_id.map(|r| view! { " · " <a class="link" href=run_link(r)>{format!("run #{r}")}</a> })}</p>
                            <form method="get" action=action_path.clone() class="search-form" role="search">
                                {kind_field.clone().map(|k| view! { <input type="hidden" name="kind" value=k/> })}
                                {p.state.clone().map(|s| view! { <input type="hidden" name="state" value=s/> })}
                                <label for="browse-q" class="sr-only">"Search by name"</label>
                                <input id="browse-q" name="q" type="search" class="input" value=p.query.clone() placeholder="Search by name"/>
                                <button type="submit" class="btn btn-secondary">"Search"</button>
                            </form>
                            {(!p.facets.is_empty()).then(|| view! {
                                <nav class="tabs" aria-label="Compliance state">
                                    <a class=if p.state.is_none() { "tab tab-active" } else { "tab" } href=format!("/admin/t/{tenant}/compliance")>"All"</a>
                                    {p.facets.iter().map(|(s, n)| view! {
                                        <a class=if p.state.as_deref() == Some(s.as_str()) { "tab tab-active" } else { "tab" } href=format!("/admin/t/{tenant}/compliance?state={s}")>{format!("{s} ({n})")}</a>
                                    }).collect_view()}
                                </nav>
                            })}
                            {if p.rows.is_empty() {
                                view! { <EmptyState title="No matches">"Nothing matches this search. Clear it to see everything."</EmptyState> }.into_any()
                            } else {
                                view! {
                                    <table class="table mt-4">
                                        <caption class="sr-only">{title}</caption>
                                        <thead><tr>{p.kind.columns().iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}</tr></thead>
                                        <tbody>
                                            {p.rows.iter().map(|r| view! { <tr>{r.iter().map(|c| view! { <td>{c.clone()}</td> }).collect_view()}</tr> }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                            <nav class="pager" aria-label="Pages">
                                <span>{format!("{} result(s) · page {} of {}", p.total, p.page, pages)}</span>
                                {(p.page > 1).then(|| view! { <a class="link" href=browse_url(&p, p.page - 1)>"Previous"</a> })}
                                {(p.page < pages).then(|| view! { <a class="link" href=browse_url(&p, p.page + 1)>"Next"</a> })}
                            </nav>
                        }.into_any(),
                    }}
                </section>
            }
        })}
    }
    .into_any()
}

#[component]
pub fn Inventory() -> impl IntoView {
    view! { <Browse kind=BrowseKind::DeviceConfigurations/> }
}

#[component]
pub fn Compliance() -> impl IntoView {
    view! { <Browse kind=BrowseKind::DeviceCompliance/> }
}

#[component]
pub fn Groups() -> impl IntoView {
    view! { <Browse kind=BrowseKind::Groups/> }
}

#[component]
pub fn Roles() -> impl IntoView {
    view! { <Browse kind=BrowseKind::Roles/> }
}

/// A start button for one operation. It asks the one start gate (through
/// `/api/operations/start`) and shows the shared presenter's toast in place:
/// the public word (queued, already running, scope busy, blocked), what
/// happened, the next steps and a link to the run. Without JavaScript the form
/// posts and the browser lands on the run.
#[component]
pub fn StartOperation(
    tenant: TenantId,
    op_type: domain::runs::OperationType,
    label: String,
    /// A specific connection (default: the tenant's default connection).
    #[prop(optional)]
    connection: Option<domain::ids::ProviderConnectionId>,
) -> impl IntoView {
    let pending_label = format!("Starting {}…", label.to_lowercase());
    view! {
        <div class="start-operation">
            <GateForm action={crate::forms::target::<crate::api::provider::StartOperation>()} submit_label=label pending_label=pending_label secondary=true>
                <input type="hidden" name="tenant" value=tenant.to_string()/>
                <input type="hidden" name="op_type" value=op_type.as_str()/>
                {connection.map(|c| view! { <input type="hidden" name="connection" value=c.to_string()/> })}
            </GateForm>
        </div>
    }
}

/// Next steps on a server-rendered page (never inside another form): a
/// step that starts an operation is a one-click button through the gate
/// when the member may start it, else its link.
pub fn next_steps_startable(
    steps: Vec<domain::runs::next_steps::NextStep>,
    class: &'static str,
    can_start: bool,
) -> impl IntoView {
    (!steps.is_empty()).then(|| {
        view! {
            <ul class=class data-testid="next-steps">
                {steps.into_iter().map(|s| match (s.start, can_start) {
                    (Some(start), true) => view! {
                        <li>{s.text} " "
                            <StartOperation tenant=start.tenant op_type=start.op_type label=start.label/>
                        </li>
                    }.into_any(),
                    _ => view! {
                        <li>{s.text} {s.link.map(|l| view! { " " <a class="link" href=l.href>{l.label}</a> })}</li>
                    }.into_any(),
                }).collect_view()}
            </ul>
        }
    })
}
