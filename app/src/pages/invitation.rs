//! `/invite/{token}`: whoever holds an invitation link joins the workspace
//! here, with the account the invitation names or a new one for its address.

use crate::api;
use crate::components::{load, when};
use crate::forms::ServerForm;
use domain::identity::views::InvitationLanding;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Invitation() -> impl IntoView {
    let token = use_params_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default();
    view! {
        <Title text="Invitation · Tenantry"/>
        <main id="main" class="auth-main">
            <section class="auth-card" aria-labelledby="invite-title">
                <p class="brand">"Tenantry"</p>
                {load(api::load_invitation(token.clone()), move |i: InvitationLanding| landing(i, token.clone()))}
            </section>
        </main>
    }
}

fn landing(i: InvitationLanding, token: String) -> impl IntoView {
    let heading = format!("Join {}", i.workspace_name);
    let by = i
        .invited_by
        .clone()
        .map(|b| format!("{b} invited you"))
        .unwrap_or_else(|| "You are invited".into());
    let summary = format!(
        "{by} to {} as {} ({}). The invitation is valid until {}.",
        i.workspace_name,
        i.role.label(),
        i.email,
        when(Some(i.expires_at))
    );
    let matches = i
        .signed_in_as
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&i.email));
    let body = match (&i.signed_in_as, matches) {
        (Some(_), true) => view! {
            <ServerForm action={crate::forms::target::<crate::api::AcceptInvitation>()} submit_label="Accept and join".to_string() pending_label="Joining…".to_string()>
                <input type="hidden" name="token" value=token.clone()/>
            </ServerForm>
        }
        .into_any(),
        (Some(other), false) => view! {
            <p class="notice notice-warn" role="status">
                {format!("You are signed in as {other}, but this invitation is for {}. Sign out, then open this link again and sign in with that account.", i.email)}
            </p>
            <ServerForm action={crate::forms::target::<crate::api::SignOut>()} submit_label="Sign out".to_string()>
                <span class="sr-only">"Sign out of Tenantry"</span>
            </ServerForm>
        }
        .into_any(),
        (None, _) => {
            let next = format!("/sign-in?next=/invite/{token}");
            view! {
                <h2 class="section-title mt-4">"Already have a Tenantry account?"</h2>
                <p><a class="btn" href=next>{format!("Sign in as {} to accept", i.email)}</a></p>
                {i.sso.clone().map(|name| {
                    let href = format!("/sign-in/sso?invite={token}");
                    view! {
                        <h2 class="section-title mt-6">{format!("Use your {name} account")}</h2>
                        <p class="muted text-sm">{format!("Sign in at {name} as {} and join at once; you then sign in to Tenantry with {name}.", i.email)}</p>
                        <p><a class="btn btn-secondary" href=href>{format!("Join with {name}")}</a></p>
                    }
                })}
                <h2 class="section-title mt-6">"New to Tenantry?"</h2>
                <p class="muted text-sm">"Choose a password for " <strong>{i.email.clone()}</strong> ": at least 12 characters, not one of the common ones. Your account is created and you join at once."</p>
                <ServerForm action={crate::forms::target::<crate::api::JoinByInvitation>()} submit_label="Create account and join".to_string() pending_label="Creating…".to_string()>
                    <input type="hidden" name="token" value=token.clone()/>
                    <input type="hidden" name="email" value=i.email.clone() autocomplete="username"/>
                    <div class="field">
                        <label for="new-password">"Password"</label>
                        <input id="new-password" name="password" type="password" autocomplete="new-password" minlength="12" maxlength="256" required class="input"/>
                    </div>
                </ServerForm>
            }
            .into_any()
        }
    };
    view! {
        <h1 id="invite-title" class="page-title">{heading}</h1>
        <p class="muted">{summary}</p>
        {body}
    }
}
