//! `/admin/account`: the signed-in person's own account — change the
//! password (the current one required; other sessions end), two-step
//! sign-in, and see and end their sessions. `/admin/account/two-step`:
//! enrolment (QR code, then the recovery codes once).

use crate::api;
use crate::components::load;
use crate::forms::{ServerForm, target};
use domain::identity::views::{AccountPage, MfaEnrolPage, MfaStatus};
use leptos::prelude::*;
use leptos_meta::Title;

/// Asks for the current password before a two-step change.
fn password_field(id: &'static str) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Current password"</label>
            <input id=id name="current_password" type="password" class="input" required autocomplete="current-password"/>
        </div>
    }
}

fn two_step_section(m: MfaStatus) -> impl IntoView {
    let required = (!m.required_by.is_empty()).then(|| m.required_by.join(", "));
    let body = match m.enabled_at {
        Some(since) => view! {
            <p data-testid="two-step-state" data-state="on">
                <span class="badge badge-ok">"On"</span>
                {format!(" since {}. Signing in asks for a code from your authenticator app. {} of 10 recovery codes left.", crate::time::when_text(since), m.recovery_left)}
            </p>
            {(m.recovery_left <= 3).then(|| view! {
                <p class="notice notice-warn" role="status">"Few recovery codes are left: make new ones."</p>
            })}
            <details class="mt-2">
                <summary>"Make new recovery codes"</summary>
                <ServerForm action={target::<api::RenewRecoveryCodes>()} submit_label="Make new codes".to_string()>
                    {password_field("codes-password")}
                </ServerForm>
            </details>
            <details class="mt-2">
                <summary>"Turn off two-step sign-in"</summary>
                <p class="muted text-sm">{required.clone().map(|w| format!("{w} requires it: you will be asked to set it up again at once.")).unwrap_or_else(|| "Signing in will ask for your password only.".into())}</p>
                <ServerForm action={target::<api::TurnOffTwoStep>()} submit_label="Turn off".to_string() danger=true
                    confirm="Turn off two-step sign-in? Your recovery codes stop working too.".to_string()>
                    {password_field("off-password")}
                </ServerForm>
            </details>
        }.into_any(),
        None => view! {
            <p data-testid="two-step-state" data-state=if m.enrolling { "enrolling" } else { "off" }>
                <span class="badge badge-muted">"Off"</span>
                " Add an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password, …): signing in then asks for its code after your password."
            </p>
            {required.map(|w| view! {
                <p class="notice notice-warn" role="alert">{format!("{w} requires two-step sign-in: set it up to go on working.")}</p>
            })}
            {if m.enrolling {
                view! { <p class="mt-2"><a class="btn btn-primary" href="/admin/account/two-step">"Continue setting up"</a></p> }.into_any()
            } else {
                view! {
                    <ServerForm action={target::<api::BeginTwoStep>()} submit_label="Set up an authenticator app".to_string()>
                        <span class="sr-only">"Start setting up two-step sign-in"</span>
                    </ServerForm>
                }.into_any()
            }}
        }.into_any(),
    };
    view! {
        <section class="card mt-4" id="two-step" aria-labelledby="two-step-title">
            <h2 id="two-step-title" class="section-title">"Two-step sign-in"</h2>
            {body}
        </section>
    }
}

