use crate::api;
use crate::components::{NoWorkspace, load};
use crate::forms::ServerForm;
use domain::identity::views::{MemberView, MembersPage};
use domain::rbac::Role;
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
            <td>{if m.codes_stopped {
                view! {
                    <span class="badge badge-bad" title="Too many wrong codes: only recovery codes work for them">"Codes stopped"</span>
                    {p.viewer_is_owner.then(|| view! {
                        <ServerForm action={crate::forms::target::<crate::api::AllowMemberCodes>()} submit_label="Allow codes again".to_string() inline=true
                            confirm=format!("Allow two-step codes for {} again? Do this only after you have checked with them that the wrong codes were theirs.", m.email)
                            confirm_label="Allow codes again".to_string()>
                            <input type="hidden" name="workspace" value=ws.to_string()/>
                            <input type="hidden" name="member" value=uid.to_string()/>
                        </ServerForm>
                    })}
                }.into_any()
            } else if m.mfa {
                view! { <span class="badge badge-ok">"On"</span> }.into_any()
            } else if m.sso {
                view! { <span class="badge badge-info" title="Signs in at their identity provider, which asks for its own factors">"Single sign-on"</span> }.into_any()
            } else {
                view! { <span class="badge badge-muted">"Off"</span> }.into_any()
            }}</td>
            <td>
                {if can_manage {
                    view! {
                        <ServerForm action={crate::forms::target::<crate::api::ChangeMemberRole>()} submit_label="Change".to_string() inline=true>
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
                                            <ServerForm action={crate::forms::target::<crate::api::UnassignTenant>()} submit_label="Unassign".to_string() inline=true>
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
                            <ServerForm action={crate::forms::target::<crate::api::AssignTenant>()} submit_label="Assign".to_string() inline=true>
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
            <td>{crate::time::when(m.joined_at)}</td>
            <td>
                {can_manage.then(|| view! {
                    <ServerForm action={crate::forms::target::<crate::api::RemoveMember>()} submit_label="Remove".to_string() danger=true inline=true
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

/// Whether every member must use two-step sign-in: shown to those who manage
/// members, changed by owners only.
fn sign_in_security(p: &MembersPage) -> impl IntoView + use<> {
    let ws = p.workspace.id;
    let without = p.members.iter().filter(|m| !m.mfa && !m.sso).count();
    let (state, next, label, confirm) = if p.require_mfa {
        (
            "Two-step sign-in is required: members without it are sent to set it up before anything else.",
            "off",
            "Make it optional",
            None,
        )
    } else {
        (
            "Two-step sign-in is optional: each member chooses.",
            "on",
            "Require two-step sign-in",
            Some(format!(
                "Require two-step sign-in? {without} member(s) without it will be sent to set it up before they can do anything else."
            )),
        )
    };
    view! {
        <section class="card mt-6" id="sign-in-security" aria-labelledby="security-title">
            <h2 id="security-title" class="section-title">"Sign-in security"</h2>
            <p data-testid="require-two-step" data-required=p.require_mfa.to_string()>{state}</p>
            <p class="muted text-sm">{format!("{without} of {} member(s) have it off.", p.members.len())}</p>
            {if p.viewer_is_owner {
                let fields = move || view! {
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="required" value=next/>
                };
                match confirm {
                    Some(confirm) => view! {
                        <ServerForm action={crate::forms::target::<crate::api::SetRequireTwoStep>()} submit_label=label.to_string() confirm=confirm>
                            {fields()}
                        </ServerForm>
                    }.into_any(),
                    None => view! {
                        <ServerForm action={crate::forms::target::<crate::api::SetRequireTwoStep>()} submit_label=label.to_string()>
                            {fields()}
                        </ServerForm>
                    }.into_any(),
                }
            } else {
                view! { <p class="muted text-sm">"Only owners change this."</p> }.into_any()
            }}
            {sso_requirement(p)}
        </section>
    }
}

/// Whether members must sign in with single sign-on (owners change it).
fn sso_requirement(p: &MembersPage) -> impl IntoView + use<> {
    let (Some(required), Some(name)) = (p.require_sso, p.sso_name.clone()) else {
        return ().into_any();
    };
    let ws = p.workspace.id;
    let state = if required {
        format!("{name} sign-in is required: passwords do not sign members in.")
    } else {
        format!("Members may sign in with {name} or a password.")
    };
    let control = if !p.viewer_is_owner {
        view! { <p class="muted text-sm">"Only owners change this."</p> }.into_any()
    } else if required {
        view! {
            <ServerForm action={crate::forms::target::<crate::api::SetRequireSso>()} submit_label="Allow passwords again".to_string()>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <input type="hidden" name="required" value="off"/>
            </ServerForm>
        }.into_any()
    } else {
        view! {
            <ServerForm action={crate::forms::target::<crate::api::SetRequireSso>()} submit_label=format!("Require {name} sign-in")
                confirm=format!("Require {name} sign-in? Members' passwords stop working and their password sessions end; members without a linked {name} account must link one first (Your account) or be invited again.")>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <input type="hidden" name="required" value="on"/>
            </ServerForm>
        }.into_any()
    };
    view! {
        <p class="mt-4" data-testid="require-sso" data-required=required.to_string()>{state}</p>
        {control}
    }
    .into_any()
}

/// Pending invitations with their links (for the inviter to copy and send),
/// renew and revoke.
fn invitations(p: &MembersPage) -> impl IntoView + use<> {
    let origin = crate::components::site_origin();
    let rows = p.invitations.clone();
    view! {
        <section class="card mt-6" id="invitations" aria-labelledby="pending-invitations">
            <h2 id="pending-invitations" class="section-title">"Pending invitations"</h2>
            {if rows.is_empty() {
                view! { <p class="muted">"No pending invitations."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <caption class="sr-only">"Pending invitations"</caption>
                        <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Link to send"</th><th scope="col">"Expires"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|i| {
                                let id = i.id;
                                let link_label = format!("Invitation link for {}", i.email);
                                let confirm = format!("Revoke the invitation for {}? Its link stops working at once.", i.email);
                                view! {
                                    <tr>
                                        <td>{i.email.clone()}</td>
                                        <td>{i.role.label()}{(!i.tenants.is_empty()).then(|| view! {
                                            <span class="muted text-sm">{format!(" · {}", i.tenants.join(", "))}</span>
                                        })}</td>
                                        <td>
                                            <label class="sr-only" for=format!("invite-link-{id}")>{link_label}</label>
                                            <input id=format!("invite-link-{id}") class="input input-sm" readonly value=format!("{origin}{}", i.link)/>
                                            {i.mail.as_ref().map(|d| {
                                                let failed = matches!(d, domain::views::Delivery::Failed { .. });
                                                let state = match d {
                                                    domain::views::Delivery::Queued => "queued",
                                                    domain::views::Delivery::Sent { .. } => "sent",
                                                    domain::views::Delivery::Retrying { .. } => "retrying",
                                                    domain::views::Delivery::Failed { .. } => "failed",
                                                };
                                                view! {
                                                    <p class=if failed { "text-sm text-red-800" } else { "muted text-sm" } data-mail=state>
                                                        {d.words()}
                                                        {match d {
                                                            domain::views::Delivery::Sent { at } => view! { " " {crate::time::when(*at)} }.into_any(),
                                                            _ => ().into_any(),
                                                        }}
                                                    </p>
                                                }
                                            })}
                                        </td>
                                        <td>{crate::time::when(i.expires_at)}</td>
                                        <td>
                                            <ServerForm action={crate::forms::target::<crate::api::ResendInvitation>()} submit_label="New link".to_string() inline=true>
                                                <input type="hidden" name="invitation" value=id.to_string()/>
                                            </ServerForm>
                                            <ServerForm action={crate::forms::target::<crate::api::RevokeInvitation>()} submit_label="Revoke".to_string() danger=true inline=true
                                                confirm=confirm
                                                confirm_label="Revoke invitation".to_string()>
                                                <input type="hidden" name="invitation" value=id.to_string()/>
                                            </ServerForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
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
                            <thead><tr><th scope="col">"Email"</th><th scope="col">"Two-step sign-in"</th><th scope="col">"Role"</th><th scope="col">"Tenants"</th><th scope="col">"Joined"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>{p.members.iter().map(|m| member_row(&p, m)).collect_view()}</tbody>
                        </table>
                        {p.can_manage.then(|| sign_in_security(&p))}
                        {p.can_manage.then(|| invitations(&p))}
                        {p.can_manage.then(|| view! {
                            <section class="card mt-6" aria-labelledby="invite-member">
                                <h2 id="invite-member" class="section-title">"Invite a member"</h2>
                                <p class="muted text-sm">"They get a link to accept (valid for 7 days). Nobody joins without accepting; people without a Tenantry account create one from the link."</p>
                                <ServerForm action={crate::forms::target::<crate::api::InviteMember>()} submit_label="Create invitation".to_string() pending_label="Inviting…".to_string()>
                                    <input type="hidden" name="workspace" value=ws.to_string()/>
                                    <div class="field">
                                        <label for="member-email">"Email"</label>
                                        <input id="member-email" name="email" type="email" required maxlength="254" class="input" placeholder="name@example.com"/>
                                    </div>
                                    <div class="field">
                                        <label for="member-role">"Role"</label>
                                        <select id="member-role" name="role" class="input">{role_options(Role::Operator)}</select>
                                    </div>
                                    {(!p.tenants.is_empty()).then(|| view! {
                                        <fieldset class="field">
                                            <legend>"Tenants they see"</legend>
                                            <p class="muted text-sm">"For operators and read-only members, who see only their assigned tenants (owners and managers see every tenant). You can change this later."</p>
                                            <ul class="chips">
                                                {p.tenants.iter().enumerate().map(|(i, t)| {
                                                    let id = format!("invite-tenant-{}", t.id);
                                                    view! {
                                                        <li class="chip">
                                                            <input type="checkbox" class="checkbox" id=id.clone() name=format!("tenants[{i}]") value=t.id.to_string()/>
                                                            <label for=id>{t.display_name.clone()}</label>
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        </fieldset>
                                    })}
                                </ServerForm>
                            </section>
                        })}
                    </section>
                }.into_any()
            }
        })}
    }
}
