use crate::components::Notice;
use crate::forms::ServerForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    view! {
        <Title text="Sign in · Tenantry"/>
        <main id="main" class="auth-main">
            <section class="auth-card" aria-labelledby="sign-in-title">
                <p class="brand">"Tenantry"</p>
                <h1 id="sign-in-title" class="page-title">"Sign in"</h1>
                <Notice/>
                <ServerForm action={crate::forms::target::<crate::api::SignIn>()} submit_label="Sign in".to_string() pending_label="Signing in…".to_string()>
                    <input type="hidden" name="next" value=next/>
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required class="input" autofocus/>
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required class="input"/>
                    </div>
                </ServerForm>
                <p class="muted text-sm mt-4">"No account? Ask an owner of your MSP's workspace to invite you."</p>
            </section>
        </main>
    }
}
