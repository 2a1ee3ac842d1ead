use crate::api;
use crate::components::{EmptyState, load};
use crate::forms::ServerForm;
use domain::workspaces::views::ShellView;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NewWorkspace() -> impl IntoView {
    view! {
        <Title text="New workspace · Tenantry"/>
        <section class="page narrow">
            <h1 class="page-title">"Create a workspace"</h1>
            {load(api::load_shell(), |shell: ShellView| if shell.can_create_workspace {
                view! {
                    <p class="muted">"A workspace is one MSP: it owns the customer tenants you manage. You become its owner."</p>
                    <ServerForm action={crate::forms::target::<crate::api::CreateWorkspace>()} submit_label="Create workspace".to_string() pending_label="Creating…".to_string()>
                        <div class="field">
                            <label for="ws-name">"Workspace name"</label>
                            <input id="ws-name" name="name" required maxlength="80" class="input" placeholder="Contoso Managed Services" autofocus/>
                        </div>
                    </ServerForm>
                }.into_any()
            } else {
                view! {
                    <EmptyState title="Workspace creation is turned off">
                        <p>"On this server only platform operators create workspaces. Ask an owner of your MSP's workspace to invite you, or ask your administrator."</p>
                    </EmptyState>
                }.into_any()
            })}
        </section>
    }
}
