use crate::api;
use crate::components::{NoWorkspace, load};
use crate::islands::ServerForm;
use domain::rbac::Role;
use domain::views::{MemberView, MembersPage, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .iter()
        .map(|r| view! { <option value=r.as_str() selected=*r == selected>{r.label()}</option> })
        .collect_view()
}

fn member_row(p: &MembersPage, m: &MemberView) -> impl IntoView + use<> {
    let ws = p.workspace.id;
    let uid = m.user_id;
    let is_self = m.user_id == p.viewer;
    let assigned: Vec<_> = p
        .tenants
        .iter()
        .filter(|t| m.assigned_tenants.contains(&t.id))
        .cloned()
        .collect();
    let unassigned: Vec<_> = p
        .tenants
        .iter()
        .filter(|t| !m.assigned_tenants.contains(&t.id))
        .cloned()
        .collect();
    let limited = !m.role.sees_all_tenants();
    let can_manage = p.can_manage;
    let role_label = format!("Role of {}", m.email);
    let assign_label = format!("Assign a tenant to {}", m.email);
    let role = m.role;
    let confirm_remove = format!(
        "Remove {} from {}? They lose access to its tenants at once.",
        m.email, p.workspace.name
    );
    view! {
        <tr>
            <td>{m.email.clone()}{is_self.then_some(" (you)")}</td>
            <td>
                {if can_manage {
                    view! {
                        <ServerForm action="/api/members/role".to_string() submit_label="Change".to_string() inline=true>
                            <input type="hidden" name="workspace" value=ws.to_string()/>
                            <input type="hidden" name="member" value=uid.to_string()/>
                            <label class="sr-only" for=format!("role-{uid}")>{role_label.clone()}</label>
                            <select id=format!("role-{uid}") name="role" class="input input-sm">{role_options(role)}</select>
                        </ServerForm>
                    }.into_any()
                } else {
                    view! { <span>{m.role.label()}</span> }.into_any()
                }}
            </td>
            <td>
                {if !limited {
                    view! { <span class="muted">"All tenants"</span> }.into_any()
                } else {
                    view! {
                        <ul class="chips">
                            {assigned.iter().map(|t| {
                                let tid = t.id;
                                view! {
                                    <li class="chip">{t.display_name.clone()}
                                        {can_manage.then(|| view! {
                                            <ServerForm action="/api/tenants/unassign".to_string() submit_label="Unassign".to_string() inline=true>
                                                <input type="hidden" name="tenant" value=tid.to_string()/>
                                                <input type="hidden" name="member" value=uid.to_string()/>
                                            </ServerForm>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                            {assigned.is_empty().then(|| view! { <li class="muted">"No tenants assigned"</li> })}
                        </ul>
                        {(can_manage && !unassigned.is_empty()).then(|| view! {
                            <ServerForm action="/api/tenants/assign".to_string() submit_label="Assign".to_string() inline=true>
                                <input type="hidden" name="member" value=uid.to_string()/>
                                <label class="sr-only" for=format!("assign-{uid}")>{assign_label.clone()}</label>
                                <select id=format!("assign-{uid}") name="tenant" class="input input-sm">
                                    {unassigned.iter().map(|t| view! { <option value=t.id.to_string()>{t.display_name.clone()}</option> }).collect_view()}
                                </select>
                            </ServerForm>
                        })}
                    }.into_any()
                }}
            </td>
            <td>{format_utc(m.joined_at)}</td>
            <td>
                {can_manage.then(|| view! {
                    <ServerForm action="/api/members/remove".to_string() submit_label="Remove".to_string() danger=true inline=true
                        confirm=confirm_remove.clone()
                        confirm_label="Remove member".to_string()>
                        <input type="hidden" name="workspace" value=ws.to_string()/>
                        <input type="hidden" name="member" value=uid.to_string()/>
                    </ServerForm>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn Members() -> impl IntoView {
    view! {
        <Title text="Members · Tenantry"/>
        {load(api::load_members(), |page: Option<MembersPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Members"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let ws = p.workspace.id;
                view! {
                    <section class="page">
                        <h1 class="page-title">"Members"</h1>
                        <p class="muted">"People in " {p.workspace.name.clone()} ". Operators and read-only members see only the tenants assigned to them."</p>
                        <table class="table">
                            <caption class="sr-only">"Members"</caption>
                            <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Tenants"</th><th scope="col">"Joined"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>{p.members.iter().map(|m| member_row(&p, m)).collect_view()}</tbody>
                        </table>
                        {p.can_manage.then(|| view! {
                            <section class="card mt-6" aria-labelledby="add-member">
                                <h2 id="add-member" class="section-title">"Add a member"</h2>
                                <ServerForm action="/api/members/add".to_string() submit_label="Add member".to_string() pending_label="Adding…".to_string()>
                                    <input type="hidden" name="workspace" value=ws.to_string()/>
                                    <div class="field">
                                        <label for="member-email">"Email of an existing Tenantry account"</label>
                                        <input id="member-email" name="email" type="email" required class="input" placeholder="name@example.com"/>
                                    </div>
                                    <div class="field">
                                        <label for="member-role">"Role"</label>
                                        <select id="member-role" name="role" class="input">{role_options(Role::Operator)}</select>
                                    </div>
                                </ServerForm>
                            </section>
                        })}
                    </section>
                }.into_any()
            }
        })}
    }
}
