//! The authorization matrix: every page route and every server function,
//! called by every kind of actor against their own, another workspace's and a
//! missing object. The test fails when a route or server function exists
//! without a row, so nothing new ships unguarded.

use crate::both_backends;
use crate::common::{Backend, Browser, TestApp, spawn_app};
use domain::ids::{ProviderConnectionId, RunId, TenantId, UserId, WorkspaceId};
use domain::rbac::Role;
use domain::runs::gate::{Initiator, StartGate};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    NonMember,
    /// Platform operator, not a member of the workspace.
    Operator,
    /// Readonly member of workspace A, assigned to tenant A: sees it, may change nothing.
    Without,
    /// Owner of workspace A.
    With,
}

const ALL: [Who; 5] = [
    Who::Anonymous,
    Who::NonMember,
    Who::Operator,
    Who::Without,
    Who::With,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The route takes no object.
    None,
    Own,
    Other,
    Missing,
}

pub(crate) struct World {
    ws_a: WorkspaceId,
    ws_b: WorkspaceId,
    tenant_a: TenantId,
    tenant_b: TenantId,
    /// Plain members to act on: one in A, one in B.
    victim_a: UserId,
    victim_b: UserId,
    run_a: RunId,
    run_b: RunId,
    note_a: i64,
    note_b: i64,
    conn_a: ProviderConnectionId,
    conn_b: ProviderConnectionId,
    /// A second connection on tenant A that no run holds (the delete row removes it).
    spare_a: ProviderConnectionId,
    /// An inventory snapshot of tenant A with one policy (restore rows).
    snap_a: i64,
    item_a: i64,
    /// Onboarding drafts of A and B.
    draft_a: domain::ids::OnboardingDraftId,
    draft_b: domain::ids::OnboardingDraftId,
    /// Pending invitations of A and B.
    invitation_a: domain::ids::InvitationId,
    invitation_b: domain::ids::InvitationId,
    /// Support requests (`SR-…`) on tenants A and B, saved without a desk.
    support_a: String,
    support_b: String,
    /// Tags and schedules of A and B.
    tag_a: domain::ids::TagId,
    tag_b: domain::ids::TagId,
    schedule_a: domain::ids::ScheduleId,
    schedule_b: domain::ids::ScheduleId,
    /// Bulk starts of A and B.
    bulk_a: domain::ids::BulkStartId,
    bulk_b: domain::ids::BulkStartId,
    /// Baselines of A and B (two items, compared with tenant A / B, item 2 accepted).
    baseline_a: Baseline,
    baseline_b: Baseline,
    /// Alerts of A and B: a rule, an open alert on the tenant, a webhook
    /// endpoint and the delivery queued for it.
    alerts_a: Alerting,
    alerts_b: Alerting,
}

#[derive(Clone, Copy)]
struct Alerting {
    rule: i64,
    alert: i64,
    endpoint: i64,
    delivery: i64,
}

#[derive(Clone, Copy)]
struct Baseline {
    id: i64,
    assignment: i64,
    acceptance: i64,
}

const MISSING: i64 = 987_654_321;
const UNKNOWN_TOKEN: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

impl World {
    fn ws(&self, t: Target) -> String {
        match t {
            Target::Other => self.ws_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.ws_a.to_string(),
        }
    }
    fn tenant(&self, t: Target) -> String {
        match t {
            Target::Other => self.tenant_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.tenant_a.to_string(),
        }
    }
    fn draft(&self, t: Target) -> String {
        match t {
            Target::Other => self.draft_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.draft_a.to_string(),
        }
    }
    fn invitation(&self, t: Target) -> String {
        match t {
            Target::Other => self.invitation_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.invitation_a.to_string(),
        }
    }
    fn run(&self, t: Target) -> String {
        match t {
            Target::Other => self.run_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.run_a.to_string(),
        }
    }
    fn note(&self, t: Target) -> String {
        match t {
            Target::Other => self.note_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.note_a.to_string(),
        }
    }
    fn conn(&self, t: Target) -> String {
        match t {
            Target::Other => self.conn_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.conn_a.to_string(),
        }
    }
    fn spare(&self, t: Target) -> String {
        match t {
            Target::Other => self.conn_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.spare_a.to_string(),
        }
    }
    fn support(&self, t: Target) -> String {
        match t {
            Target::Other => self.support_b.clone(),
            Target::Missing => "SR-MISSING9".to_string(),
            _ => self.support_a.clone(),
        }
    }
    fn tag(&self, t: Target) -> String {
        match t {
            Target::Other => self.tag_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.tag_a.to_string(),
        }
    }
    fn bulk(&self, t: Target) -> String {
        match t {
            Target::Other => self.bulk_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.bulk_a.to_string(),
        }
    }
    fn baseline(&self, t: Target) -> String {
        match t {
            Target::Other => self.baseline_b.id.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.baseline_a.id.to_string(),
        }
    }
    fn acceptance(&self, t: Target) -> String {
        match t {
            Target::Other => self.baseline_b.acceptance.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.baseline_a.acceptance.to_string(),
        }
    }
    fn assignment(&self, t: Target) -> String {
        match t {
            Target::Other => self.baseline_b.assignment.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.baseline_a.assignment.to_string(),
        }
    }
    fn cells(&self, t: Target) -> String {
        format!("{}:1", self.tenant(t))
    }
    fn schedule(&self, t: Target) -> String {
        match t {
            Target::Other => self.schedule_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.schedule_a.to_string(),
        }
    }
    fn alerting(&self, t: Target) -> Alerting {
        match t {
            Target::Other => self.alerts_b,
            Target::Missing => Alerting {
                rule: MISSING,
                alert: MISSING,
                endpoint: MISSING,
                delivery: MISSING,
            },
            _ => self.alerts_a,
        }
    }
    fn victim(&self, t: Target) -> String {
        match t {
            Target::Other => self.victim_b.to_string(),
            Target::Missing => MISSING.to_string(),
            _ => self.victim_a.to_string(),
        }
    }
}

/// A request: path plus form fields.
type Call = (String, Vec<(&'static str, String)>);

enum Kind {
    Page,
    Fn,
}

/// One matrix row: the registered path, how to call it for a target, and the
/// statuses for `Target::None`/`Target::Own` in `ALL` order. Other and missing
/// targets always answer like "not there": 401/303 anonymous, 404 signed in.
struct Row {
    path: &'static str,
    kind: Kind,
    targets: &'static [Target],
    own: [u16; 5],
    request: fn(&World, Target) -> Call,
}

const OBJ: &[Target] = &[Target::Missing, Target::Other, Target::Own];
const NONE: &[Target] = &[Target::None];

/// An alert rule's form (`rule`: the one to update).
fn rule_form(ws: String, rule: Option<i64>) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("workspace", ws),
        ("name", "Matrix rule".into()),
        ("condition", "run_failures".into()),
        ("op_type", "any".into()),
        ("count", "2".into()),
        ("window_hours", "12".into()),
        ("scope", "all".into()),
        ("severity", "info".into()),
        ("roles[0]", "owner".into()),
    ];
    if let Some(r) = rule {
        form.push(("rule", r.to_string()));
    }
    form
}

/// Object-less pages are requested at their own path.
fn at_route(_: &World, _: Target) -> Call {
    (String::new(), vec![])
}

