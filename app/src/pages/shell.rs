//! The frames every page sits in: the admin shell (navigation, the user
//! menu, the bell, the workspace switcher, the progress overlay) and the
//! platform operator's system shell.

use crate::api;
use crate::components::{NotFound, Notice, load};
use crate::forms::ServerForm;
use domain::workspaces::views::ShellView;
use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_location;

#[component]
fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let location = use_location();
    let current = move || {
        let path = location.pathname.get();
        let active = if href == "/admin" || href == "/system" {
            path == href
        } else {
            path == href || path.starts_with(&format!("{href}/"))
        };
        active.then_some("page")
    };
    view! { <a href=href class="nav-link" aria-current=current>{label}</a> }
}

/// On a phone the navigation folds behind this button: the browser's own
/// popover (no script; keyboard, Escape and a tap outside close it). From a
/// tablet's width up the button is hidden and the navigation always shown.
fn menu_button(nav: &'static str) -> impl IntoView {
    view! {
        <button type="button" class="menu-button" popovertarget=nav>
            <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                <path d="M4 6h16M4 12h16M4 18h16"/>
            </svg>
            "Menu"
        </button>
    }
}

/// System, Light, Dark: a plain form (it works before the page's script has
/// loaded), back to this page after saving (the server reads it from the
/// Referer, so the page itself stays the same for every address). The page's
/// `<html data-theme>` carries the choice (see `crate::shell`).
fn theme_form(current: domain::views::Theme) -> impl IntoView {
    view! {
        <form method="post" action={crate::forms::target::<crate::api::SetTheme>()} class="theme-form" data-testid="theme-form">
            <span id="theme-label">"Theme"</span>
            <div class="theme-choices" role="group" aria-labelledby="theme-label">
                {domain::views::Theme::ALL.into_iter().map(|t| view! {
                    <button type="submit" name="theme" value=t.as_str() class="theme-choice" aria-pressed=(t == current).to_string()>
                        {t.label()}
                    </button>
                }).collect_view()}
            </div>
        </form>
    }
}

fn user_menu(shell: &ShellView) -> impl IntoView + use<> {
    let email = shell.user_email.clone();
    let operator = shell.is_platform_operator;
    let theme = shell.theme;
    // The summary's name carries its visible words (WCAG 2.5.3): "Account menu, alex@…".
    view! {
        <details class="user-menu">
            <summary class="nav-link"><span class="sr-only">"Account menu, "</span>{email}</summary>
            <div class="menu-panel">
                <a href="/admin/account" class="menu-item">"Your account"</a>
                {operator.then(|| view! { <a href="/system" class="menu-item">"System plane"</a> })}
                <ServerForm action={crate::forms::target::<crate::api::SignOut>()} submit_label="Sign out".to_string()>
                    <span class="sr-only">"Sign out of Tenantry"</span>
                </ServerForm>
                {theme_form(theme)}
            </div>
        </details>
    }
}

fn bell(shell: &ShellView) -> impl IntoView + use<> {
    let unread = shell.unread_notifications;
    let label = match unread {
        0 => "Notifications, none unread".to_string(),
        1 => "Notifications, 1 unread".to_string(),
        n => format!("Notifications, {n} unread"),
    };
    view! {
        <a href="/admin/notifications" class="nav-link bell" aria-label=label>
            <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                <path d="M12 3a5 5 0 0 0-5 5v4l-2 3h14l-2-3V8a5 5 0 0 0-5-5zM10 18a2 2 0 0 0 4 0"/>
            </svg>
            {(unread > 0).then(|| view! { <span class="bell-count" aria-hidden="true">{unread}</span> })}
        </a>
    }
}

/// "Alerts" and the open count as seen, with words for a screen reader: the
/// link's name is "Alerts 2 open" or "Alerts none open" (it starts with what
/// is shown, WCAG 2.5.3).
fn alerts_link(shell: &ShellView) -> impl IntoView + use<> {
    let open = shell.open_alerts;
    view! {
        <a href="/admin/alerts" class="nav-link" data-testid="alerts-link">
            "Alerts"
            {match open {
                0 => view! { <span class="sr-only">"none open"</span> }.into_any(),
                n => view! {
                    <span class="nav-count" data-testid="alerts-count">{n}</span>
                    <span class="sr-only">" open"</span>
                }.into_any(),
            }}
        </a>
    }
}

