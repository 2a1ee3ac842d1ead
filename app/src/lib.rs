#![recursion_limit = "256"]
//! Tenantry's pages and islands. Pages render on the server only; islands
//! (the form machinery in [`forms`], and each feature's island beside its
//! page) are the only code shipped to the browser.

pub mod api;
pub mod charts;
pub mod components;
pub mod error;
pub mod forms;
pub mod live;
pub mod pages;
pub mod time;

#[cfg(feature = "ssr")]
pub mod ctx;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The stylesheet sits beside the islands, under this build's key.
    let stylesheet = format!("/{}/tenantry.css", options.site_pkg_dir);
    let scripted = page_has_script();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=chosen_theme()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=stylesheet/>
                <link rel="icon" href="/favicon.ico" sizes="any"/>
                {scripted.then(|| view! { <HydrationScripts options islands=true/> })}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Whether this page loads the islands' script: sign-in, its second step
/// and setup do not (plain forms; nothing on them is live).
fn page_has_script() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .is_none_or(|p| !forms::PAGES_WITHOUT_SCRIPT.contains(&p.uri.path()))
    }
    #[cfg(not(feature = "ssr"))]
    true
}

/// The signed-in person's chosen theme for `<html data-theme>`; none (the
/// stylesheet follows the device's `prefers-color-scheme`) when they chose
/// "System" or nobody is signed in.
fn chosen_theme() -> Option<&'static str> {
    #[cfg(feature = "ssr")]
    {
        use domain::views::Theme;
        let actor = use_context::<ctx::CurrentActor>()?.0?;
        match actor.theme {
            Theme::System => None,
            t => Some(t.as_str()),
        }
    }
    #[cfg(not(feature = "ssr"))]
    None
}

#[component]
pub fn App() -> impl IntoView {
    use components::NotFound;
    use pages::shell::{AdminShell, SystemShell};
    use pages::*;
    provide_meta_context();
    view! {
        <Title text="Tenantry"/>
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/sign-in") view=sign_in::SignIn ssr=SsrMode::Async/>
                <Route path=path!("/sign-in/code") view=sign_in::SignInCode ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=sign_in::Setup ssr=SsrMode::Async/>
                <Route path=path!("/invite/:token") view=invitation::Invitation ssr=SsrMode::Async/>
                <ParentRoute path=path!("/admin") view=AdminShell ssr=SsrMode::Async>
                    <Route path=path!("") view=overview::Overview ssr=SsrMode::Async/>
                    <Route path=path!("workspaces/new") view=workspaces::NewWorkspace ssr=SsrMode::Async/>
                    <Route path=path!("tenants") view=tenants::Tenants ssr=SsrMode::Async/>
                    <Route path=path!("fleet") view=fleet::Fleet ssr=SsrMode::Async/>
                    <Route path=path!("account") view=account::Account ssr=SsrMode::Async/>
                    <Route path=path!("account/two-step") view=account::TwoStep ssr=SsrMode::Async/>
                    <Route path=path!("baselines") view=baselines::Baselines ssr=SsrMode::Async/>
                    <Route path=path!("baselines/:baseline") view=baselines::BaselineMatrix ssr=SsrMode::Async/>
                    <Route path=path!("baselines/:baseline/edit") view=baselines::BaselineEdit ssr=SsrMode::Async/>
                    <Route path=path!("baselines/:baseline/align") view=baselines::BaselineAlign ssr=SsrMode::Async/>
                    <Route path=path!("baselines/:baseline/t/:tenant") view=baselines::TenantAlignmentPage ssr=SsrMode::Async/>
                    <Route path=path!("onboarding") view=onboarding::Onboarding ssr=SsrMode::Async/>
                    <Route path=path!("onboarding/:draft") view=onboarding::OnboardingWizard ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant") view=tenants::TenantDashboard ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/connections") view=provider::Connections ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/connections/:connection") view=provider::ConnectionDetail ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/verification") view=provider::Verification ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/inventory") view=provider::Inventory ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/compliance") view=provider::Compliance ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/groups") view=provider::Groups ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/roles") view=provider::Roles ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/restore") view=restore::Restore ssr=SsrMode::Async/>
                    <Route path=path!("t/:tenant/changes") view=drift::Changes ssr=SsrMode::Async/>
                    <Route path=path!("operations") view=operations::Operations ssr=SsrMode::Async/>
                    <Route path=path!("operations/:run") view=runs::RunDetail ssr=SsrMode::Async/>
                    <Route path=path!("notifications") view=notifications::Notifications ssr=SsrMode::Async/>
                    <Route path=path!("members") view=members::Members ssr=SsrMode::Async/>
                    <Route path=path!("schedules") view=schedules::Schedules ssr=SsrMode::Async/>
                    <Route path=path!("bulk/:bulk") view=schedules::BulkStart ssr=SsrMode::Async/>
                    <Route path=path!("audit") view=audit::Audit ssr=SsrMode::Async/>
                    <Route path=path!("retention") view=retention::Retention ssr=SsrMode::Async/>
                    <Route path=path!("search") view=search::SearchPage ssr=SsrMode::Async/>
                    <Route path=path!("alerts") view=alerts::Alerts ssr=SsrMode::Async/>
                    <Route path=path!("alerts/rules") view=alerts::AlertRules ssr=SsrMode::Async/>
                    <Route path=path!("alerts/:alert") view=alerts::AlertPage ssr=SsrMode::Async/>
                </ParentRoute>
                <ParentRoute path=path!("/system") view=SystemShell ssr=SsrMode::Async>
                    <Route path=path!("") view=system::SystemHome ssr=SsrMode::Async/>
                    <Route path=path!("ops/runs") view=system::SystemRuns ssr=SsrMode::Async/>
                    <Route path=path!("ops/failures") view=system::SystemFailures ssr=SsrMode::Async/>
                    <Route path=path!("ops/stuck") view=system::SystemStuck ssr=SsrMode::Async/>
                    <Route path=path!("ops/runs/:run") view=runs::SystemRunDetail ssr=SsrMode::Async/>
                    <Route path=path!("workspaces") view=system::SystemWorkspaces ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Registers every operation type, so run views read in the browser find
/// theirs (the server registers them when it builds its services).
pub fn register_operations() {
    domain::operations::register();
}