fn rows() -> Vec<Row> {
    vec![
        // ---- pages ------------------------------------------------------------------
        Row {
            path: "/sign-in",
            kind: Kind::Page,
            targets: NONE,
            own: [200, 303, 303, 303, 303],
            request: at_route,
        },
        Row {
            path: "/admin",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/workspaces/new",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/tenants",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/t/{tenant}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/connections",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/connections", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/onboarding",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 403, 200],
            request: at_route,
        },
        Row {
            path: "/admin/onboarding/{draft}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 403, 200],
            request: |w, t| (format!("/admin/onboarding/{}", w.draft(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/restore",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 403, 200],
            request: |w, t| (format!("/admin/t/{}/restore", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/changes",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/changes", w.tenant(t)), vec![]),
        },
        Row {
            path: "/api/drift/card",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/drift/card".into(), vec![("tenant", w.tenant(t))]),
        },
        Row {
            path: "/api/drift/history",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/drift/history".into(),
                    vec![("tenant", w.tenant(t)), ("query", "change=changed".into())],
                )
            },
        },
        Row {
            path: "/admin/t/{tenant}/verification",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/verification", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/inventory",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/inventory", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/compliance",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/compliance", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/groups",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/groups", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/roles",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/t/{}/roles", w.tenant(t)), vec![]),
        },
        Row {
            path: "/admin/t/{tenant}/connections/{connection}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| {
                (
                    format!("/admin/t/{}/connections/{}", w.tenant(t), w.conn(t)),
                    vec![],
                )
            },
        },
        Row {
            path: "/admin/operations",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/operations/{run}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/operations/{}", w.run(t)), vec![]),
        },
        Row {
            path: "/system/ops/runs/{run}",
            kind: Kind::Page,
            targets: &[Target::Missing, Target::Own],
            own: [303, 404, 200, 404, 404],
            request: |w, t| (format!("/system/ops/runs/{}", w.run(t)), vec![]),
        },
        Row {
            path: "/admin/notifications",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/members",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        // Non-members have no workspace, so they see the empty state, not A's log.
        Row {
            path: "/admin/audit",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 403, 200],
            request: at_route,
        },
        Row {
            path: "/admin/retention",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/search",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/system",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 404, 200, 404, 404],
            request: at_route,
        },
        Row {
            path: "/system/ops/runs",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 404, 200, 404, 404],
            request: at_route,
        },
        Row {
            path: "/system/ops/failures",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 404, 200, 404, 404],
            request: at_route,
        },
        Row {
            path: "/system/ops/stuck",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 404, 200, 404, 404],
            request: at_route,
        },
        Row {
            path: "/system/workspaces",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 404, 200, 404, 404],
            request: at_route,
        },
        // ---- loaders ---------------------------------------------------------------
        Row {
            path: "/api/shell",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/shell".into(), vec![]),
        },
        Row {
            path: "/api/overview",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/overview".into(), vec![]),
        },
        Row {
            path: "/api/tenants",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/tenants".into(), vec![]),
        },
        Row {
            path: "/api/tenant",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/tenant".into(), vec![("tenant", w.tenant(t))]),
        },
        Row {
            path: "/api/members",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/members".into(), vec![]),
        },
        Row {
            path: "/api/audit",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 403, 200],
            request: |_, _| ("/api/audit".into(), vec![]),
        },
        // Any member reads what is kept; owners and managers change it.
        Row {
            path: "/api/retention",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/retention".into(), vec![]),
        },
        Row {
            path: "/api/retention/save",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 404, 403, 200],
            request: |_, _| {
                (
                    "/api/retention/save".into(),
                    vec![
                        ("runs_days", "200".into()),
                        ("snapshots_last", "10".into()),
                        ("snapshots_weeks", "6".into()),
                        ("snapshots_months", "12".into()),
                        ("notifications_days", "60".into()),
                        ("audit_days", "500".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/system/workspaces",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 200, 404, 404],
            request: |_, _| ("/api/system/workspaces".into(), vec![]),
        },
        Row {
            path: "/api/runs/get",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/runs/get".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/notifications",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/notifications".into(), vec![]),
        },
        Row {
            path: "/api/operations",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| {
                (
                    "/api/operations".into(),
                    vec![("query", "tab=active".into())],
                )
            },
        },
        // A tenant filter is an object: another workspace's tenant is not there.
        Row {
            path: "/api/operations?tenant",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/operations".into(),
                    vec![("query", format!("tab=stale&tenant={}", w.tenant(t)))],
                )
            },
        },
        Row {
            path: "/api/runs/tenant_summary",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/runs/tenant_summary".into(),
                    vec![("tenant", w.tenant(t))],
                )
            },
        },
        Row {
            path: "/api/runs/workspace_summary",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/runs/workspace_summary".into(), vec![]),
        },
        Row {
            path: "/api/runs/poll",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/runs/poll".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/onboarding/list",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 403, 200],
            request: |_, _| ("/api/onboarding/list".into(), vec![]),
        },
        Row {
            path: "/api/onboarding/start",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/onboarding/start".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("display_name", "Onboarded by the matrix".into()),
                        (
                            "microsoft_tenant_id",
                            "cccccccc-0000-0000-0000-0000000000cc".into(),
                        ),
                    ],
                )
            },
        },
        Row {
            path: "/api/onboarding/get",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/onboarding/get".into(), vec![("draft", w.draft(t))]),
        },
        Row {
            path: "/api/onboarding/connection",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/onboarding/connection".into(),
                    vec![
                        ("draft", w.draft(t)),
                        ("display_name", "Tenantry app".into()),
                        (
                            "entra_tenant_id",
                            "aaaaaaaa-0000-0000-0000-0000000000aa".into(),
                        ),
                        ("client_id", "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b".into()),
                        ("client_secret", "Matrix~secret.value-0123456789".into()),
                        ("expires_on", "2030-12-31".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/onboarding/verify",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/onboarding/verify".into(), vec![("draft", w.draft(t))]),
        },
        // Authorised, then refused: the verification has not finished (no worker).
        Row {
            path: "/api/onboarding/bootstrap",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 409],
            request: |w, t| {
                (
                    "/api/onboarding/bootstrap".into(),
                    vec![("draft", w.draft(t)), ("op_inventory_sync", "on".into())],
                )
            },
        },
        Row {
            path: "/api/onboarding/discard",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/onboarding/discard".into(),
                    vec![("draft", w.draft(t))],
                )
            },
        },
        Row {
            path: "/api/restore/page",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/restore/page".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("query", format!("snapshot={}&item={}", w.snap_a, w.item_a)),
                    ],
                )
            },
        },
        Row {
            path: "/api/restore/execute",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/restore/execute".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("snapshot", w.snap_a.to_string()),
                        ("items", w.item_a.to_string()),
                        ("confirm_name", "Tenant A".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/review-packs/card",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/review-packs/card".into(),
                    vec![("tenant", w.tenant(t))],
                )
            },
        },
        Row {
            path: "/api/review-packs/generate",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/review-packs/generate".into(),
                    vec![("tenant", w.tenant(t)), ("section_operations", "on".into())],
                )
            },
        },
        Row {
            path: "/api/support/panel",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/support/panel".into(), vec![("tenant", w.tenant(t))]),
        },
        Row {
            path: "/api/support/panel?run",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/support/panel".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/support/request",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/support/request".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("subject", "Help with this tenant".into()),
                        ("description", "Something is wrong.".into()),
                        ("severity", "normal".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/support/request?run",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/support/request".into(),
                    vec![
                        ("run", w.run(t)),
                        ("subject", "Help with this run".into()),
                        ("description", "It failed.".into()),
                        ("severity", "high".into()),
                    ],
                )
            },
        },
        // No desk is configured in the test app: a retry is refused in words (409).
        Row {
            path: "/api/support/retry",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 409],
            request: |w, t| {
                (
                    "/api/support/retry".into(),
                    vec![("reference", w.support(t))],
                )
            },
        },
        Row {
            path: "/api/support/link",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/support/link".into(),
                    vec![
                        ("reference", w.support(t)),
                        ("existing_ticket", "RT #4242".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/runs/active",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/runs/active".into(), vec![]),
        },
        Row {
            path: "/api/system/runs",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 200, 404, 404],
            request: |_, _| {
                (
                    "/api/system/runs".into(),
                    vec![("list", "failures".into()), ("query", "".into())],
                )
            },
        },
        Row {
            path: "/api/system/run",
            kind: Kind::Fn,
            targets: &[Target::Missing, Target::Own],
            own: [401, 404, 200, 404, 404],
            request: |w, t| ("/api/system/run".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/provider/panel",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/provider/panel".into(), vec![("tenant", w.tenant(t))]),
        },
        Row {
            path: "/api/provider/connections",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/provider/connections".into(),
                    vec![("tenant", w.tenant(t))],
                )
            },
        },
        Row {
            path: "/api/provider/connection",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/provider/connection".into(),
                    vec![("tenant", w.tenant(t)), ("connection", w.conn(t))],
                )
            },
        },
        Row {
            path: "/api/provider/browse",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/provider/browse".into(),
                    vec![("tenant", w.tenant(t)), ("kind", "groups".into())],
                )
            },
        },
        Row {
            path: "/api/provider/verification",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/provider/verification".into(),
                    vec![("tenant", w.tenant(t))],
                )
            },
        },
        // ---- mutations ---------------------------------------------------------------
        Row {
            path: "/api/runs/cancel",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/runs/cancel".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/notifications/read",
            kind: Kind::Fn,
            targets: OBJ,
            // Only the owner of a notification may touch it; to everyone else it does not exist.
            own: [401, 404, 404, 404, 200],
            request: |w, t| {
                (
                    "/api/notifications/read".into(),
                    vec![("notification", w.note(t))],
                )
            },
        },
        Row {
            path: "/api/notifications/read_all",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/notifications/read_all".into(), vec![]),
        },
        Row {
            path: "/api/session/sign_in",
            kind: Kind::Fn,
            targets: NONE,
            // Wrong password for everyone: one generic 401.
            own: [401, 401, 401, 401, 401],
            request: |_, _| {
                (
                    "/api/session/sign_in".into(),
                    vec![
                        ("email", "nobody@example.com".into()),
                        ("password", "wrong password!".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/session/sign_out",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/session/sign_out".into(), vec![]),
        },
        Row {
            path: "/api/workspaces/create",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| {
                (
                    "/api/workspaces/create".into(),
                    vec![("name", "Another MSP".into())],
                )
            },
        },
        Row {
            path: "/api/workspaces/switch",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/workspaces/switch".into(),
                    vec![("workspace", w.ws(t))],
                )
            },
        },
        // ---- bulk starts ----------------------------------------------------------------
        Row {
            path: "/admin/bulk/{bulk}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/bulk/{}", w.bulk(t)), vec![]),
        },
        Row {
            path: "/api/bulk/get",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| ("/api/bulk/get".into(), vec![("bulk", w.bulk(t))]),
        },
        Row {
            path: "/api/bulk/start",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/bulk/start".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("op_type", "connection_check".into()),
                        ("target", "filter:".into()),
                    ],
                )
            },
        },
        // ---- the fleet overview -------------------------------------------------------
        Row {
            path: "/admin/fleet",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/api/fleet",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| {
                (
                    "/api/fleet".into(),
                    vec![("query", "sort=drift&dir=desc".into())],
                )
            },
        },
        // ---- your account ---------------------------------------------------------------
        Row {
            path: "/admin/account",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/api/account",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/account".into(), vec![]),
        },
        Row {
            // A wrong current password: refused with its field for everyone.
            path: "/api/account/password",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 400, 400, 400, 400],
            request: |_, _| {
                (
                    "/api/account/password".into(),
                    vec![
                        ("current_password", "not the password at all".into()),
                        ("new_password", "a brand new passphrase".into()),
                        ("confirm_password", "a brand new passphrase".into()),
                    ],
                )
            },
        },
        Row {
            // Nobody's session handle: 404 for everyone signed in.
            path: "/api/account/end_session",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/account/end_session".into(),
                    vec![("session", "00000000000000000000aaaa".into())],
                )
            },
        },
        Row {
            path: "/api/account/end_others",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/account/end_others".into(), vec![]),
        },
        Row {
            path: "/api/account/time_zone",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| {
                (
                    "/api/account/time_zone".into(),
                    vec![("time_zone", "UTC".into())],
                )
            },
        },
        Row {
            path: "/api/search",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/search".into(), vec![("q", "a".into())]),
        },
        Row {
            path: "/api/account/theme",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| {
                (
                    "/api/account/theme".into(),
                    vec![("theme", "dark".into()), ("back", "/admin".into())],
                )
            },
        },
        // ---- sign-in options (single sign-on's own routes: sso.rs) ---------------------------
        Row {
            path: "/api/session/options",
            kind: Kind::Fn,
            targets: NONE,
            own: [200, 200, 200, 200, 200],
            request: |_, _| ("/api/session/options".into(), vec![]),
        },
        Row {
            // Single sign-on is not configured in this world: nothing to unlink.
            path: "/api/account/sso/unlink",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/account/sso/unlink".into(),
                    vec![
                        ("identity", "0000000000000000".into()),
                        ("current_password", "not the password at all".into()),
                    ],
                )
            },
        },
        Row {
            // Members-managers pass the guard; single sign-on is not configured: 404.
            path: "/api/members/require_sso",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 404],
            request: |w, t| {
                (
                    "/api/members/require_sso".into(),
                    vec![("workspace", w.ws(t)), ("required", "off".into())],
                )
            },
        },
        // ---- first-run setup: closed once any account exists ------------------------------
        Row {
            path: "/setup",
            kind: Kind::Page,
            targets: NONE,
            own: [404, 404, 404, 404, 404],
            request: at_route,
        },
        Row {
            path: "/api/setup/page",
            kind: Kind::Fn,
            targets: NONE,
            own: [200, 200, 200, 200, 200],
            request: |_, _| ("/api/setup/page".into(), vec![]),
        },
        Row {
            path: "/api/setup",
            kind: Kind::Fn,
            targets: NONE,
            own: [404, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/setup".into(),
                    vec![
                        ("code", "AAAA-BBBB-CCCC".into()),
                        ("email", "late@example.com".into()),
                        ("password", "a long enough passphrase".into()),
                        ("confirm_password", "a long enough passphrase".into()),
                        ("workspace", "Late MSP".into()),
                    ],
                )
            },
        },
        // ---- two-step sign-in -------------------------------------------------------------
        Row {
            // No sign-in waits for a code: the page says so, for anyone.
            path: "/sign-in/code",
            kind: Kind::Page,
            targets: NONE,
            own: [200, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/api/session/code_page",
            kind: Kind::Fn,
            targets: NONE,
            own: [200, 200, 200, 200, 200],
            request: |_, _| ("/api/session/code_page".into(), vec![]),
        },
        Row {
            // No sign-in waits for a code behind any of these cookies.
            path: "/api/session/code",
            kind: Kind::Fn,
            targets: NONE,
            own: [400, 400, 400, 400, 400],
            request: |_, _| ("/api/session/code".into(), vec![("code", "123456".into())]),
        },
        Row {
            path: "/admin/account/two-step",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/api/account/two_step",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/account/two_step".into(), vec![]),
        },
        Row {
            path: "/api/account/two_step/begin",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/account/two_step/begin".into(), vec![]),
        },
        Row {
            // Not a code at all: refused on its field for everyone.
            path: "/api/account/two_step/confirm",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 400, 400, 400, 400],
            request: |_, _| {
                (
                    "/api/account/two_step/confirm".into(),
                    vec![("code", "12".into())],
                )
            },
        },
        Row {
            path: "/api/account/two_step/codes",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 400, 400, 400, 400],
            request: |_, _| {
                (
                    "/api/account/two_step/codes".into(),
                    vec![("current_password", "not the password at all".into())],
                )
            },
        },
        Row {
            path: "/api/account/two_step/off",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 400, 400, 400, 400],
            request: |_, _| {
                (
                    "/api/account/two_step/off".into(),
                    vec![("current_password", "not the password at all".into())],
                )
            },
        },
        Row {
            // "off" while it is off: the owner's call changes nothing, so the
            // rest of the matrix runs without the requirement.
            path: "/api/members/require_two_step",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/members/require_two_step".into(),
                    vec![("workspace", w.ws(t)), ("required", "off".into())],
                )
            },
        },
        Row {
            // Victim A's codes are not stopped: the owner's call is a 409,
            // everyone else is refused before that.
            path: "/api/members/allow_codes",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 409],
            request: |w, t| {
                (
                    "/api/members/allow_codes".into(),
                    vec![("workspace", w.ws(t)), ("member", w.victim(t))],
                )
            },
        },
        // ---- baselines -------------------------------------------------------------------
        Row {
            path: "/admin/baselines",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/baselines/{baseline}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/baselines/{}", w.baseline(t)), vec![]),
        },
        Row {
            path: "/admin/baselines/{baseline}/edit",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 403, 200],
            request: |w, t| (format!("/admin/baselines/{}/edit", w.baseline(t)), vec![]),
        },
        Row {
            path: "/admin/baselines/{baseline}/t/{tenant}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| {
                (
                    format!("/admin/baselines/{}/t/{}", w.baseline(t), w.tenant(t)),
                    vec![],
                )
            },
        },
        Row {
            path: "/admin/baselines/{baseline}/align",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 403, 200],
            request: |w, t| {
                (
                    format!(
                        "/admin/baselines/{}/align?cells={}",
                        w.baseline(t),
                        w.cells(t)
                    ),
                    vec![],
                )
            },
        },
        Row {
            path: "/api/baselines",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/baselines".into(), vec![]),
        },
        Row {
            path: "/api/baselines/get",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/baselines/get".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("query", "state=different".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/tenant",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/baselines/tenant".into(),
                    vec![("baseline", w.baseline(t)), ("tenant", w.tenant(t))],
                )
            },
        },
        Row {
            path: "/api/baselines/edit_page",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/edit_page".into(),
                    vec![("baseline", w.baseline(t))],
                )
            },
        },
        Row {
            path: "/api/baselines/rules",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/rules".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("version", "1".into()),
                        ("item", "1".into()),
                        ("rules[0]", "a=must_exist".into()),
                        ("note", String::new()),
                    ],
                )
            },
        },
        Row {
            // After the rules row the baseline is at version 2.
            path: "/api/baselines/drop_item",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/drop_item".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("version", "2".into()),
                        ("item", "2".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/compare",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/compare".into(),
                    vec![("baseline", w.baseline(t))],
                )
            },
        },
        Row {
            path: "/api/baselines/revoke",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/revoke".into(),
                    vec![("baseline", w.baseline(t)), ("acceptance", w.acceptance(t))],
                )
            },
        },
        Row {
            path: "/api/baselines/accept",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/accept".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("tenant", w.tenant(t)),
                        ("items[0]", "1".into()),
                        ("note", "Customer asked for it".into()),
                        ("expires_on", String::new()),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/align_preview",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/align_preview".into(),
                    vec![("baseline", w.baseline(t)), ("cells", w.cells(t))],
                )
            },
        },
        Row {
            // The owner reaches the check of the typed name (400).
            path: "/api/baselines/align",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 400],
            request: |w, t| {
                (
                    "/api/baselines/align".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("cells", w.cells(t)),
                        ("confirm_name", "not the name".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/assign",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/assign".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("target", format!("tag:{}", w.tag(t))),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/unassign",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/unassign".into(),
                    vec![("baseline", w.baseline(t)), ("assignment", w.assignment(t))],
                )
            },
        },
        Row {
            // The owner reaches the check of the typed name (400): nothing deleted.
            path: "/api/baselines/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 400],
            request: |w, t| {
                (
                    "/api/baselines/delete".into(),
                    vec![
                        ("baseline", w.baseline(t)),
                        ("confirm_name", "not the name".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/baselines/capture",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/baselines/capture".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("name", "Matrix baseline".into()),
                        ("template", w.tenant(t)),
                    ],
                )
            },
        },
        // ---- alerts (in this order: answering before deleting) -----------------------
        Row {
            path: "/admin/alerts",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/admin/alerts/rules",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 403, 200],
            request: at_route,
        },
        Row {
            path: "/admin/alerts/{alert}",
            kind: Kind::Page,
            targets: OBJ,
            own: [303, 404, 404, 200, 200],
            request: |w, t| (format!("/admin/alerts/{}", w.alerting(t).alert), vec![]),
        },
        Row {
            path: "/api/alerts",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/alerts".into(), vec![("query", "tab=open".into())]),
        },
        Row {
            path: "/api/alerts/get",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 200, 200],
            request: |w, t| {
                (
                    "/api/alerts/get".into(),
                    vec![("alert", w.alerting(t).alert.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/snooze",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/snooze".into(),
                    vec![
                        ("alert", w.alerting(t).alert.to_string()),
                        ("hours", "4".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/alerts/acknowledge",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/acknowledge".into(),
                    vec![
                        ("alert", w.alerting(t).alert.to_string()),
                        ("note", "seen".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/alerts/acknowledge_matching",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/acknowledge_matching".into(),
                    vec![("workspace", w.ws(t)), ("query", "tab=open".into())],
                )
            },
        },
        Row {
            path: "/api/alerts/resolve",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/resolve".into(),
                    vec![("alert", w.alerting(t).alert.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/rules",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 403, 200],
            request: |_, _| ("/api/alerts/rules".into(), vec![]),
        },
        Row {
            path: "/api/alerts/rules/save",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| ("/api/alerts/rules/save".into(), rule_form(w.ws(t), None)),
        },
        Row {
            path: "/api/alerts/rules/save?update",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/rules/save".into(),
                    rule_form(w.ws(t), Some(w.alerting(t).rule)),
                )
            },
        },
        Row {
            path: "/api/alerts/rules/enabled",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/rules/enabled".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("rule", w.alerting(t).rule.to_string()),
                        ("enabled", "true".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/create",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/create".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("name", "Matrix hook".into()),
                        ("url", "https://hooks.example.com/matrix".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/rotate",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/rotate".into(),
                    vec![("endpoint", w.alerting(t).endpoint.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/enabled",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/enabled".into(),
                    vec![
                        ("endpoint", w.alerting(t).endpoint.to_string()),
                        ("enabled", "true".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/test",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/test".into(),
                    vec![("endpoint", w.alerting(t).endpoint.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/redeliver",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/redeliver".into(),
                    vec![("delivery", w.alerting(t).delivery.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/endpoints/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/endpoints/delete".into(),
                    vec![("endpoint", w.alerting(t).endpoint.to_string())],
                )
            },
        },
        Row {
            path: "/api/alerts/rules/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/alerts/rules/delete".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("rule", w.alerting(t).rule.to_string()),
                    ],
                )
            },
        },
        // ---- tags and schedules ---------------------------------------------------------
        Row {
            path: "/admin/schedules",
            kind: Kind::Page,
            targets: NONE,
            own: [303, 200, 200, 200, 200],
            request: at_route,
        },
        Row {
            path: "/api/tags",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/tags".into(), vec![]),
        },
        Row {
            path: "/api/schedules",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 200, 200, 200, 200],
            request: |_, _| ("/api/schedules".into(), vec![]),
        },
        Row {
            path: "/api/tags/create",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tags/create".into(),
                    vec![("workspace", w.ws(t)), ("name", "Matrix tag".into())],
                )
            },
        },
        Row {
            path: "/api/tags/add_tenant",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tags/add_tenant".into(),
                    vec![("tenant", w.tenant(t)), ("tag", w.tag(t))],
                )
            },
        },
        Row {
            path: "/api/tags/remove_tenant",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tags/remove_tenant".into(),
                    vec![("tenant", w.tenant(t)), ("tag", w.tag(t))],
                )
            },
        },
        Row {
            path: "/api/tags/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tags/delete".into(),
                    vec![("workspace", w.ws(t)), ("tag", w.tag(t))],
                )
            },
        },
        Row {
            path: "/api/schedules/create",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/schedules/create".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("name", "Nightly".into()),
                        ("op_type", "compliance_snapshot".into()),
                        ("target", "all".into()),
                        ("cron", "0 4 * * *".into()),
                        ("time_zone", "Europe/Berlin".into()),
                        ("spread_seconds", "30".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/schedules/update",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/schedules/update".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("schedule", w.schedule(t)),
                        ("name", "Nightly".into()),
                        ("op_type", "compliance_snapshot".into()),
                        ("target", "all".into()),
                        ("cron", "0 4 * * *".into()),
                        ("time_zone", "Europe/Berlin".into()),
                        ("spread_seconds", "30".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/schedules/pause",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/schedules/pause".into(),
                    vec![("workspace", w.ws(t)), ("schedule", w.schedule(t))],
                )
            },
        },
        Row {
            path: "/api/schedules/resume",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/schedules/resume".into(),
                    vec![("workspace", w.ws(t)), ("schedule", w.schedule(t))],
                )
            },
        },
        Row {
            path: "/api/schedules/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/schedules/delete".into(),
                    vec![("workspace", w.ws(t)), ("schedule", w.schedule(t))],
                )
            },
        },
        Row {
            path: "/api/members/invite",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/members/invite".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("email", "new.member@example.com".into()),
                        ("role", "operator".into()),
                    ],
                )
            },
        },
        // Renew before revoke: the owner's revoke row ends the invitation.
        Row {
            path: "/api/invitations/resend",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/invitations/resend".into(),
                    vec![("invitation", w.invitation(t))],
                )
            },
        },
        Row {
            path: "/api/invitations/revoke",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/invitations/revoke".into(),
                    vec![("invitation", w.invitation(t))],
                )
            },
        },
        // Links are bearer secrets: a link that is not valid is not there,
        // for everyone (valid links are covered in invitations.rs).
        Row {
            path: "/invite/{token}",
            kind: Kind::Page,
            targets: NONE,
            own: [404, 404, 404, 404, 404],
            request: at_route,
        },
        Row {
            path: "/api/invitations/view",
            kind: Kind::Fn,
            targets: NONE,
            own: [404, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/invitations/view".into(),
                    vec![("token", UNKNOWN_TOKEN.into())],
                )
            },
        },
        Row {
            path: "/api/invitations/accept",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/invitations/accept".into(),
                    vec![("token", UNKNOWN_TOKEN.into())],
                )
            },
        },
        Row {
            path: "/api/invitations/join",
            kind: Kind::Fn,
            targets: NONE,
            own: [404, 404, 404, 404, 404],
            request: |_, _| {
                (
                    "/api/invitations/join".into(),
                    vec![
                        ("token", UNKNOWN_TOKEN.into()),
                        ("password", "a long enough password".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/members/role",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/members/role".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("member", w.victim(t)),
                        ("role", "operator".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/tenants/create",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tenants/create".into(),
                    vec![
                        ("workspace", w.ws(t)),
                        ("display_name", "New Tenant".into()),
                        (
                            "microsoft_tenant_id",
                            "11111111-2222-3333-4444-555555555555".into(),
                        ),
                    ],
                )
            },
        },
        Row {
            path: "/api/tenants/rename",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tenants/rename".into(),
                    vec![("tenant", w.tenant(t)), ("display_name", "Renamed".into())],
                )
            },
        },
        Row {
            path: "/api/tenants/status",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tenants/status".into(),
                    vec![("tenant", w.tenant(t)), ("status", "inactive".into())],
                )
            },
        },
        Row {
            path: "/api/tenants/assign",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tenants/assign".into(),
                    vec![("tenant", w.tenant(t)), ("member", w.victim(t))],
                )
            },
        },
        Row {
            path: "/api/tenants/unassign",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/tenants/unassign".into(),
                    vec![("tenant", w.tenant(t)), ("member", w.victim(t))],
                )
            },
        },
        Row {
            path: "/api/connections/create",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/create".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("display_name", "Second app".into()),
                        (
                            "entra_tenant_id",
                            "aaaaaaaa-0000-0000-0000-000000000001".into(),
                        ),
                        ("client_id", "cccccccc-0000-0000-0000-000000000003".into()),
                        ("client_secret", "a-client-secret".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/connections/update",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/update".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("connection", w.conn(t)),
                        ("display_name", "Renamed app".into()),
                        (
                            "entra_tenant_id",
                            "aaaaaaaa-0000-0000-0000-000000000001".into(),
                        ),
                        ("client_id", "cccccccc-0000-0000-0000-000000000003".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/connections/rotate",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/rotate".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("connection", w.conn(t)),
                        ("client_secret", "a-new-client-secret".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/connections/status",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/status".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("connection", w.conn(t)),
                        ("enabled", "true".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/connections/default",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/default".into(),
                    vec![("tenant", w.tenant(t)), ("connection", w.conn(t))],
                )
            },
        },
        Row {
            path: "/api/operations/start",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/operations/start".into(),
                    vec![
                        ("tenant", w.tenant(t)),
                        ("op_type", "connection_check".into()),
                    ],
                )
            },
        },
        Row {
            path: "/api/connections/delete",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/connections/delete".into(),
                    vec![("tenant", w.tenant(t)), ("connection", w.spare(t))],
                )
            },
        },
        // System-plane triage: platform operators only, on any workspace's run.
        Row {
            path: "/api/system/runs/cancel",
            kind: Kind::Fn,
            targets: &[Target::Missing, Target::Own],
            own: [401, 404, 200, 404, 404],
            request: |w, t| ("/api/system/runs/cancel".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/system/runs/run_again",
            kind: Kind::Fn,
            targets: &[Target::Missing, Target::Own],
            own: [401, 404, 200, 404, 404],
            request: |w, t| ("/api/system/runs/run_again".into(), vec![("run", w.run(t))]),
        },
        Row {
            path: "/api/system/runs/bulk_cancel",
            kind: Kind::Fn,
            targets: NONE,
            own: [401, 404, 200, 404, 404],
            request: |_, _| {
                (
                    "/api/system/runs/bulk_cancel".into(),
                    vec![
                        ("list", "stuck".into()),
                        ("query", "".into()),
                        ("confirmed", "1".into()),
                    ],
                )
            },
        },
        // Last: it removes victim A, whom the assignment rows above act on.
        Row {
            path: "/api/members/remove",
            kind: Kind::Fn,
            targets: OBJ,
            own: [401, 404, 404, 403, 200],
            request: |w, t| {
                (
                    "/api/members/remove".into(),
                    vec![("workspace", w.ws(t)), ("member", w.victim(t))],
                )
            },
        },
    ]
}

