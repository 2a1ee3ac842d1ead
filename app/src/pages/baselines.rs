//! Baselines: the list with capture, the alignment matrix (one page per
//! baseline), the edit page (a new version per save), a tenant's alignment
//! with accepted deviations, and *bring in line*'s preview and typed
//! confirmation. Server-rendered; only the forms are islands.

use crate::api::baselines as api;
use crate::components::{EmptyState, NoWorkspace, NotFound, load};
use crate::forms::{GateForm, ServerForm, target};
use domain::baselines::{
    AlignPreview, BaselinePage, BaselinesPage, CellState, CellView, EditPage, Rule,
    TenantAlignment, kind_label, percent,
};
use domain::ids::{BaselineId, TenantId};
use leptos::prelude::*;
use leptos_meta::Title;

fn param<T: std::str::FromStr>(name: &str) -> Option<T> {
    leptos_router::hooks::use_params_map()
        .read_untracked()
        .get(name)
        .and_then(|v| v.parse().ok())
}

fn badge(state: CellState) -> impl IntoView {
    view! { <span class=state.badge() data-state=state.as_str()>{state.label()}</span> }
}

/// A cell a bring in line is working on (its restore, then the re-read).
fn aligning_badge() -> impl IntoView {
    view! {
        <span class="badge badge-info" data-testid="aligning" title="A bring in line is restoring this policy; the cell is compared again right after">
            "Being brought in line"
        </span>
    }
}

fn breadcrumb(id: BaselineId, name: String) -> impl IntoView {
    view! {
        <p class="breadcrumb"><a class="link" href="/admin/baselines">"Baselines"</a> " › "
            <a class="link" href=format!("/admin/baselines/{id}")>{name}</a></p>
    }
}

