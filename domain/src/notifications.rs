//! In-app notifications: written by the run service when a user's run ends;
//! read and dismissed by that user only.

use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::NotificationId;
use crate::runs::views::{NotificationView, NotificationsPage};
use crate::services::Services;

const PAGE: i64 = 50;

/// The one writer of notifications lives with the run engine (which must not
/// depend on features); features write theirs through it.
pub use crate::runs::service::{NewNotification, insert_notification as insert};

pub async fn unread_count(svc: &Services, actor: &Actor) -> AppResult<i64> {
    let Some(ws) = access::current_workspace(svc, actor).await? else {
        return Ok(0);
    };
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND workspace_id = $2 AND read_at IS NULL",
    )
    .bind(actor.user_id.0)
    .bind(ws.id.0)
    .fetch_one(&mut *svc.store.read().await?)
    .await?;
    Ok(n)
}

pub async fn page(svc: &Services, actor: &Actor) -> AppResult<Option<NotificationsPage>> {
    let Some(ws) = access::current_workspace(svc, actor).await? else {
        return Ok(None);
    };
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        i64,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, tone, title, body, link, created_at, read_at, next_steps FROM notifications
         WHERE user_id = $1 AND workspace_id = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(actor.user_id.0)
    .bind(ws.id.0)
    .bind(PAGE)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let items: Vec<NotificationView> = rows
        .into_iter()
        .map(
            |(id, tone, title, body, link, created_at, read_at, steps)| NotificationView {
                id: NotificationId(id),
                tone,
                title,
                body,
                link,
                created_at,
                read: read_at.is_some(),
                // Written by the presenter; an unreadable value shows no steps.
                next_steps: steps
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default(),
            },
        )
        .collect();
    Ok(Some(NotificationsPage {
        unread: items.iter().filter(|n| !n.read).count() as i64,
        items,
        workspace: ws,
    }))
}

/// Marks one of the actor's own notifications read (404 for anyone else's).
pub async fn mark_read(svc: &Services, actor: &Actor, id: NotificationId) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND user_id = $2",
    )
    .bind(id.0)
    .bind(actor.user_id.0)
    .bind(svc.now())
    .execute(&mut *svc.store.write().await?)
    .await?
    .rows_affected();
    if n == 0 {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}

pub async fn mark_all_read(svc: &Services, actor: &Actor) -> AppResult<()> {
    let Some(ws) = access::current_workspace(svc, actor).await? else {
        return Ok(());
    };
    sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND workspace_id = $2 AND read_at IS NULL")
        .bind(actor.user_id.0)
        .bind(ws.id.0)
        .bind(svc.now())
        .execute(&mut *svc.store.write().await?)
        .await?;
    Ok(())
}