/// Every page route with a concrete path (its own object), and who may see
/// it (an owner of workspace A, or the platform operator for the system plane).
/// The completeness test above keeps this the whole route list.
pub(crate) fn page_visits(w: &World) -> Vec<(&'static str, String, PageVisitor)> {
    let with = ALL.iter().position(|x| *x == Who::With).unwrap_or(4);
    let operator = ALL.iter().position(|x| *x == Who::Operator).unwrap_or(2);
    rows()
        .into_iter()
        .filter(|r| matches!(r.kind, Kind::Page))
        .filter_map(|r| {
            let target = if r.targets.contains(&Target::Own) {
                Target::Own
            } else {
                Target::None
            };
            let path = match target {
                Target::None => r.path.to_string(),
                _ => (r.request)(w, target).0,
            };
            let who = if r.own[with] == 200 {
                PageVisitor::Owner
            } else if r.own[operator] == 200 {
                PageVisitor::PlatformOperator
            } else {
                // `/sign-in` is for visitors: signed-in users are redirected.
                return None;
            };
            Some((r.path, path, who))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageVisitor {
    Owner,
    PlatformOperator,
}

fn registered_pages() -> BTreeSet<String> {
    leptos_axum::generate_route_list(app::App)
        .into_iter()
        .map(|r| r.path().to_string())
        .collect()
}

fn registered_fns() -> BTreeSet<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect()
}

#[test]
fn every_route_and_server_function_has_a_row() {
    let rows = rows();
    let page_rows: BTreeSet<String> = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::Page))
        .map(|r| r.path.to_string())
        .collect();
    let fn_rows: BTreeSet<String> = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::Fn))
        // `path?what` rows are a second look at the same function.
        .map(|r| r.path.split('?').next().unwrap_or(r.path).to_string())
        .collect();
    let pages = registered_pages();
    let fns = registered_fns();
    assert!(
        !pages.is_empty() && !fns.is_empty(),
        "route discovery found nothing"
    );
    let missing_pages: Vec<_> = pages.difference(&page_rows).collect();
    let missing_fns: Vec<_> = fns.difference(&fn_rows).collect();
    assert!(
        missing_pages.is_empty(),
        "page routes without an authorization row: {missing_pages:?}"
    );
    assert!(
        missing_fns.is_empty(),
        "server functions without an authorization row: {missing_fns:?}"
    );
    let stale: Vec<_> = page_rows
        .difference(&pages)
        .chain(fn_rows.difference(&fns))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for routes that no longer exist: {stale:?}"
    );
}