fn list(p: BaselinesPage) -> impl IntoView {
    let ws = p.workspace;
    let capture = p.can_manage.then(|| {
        let ready = p.templates.iter().any(|t| t.policies.is_some());
        view! {
            <section class="card mt-4" aria-labelledby="capture-title">
                <h2 id="capture-title" class="section-title">"Capture a baseline"</h2>
                <p class="muted text-sm">"A baseline starts as every policy of one tenant's latest inventory (the template tenant), each setting compared exactly except descriptions. Edit it afterwards: drop policies, choose per setting whether it must equal, must only exist, or is not compared."</p>
                {if ready {
                    view! {
                        <ServerForm action={target::<api::CaptureBaseline>()} submit_label="Capture".to_string() pending_label="Capturing…".to_string()>
                            <input type="hidden" name="workspace" value=ws.to_string()/>
                            <div class="field">
                                <label for="baseline-name">"Name"</label>
                                <input id="baseline-name" name="name" class="input" required maxlength="80" placeholder="e.g. Managed services standard"/>
                            </div>
                            <div class="field">
                                <label for="baseline-template">"Template tenant"</label>
                                <select id="baseline-template" name="template" class="input" required>
                                    {p.templates.iter().map(|t| {
                                        let words = match t.policies {
                                            Some(n) => format!("{} ({n} policies)", t.name),
                                            None => format!("{} (no inventory yet)", t.name),
                                        };
                                        view! { <option value=t.tenant.to_string() disabled=t.policies.is_none()>{words}</option> }
                                    }).collect_view()}
                                </select>
                            </div>
                        </ServerForm>
                    }.into_any()
                } else {
                    view! { <p class="muted">"No tenant has an inventory yet: run an inventory sync on the tenant whose policies are your standard, then capture it here."</p> }.into_any()
                }}
            </section>
        }
    });
    let body = if p.baselines.is_empty() {
        view! {
            <EmptyState title="No baselines yet">"A baseline is your standard for tenants' policies. Capture one from the tenant that is set up the way you want the others to be."</EmptyState>
        }.into_any()
    } else {
        view! {
            <table class="table mt-4" data-testid="baselines">
                <caption class="sr-only">"Baselines"</caption>
                <thead><tr>
                    <th scope="col">"Baseline"</th><th scope="col">"Version"</th><th scope="col">"Policies"</th>
                    <th scope="col">"Template"</th><th scope="col">"Tenants"</th><th scope="col">"Alignment"</th><th scope="col">"Changed"</th>
                </tr></thead>
                <tbody>
                    {p.baselines.into_iter().map(|b| view! {
                        <tr data-baseline=b.id.to_string()>
                            <th scope="row"><a class="link" href=format!("/admin/baselines/{}", b.id)>{b.name.clone()}</a></th>
                            <td>{format!("v{}", b.version)}</td>
                            <td>{b.items}</td>
                            <td>{b.template_name.clone()}</td>
                            <td>{format!("{} assigned · {} compared", b.assigned_tenants, b.compared_tenants)}</td>
                            <td data-alignment=b.aligned_percent.map(|p| p.to_string()).unwrap_or_default()>
                                {b.aligned_percent.map(|p| format!("{p} % aligned")).unwrap_or_else(|| "not compared".into())}
                            </td>
                            <td>{crate::time::when(b.changed_at)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    };
    view! { {body} {capture} }
}

/// `/admin/baselines`.
#[component]
pub fn Baselines() -> impl IntoView {
    view! {
        <Title text="Baselines · Tenantry"/>
        <section class="page">
            <h1 class="page-title">"Baselines"</h1>
            <p class="muted">"Your standards for tenants' policies, and how far each tenant is from them."</p>
            {load(api::load_baselines(), |p: Option<BaselinesPage>| match p {
                None => view! { <NoWorkspace/> }.into_any(),
                Some(p) => list(p).into_any(),
            })}
        </section>
    }
}

fn matrix_filters(p: &BaselinePage) -> impl IntoView + use<> {
    let base = format!("/admin/baselines/{}", p.id);
    let f = p.filter.clone();
    let narrowed = f.tag.is_some() || f.state.is_some();
    view! {
        <form method="get" action=base.clone() class="filters" aria-label="Filter the matrix">
            {(!p.tags.is_empty()).then(|| view! {
                <div class="field">
                    <label for="m-tag">"Tag"</label>
                    <select id="m-tag" name="tag" class="input">
                        <option value="" selected=f.tag.is_none()>"Any tag"</option>
                        {p.tags.iter().map(|(id, name)| view! { <option value=id.to_string() selected=f.tag == Some(*id)>{name.clone()}</option> }).collect_view()}
                    </select>
                </div>
            })}
            <div class="field">
                <label for="m-state">"Tenants with a cell that is"</label>
                <select id="m-state" name="state" class="input">
                    <option value="" selected=f.state.is_none()>"Any state"</option>
                    {CellState::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=f.state == Some(s)>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="filter-actions">
                <button type="submit" class="btn btn-primary">"Apply filters"</button>
                {narrowed.then(|| view! { <a class="link" href=base.clone()>"Clear filters"</a> })}
            </div>
        </form>
    }
}

fn matrix(p: &BaselinePage) -> impl IntoView + use<> {
    let id = p.id;
    let can_align = p.can_align;
    let items = p.items.clone();
    let heads = items.clone();
    let rows = p.rows.clone();
    let row_count = rows.len();
    let columns = p.columns.clone();
    let version = p.version;
    let deviating = rows.iter().any(|r| {
        r.cells
            .iter()
            .zip(&r.aligning)
            .any(|(c, busy)| c.deviates() && !busy)
    });
    view! {
        <div class="table-scroll mt-4">
            <table class="table matrix" data-testid="matrix" data-rows=row_count data-tenants=p.tenants>
                <caption class="sr-only">{format!("Alignment of {} tenants with {} policies", p.tenants, items.len())}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Tenant"</th>
                        <th scope="col">"Counts"</th>
                        {heads.into_iter().map(|i| view! {
                            <th scope="col" data-item=i.no title=format!("{} · {}", i.display_name, kind_label(&i.kind))>
                                <span class="matrix-head">{i.display_name.clone()}</span>
                            </th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let t = r.tenant;
                        let stale = r.compared_version.is_some_and(|v| v != version);
                        let tenant_name = r.name.clone();
                        let cells: Vec<(CellState, bool)> =
                            r.cells.iter().copied().zip(r.aligning.iter().copied()).collect();
                        let items = items.clone();
                        view! {
                            <tr data-tenant=t.to_string()>
                                <th scope="row">
                                    <a class="link" href=format!("/admin/baselines/{id}/t/{t}")>{r.name.clone()}</a>
                                    {stale.then(|| view! { " " <span class="badge badge-muted" title="Compared with an earlier version; a new comparison is due">{format!("v{}", r.compared_version.unwrap_or_default())}</span> })}
                                </th>
                                <td class="text-sm" data-counts=format!("{}/{}/{}/{}/{}", r.counts.aligned, r.counts.different, r.counts.missing, r.counts.accepted, r.counts.not_compared)>
                                    {r.counts.words()}
                                    {(r.extras > 0).then(|| format!(" · {} extra", r.extras))}
                                </td>
                                {cells.into_iter().zip(items).map(|((c, busy), i)| {
                                    let href = format!("/admin/baselines/{id}/t/{t}#item-{}", i.no);
                                    let label = format!("Bring {} in line on {}", i.display_name, tenant_name);
                                    view! {
                                        <td data-item=i.no data-state=c.as_str() data-aligning=busy.to_string()>
                                            <span class="cell">
                                                {(can_align && c.deviates() && !busy).then(|| view! {
                                                    <input type="checkbox" class="checkbox" form="align-form" name="cells" value=format!("{t}:{}", i.no) aria-label=label/>
                                                })}
                                                <a href=href class="link">{badge(c)}</a>
                                                {busy.then(aligning_badge)}
                                            </span>
                                        </td>
                                    }
                                }).collect_view()}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th scope="row">"All tenants"</th>
                        <td class="text-sm">{p.totals.words()}</td>
                        {columns.into_iter().zip(p.items.clone()).map(|(c, i)| {
                            let pct = percent(c.aligned, c.total());
                            view! {
                                <td class="text-sm" data-item=i.no data-aligned=c.aligned data-different=c.different data-missing=c.missing data-accepted=c.accepted data-not-compared=c.not_compared>
                                    {pct.map(|p| format!("{p} % aligned")).unwrap_or_else(|| "—".into())}
                                    <span class="sr-only">{format!(": {}", c.words())}</span>
                                </td>
                            }
                        }).collect_view()}
                    </tr>
                </tfoot>
            </table>
        </div>
        {(can_align && deviating).then(|| view! {
            <form id="align-form" method="get" action=format!("/admin/baselines/{id}/align") class="mt-2">
                <button type="submit" class="btn btn-secondary">"Preview bringing the checked cells in line"</button>
                <p class="muted text-sm">"Nothing is written yet: the next page shows what would change in each tenant and asks you to confirm."</p>
            </form>
        })}
    }
}

fn assignments(p: &BaselinePage) -> impl IntoView + use<> {
    let id = p.id;
    let can_manage = p.can_manage;
    let list = p.assignments.clone();
    let targets = p.targets.clone();
    view! {
        <section class="card mt-6" id="assignments" aria-labelledby="assign-title">
            <h2 id="assign-title" class="section-title">"Applies to"</h2>
            {if list.is_empty() {
                view! { <p class="muted" data-testid="no-assignments">"Not assigned yet: no tenant is compared with this baseline."</p> }.into_any()
            } else {
                view! {
                    <ul class="data-list">
                        {list.into_iter().map(|a| view! {
                            <li data-assignment=a.id>{a.label.clone()}
                                {can_manage.then(|| view! {
                                    " " <ServerForm action={target::<api::UnassignBaseline>()} submit_label="Remove".to_string() inline=true danger=true
                                        confirm=format!("Stop comparing {} with this baseline? Its earlier comparisons are kept.", a.label)>
                                        <input type="hidden" name="baseline" value=id.to_string()/>
                                        <input type="hidden" name="assignment" value=a.id.to_string()/>
                                    </ServerForm>
                                })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {can_manage.then(|| view! {
                <ServerForm action={target::<api::AssignBaseline>()} submit_label="Assign".to_string()>
                    <input type="hidden" name="baseline" value=id.to_string()/>
                    <div class="field">
                        <label for="assign-target">"Assign to"</label>
                        <select id="assign-target" name="target" class="input">
                            {targets.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                        </select>
                    </div>
                </ServerForm>
            })}
        </section>
    }
}

fn baseline_page(p: BaselinePage) -> impl IntoView {
    let id = p.id;
    let name = p.name.clone();
    let versions = p.versions.clone();
    let filters = matrix_filters(&p);
    let body = if p.items.is_empty() {
        view! { <p class="muted">"This baseline has no policies."</p> }.into_any()
    } else if p.rows.is_empty() {
        view! {
            <p class="muted mt-4" data-testid="matrix-empty">{if p.filter.tag.is_some() || p.filter.state.is_some() {
                "No tenant matches these filters."
            } else if p.assignments.is_empty() {
                "Assign the baseline to tenants (below) to see how they compare."
            } else {
                "No active tenant you may see is assigned this baseline."
            }}</p>
        }.into_any()
    } else {
        matrix(&p).into_any()
    };
    let next = p.next.clone().map(|q| {
        view! { <p class="mt-2"><a class="link" href=format!("/admin/baselines/{id}?{q}")>"Next tenants"</a></p> }
    });
    let compare = (p.can_compare && !p.assignments.is_empty()).then(|| {
        view! {
            <GateForm action={target::<api::CompareBaselineNow>()} submit_label="Compare now".to_string()
                pending_label="Starting…".to_string() secondary=true>
                <input type="hidden" name="baseline" value=id.to_string()/>
            </GateForm>
        }
    });
    let assign = assignments(&p);
    let manage = p.can_manage.then(|| {
        let confirm_label = format!("Type {} to confirm", name);
        view! {
            <section class="card mt-6" aria-labelledby="delete-title">
                <h2 id="delete-title" class="section-title">"Delete this baseline"</h2>
                <p class="muted text-sm">"Deletes its versions, comparisons and accepted deviations. Tenants are not changed."</p>
                <ServerForm action={target::<api::DeleteBaseline>()} submit_label="Delete baseline".to_string() danger=true
                    confirm="Delete this baseline with its history? This cannot be undone.".to_string()>
                    <input type="hidden" name="baseline" value=id.to_string()/>
                    <div class="field">
                        <label for="delete-confirm">{confirm_label}</label>
                        <input id="delete-confirm" name="confirm_name" class="input" required autocomplete="off" spellcheck="false"/>
                    </div>
                </ServerForm>
            </section>
        }
    });
    view! {
        <p class="muted" data-testid="matrix-summary">
            {format!(
                "Version {} · {} {} · {} {} · ",
                p.version,
                p.items.len(),
                if p.items.len() == 1 { "policy" } else { "policies" },
                p.tenants,
                if p.tenants == 1 { "tenant" } else { "tenants" }
            )}
            {p.totals.words()}
        </p>
        <div class="flex flex-wrap gap-2 items-center">
            {compare}
            {p.can_manage.then(|| view! { <a class="btn btn-secondary" href=format!("/admin/baselines/{id}/edit")>"Edit policies and rules"</a> })}
        </div>
        {filters}
        {body}
        {next}
        {assign}
        <section class="card mt-6" aria-labelledby="versions-title">
            <h2 id="versions-title" class="section-title">"Versions"</h2>
            <ol class="data-list" data-testid="versions">
                {versions.into_iter().map(|v| view! {
                    <li data-version=v.version>
                        <strong>{format!("v{}", v.version)}</strong> " · " {v.note.clone()}
                        <span class="muted text-sm">{format!(" · {} policies · {} · {}", v.items, crate::time::when_text(v.created_at), v.created_by.clone().unwrap_or_else(|| "former member".into()))}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
        {manage}
    }
}

/// `/admin/baselines/:baseline`: the alignment matrix.
#[component]
pub fn BaselineMatrix() -> impl IntoView {
    let Some(id) = param::<BaselineId>("baseline") else {
        return view! { <NotFound/> }.into_any();
    };
    let query = crate::pages::operations::current_query()
        .trim_start_matches('?')
        .to_string();
    view! {
        {load(api::load_baseline(id, query), move |p: BaselinePage| {
            let name = p.name.clone();
            view! {
                <Title text=format!("{name} · Baselines · Tenantry")/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/baselines">"Baselines"</a></p>
                    <h1 class="page-title">{name.clone()}</h1>
                    {baseline_page(p)}
                </section>
            }
        })}
    }
    .into_any()
}

fn edit_view(p: EditPage) -> impl IntoView {
    let id = p.id;
    let version = p.version;
    let single = p.items.len() == 1;
    view! {
        <p class="muted">{format!("Version {version}. Each save makes version {}: tenants are then compared with it.", version + 1)}</p>
        {p.items.into_iter().map(|item| {
            let no = item.no;
            let name = item.display_name.clone();
            view! {
                <section class="card mt-4" id=format!("item-{no}") aria-labelledby=format!("item-{no}-title") data-item=no>
                    <h2 id=format!("item-{no}-title") class="section-title">{item.display_name.clone()}
                        <span class="muted text-sm">" · " {kind_label(&item.kind)}</span></h2>
                    <ServerForm action={target::<api::SetBaselineRules>()} submit_label="Save as a new version".to_string() pending_label="Saving…".to_string()>
                        <input type="hidden" name="baseline" value=id.to_string()/>
                        <input type="hidden" name="version" value=version.to_string()/>
                        <input type="hidden" name="item" value=no.to_string()/>
                        <table class="table table-compact">
                            <caption class="sr-only">{format!("Rules for the settings of {}", item.display_name)}</caption>
                            <thead><tr><th scope="col">"Setting"</th><th scope="col">"Baseline value"</th><th scope="col">"Rule"</th></tr></thead>
                            <tbody>
                                {item.settings.into_iter().enumerate().map(|(i, s)| {
                                    let field = format!("rule-{no}-{i}");
                                    let setting = s.setting.clone();
                                    view! {
                                        <tr data-setting=s.setting.clone()>
                                            <th scope="row"><label for=field.clone()><code>{s.setting.clone()}</code></label></th>
                                            <td><code>{s.value.clone()}</code></td>
                                            <td>
                                                <select id=field name=format!("rules[{i}]") class="input">
                                                    {Rule::ALL.into_iter().map(|r| view! {
                                                        <option value=format!("{setting}={}", r.as_str()) selected=s.rule == r>{r.label()}</option>
                                                    }).collect_view()}
                                                </select>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <div class="field">
                            <label for=format!("note-{no}")>"Note for this version (optional)"</label>
                            <input id=format!("note-{no}") name="note" class="input" maxlength="500"/>
                        </div>
                    </ServerForm>
                    {(!single).then(|| view! {
                        <ServerForm action={target::<api::DropBaselineItem>()} submit_label="Drop this policy".to_string() danger=true inline=true
                            confirm=format!("Drop {name} from the baseline? It is saved as a new version; earlier versions keep it.")>
                            <input type="hidden" name="baseline" value=id.to_string()/>
                            <input type="hidden" name="version" value=version.to_string()/>
                            <input type="hidden" name="item" value=no.to_string()/>
                        </ServerForm>
                    })}
                </section>
            }
        }).collect_view()}
    }
}

/// `/admin/baselines/:baseline/edit`.
#[component]
pub fn BaselineEdit() -> impl IntoView {
    let Some(id) = param::<BaselineId>("baseline") else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_baseline_edit(id), move |p: EditPage| {
            let name = p.name.clone();
            view! {
                <Title text=format!("Edit {name} · Baselines · Tenantry")/>
                <section class="page">
                    {breadcrumb(id, name.clone())}
                    <h1 class="page-title">{format!("Edit {name}")}</h1>
                    {edit_view(p)}
                </section>
            }
        })}
    }
    .into_any()
}

fn cell_view(c: CellView, can_manage: bool, baseline: BaselineId) -> impl IntoView {
    let no = c.no;
    view! {
        <article class="card mt-3" id=format!("item-{no}") data-item=no data-state=c.state.as_str()>
            <h3 class="font-medium">{c.display_name.clone()} " " {badge(c.state)}
                {c.aligning.then(|| view! { " " {aligning_badge()} })}
                <span class="muted text-sm">" · " {kind_label(&c.kind)}</span></h3>
            {match c.compared_state {
                CellState::Missing => Some(view! { <p class="muted text-sm">"The tenant has no policy of this kind with this name."</p> }.into_any()),
                CellState::NotCompared => Some(view! { <p class="muted text-sm">"Not compared yet with this version of the baseline."</p> }.into_any()),
                _ => None,
            }}
            {(!c.settings.is_empty()).then(|| view! {
                <table class="table table-compact mt-1">
                    <caption class="sr-only">{format!("Settings of {} that differ", c.display_name)}</caption>
                    <thead><tr><th scope="col">"Setting"</th><th scope="col">"Baseline"</th><th scope="col">"This tenant"</th></tr></thead>
                    <tbody>
                        {c.settings.iter().map(|s| view! {
                            <tr data-setting=s.setting.clone()>
                                <th scope="row"><code>{s.setting.clone()}</code></th>
                                <td><code>{s.before.clone().unwrap_or_default()}</code></td>
                                <td>{match s.after.clone() { Some(v) => view! { <code>{v}</code> }.into_any(), None => view! { <span class="muted">"(not set)"</span> }.into_any() }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {c.acceptance.map(|a| view! {
                <p class="text-sm mt-1" data-testid="acceptance">
                    {format!("Accepted by {} on {}: “{}”", a.accepted_by.clone().unwrap_or_else(|| "a former member".into()), crate::time::when_text(a.accepted_at), a.note)}
                    {match a.expires_at { Some(e) => format!(" · until {}", crate::time::when_text(e)), None => " · no expiry".to_string() }}
                </p>
                {can_manage.then(|| view! {
                    <ServerForm action={target::<api::RevokeAcceptance>()} submit_label="Revoke acceptance".to_string() inline=true
                        confirm="Revoke this acceptance? The cell shows its compared state again.".to_string()>
                        <input type="hidden" name="baseline" value=baseline.to_string()/>
                        <input type="hidden" name="acceptance" value=a.id.to_string()/>
                    </ServerForm>
                })}
            })}
        </article>
    }
}

fn tenant_view(a: TenantAlignment) -> impl IntoView {
    let baseline = a.baseline;
    let tenant = a.tenant;
    let can_manage = a.can_manage;
    let open: Vec<(i64, String)> = a
        .cells
        .iter()
        .filter(|c| c.state.deviates() && !c.aligning)
        .map(|c| (c.no, c.display_name.clone()))
        .collect();
    let compared = match (a.compared_at, a.compared_version, a.run) {
        (Some(at), Some(v), Some(run)) => view! {
            <p class="muted">{format!("Compared with version {v} at {} · ", crate::time::when_text(at))}
                <a class="link" href=domain::runs::presenter::run_link(run)>{format!("run #{run}")}</a>
                {(v != a.version).then(|| format!(" · the baseline is at version {} now: a new comparison is due", a.version))}
            </p>
        }.into_any(),
        _ => view! { <p class="muted">"Not compared with this baseline yet."</p> }.into_any(),
    };
    let align_href = format!(
        "/admin/baselines/{baseline}/align?cells={}",
        open.iter()
            .map(|(no, _)| format!("{tenant}:{no}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    view! {
        {compared}
        {(!a.assigned).then(|| view! { <p class="badge badge-warn">"The baseline no longer applies to this tenant."</p> })}
        <p data-testid="tenant-counts" data-aligned=a.counts.aligned data-different=a.counts.different data-missing=a.counts.missing data-accepted=a.counts.accepted>
            {a.counts.words()}
        </p>
        {(a.can_align && !open.is_empty()).then(|| view! {
            <p><a class="btn btn-secondary" href=align_href>{format!("Bring {} deviating {} in line…", open.len(), if open.len() == 1 { "policy" } else { "policies" })}</a></p>
        })}
        {(can_manage && !open.is_empty()).then(|| view! {
            <section class="card mt-4" aria-labelledby="accept-title">
                <h2 id="accept-title" class="section-title">"Accept deviations"</h2>
                <p class="muted text-sm">"An accepted deviation shows as accepted (not aligned) until it expires or is revoked. Check none to accept every deviation of this tenant."</p>
                <ServerForm action={target::<api::AcceptDeviation>()} submit_label="Accept".to_string()>
                    <input type="hidden" name="baseline" value=baseline.to_string()/>
                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                    <fieldset class="field">
                        <legend>"Policies"</legend>
                        {open.into_iter().enumerate().map(|(i, (no, name))| view! {
                            <label class="block"><input type="checkbox" class="checkbox" name=format!("items[{i}]") value=no.to_string()/> " " {name}</label>
                        }).collect_view()}
                    </fieldset>
                    <div class="field">
                        <label for="accept-note">"Why (kept in the audit log)"</label>
                        <textarea id="accept-note" name="note" class="input" required maxlength="500"></textarea>
                    </div>
                    <div class="field">
                        <label for="accept-expiry">"Accepted until (optional)"</label>
                        <input id="accept-expiry" name="expires_on" type="date" class="input"/>
                    </div>
                </ServerForm>
            </section>
        })}
        {a.cells.into_iter().map(|c| cell_view(c, can_manage, baseline)).collect_view()}
        {(!a.extras.is_empty()).then(|| view! {
            <section class="card mt-4" aria-labelledby="extras-title">
                <h2 id="extras-title" class="section-title">{format!("Policies not in the baseline ({})", a.extras.len())}</h2>
                <ul class="data-list text-sm" data-testid="extras">{a.extras.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
            </section>
        })}
    }
}

/// `/admin/baselines/:baseline/t/:tenant`: one tenant against the baseline.
#[component]
pub fn TenantAlignmentPage() -> impl IntoView {
    let (Some(id), Some(tenant)) = (param::<BaselineId>("baseline"), param::<TenantId>("tenant"))
    else {
        return view! { <NotFound/> }.into_any();
    };
    view! {
        {load(api::load_tenant_alignment(id, tenant), move |a: TenantAlignment| {
            let title = format!("{} · {}", a.tenant_name, a.baseline_name);
            view! {
                <Title text=format!("{title} · Tenantry")/>
                <section class="page">
                    {breadcrumb(id, a.baseline_name.clone())}
                    <h1 class="page-title">{a.tenant_name.clone()}</h1>
                    {tenant_view(a)}
                </section>
            }
        })}
    }
    .into_any()
}

/// The `cells` of the page's query (checkboxes send one `cells` each).
fn cells_of(query: &str) -> String {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|p| p.strip_prefix("cells="))
        .map(|v| {
            v.replace("%3A", ":")
                .replace("%3a", ":")
                .replace("%2C", ",")
                .replace("%2c", ",")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn align_view(p: AlignPreview) -> impl IntoView {
    let id = p.baseline;
    let n: usize = p.tenants.len();
    let writes: usize = p
        .tenants
        .iter()
        .flat_map(|t| &t.items)
        .filter(|i| i.action != domain::restore::PreviewAction::Unchanged)
        .count();
    let confirm_label = format!("Type {} to confirm", p.name);
    view! {
        <p>{format!("{n} {} · {writes} {} would be written.", if n == 1 { "tenant" } else { "tenants" }, if writes == 1 { "policy" } else { "policies" })}
            {(p.skipped > 0).then(|| format!(" {} chosen cell(s) left out: aligned, accepted or not compared.", p.skipped))}</p>
        <p class="muted text-sm">"Read from each tenant's latest inventory. Each restore reads the tenant again when it runs and writes only what still differs; settings the baseline does not compare are left as they are."</p>
        {p.tenants.into_iter().map(|t| view! {
            <section class="card mt-4" data-tenant=t.tenant.to_string() aria-labelledby=format!("align-{}", t.tenant)>
                <h2 id=format!("align-{}", t.tenant) class="section-title">{t.name.clone()}</h2>
                {t.blocked.map(|r| view! { <p class="badge badge-bad" data-testid="align-blocked">{format!("Restore is blocked here now: {}", r.message())}</p> })}
                {t.items.into_iter().map(|i| view! {
                    <article class="mt-2" data-item=i.no>
                        <h3 class="font-medium">{i.display_name.clone()} " " <span class="badge">{i.action.label()}</span>
                            <span class="muted text-sm">" · " {kind_label(&i.kind)}</span></h3>
                        {(!i.changes.is_empty() && i.action != domain::restore::PreviewAction::Unchanged).then(|| view! {
                            <table class="table diff-table mt-1">
                                <caption class="sr-only">{format!("Settings of {}", i.display_name)}</caption>
                                <thead><tr><th scope="col">"Setting"</th><th scope="col">"In the tenant now"</th><th scope="col">"After"</th></tr></thead>
                                <tbody>
                                    {i.changes.into_iter().map(|c| view! {
                                        <tr><th scope="row"><code>{c.setting}</code></th>
                                            <td class="was">{c.current.unwrap_or_else(|| "(not set)".into())}</td>
                                            <td class="now">{c.restored}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    </article>
                }).collect_view()}
            </section>
        }).collect_view()}
        <section class="card mt-4" aria-labelledby="align-confirm">
            <h2 id="align-confirm" class="section-title">"Confirm"</h2>
            <p>"This writes to the customers' tenants: one restore run per tenant, each through the start gate, audited, and watched as operations."</p>
            <GateForm action={target::<api::BringInLine>()} submit_label=format!("Bring in line on {n} {}", if n == 1 { "tenant" } else { "tenants" })
                pending_label="Starting…".to_string() danger=true>
                <input type="hidden" name="baseline" value=id.to_string()/>
                <input type="hidden" name="cells" value=p.cells.clone()/>
                <div class="field">
                    <label for="align-confirm-name">{confirm_label}</label>
                    <input id="align-confirm-name" name="confirm_name" required class="input" autocomplete="off" spellcheck="false"/>
                </div>
            </GateForm>
        </section>
    }
}

/// `/admin/baselines/:baseline/align?cells=…`: the preview and confirmation.
#[component]
pub fn BaselineAlign() -> impl IntoView {
    let Some(id) = param::<BaselineId>("baseline") else {
        return view! { <NotFound/> }.into_any();
    };
    let cells = cells_of(&crate::pages::operations::current_query());
    view! {
        {load(api::load_align_preview(id, cells), move |p: AlignPreview| {
            let name = p.name.clone();
            view! {
                <Title text=format!("Bring in line · {name} · Tenantry")/>
                <section class="page">
                    {breadcrumb(id, name.clone())}
                    <h1 class="page-title">"Bring in line"</h1>
                    {if p.tenants.is_empty() {
                        view! { <p class="muted">"None of the chosen cells deviates now: nothing to bring in line."</p> }.into_any()
                    } else {
                        align_view(p).into_any()
                    }}
                </section>
            }
        })}
    }
    .into_any()
}
