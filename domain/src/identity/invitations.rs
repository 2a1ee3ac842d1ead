//! Invitations: a member joins a workspace only by accepting a link. Inviting
//! answers the same whether or not an account exists for the address (no
//! enumeration), and nobody is added to a workspace without their consent.
//! The link carries a random 256-bit token; the database keeps its SHA-256
//! (lookups) and the token sealed with the server key (so the inviter can copy
//! the link again). Single use: accepting claims the row in one statement.

use crate::access::{self, Actor};
use crate::accounts::{SignedIn, hash_new_password};
use crate::audit::{self, AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::identity::views::{InvitationLanding, InvitationView};
use crate::ids::{InvitationId, UserId, WorkspaceId};
use crate::rbac::{Capability, Role};
use crate::secrets::Secret;
use crate::services::Services;
use crate::sessions;
use crate::store::is_unique_violation;
use crate::validate::{Email, NewPassword};
use crate::views::{AuditAction, AuditOutcome};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long an invitation link works.
pub const VALID_FOR_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The token in an invitation link. Never printed.
#[derive(Clone)]
pub struct InvitationToken(String);

impl std::fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationToken(**redacted**)")
    }
}

impl InvitationToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        InvitationToken(hex::encode(bytes))
    }

    /// A token from a link: 64 lower-case hex characters, nothing else.
    pub fn from_link(raw: &str) -> Option<Self> {
        (raw.len() == 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| InvitationToken(raw.to_string()))
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    pub fn link(&self) -> String {
        format!("/invite/{}", self.0)
    }
}

fn entry<'a>(
    actor: Option<(UserId, &'a str)>,
    workspace: WorkspaceId,
    action: AuditAction,
    email: &str,
    detail: Option<String>,
) -> Entry<'a> {
    Entry {
        workspace: Some(workspace),
        tenant: None,
        actor: actor.map(|a| a.0),
        actor_label: actor.map(|a| a.1).unwrap_or("invited person"),
        action,
        target: email.to_string(),
        outcome: AuditOutcome::Succeeded,
        detail,
    }
}

