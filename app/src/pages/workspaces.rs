use crate::islands::ServerForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NewWorkspace() -> impl IntoView {
    view! {
        <Title text="New workspace · Tenantry"/>
        <section class="page narrow">
            <h1 class="page-title">"Create a workspace"</h1>
            <p class="muted">"A workspace is one MSP: it owns the customer tenants you manage. You become its owner."</p>
            <ServerForm action="/api/workspaces/create".to_string() submit_label="Create workspace".to_string() pending_label="Creating…".to_string()>
                <div class="field">
                    <label for="ws-name">"Workspace name"</label>
                    <input id="ws-name" name="name" required maxlength="80" class="input" placeholder="Contoso Managed Services" autofocus/>
                </div>
            </ServerForm>
        </section>
    }
}
