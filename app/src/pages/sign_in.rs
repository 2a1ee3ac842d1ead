use crate::components::Notice;
use crate::forms::{PlainForm, take_flash};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let flash = take_flash("/sign-in");
    let f = flash.clone().unwrap_or_default();
    let next = f
        .value("next")
        .or_else(|| query.read_untracked().get("next"))
        .unwrap_or_default();
    let sso_next = next.clone();
    // After a refused password the focus is on it (the email is kept).
    let email_again = f.value("email");
    let password_focus = email_again.is_some();
    view! {
        <Title text="Sign in · Tenantry"/>
        <main id="main" class="auth-main">
            <section class="auth-card" aria-labelledby="sign-in-title">
                <p class="brand">"Tenantry"</p>
                <h1 id="sign-in-title" class="page-title">"Sign in"</h1>
                <Notice/>
                <PlainForm action={crate::forms::target::<crate::api::SignIn>()} submit_label="Sign in".to_string() flash=flash>
                    <input type="hidden" name="next" value=next/>
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required class="input"
                            value=email_again autofocus=!password_focus aria-invalid=f.invalid("email")/>
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required class="input"
                            autofocus=password_focus aria-invalid=f.invalid("password")/>
                    </div>
                </PlainForm>
                <p class="muted text-sm mt-4">"No account? Ask an owner of your MSP's workspace to invite you."</p>
                {crate::components::load(crate::api::load_sign_in_options(), move |o: domain::identity::views::SignInOptions| view! {
                    {o.sso.map(|name| {
                        let href = format!("/sign-in/sso?next={}", domain::validate::encode_query_value(&domain::validate::safe_next(Some(&sso_next))));
                        view! { <p class="mt-4"><a class="btn btn-secondary" href=href>{format!("Sign in with {name}")}</a></p> }
                    })}
                    // A fresh server: point whoever installed it at the setup page.
                    {o.setup_open.then(|| view! {
                        <p class="notice mt-4" role="status">"This server has no account yet. " <a class="link" href="/setup">"Set up Tenantry"</a> " with the setup code it printed."</p>
                    })}
                })}
            </section>
        </main>
    }
}

/// `/sign-in/code`: the second step for people with two-step sign-in on.
#[component]
pub fn SignInCode() -> impl IntoView {
    let query = use_query_map();
    let flash = take_flash("/sign-in/code");
    let next = flash
        .as_ref()
        .and_then(|f| f.value("next"))
        .or_else(|| query.read_untracked().get("next"))
        .unwrap_or_default();
    view! {
        <Title text="Sign-in code · Tenantry"/>
        <main id="main" class="auth-main">
            <section class="auth-card" aria-labelledby="code-title">
                <p class="brand">"Tenantry"</p>
                <h1 id="code-title" class="page-title">"Two-step sign-in"</h1>
                {crate::components::load(crate::api::load_sign_in_code(), move |page: Option<domain::identity::views::SignInCodePage>| match page {
                    Some(p) => view! {
                        <p class="muted">{format!("Signing in as {}. Open your authenticator app and type the six digits it shows for Tenantry.", p.email)}</p>
                        <PlainForm action={crate::forms::target::<crate::api::VerifySignInCode>()} submit_label="Sign in".to_string() flash=flash.clone()>
                            <input type="hidden" name="next" value=next.clone()/>
                            <div class="field">
                                <label for="code">"Code"</label>
                                <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required class="input" autofocus
                                    aria-describedby="code-help" maxlength="20" aria-invalid=flash.as_ref().and_then(|f| f.invalid("code"))/>
                                <p id="code-help" class="muted text-sm">"No phone at hand? Type one of your recovery codes instead (like k7qm2-x9d4p); each works once."</p>
                            </div>
                        </PlainForm>
                        <p class="muted text-sm mt-4"><a class="link" href="/sign-in">"Start again"</a></p>
                    }.into_any(),
                    None => view! {
                        <p role="status">"This sign-in has timed out, or none is waiting for a code."</p>
                        <p class="mt-4"><a class="link" href="/sign-in">"Sign in again"</a></p>
                    }.into_any(),
                })}
            </section>
        </main>
    }
}

/// `/setup`: the first owner, only while no account exists (then 404). The
/// setup code is printed where `tenantry serve` started.
#[component]
pub fn Setup() -> impl IntoView {
    let flash = take_flash("/setup");
    view! {
        <Title text="Set up Tenantry"/>
        {crate::components::load(crate::api::load_setup(), move |page: Option<domain::identity::views::SetupPage>| match page {
            None => view! { <main id="main" class="main"><crate::components::NotFound/></main> }.into_any(),
            Some(p) => view! {
                <main id="main" class="auth-main">
                    <section class="auth-card" aria-labelledby="setup-title">
                        <p class="brand">"Tenantry"</p>
                        <h1 id="setup-title" class="page-title">"Set up Tenantry"</h1>
                        <p class="muted">"No account exists yet. Create the first one: it owns your MSP's workspace and operates the platform. This page closes once it exists."</p>
                        <PlainForm action={crate::forms::target::<crate::api::CompleteSetup>()} submit_label="Create account and workspace".to_string() flash=flash.clone()>
                            <div class="field">
                                <label for="setup-code">"Setup code"</label>
                                <input id="setup-code" name="code" type="text" autocomplete="off" required class="input" aria-describedby="setup-code-help" maxlength="40"
                                    aria-invalid=flash.as_ref().and_then(|f| f.invalid("code"))/>
                                <p id="setup-code-help" class="muted text-sm">"Printed where " <code>"tenantry serve"</code> " started (its log), like ABCD-EFGH-JKMN."</p>
                            </div>
                            <div class="field">
                                <label for="setup-email">"Your email"</label>
                                <input id="setup-email" name="email" type="email" autocomplete="username" required maxlength="254" class="input"
                                    value=flash.as_ref().and_then(|f| f.value("email")) aria-invalid=flash.as_ref().and_then(|f| f.invalid("email"))/>
                            </div>
                            <div class="field">
                                <label for="setup-password">"Password"</label>
                                <input id="setup-password" name="password" type="password" autocomplete="new-password" required minlength=p.min_password.to_string() maxlength="256" class="input" aria-describedby="setup-password-help"
                                    aria-invalid=flash.as_ref().and_then(|f| f.invalid("password"))/>
                                <p id="setup-password-help" class="muted text-sm">{format!("At least {} characters, not one of the common ones.", p.min_password)}</p>
                            </div>
                            <div class="field">
                                <label for="setup-confirm">"Password again"</label>
                                <input id="setup-confirm" name="confirm_password" type="password" autocomplete="new-password" required class="input"
                                    aria-invalid=flash.as_ref().and_then(|f| f.invalid("confirm_password"))/>
                            </div>
                            <div class="field">
                                <label for="setup-workspace">"Workspace name"</label>
                                <input id="setup-workspace" name="workspace" type="text" required maxlength="80" class="input" placeholder="Contoso Managed Services"
                                    value=flash.as_ref().and_then(|f| f.value("workspace")) aria-invalid=flash.as_ref().and_then(|f| f.invalid("workspace"))/>
                            </div>
                        </PlainForm>
                    </section>
                </main>
            }.into_any(),
        })}
    }
}