#[test]
fn every_server_function_is_post_only() {
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        assert_eq!(method, http::Method::POST, "{path} must be POST-only");
    }
}

pub(crate) async fn world(app: &TestApp) -> World {
    let owner_a = app.create_user("owner.a@example.com", false).await;
    let owner_b = app.create_user("owner.b@example.com", false).await;
    let readonly = app.create_user("readonly.a@example.com", false).await;
    let victim_a = app.create_user("victim.a@example.com", false).await;
    let victim_b = app.create_user("victim.b@example.com", false).await;
    app.create_user("new.member@example.com", false).await;
    let svc = &app.services;
    let a = app.actor(owner_a, "owner.a@example.com");
    let b = app.actor(owner_b, "owner.b@example.com");
    let ws_a = domain::workspaces::create(svc, &a, "Workspace A")
        .await
        .unwrap();
    let ws_b = domain::workspaces::create(svc, &b, "Workspace B")
        .await
        .unwrap();
    let tenant_a = domain::tenants::create(
        svc,
        &a,
        ws_a,
        "Tenant A",
        "aaaaaaaa-0000-0000-0000-000000000001",
    )
    .await
    .unwrap();
    let tenant_b = domain::tenants::create(
        svc,
        &b,
        ws_b,
        "Tenant B",
        "bbbbbbbb-0000-0000-0000-000000000002",
    )
    .await
    .unwrap();
    domain::workspaces::add_member_directly(
        svc,
        &a,
        ws_a,
        "readonly.a@example.com",
        Role::Readonly,
    )
    .await
    .unwrap();
    domain::workspaces::add_member_directly(svc, &a, ws_a, "victim.a@example.com", Role::Readonly)
        .await
        .unwrap();
    domain::workspaces::add_member_directly(svc, &b, ws_b, "victim.b@example.com", Role::Readonly)
        .await
        .unwrap();
    domain::tenants::set_assignment(svc, &a, tenant_a, readonly, true)
        .await
        .unwrap();
    let conn_a =
        crate::world::add_connection(app, ws_a, tenant_a, "enabled", "granted", true, None).await;
    let conn_b =
        crate::world::add_connection(app, ws_b, tenant_b, "enabled", "granted", true, None).await;
    let spare_a =
        crate::world::add_connection(app, ws_a, tenant_a, "enabled", "granted", true, None).await;

    let run_a = StartGate::start(
        svc,
        Initiator::System,
        crate::runs::probe(tenant_a, serde_json::json!({})),
    )
    .await
    .unwrap()
    .run;
    let run_b = StartGate::start(
        svc,
        Initiator::System,
        crate::runs::probe(tenant_b, serde_json::json!({})),
    )
    .await
    .unwrap()
    .run;
    let note = |user: UserId, ws: WorkspaceId| async move {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO notifications (user_id, workspace_id, run_id, tone, title, body, link, created_at)
             VALUES ($1, $2, NULL, 'info', 'A run ended', 'Body', '/admin/operations', 0) RETURNING id",
        )
        .bind(user.0)
        .bind(ws.0)
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
        id
    };
    let note_a = note(owner_a, ws_a).await;
    let note_b = note(owner_b, ws_b).await;
    let synced_a = app.finished_run(ws_a, tenant_a, "inventory_sync").await;
    let (snap_a,): (i64,) = sqlx::query_as(
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices)
         VALUES ($1, $2, 0, 1, 0, 0) RETURNING id",
    )
    .bind(tenant_a.0)
    .bind(synced_a.0)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let item_a = app
        .store_item(
            snap_a,
            "device_configuration",
            "cfg-1",
            "Baseline",
            Some("{\"displayName\":\"Baseline\"}".into()),
        )
        .await;
    let draft_a = domain::onboarding::start(
        svc,
        &a,
        ws_a,
        "Onboarding A",
        "aaaaaaaa-0000-0000-0000-0000000000aa",
    )
    .await
    .unwrap();
    let draft_b = domain::onboarding::start(
        svc,
        &b,
        ws_b,
        "Onboarding B",
        "bbbbbbbb-0000-0000-0000-0000000000bb",
    )
    .await
    .unwrap();
    let invitation_a =
        domain::invitations::invite(svc, &a, ws_a, "invited.a@example.com", Role::Operator, &[])
            .await
            .unwrap();
    let invitation_b =
        domain::invitations::invite(svc, &b, ws_b, "invited.b@example.com", Role::Operator, &[])
            .await
            .unwrap();
    let support = |actor: domain::access::Actor, tenant: TenantId| async move {
        domain::support::request(
            svc,
            &actor,
            domain::support::SupportContext::Tenant(tenant),
            domain::support::NewSupportRequest {
                subject: "Help".into(),
                description: "Something is wrong.".into(),
                severity: domain::support::Severity::Normal,
                contact: None,
                existing_ticket: None,
            },
        )
        .await
        .unwrap()
        .reference
    };
    let support_a = support(a.clone(), tenant_a).await;
    let support_b = support(b.clone(), tenant_b).await;
    let tag_a = domain::schedules::tags::create(svc, &a, ws_a, "Tier 1")
        .await
        .unwrap();
    let tag_b = domain::schedules::tags::create(svc, &b, ws_b, "Tier 1")
        .await
        .unwrap();
    let schedule = |name: &str| domain::schedules::service::ScheduleForm {
        name: name.into(),
        op_type: "inventory_sync".into(),
        target: "all".into(),
        cron: "0 3 * * *".into(),
        time_zone: "UTC".into(),
        spread_seconds: "60".into(),
    };
    let schedule_a = domain::schedules::service::create(svc, &a, ws_a, schedule("Nightly A"))
        .await
        .unwrap();
    let schedule_b = domain::schedules::service::create(svc, &b, ws_b, schedule("Nightly B"))
        .await
        .unwrap();
    let bulk = |actor: domain::access::Actor, ws: WorkspaceId| async move {
        domain::schedules::bulk::start(
            svc,
            &actor,
            ws,
            "role_definitions_sync",
            domain::schedules::bulk::Selection::Matching { tag: None },
        )
        .await
        .unwrap()
        .id
    };
    let bulk_a = bulk(a.clone(), ws_a).await;
    let bulk_b = bulk(b.clone(), ws_b).await;
    let baseline_a = baseline_fixture(app, ws_a, tenant_a, "Standard A").await;
    let baseline_b = baseline_fixture(app, ws_b, tenant_b, "Standard B").await;
    let alerts_a = alerting_fixture(app, &a, ws_a, tenant_a).await;
    let alerts_b = alerting_fixture(app, &b, ws_b, tenant_b).await;
    World {
        alerts_a,
        alerts_b,
        baseline_a,
        baseline_b,
        bulk_a,
        bulk_b,
        tag_a,
        tag_b,
        schedule_a,
        schedule_b,
        support_a,
        support_b,
        invitation_a,
        invitation_b,
        run_a,
        run_b,
        note_a,
        note_b,
        ws_a,
        ws_b,
        tenant_a,
        tenant_b,
        victim_a,
        victim_b,
        conn_a,
        conn_b,
        spare_a,
        snap_a,
        item_a,
        draft_a,
        draft_b,
    }
}

