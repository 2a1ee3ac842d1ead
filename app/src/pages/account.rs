//! `/admin/account`: the signed-in person's own account — change the
//! password (the current one required; other sessions end) and see and end
//! their sessions.

use crate::api;
use crate::components::load;
use crate::forms::{ServerForm, target};
use domain::views::{AccountPage, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;

fn account(p: AccountPage) -> impl IntoView {
    let others = p.sessions.iter().filter(|s| !s.current).count();
    let count = p.sessions.len();
    view! {
        <p class="muted">{format!("Signed in as {}.", p.email)}</p>
        <section class="card mt-4" aria-labelledby="password-title">
            <h2 id="password-title" class="section-title">"Change your password"</h2>
            <p class="muted text-sm">{format!("At least {} characters; a phrase of several words is easy to remember and hard to guess. Your other sessions are signed out.", p.min_password)}</p>
            <ServerForm action={target::<api::ChangePassword>()} submit_label="Change password".to_string() pending_label="Changing…".to_string()>
                <div class="field">
                    <label for="current-password">"Current password"</label>
                    <input id="current-password" name="current_password" type="password" class="input" required autocomplete="current-password"/>
                </div>
                <div class="field">
                    <label for="new-password">"New password"</label>
                    <input id="new-password" name="new_password" type="password" class="input" required minlength=p.min_password.to_string() autocomplete="new-password"/>
                </div>
                <div class="field">
                    <label for="confirm-password">"New password again"</label>
                    <input id="confirm-password" name="confirm_password" type="password" class="input" required autocomplete="new-password"/>
                </div>
            </ServerForm>
        </section>
        <section class="card mt-4" id="sessions" aria-labelledby="sessions-title">
            <h2 id="sessions-title" class="section-title">"Where you are signed in"</h2>
            <table class="table" data-testid="sessions" data-count=count>
                <caption class="sr-only">"Your sessions"</caption>
                <thead><tr>
                    <th scope="col">"Device"</th><th scope="col">"Address"</th><th scope="col">"Signed in"</th>
                    <th scope="col">"Last seen"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {p.sessions.into_iter().map(|s| {
                        let device = s.device.clone();
                        let handle = s.id.clone();
                        view! {
                            <tr data-session=s.id.clone() data-current=s.current.to_string()>
                                <th scope="row">{s.device.clone()}{s.current.then(|| view! { " " <span class="badge badge-ok">"This device"</span> })}</th>
                                <td>{s.address.clone().unwrap_or_else(|| "unknown".into())}</td>
                                <td>{format_utc(s.created_at)}</td>
                                <td>{format_utc(s.last_seen_at)}</td>
                                <td>{(!s.current).then(|| view! {
                                    <ServerForm action={target::<api::EndSession>()} submit_label="Sign out".to_string() inline=true danger=true
                                        confirm=format!("Sign out the session on {device}? Whoever uses it must sign in again.")>
                                        <input type="hidden" name="session" value=handle/>
                                    </ServerForm>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {(others > 0).then(|| view! {
                <ServerForm action={target::<api::EndOtherSessions>()} submit_label="Sign out everywhere else".to_string() danger=true
                    confirm=format!("Sign out your {others} other session(s)? This one stays signed in.")>
                    <span class="sr-only">"Sign out every other session"</span>
                </ServerForm>
            })}
        </section>
    }
}

#[component]
pub fn Account() -> impl IntoView {
    view! {
        <Title text="Your account · Tenantry"/>
        <section class="page">
            <h1 class="page-title">"Your account"</h1>
            {load(api::load_account(), account)}
        </section>
    }
}