fn workspace_switcher(shell: &ShellView) -> impl IntoView + use<> {
    let shell = shell.clone();
    let current = shell.current.clone();
    let options = shell.workspaces.clone();
    let current_id = current.as_ref().map(|c| c.id);
    view! {
        <div class="switcher">
            {match current {
                Some(c) => view! { <span class="ws-name" title="Current workspace">{c.name}</span> }.into_any(),
                None => view! { <span class="muted">"No workspace"</span> }.into_any(),
            }}
            {(options.len() > 1).then(|| view! {
                <ServerForm action={crate::forms::target::<crate::api::SwitchWorkspace>()} submit_label="Switch".to_string() inline=true>
                    <label class="sr-only" for="workspace-switch">"Switch workspace"</label>
                    <select id="workspace-switch" name="workspace" class="input input-sm">
                        {options.iter().map(|w| {
                            let selected = Some(w.id) == current_id;
                            view! { <option value=w.id.to_string() selected=selected>{w.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </ServerForm>
            })}
            {shell.can_create_workspace.then(|| view! { <a href="/admin/workspaces/new" class="link text-sm">"New workspace"</a> })}
        </div>
    }
}

/// The `/admin` plane: navigation, workspace switcher, user menu.
#[component]
pub fn AdminShell() -> impl IntoView {
    view! {
        <a href="#main" class="skip-link">"Skip to content"</a>
        {load(api::load_shell(), |shell: ShellView| view! {
            <crate::time::ZoneMeta rules=shell.zone_rules.clone()/>
            <header class="topbar">
                <a href="/admin" class="brand">"Tenantry"</a>
                {workspace_switcher(&shell)}
                {menu_button("workspace-nav")}
                <nav aria-label="Workspace" class="nav" id="workspace-nav" popover="auto">
                    <NavLink href="/admin" label="Overview"/>
                    <NavLink href="/admin/tenants" label="Tenants"/>
                    <NavLink href="/admin/fleet" label="Fleet"/>
                    <NavLink href="/admin/baselines" label="Baselines"/>
                    {shell.can(domain::rbac::Capability::TenantManage).then(|| view! { <NavLink href="/admin/onboarding" label="Onboarding"/> })}
                    <NavLink href="/admin/operations" label="Operations"/>
                    {alerts_link(&shell)}
                    <NavLink href="/admin/schedules" label="Schedules"/>
                    <NavLink href="/admin/members" label="Members"/>
                    <NavLink href="/admin/audit" label="Audit"/>
                </nav>
                <super::search::CommandPalette/>
                {bell(&shell)}
                {user_menu(&shell)}
            </header>
            <main id="main" class="main" tabindex="-1">
                <Notice/>
                <Outlet/>
            </main>
            <super::operations::ProgressOverlay initial=shell.active_runs.clone()/>
        })}
    }
}

/// The `/system` plane: platform operators only; everyone else gets the same
/// 404 as a missing page.
#[component]
pub fn SystemShell() -> impl IntoView {
    view! {
        {load(api::load_shell(), |shell: ShellView| {
            if !shell.is_platform_operator {
                return view! { <main id="main" class="main"><NotFound/></main> }.into_any();
            }
            view! {
                <crate::time::ZoneMeta rules=shell.zone_rules.clone()/>
                <a href="#main" class="skip-link">"Skip to content"</a>
                <header class="topbar topbar-system">
                    <a href="/system" class="brand">"Tenantry · System"</a>
                    {menu_button("system-nav")}
                    <nav aria-label="System" class="nav" id="system-nav" popover="auto">
                        <NavLink href="/system/ops/runs" label="Runs"/>
                        <NavLink href="/system/ops/failures" label="Failures"/>
                        <NavLink href="/system/ops/stuck" label="Stuck"/>
                        <NavLink href="/system/workspaces" label="Workspaces"/>
                    </nav>
                    {user_menu(&shell)}
                </header>
                <main id="main" class="main" tabindex="-1"><Notice/><Outlet/></main>
            }
            .into_any()
        })}
    }
}
