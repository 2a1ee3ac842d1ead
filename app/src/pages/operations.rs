use crate::api;
use crate::components::{EmptyState, NoWorkspace, load};
use domain::views::OverviewPage;
use leptos::prelude::*;
use leptos_meta::Title;

/// The operations hub. Operation runs are not recorded yet, so the hub
/// truthfully shows that there are none.
#[component]
pub fn Operations() -> impl IntoView {
    view! {
        <Title text="Operations · Tenantry"/>
        {load(api::load_overview(), |page: Option<OverviewPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Operations"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => view! {
                <section class="page">
                    <h1 class="page-title">"Operations"</h1>
                    <p class="muted">"Every operation run in " {p.workspace.name} ", newest first."</p>
                    <EmptyState title="No operation runs yet">
                        <p>"Runs appear here when someone verifies a tenant, syncs inventory or starts another operation."</p>
                    </EmptyState>
                </section>
            }.into_any(),
        })}
    }
}
