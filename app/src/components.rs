//! Shared layout pieces: the `/admin` and `/system` shells, page loading with
//! truthful error states, notices and empty states.

use crate::error::ApiError;
use domain::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::future::Future;

/// Renders `render(data)` once the loader resolves, or the matching error
/// page (and HTTP status) when it fails.
pub fn load<T, Fut, V>(loader: Fut, render: impl FnOnce(T) -> V + Send + 'static) -> impl IntoView
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    V: IntoView + 'static,
{
    let loader = run_to_completion(loader);
    view! {
        <Suspense fallback=|| view! { <p class="loading" aria-busy="true">"Loading…"</p> }>
            {Suspend::new(async move {
                match loader.await {
                    Ok(data) => render(data).into_any(),
                    Err(e) => view! { <ErrorPage error=e.0/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// On the server, a page's load runs as its own task from the moment the
/// page asks for it, to the end, as one unit of work for the store's
/// connection guard. The renderer polls every `Suspend` once and then resolves
/// them one at a time; a load awaited only by the renderer would sit on its
/// database connection meanwhile, and a few concurrent pages would starve the
/// pool. A spawned load takes its connection, finishes and gives it back.
#[cfg(feature = "ssr")]
fn run_to_completion<T, Fut>(loader: Fut) -> impl Future<Output = Result<T, ApiError>> + Send
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    use leptos::reactive::computed::ScopedFuture;
    // The load reads its context (services, actor) through the render's owner.
    let task = tokio::spawn(domain::store::one_unit(ScopedFuture::new_untracked(loader)));
    async move {
        task.await.unwrap_or_else(|e| {
            tracing_panic(&e);
            Err(ApiError(AppError::Internal))
        })
    }
}

#[cfg(feature = "ssr")]
fn tracing_panic(e: &tokio::task::JoinError) {
    tracing::error!(error = %e, "a page load failed");
}

#[cfg(not(feature = "ssr"))]
fn run_to_completion<Fut>(loader: Fut) -> Fut {
    loader
}

/// Sets the page's HTTP status while rendering on the server.
fn set_status(_code: u16) {
    #[cfg(feature = "ssr")]
    crate::ctx::set_status(_code);
}

#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    set_status(error.http_status());
    match error {
        AppError::NotFound => view! { <NotFound/> }.into_any(),
        AppError::Forbidden => view! {
            <section class="page">
                <h1 class="page-title">"Not allowed"</h1>
                <p class="muted">"Your role in this workspace does not allow this page. Ask an owner or manager if you need it."</p>
            </section>
        }
        .into_any(),
        AppError::Unauthenticated => view! {
            <section class="page">
                <h1 class="page-title">"Signed out"</h1>
                <p>"Your session has ended. " <a href="/sign-in" class="link">"Sign in again"</a> "."</p>
            </section>
        }
        .into_any(),
        AppError::Unavailable => view! {
            <leptos_meta::Meta http_equiv="refresh" content=domain::error::UNAVAILABLE_RETRY_SECS.to_string()/>
            <section class="page" role="alert">
                <h1 class="page-title">{domain::error::UNAVAILABLE_PAGE_TITLE}</h1>
                <p class="muted">{domain::error::UNAVAILABLE_PAGE_TEXT}</p>
            </section>
        }
        .into_any(),
        other => view! {
            <section class="page">
                <h1 class="page-title">"Something went wrong"</h1>
                <p class="muted">{other.operator_message()}</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <section class="page">
            <h1 class="page-title">"Not found"</h1>
            <p class="muted">"There is nothing here, or you do not have access to it."</p>
            <p><a href="/admin" class="link">"Go to your overview"</a></p>
        </section>
    }
}

/// Success notices named in the `notice` query parameter. Closed, so a URL can
/// never put arbitrary words on the page.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "workspace_created" => "Workspace created. You are its owner.",
        "retention_saved" => {
            "Retention saved. The next sweep (within the hour) removes what the new rules no longer keep."
        }
        "setup_done" => {
            "Tenantry is set up: you own this workspace and operate the platform. Invite your team from Members."
        }
        "invitation_created" => {
            "Invitation created. Copy its link below and send it to the person: they join when they accept it."
        }
        "invitation_renewed" => "A new link was made; the old one no longer works.",
        "invitation_mailed" => {
            "Invitation created and being mailed (its delivery shows below). The link below works too: they join when they accept it."
        }
        "invitation_remailed" => {
            "A new link was made and is being mailed; the old one no longer works."
        }
        "invitation_revoked" => "Invitation revoked: its link no longer works.",
        "invitation_accepted" => "Welcome: you joined the workspace.",
        "role_changed" => "Role changed.",
        "tag_created" => "Tag created. Add tenants to it below.",
        "tag_deleted" => "Tag deleted.",
        "schedule_created" => "Schedule created. It fires at the next time shown.",
        "schedule_updated" => "Schedule saved. Its next fires are recalculated.",
        "schedule_paused" => "Schedule paused: it will not fire until you resume it.",
        "schedule_resumed" => "Schedule resumed: it fires from its next slot.",
        "schedule_deleted" => "Schedule deleted. Runs it started are kept.",
        "baseline_captured" => {
            "Baseline captured. Assign it to tenants below: each is compared with it after its next inventory sync, or at once with Compare now."
        }
        "baseline_edited" => {
            "Saved as a new version. Assigned tenants are compared with it shortly."
        }
        "baseline_assigned" => {
            "Assignment saved. Its tenants are compared with the baseline shortly."
        }
        "baseline_unassigned" => "Assignment removed.",
        "baseline_deleted" => {
            "Baseline deleted with its versions, comparisons and accepted deviations."
        }
        "deviation_accepted" => {
            "Deviation accepted: shown as accepted until it expires or is revoked."
        }
        "acceptance_revoked" => "Acceptance revoked: the cell shows its compared state again.",
        "password_changed" => "Password changed. Your other sessions were signed out.",
        "session_ended" => "That session is signed out.",
        "two_step_on" => {
            "Two-step sign-in is on: from now on, signing in asks for a code from your app."
        }
        "time_zone_saved" => "Time zone saved: times are shown in it (hover a time for UTC).",
        "two_step_off" => "Two-step sign-in is off: signing in asks for your password only.",
        "codes_renewed" => "New recovery codes made: the old ones no longer work.",
        "two_step_required" => {
            "Two-step sign-in is now required: members without it are sent to set it up before anything else."
        }
        "two_step_optional" => "Two-step sign-in is now each member's choice.",
        "sessions_ended" => "Every other session is signed out.",
        "member_removed" => "Member removed.",
        "codes_allowed" => "Two-step codes work for them again.",
        "assignment_changed" => "Tenant assignment saved.",
        "tenant_created" => "Tenant added.",
        "tenant_updated" => "Tenant saved.",
        "signed_out" => "You are signed out.",
        "sso_expired" => {
            "That single sign-on took too long, was already used or was started in another browser. Start again."
        }
        "sso_unavailable" => {
            "The identity provider could not be reached. Try again in a moment, or sign in with your password."
        }
        "sso_untrusted" => {
            "The identity provider's answer did not pass Tenantry's checks, so nobody was signed in. Start again."
        }
        "sso_linked" => "Linked: you can sign in with single sign-on from now on.",
        "sso_unlinked" => "Unlinked: that single sign-on account no longer signs you in.",
        "sso_linked_elsewhere" => {
            "That single sign-on account is already linked to another Tenantry account, so nothing changed."
        }
        "sso_required" => {
            "Single sign-on is now required: members' passwords no longer sign them in, and their password sessions ended."
        }
        "sso_optional" => "Single sign-on is now each member's choice; passwords sign in again.",
        "sso_cancelled" => "Single sign-on was cancelled at the identity provider.",
        "sso_no_account" => {
            "No Tenantry account uses that sign-in. Ask an owner of your MSP's workspace to invite you, then accept the invitation with single sign-on."
        }
        "sso_wrong_person" => {
            "That invitation is for another email address than the account you signed in with at the identity provider."
        }
        "sso_account_exists" => {
            "An account already uses the invitation's address: sign in with it (password) to accept the invitation."
        }
        "run_cancelled" => "Run cancelled.",
        "cancel_requested" => "Cancellation requested: the run stops at its next check.",
        "already_finished" => "The run had already finished; nothing was cancelled.",
        "connection_added" => {
            "Provider connection added. Run tenant verification to confirm consent."
        }
        "connection_saved" => "Provider connection saved.",
        "consent_granted" => {
            "Microsoft reports admin consent granted. Verify the tenant now to confirm it: operations that need consent start once verification passes."
        }
        "consent_not_granted" => {
            "Admin consent was not granted, so nothing changed. Try again, or ask a Global Administrator of the customer tenant."
        }
        "secret_rotated" => "Client secret replaced. The old secret is no longer stored.",
        "connection_enabled" => "Provider connection enabled.",
        "connection_disabled" => "Provider connection disabled: operations on it are blocked.",
        "connection_default" => "This is now the tenant's default connection.",
        "connection_deleted" => "Provider connection deleted.",
        "alert_acknowledged" => {
            "Alert acknowledged: it stays until it resolves, and reopens only if its subject changes."
        }
        "alert_snoozed" => "Alert snoozed: no news of it until the snooze ends.",
        "alert_resolved" => "Alert resolved. It opens again if its condition is seen again.",
        "alert_rule_created" => "Rule created: it watches from now on.",
        "alert_rule_saved" => "Rule saved.",
        "alert_rule_paused" => "Rule paused: it raises nothing until you resume it.",
        "alert_rule_resumed" => "Rule resumed.",
        "alert_rule_deleted" => "Rule deleted with its alerts.",
        "endpoint_created" => "Endpoint added. Copy its signing secret now: it is shown only once.",
        "endpoint_rotated" => {
            "New signing secret made: copy it now. The previous one signs for 24 hours more."
        }
        "endpoint_enabled" => "Endpoint turned on: deliveries go to it again.",
        "endpoint_disabled" => "Endpoint turned off: nothing is sent to it.",
        "endpoint_deleted" => "Endpoint deleted.",
        "endpoint_tested" => "Test message queued: its delivery shows below in a moment.",
        "endpoint_redelivered" => "Queued again with the same webhook-id.",
        _ => return None,
    })
}

/// Notices that carry counts: numbers from the query, words from here.
fn counted_notice(key: &str, number: impl Fn(&str) -> i64) -> Option<String> {
    match key {
        "bulk_cancelled" => {
            let (cancelled, requested, finished) =
                (number("cancelled"), number("requested"), number("finished"));
            let mut text = format!(
                "Bulk cancel done: {cancelled} queued run(s) cancelled, {requested} running run(s) asked to stop at their next check."
            );
            if finished > 0 {
                text.push_str(&format!(" {finished} had already finished."));
            }
            Some(text)
        }
        "alerts_acknowledged" => Some(format!("{} alert(s) acknowledged.", number("count"))),
        _ => None,
    }
}

#[component]
pub fn Notice() -> impl IntoView {
    let query = use_query_map();
    move || {
        let q = query.read();
        let key = q.get("notice")?;
        let number = |name: &str| {
            q.get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0)
        };
        notice_text(&key)
            .map(str::to_string)
            .or_else(|| counted_notice(&key, number))
            .map(|text| view! { <p class="notice" role="status">{text}</p> })
    }
}

/// This site's origin (`https://host`), for links people copy elsewhere:
/// the configured public URL, else the (allow-listed) host of the request.
pub fn site_origin() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::ctx::SiteOrigin>()
            .map(|o| o.0)
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}

/// The badge classes for a presenter tone (pages and islands share them).
pub fn tone_class(tone: domain::runs::presenter::Tone) -> &'static str {
    use domain::runs::presenter::Tone;
    match tone {
        Tone::Success => "badge badge-ok",
        Tone::Danger => "badge badge-bad",
        Tone::Warning => "badge badge-warn",
        Tone::Info => "badge badge-info",
        Tone::Neutral => "badge badge-muted",
    }
}

/// A time, or a dash when there is none.
pub fn when(ms: Option<i64>) -> String {
    ms.map(crate::time::when_text).unwrap_or_else(|| "—".into())
}

/// Next steps from the registry: the words, and a link where one does it.
pub fn next_steps_list(
    steps: Vec<domain::runs::next_steps::NextStep>,
    class: &'static str,
) -> impl IntoView {
    (!steps.is_empty()).then(|| {
        view! {
            <ul class=class data-testid="next-steps">
                {steps.into_iter().map(|s| view! {
                    <li>{s.text} {s.link.map(|l| view! { " " <a class="link" href=l.href>{l.label}</a> })}</li>
                }).collect_view()}
            </ul>
        }
    })
}

#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2 class="empty-title">{title}</h2>
            <div class="muted">{children()}</div>
        </div>
    }
}