/// Invites `email` to `workspace` with `role`. The same answer whether or not
/// an account uses the address; an earlier pending invitation for it is
/// replaced (its link stops working).
pub async fn invite(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    email: &str,
    role: Role,
    tenants: &[crate::ids::TenantId],
) -> AppResult<InvitationId> {
    let access =
        super::members::guard_members(svc, actor, workspace, AuditAction::InvitationCreated, email)
            .await?;
    if let Err(e) = super::members::only_owners_touch_owners(&access, &[role]) {
        return Err(access::denied(
            svc,
            actor,
            workspace,
            None,
            AuditAction::InvitationCreated,
            email.to_string(),
            e,
        )
        .await);
    }
    let email = Email::parse(email)?;
    let token = InvitationToken::generate();
    let sealed = svc.secrets.seal(&Secret::new(token.0.clone()));
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    // Membership of *this* workspace is no secret to someone who manages it.
    let member: Option<(i64,)> = sqlx::query_as(
        "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 AND u.email = $2",
    )
    .bind(workspace.0)
    .bind(email.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if member.is_some() {
        return Err(AppError::invalid(
            "email",
            "This person is already a member of the workspace.",
        ));
    }
    sqlx::query(
        "UPDATE invitations SET revoked_at = $3
         WHERE workspace_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(workspace.0)
    .bind(email.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO invitations (workspace_id, email, role, token_hash, token_sealed, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(workspace.0)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(token.hash())
    .bind(&sealed)
    .bind(actor.user_id.0)
    .bind(now)
    .bind(now + VALID_FOR_MS)
    .fetch_one(&mut **tx)
    .await?;
    // Operators and read-only members see only assigned tenants: the ones
    // chosen here, once they accept (owners and managers see every tenant).
    let mut chosen: Vec<i64> = tenants.iter().map(|t| t.0).collect();
    chosen.sort_unstable();
    chosen.dedup();
    if role.sees_all_tenants() {
        chosen.clear();
    }
    for tenant in &chosen {
        let inserted = sqlx::query(
            "INSERT INTO invitation_tenants (invitation_id, tenant_id)
             SELECT $1, id FROM tenants WHERE id = $2 AND workspace_id = $3",
        )
        .bind(id)
        .bind(*tenant)
        .bind(workspace.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Not a tenant of this workspace: nothing is created.
            return Err(AppError::NotFound);
        }
    }
    queue_mail(&mut tx, svc, InvitationId(id), &token, actor, now).await?;
    tx.commit(entry(
        Some((actor.user_id, &actor.email)),
        workspace,
        AuditAction::InvitationCreated,
        email.as_str(),
        Some(if chosen.is_empty() {
            format!("role {role}")
        } else {
            format!("role {role}, {} tenant(s)", chosen.len())
        }),
    ))
    .await?;
    mail_queued(svc);
    Ok(InvitationId(id))
}

/// Queues the invitation's mail in the caller's transaction when mail is
/// configured (without it the inviter copies the link from the page).
async fn queue_mail(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    invitation: InvitationId,
    token: &InvitationToken,
    actor: &Actor,
    now: i64,
) -> AppResult<()> {
    if svc.port::<crate::mail::MailConfig>().is_none() {
        return Ok(());
    }
    let (workspace, email, role, expires_at): (String, String, String, i64) = sqlx::query_as(
        "SELECT w.name, i.email, i.role, i.expires_at FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
         WHERE i.id = $1",
    )
    .bind(invitation.0)
    .fetch_one(&mut *conn)
    .await?;
    let base = svc.public_url.as_deref().unwrap_or("");
    let role_label = role
        .parse::<Role>()
        .map(|r| r.label().to_lowercase())
        .unwrap_or(role);
    let (subject, body) = crate::mail::invitation_message(
        &workspace,
        &actor.email,
        &role_label,
        &format!("{base}{}", token.link()),
        &crate::time_zones::format_with_utc(expires_at, actor.time_zone.as_deref()),
    );
    crate::mail::enqueue(conn, svc, Some(invitation), &email, &subject, &body, now).await
}

/// Wakes this process's mail sender after a commit that queued mail.
fn mail_queued(svc: &Services) {
    if svc.port::<crate::mail::MailConfig>().is_some() {
        svc.run_signal.notify();
    }
}

/// A pending invitation of a workspace the actor manages (404 otherwise).
async fn pending_of(
    svc: &Services,
    actor: &Actor,
    invitation: InvitationId,
    action: AuditAction,
) -> AppResult<(WorkspaceId, String)> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT workspace_id, email FROM invitations
         WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(invitation.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let (ws, email) = row.ok_or(AppError::NotFound)?;
    let ws = WorkspaceId(ws);
    super::members::guard_members(svc, actor, ws, action, &email).await?;
    Ok((ws, email))
}

/// A new link (the old one stops working) valid for another seven days.
pub async fn resend(svc: &Services, actor: &Actor, invitation: InvitationId) -> AppResult<()> {
    let token = InvitationToken::generate();
    let sealed = svc.secrets.seal(&Secret::new(token.0.clone()));
    change_pending(
        svc,
        actor,
        invitation,
        AuditAction::InvitationResent,
        PendingChange::NewLink {
            hash: token.hash(),
            sealed,
            token: token.clone(),
        },
    )
    .await
}

/// The link stops working at once.
pub async fn revoke(svc: &Services, actor: &Actor, invitation: InvitationId) -> AppResult<()> {
    change_pending(
        svc,
        actor,
        invitation,
        AuditAction::InvitationRevoked,
        PendingChange::Revoke,
    )
    .await
}

enum PendingChange {
    NewLink {
        hash: String,
        sealed: String,
        token: InvitationToken,
    },
    Revoke,
}

/// Changes a pending invitation of a workspace the actor manages, audited;
/// 404 when it is not pending any more.
async fn change_pending(
    svc: &Services,
    actor: &Actor,
    invitation: InvitationId,
    action: AuditAction,
    change: PendingChange,
) -> AppResult<()> {
    let (ws, email) = pending_of(svc, actor, invitation, action).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let new_token = match &change {
        PendingChange::NewLink { token, .. } => Some(token.clone()),
        PendingChange::Revoke => None,
    };
    let update = match change {
        PendingChange::NewLink { hash, sealed, .. } => sqlx::query(
            "UPDATE invitations SET token_hash = $2, token_sealed = $3, created_at = $4, expires_at = $5
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(invitation.0)
        .bind(hash)
        .bind(sealed)
        .bind(now)
        .bind(now + VALID_FOR_MS),
        PendingChange::Revoke => sqlx::query(
            "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(invitation.0)
        .bind(now),
    };
    if update.execute(&mut **tx).await?.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    if let Some(token) = new_token {
        queue_mail(&mut tx, svc, invitation, &token, actor, now).await?;
    }
    tx.commit(entry(
        Some((actor.user_id, &actor.email)),
        ws,
        action,
        &email,
        None,
    ))
    .await?;
    mail_queued(svc);
    Ok(())
}

/// Pending, unexpired invitations of a workspace, for those who manage members.
pub async fn pending(
    svc: &Services,
    access: &access::WorkspaceAccess,
) -> AppResult<Vec<InvitationView>> {
    if !access.role().can(Capability::MembersManage) {
        return Ok(Vec::new());
    }
    type Row = (i64, String, String, Option<String>, i64, i64, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.id, i.email, i.role, u.email, i.created_at, i.expires_at, i.token_sealed
         FROM invitations i LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.workspace_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2
         ORDER BY i.id DESC LIMIT 200",
    )
    .bind(access.id().0)
    .bind(svc.now())
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut deliveries = crate::mail::delivery_of(&mut *svc.store.read().await?, &ids).await?;
    let named: Vec<(i64, String)> = sqlx::query_as(
        "SELECT it.invitation_id, t.display_name FROM invitation_tenants it
         JOIN tenants t ON t.id = it.tenant_id JOIN invitations i ON i.id = it.invitation_id
         WHERE i.workspace_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL
         ORDER BY t.display_name",
    )
    .bind(access.id().0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    rows.into_iter()
        .map(
            |(id, email, role, invited_by, created_at, expires_at, sealed)| {
                let token = svc.secrets.open(&sealed).map_err(|_| AppError::Internal)?;
                Ok(InvitationView {
                    id: InvitationId(id),
                    email,
                    role: role.parse().map_err(|_| AppError::Internal)?,
                    invited_by,
                    created_at,
                    expires_at,
                    link: InvitationToken(token.expose().to_string()).link(),
                    mail: deliveries.remove(&id),
                    tenants: named
                        .iter()
                        .filter(|(i, _)| *i == id)
                        .map(|(_, n)| n.clone())
                        .collect(),
                })
            },
        )
        .collect()
}

type LandingRow = (i64, String, String, String, Option<String>, i64);

async fn valid(svc: &Services, token: &InvitationToken) -> AppResult<LandingRow> {
    let row: Option<LandingRow> = sqlx::query_as(
        "SELECT i.workspace_id, w.name, i.email, i.role, u.email, i.expires_at
         FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
         LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2",
    )
    .bind(token.hash())
    .bind(svc.now())
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    // Unknown, used, revoked and expired links answer alike.
    row.ok_or(AppError::NotFound)
}

/// What the invitation page shows to whoever holds the link.
pub async fn landing(
    svc: &Services,
    actor: Option<&Actor>,
    token: &str,
) -> AppResult<InvitationLanding> {
    let token = InvitationToken::from_link(token).ok_or(AppError::NotFound)?;
    let (_, workspace_name, email, role, invited_by, expires_at) = valid(svc, &token).await?;
    Ok(InvitationLanding {
        workspace_name,
        email,
        role: role.parse().map_err(|_| AppError::Internal)?,
        invited_by,
        expires_at,
        signed_in_as: actor.map(|a| a.email.clone()),
        sso: svc.port::<crate::sso::SsoConfig>().map(|c| c.name.clone()),
    })
}

/// Claims the invitation (once) and adds the membership, in the caller's
/// transaction. The invitation's email must be the joining account's.
async fn claim(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    token: &InvitationToken,
    user: UserId,
    email: &str,
    now: i64,
) -> AppResult<(WorkspaceId, Role)> {
    let row: Option<(i64, String, String, i64)> = sqlx::query_as(
        "UPDATE invitations SET accepted_at = $2, accepted_by = $3
         WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         RETURNING workspace_id, email, role, id",
    )
    .bind(token.hash())
    .bind(now)
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await?;
    let (ws, invited, role, invitation) = row.ok_or(AppError::NotFound)?;
    if !invited.eq_ignore_ascii_case(email) {
        return Err(AppError::conflict(format!(
            "This invitation is for {invited}. Sign in with that account to accept it."
        )));
    }
    let ws = WorkspaceId(ws);
    let role: Role = role.parse().map_err(|_| AppError::Internal)?;
    super::members::lock_members(conn, svc, ws).await?;
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, user_id) DO NOTHING",
    )
    .bind(ws.0)
    .bind(user.0)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if !role.sees_all_tenants() {
        sqlx::query(
            "INSERT INTO tenant_assignments (tenant_id, user_id, workspace_id, created_at)
             SELECT it.tenant_id, $2, $3, $4 FROM invitation_tenants it
             JOIN tenants t ON t.id = it.tenant_id AND t.workspace_id = $3
             WHERE it.invitation_id = $1
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(invitation)
        .bind(user.0)
        .bind(ws.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    audit::record(
        conn,
        entry(
            Some((user, email)),
            ws,
            AuditAction::InvitationAccepted,
            email,
            Some(format!("joined as {role}")),
        ),
        now,
    )
    .await?;
    Ok((ws, role))
}

/// The signed-in person accepts: they join and the workspace becomes current.
pub async fn accept(svc: &Services, actor: &Actor, token: &str) -> AppResult<WorkspaceId> {
    let token = InvitationToken::from_link(token).ok_or(AppError::NotFound)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let (ws, _) = claim(&mut tx, svc, &token, actor.user_id, &actor.email, now).await?;
    sessions::set_current_workspace(&mut tx, &actor.session_id_hash, ws).await?;
    tx.commit().await?;
    Ok(ws)
}

/// Someone without an account accepts: the account is created for the
/// invited address with the password they choose, they join, and are signed in.
pub async fn join_with_new_account(
    svc: &Services,
    token: &str,
    password: &str,
    client: crate::sessions::Client<'_>,
) -> AppResult<SignedIn> {
    let token = InvitationToken::from_link(token).ok_or(AppError::NotFound)?;
    let (ws, _, email, _, _, _) = valid(svc, &token).await?;
    if let Some(config) = svc.port::<crate::sso::SsoConfig>() {
        let (sso_only,): (i64,) = sqlx::query_as("SELECT sso_only FROM workspaces WHERE id = $1")
            .bind(ws)
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
        if sso_only != 0 {
            return Err(AppError::conflict(format!(
                "This workspace signs in with {} only: use Join with {}.",
                config.name, config.name
            )));
        }
    }
    let password = NewPassword::parse(password)?;
    let hash = hash_new_password(&password).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let created: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&email)
    .bind(hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let user = match created {
        Ok((id,)) => UserId(id),
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "An account already uses this address: sign in with it to accept the invitation.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let signed_in = join_as_new(
        &mut tx,
        svc,
        &token,
        (user, &email),
        "from an invitation",
        client,
        sessions::Stage::Full,
    )
    .await?;
    tx.commit().await?;
    Ok(signed_in)
}

/// A new account joins through the invitation (in the caller's
/// transaction): the claim, the audit of its creation, its first session.
async fn join_as_new(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    token: &InvitationToken,
    (user, email): (UserId, &str),
    how: &str,
    client: crate::sessions::Client<'_>,
    stage: sessions::Stage,
) -> AppResult<SignedIn> {
    let now = svc.now();
    let (ws, _) = claim(&mut *conn, svc, token, user, email, now).await?;
    audit::record(
        &mut *conn,
        Entry {
            workspace: Some(ws),
            tenant: None,
            actor: Some(user),
            actor_label: email,
            action: AuditAction::UserCreated,
            target: email.to_string(),
            outcome: AuditOutcome::Succeeded,
            detail: Some(how.into()),
        },
        now,
    )
    .await?;
    let token = sessions::insert(conn, user, Some(ws), now, client, stage).await?;
    Ok(SignedIn {
        user,
        token,
        needs_code: false,
        device_cookie: None,
    })
}

/// Accepts an invitation with a single sign-on identity that no account
/// uses yet: the identity's verified email must be the invitation's; the
/// account is created (with no usable password), linked to the identity,
/// joins the workspace and is signed in. An address that already has an
/// account must sign in with it and accept (linking is never by email).
pub(crate) async fn join_with_identity(
    svc: &Services,
    token: &str,
    identity: &crate::sso::Identity,
    client: crate::sessions::Client<'_>,
) -> AppResult<Result<SignedIn, crate::sso::SsoRefusal>> {
    use crate::sso::SsoRefusal;
    let Some(token) = InvitationToken::from_link(token) else {
        return Ok(Err(SsoRefusal::Expired));
    };
    let email = match valid(svc, &token).await {
        Ok((_, _, email, _, _, _)) => email,
        Err(AppError::NotFound) => return Ok(Err(SsoRefusal::Expired)),
        Err(e) => return Err(e),
    };
    if identity.email.as_deref() != Some(email.as_str()) {
        return Ok(Err(SsoRefusal::WrongPerson));
    }
    // No password will ever match this hash: they sign in with single sign-on.
    let mut unusable = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut unusable);
    let hash = hash_new_password(&NewPassword::unusable(&hex::encode(unusable))).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let created: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&email)
    .bind(hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let user = match created {
        Ok((id,)) => UserId(id),
        Err(e) if is_unique_violation(&e) => return Ok(Err(SsoRefusal::AccountExists)),
        Err(e) => return Err(e.into()),
    };
    sqlx::query(
        "INSERT INTO user_identities (issuer, subject, user_id, email, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(user.0)
    .bind(&email)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let signed_in = join_as_new(
        &mut tx,
        svc,
        &token,
        (user, &email),
        "from an invitation, with single sign-on",
        client,
        sessions::Stage::Sso,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(signed_in))
}