/// A rule raising on any failed run, with a webhook endpoint; one failed run
/// on `tenant` opens its alert and queues its delivery.
async fn alerting_fixture(
    app: &TestApp,
    owner: &domain::access::Actor,
    ws: WorkspaceId,
    tenant: TenantId,
) -> Alerting {
    let svc = &app.services;
    let endpoint =
        domain::alerts::webhooks::create(svc, owner, ws, "Hook", "https://hooks.example.com/t")
            .await
            .unwrap();
    let rule = domain::alerts::rules::create(
        svc,
        owner,
        ws,
        domain::alerts::rules::RuleForm {
            name: "Any failure".into(),
            condition: "run_failures".into(),
            op_type: "any".into(),
            count: "1".into(),
            window_hours: "24".into(),
            scope: "all".into(),
            severity: "warning".into(),
            webhooks: vec![endpoint],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    sqlx::query(domain::runs::sql::ending!(
        svc.store.backend(),
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context,
            reason_code, created_at, available_at, completed_at, end_mark)
         VALUES ($1, $2, 'inventory_sync', 'completed', 'failed', 'schedule', $3, '{}', 'provider_unavailable', $4, $4, $4, ",
        ")"
    ))
    .bind(ws.0)
    .bind(tenant.0)
    .bind(format!("matrix-alert:{tenant}"))
    .bind(domain::clock::Clock::now_ms(&app.clock))
    .execute(svc.store.unguarded_pool())
    .await
    .unwrap();
    domain::alerts::evaluate::catch_up(svc, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let (alert,): (i64,) = sqlx::query_as("SELECT id FROM alerts WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    let (delivery,): (i64,) = sqlx::query_as("SELECT id FROM alert_deliveries WHERE alert_id = $1")
        .bind(alert)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    Alerting {
        rule: rule.0,
        alert,
        endpoint: endpoint.0,
        delivery,
    }
}

/// A baseline of two items assigned to every tenant, compared with `tenant`
/// (both items different), item 2 accepted.
async fn baseline_fixture(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: TenantId,
    name: &str,
) -> Baseline {
    let pool = app.services.store.unguarded_pool();
    let one = |sql: &'static str| sqlx::query_as::<_, (i64,)>(sql);
    let (id,) = one(
        "INSERT INTO baselines (workspace_id, name, search_name, current_version, changed_at, created_at)
         VALUES ($1, $2, $3, 1, 0, 0) RETURNING id",
    )
    .bind(ws.0)
    .bind(name)
    .bind(name.to_lowercase())
    .fetch_one(pool)
    .await
    .unwrap();
    let (version,) = one(
        "INSERT INTO baseline_versions (baseline_id, version, template_name, note, created_at)
         VALUES ($1, 1, 'Template', 'Captured', 0) RETURNING id",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    for no in [1i64, 2] {
        sqlx::query(
            "INSERT INTO baseline_items (version_id, item_no, kind, display_name, settings, rules)
             VALUES ($1, $2, 'device_configuration', $3, '{\"a\":1}', '{}')",
        )
        .bind(version)
        .bind(no)
        .bind(format!("Policy {no}"))
        .execute(pool)
        .await
        .unwrap();
    }
    let (assignment,) = one(
        "INSERT INTO baseline_assignments (baseline_id, target_kind, created_at) VALUES ($1, 'all', 0) RETURNING id",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    let run = app.finished_run(ws, tenant, "baseline_compare").await;
    let (result,) = one(
        "INSERT INTO baseline_results (workspace_id, tenant_id, baseline_id, version, snapshot_id, run_id, attempt,
            aligned, different, missing, extras, compared_at)
         VALUES ($1, $2, $3, 1, 0, $4, 1, 0, 2, 0, '[]', 0) RETURNING id",
    )
    .bind(ws.0)
    .bind(tenant.0)
    .bind(id)
    .bind(run.0)
    .fetch_one(pool)
    .await
    .unwrap();
    for no in [1i64, 2] {
        sqlx::query(
            "INSERT INTO baseline_result_items (result_id, item_no, state, settings)
             VALUES ($1, $2, 'different', '[{\"setting\":\"a\",\"before\":\"1\",\"after\":\"2\"}]')",
        )
        .bind(result)
        .bind(no)
        .execute(pool)
        .await
        .unwrap();
    }
    let (acceptance,) = one(
        "INSERT INTO baseline_acceptances (baseline_id, tenant_id, item_no, note, accepted_at)
         VALUES ($1, $2, 2, 'Fixture', 0) RETURNING id",
    )
    .bind(id)
    .bind(tenant.0)
    .fetch_one(pool)
    .await
    .unwrap();
    Baseline {
        id,
        assignment,
        acceptance,
    }
}

/// Each call gets fresh sessions, so a sign-out or a workspace switch in one
/// row cannot leak into another.
async fn browser_for(app: &TestApp, who: Who) -> Browser {
    let b = app.browser();
    let email = match who {
        Who::Anonymous => return b,
        Who::NonMember => "outsider@example.com",
        Who::Operator => "platform.operator@example.com",
        Who::Without => "readonly.a@example.com",
        Who::With => "owner.a@example.com",
    };
    let r = b.sign_in(email).await;
    assert_eq!(r.status, 200, "sign in {email}");
    b
}

async fn matrix(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    app.create_user("outsider@example.com", false).await;
    app.create_user("platform.operator@example.com", true).await;

    let mut failures = Vec::new();
    let mut calls = 0;
    for row in rows() {
        for &target in row.targets {
            for (i, &who) in ALL.iter().enumerate() {
                let expected = match target {
                    Target::None | Target::Own => row.own[i],
                    Target::Other | Target::Missing => match (who, &row.kind) {
                        (Who::Anonymous, Kind::Page) => 303,
                        (Who::Anonymous, Kind::Fn) => 401,
                        _ => 404,
                    },
                };
                let b = browser_for(&app, who).await;
                let (status, body) = match row.kind {
                    Kind::Page => {
                        let path = match target {
                            Target::None => row.path.to_string(),
                            _ => (row.request)(&w, target).0,
                        };
                        let r = b.get(&path).await;
                        (r.status, r.body)
                    }
                    Kind::Fn => {
                        let (path, form) = (row.request)(&w, target);
                        let r = b.call(&path, &form).await;
                        (r.status, r.body)
                    }
                };
                calls += 1;
                if status != expected {
                    failures.push(format!(
                        "{} {:?} as {:?}: expected {expected}, got {status} ({})",
                        row.path,
                        target,
                        who,
                        body.chars().take(160).collect::<String>()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} matrix calls wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Other-workspace and missing objects must be indistinguishable: same status, same body.
async fn other_and_missing_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let b = browser_for(&app, Who::With).await;
    let other = b.get(&format!("/admin/t/{}", w.tenant_b)).await;
    let missing = b.get(&format!("/admin/t/{MISSING}")).await;
    assert_eq!(other.status, 404);
    assert_eq!(missing.status, 404);
    let without_nonce = |r: &crate::common::Reply| {
        let csp = r
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap_or("no-nonce");
        r.body.replace(nonce, "")
    };
    assert_eq!(without_nonce(&other), without_nonce(&missing));
    assert!(other.body.contains("Not found"));
    assert!(
        !other.body.contains("Tenant B"),
        "another workspace's tenant name leaked"
    );
}

both_backends!(
    matrix,
    other_and_missing_look_the_same,
    refused_mutations_are_audited
);

/// Server functions that only read: refusing them is not an attempted change.
const READ_ONLY_FNS: &[&str] = &[
    "/api/shell",
    "/api/overview",
    "/api/tenants",
    "/api/tenant",
    "/api/members",
    "/api/tags",
    "/api/schedules",
    "/api/bulk/get",
    "/api/drift/card",
    "/api/drift/history",
    "/api/fleet",
    "/api/account",
    "/api/account/two_step",
    "/api/session/code_page",
    "/api/setup/page",
    "/api/session/options",
    "/api/baselines",
    "/api/baselines/get",
    "/api/baselines/tenant",
    "/api/baselines/edit_page",
    "/api/baselines/align_preview",
    "/api/audit",
    "/api/system/workspaces",
    "/api/runs/get",
    "/api/notifications",
    "/api/operations",
    "/api/runs/tenant_summary",
    "/api/runs/workspace_summary",
    "/api/runs/poll",
    "/api/runs/active",
    "/api/system/runs",
    "/api/system/run",
    "/api/onboarding/list",
    "/api/onboarding/get",
    "/api/restore/page",
    "/api/review-packs/card",
    "/api/support/panel",
    "/api/provider/panel",
    "/api/provider/connections",
    "/api/provider/connection",
    "/api/provider/browse",
    "/api/provider/verification",
    "/api/invitations/view",
    "/api/alerts",
    "/api/alerts/get",
    "/api/alerts/rules",
];

/// Every mutating server function a member's role does not allow (403)
/// leaves a `denied` entry in the workspace's audit log, naming the actor.
async fn refused_mutations_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let without = ALL.iter().position(|x| *x == Who::Without).unwrap_or(3);
    let mut checked = 0;
    let mut missing = Vec::new();
    for row in rows() {
        let base = row.path.split('?').next().unwrap_or(row.path);
        if !matches!(row.kind, Kind::Fn) || READ_ONLY_FNS.contains(&base) || row.own[without] != 403
        {
            continue;
        }
        let target = if row.targets.contains(&Target::Own) {
            Target::Own
        } else {
            Target::None
        };
        let before = denied_by(&app, "readonly.a@example.com").await;
        let b = browser_for(&app, Who::Without).await;
        let (path, form) = (row.request)(&w, target);
        let r = b.call(&path, &form).await;
        assert_eq!(r.status, 403, "{}: {}", row.path, r.body);
        checked += 1;
        if denied_by(&app, "readonly.a@example.com").await <= before {
            missing.push(row.path);
        }
    }
    assert!(checked >= 15, "too few mutations checked: {checked}");
    assert!(
        missing.is_empty(),
        "refused without a `denied` audit entry: {missing:?}"
    );
}

async fn denied_by(app: &TestApp, email: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log a JOIN users u ON u.id = a.actor_user_id
         WHERE a.outcome = 'denied' AND u.email = $1",
    )
    .bind(email)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    n
}