/// The "no workspace yet" state every workspace page shares.
#[component]
pub fn NoWorkspace() -> impl IntoView {
    view! {
        <EmptyState title="You are not in a workspace yet">
            <p>"A workspace holds your customer tenants and the people who manage them."</p>
            <p class="mt-3"><a href="/admin/workspaces/new" class="btn btn-primary">"Create a workspace"</a></p>
            <p class="mt-2">"Or ask an owner of an existing workspace to add you."</p>
        </EmptyState>
    }
}

/// The two fields that identify a new tenant (its name and Microsoft tenant
/// id), shared by "Add a tenant" and the onboarding wizard's first step.
/// `prefix` keeps the element ids unique on the page.
#[component]
pub fn TenantIdentityFields(prefix: &'static str) -> impl IntoView {
    let name = format!("{prefix}-name");
    let guid = format!("{prefix}-guid");
    let help = format!("{prefix}-guid-help");
    view! {
        <div class="field">
            <label for=name.clone()>"Display name"</label>
            <input id=name name="display_name" required maxlength="120" class="input" placeholder="Fabrikam Ltd"/>
        </div>
        <div class="field">
            <label for=guid.clone()>"Microsoft tenant id"</label>
            <input id=guid name="microsoft_tenant_id" required class="input" placeholder="00000000-0000-0000-0000-000000000000" aria-describedby=help.clone()/>
            <p id=help class="help">"The tenant's GUID from Microsoft Entra ID › Overview."</p>
        </div>
    }
}