fn sso_section(sso: domain::identity::views::SsoAccount) -> impl IntoView {
    let name = sso.name.clone();
    let link_label = format!("Link your {name} account");
    view! {
        <section class="card mt-4" id="sso" aria-labelledby="sso-title">
            <h2 id="sso-title" class="section-title">"Single sign-on"</h2>
            {if sso.identities.is_empty() {
                view! { <p class="muted" data-testid="sso-identities" data-count="0">{format!("No {name} account is linked: you sign in with your password.")}</p> }.into_any()
            } else {
                let count = sso.identities.len();
                view! {
                    <ul class="notification-list" data-testid="sso-identities" data-count=count>
                        {sso.identities.into_iter().map(|i| {
                            let id = i.id.clone();
                            let who = i.email.clone().unwrap_or_else(|| format!("a {name} account"));
                            view! {
                                <li>
                                    {format!("{who} · linked ")}{crate::time::when(i.linked_at)}
                                    {i.last_used_at.map(|t| view! { " · last used " {crate::time::when(t)} })}
                                    <details class="mt-2">
                                        <summary>"Unlink"</summary>
                                        <ServerForm action={target::<api::UnlinkSso>()} submit_label="Unlink".to_string() danger=true>
                                            <input type="hidden" name="identity" value=id/>
                                            {password_field("unlink-password")}
                                        </ServerForm>
                                    </details>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <p class="mt-2"><a class="btn btn-secondary" href="/sign-in/sso?link=1">{link_label}</a></p>
        </section>
    }
}

fn time_zone_section(current: Option<String>, zones: Vec<String>) -> impl IntoView {
    let chosen = current.unwrap_or_else(|| "UTC".into());
    view! {
        <section class="card mt-4" id="time-zone" aria-labelledby="time-zone-title">
            <h2 id="time-zone-title" class="section-title">"Time zone"</h2>
            <p class="muted text-sm">"Pages, live progress and review packs show times in it; hover a time to see it in UTC."</p>
            <ServerForm action={target::<api::SetTimeZone>()} submit_label="Save time zone".to_string()>
                <div class="field">
                    <label for="time-zone-select">"Time zone"</label>
                    <select id="time-zone-select" name="time_zone" class="input" data-testid="time-zone">
                        {zones.into_iter().map(|z| {
                            let selected = z == chosen;
                            view! { <option value=z.clone() selected=selected>{z.replace('_', " ")}</option> }
                        }).collect_view()}
                    </select>
                </div>
            </ServerForm>
        </section>
    }
}

fn account(p: AccountPage) -> impl IntoView {
    let others = p.sessions.iter().filter(|s| !s.current).count();
    let count = p.sessions.len();
    view! {
        <p class="muted">{format!("Signed in as {}.", p.email)}</p>
        {two_step_section(p.mfa)}
        {p.sso.map(sso_section)}
        {time_zone_section(p.time_zone, p.time_zones)}
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
                                <td>{crate::time::when(s.created_at)}</td>
                                <td>{crate::time::when(s.last_seen_at)}</td>
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

fn two_step_page(page: MfaEnrolPage) -> impl IntoView {
    match page {
        MfaEnrolPage::Scan { qr_svg, key, account } => view! {
            <ol class="steps">
                <li>"Open your authenticator app and add an account by scanning this code."</li>
            </ol>
            <figure class="qr" data-testid="qr">
                // Our own SVG (made on the server from the otpauth address), not user input.
                <div inner_html=qr_svg role="img" aria-label="QR code for your authenticator app"></div>
                <figcaption class="muted text-sm">
                    "Can't scan? Add it by hand: account " <strong>{account}</strong> ", key "
                    <code data-testid="totp-key">{key}</code> " (time-based, 6 digits)."
                </figcaption>
            </figure>
            <ServerForm action={target::<api::ConfirmTwoStep>()} submit_label="Turn on".to_string() pending_label="Checking…".to_string()>
                <div class="field">
                    <label for="enrol-code">"The six digits the app shows now"</label>
                    <input id="enrol-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required class="input" maxlength="10"/>
                </div>
            </ServerForm>
            <p class="muted text-sm mt-4"><a class="link" href="/admin/account#two-step">"Back to your account"</a></p>
        }.into_any(),
        MfaEnrolPage::RecoveryCodes(codes) => view! {
            <p>"Keep these recovery codes somewhere safe (a password manager, or printed). Each signs you in once if your phone is lost. They are shown only now."</p>
            <ul class="recovery-codes" data-testid="recovery-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
            <p class="mt-4"><a class="btn btn-primary" href="/admin/account#two-step">"I have saved them"</a></p>
        }.into_any(),
        MfaEnrolPage::Enabled => view! {
            <p>"Two-step sign-in is on. Recovery codes are shown only once; make new ones on your account page if you lost them."</p>
            <p class="mt-4"><a class="link" href="/admin/account#two-step">"Back to your account"</a></p>
        }.into_any(),
        MfaEnrolPage::NotStarted => view! {
            <p>"Two-step sign-in asks for a code from an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password, …) after your password."</p>
            <ServerForm action={target::<api::BeginTwoStep>()} submit_label="Set up an authenticator app".to_string()>
                <span class="sr-only">"Start setting up two-step sign-in"</span>
            </ServerForm>
        }.into_any(),
    }
}

/// `/admin/account/two-step`: enrolment, then the recovery codes once.
#[component]
pub fn TwoStep() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let required = query.read_untracked().get("required").is_some();
    view! {
        <Title text="Two-step sign-in · Tenantry"/>
        <section class="page">
            <h1 class="page-title">"Two-step sign-in"</h1>
            {required.then(|| view! {
                <p class="notice notice-warn" role="alert">"Your workspace requires two-step sign-in. Set it up here to go on; until then only this page and signing out work."</p>
            })}
            {load(api::load_two_step(), two_step_page)}
        </section>
    }
}
