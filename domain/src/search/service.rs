//! The search itself: what the member may see in their current workspace,
//! matched by [`Terms`], at most [`PER_KIND`] of a kind.

use super::{HitKind, PAGES, PER_KIND, PageAudience, SearchHit, SearchResults, Terms};
use crate::access::{self, Actor, WorkspaceAccess};
use crate::error::AppResult;
use crate::ids::{RunId, TenantId};
use crate::rbac::Capability;
use crate::runs::model::StartedFrom;
use crate::services::Services;
use crate::validate::encode_query_value;
use crate::views::TenantView;

/// Candidates a large kind's SQL narrows to before ranking.
const CANDIDATES: i64 = 60;
/// Recent tenants kept per person.
const RECENT_KEPT: i64 = 20;

/// Everything the member may see that matches `raw`; for an empty query,
/// their recent tenants.
pub async fn search(svc: &Services, actor: &Actor, raw: &str) -> AppResult<SearchResults> {
    let terms = Terms::parse(raw);
    let access = access::current_workspace_with(svc, actor, Capability::TenantView).await?;
    if terms.is_empty() {
        let hits = match &access {
            Some(a) => recent(svc, actor, a).await?,
            None => vec![],
        };
        return Ok(SearchResults {
            query: terms.text,
            hits,
            more: false,
        });
    }
    let mut found = Found::default();
    found.ranked(pages(svc, actor, access.as_ref(), &terms));
    if let Some(access) = &access {
        let tenants = crate::tenants::list_visible(svc, actor, access).await?;
        found.ranked(tenant_hits(&tenants, &terms));
        found.ranked(actions(access, &tenants, &terms));
        found.ranked(run_hit(svc, actor, &terms).await?);
        let visible = visible_clause(access, actor);
        found.ranked(policies(svc, access, &visible, &terms).await?);
        found.ranked(groups(svc, access, &visible, &terms).await?);
        found.ranked(baselines(svc, access, &terms).await?);
        found.ranked(schedules(svc, access, &terms).await?);
    }
    found.hits.sort_by_key(|h| h.kind);
    Ok(SearchResults {
        query: terms.text,
        hits: found.hits,
        more: found.more,
    })
}

/// Remembers that the member opened a tenant (the palette's "Recent").
pub async fn record_tenant_visit(svc: &Services, actor: &Actor, tenant: TenantId) -> AppResult<()> {
    let now = svc.now();
    // Already the most recent (a reload, the tenant's own pages): the
    // list's order would not change; no write.
    let latest: Option<(i64,)> = sqlx::query_as(
        "SELECT tenant_id FROM recent_tenants WHERE user_id = $1
         ORDER BY visited_at DESC, tenant_id DESC LIMIT 1",
    )
    .bind(actor.user_id.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    if latest == Some((tenant.0,)) {
        return Ok(());
    }
    let mut conn = svc.store.write().await?;
    sqlx::query(
        "INSERT INTO recent_tenants (user_id, tenant_id, visited_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, tenant_id) DO UPDATE SET visited_at = excluded.visited_at",
    )
    .bind(actor.user_id.0)
    .bind(tenant.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Keep the newest few: the list is a switcher, not a history.
    sqlx::query(
        "DELETE FROM recent_tenants WHERE user_id = $1 AND tenant_id NOT IN
           (SELECT tenant_id FROM recent_tenants WHERE user_id = $1 ORDER BY visited_at DESC, tenant_id DESC LIMIT $2)",
    )
    .bind(actor.user_id.0)
    .bind(RECENT_KEPT)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct Found {
    hits: Vec<SearchHit>,
    more: bool,
}

impl Found {
    /// The best `PER_KIND` of one kind's (score, hit) pairs.
    fn ranked(&mut self, mut scored: Vec<(u32, SearchHit)>) {
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.title.cmp(&b.1.title)));
        self.more |= scored.len() > PER_KIND;
        self.hits
            .extend(scored.into_iter().take(PER_KIND).map(|(_, h)| h));
    }
}

fn hit(kind: HitKind, title: String, detail: String, href: String) -> SearchHit {
    SearchHit {
        kind,
        title,
        detail,
        href,
    }
}

async fn recent(
    svc: &Services,
    actor: &Actor,
    access: &WorkspaceAccess,
) -> AppResult<Vec<SearchHit>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.display_name, t.microsoft_tenant_id FROM recent_tenants r
         JOIN tenants t ON t.id = r.tenant_id
         WHERE r.user_id = $1 AND t.workspace_id = $2{}
         ORDER BY r.visited_at DESC, t.id DESC LIMIT {PER_KIND}",
        visible_clause(access, actor)
    )))
    .bind(actor.user_id.0)
    .bind(access.id().0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, mtid)| hit(HitKind::Tenant, name, mtid, format!("/admin/t/{id}")))
        .collect())
}

/// Restricted roles see their assigned tenants only (`t` is the tenants alias).
fn visible_clause(access: &WorkspaceAccess, actor: &Actor) -> String {
    if access.role().sees_all_tenants() {
        String::new()
    } else {
        // An id from the session, never input.
        format!(
            " AND t.id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = {})",
            actor.user_id.0
        )
    }
}

fn pages(
    svc: &Services,
    actor: &Actor,
    access: Option<&WorkspaceAccess>,
    terms: &Terms,
) -> Vec<(u32, SearchHit)> {
    PAGES
        .iter()
        .filter(|(_, _, audience)| match audience {
            PageAudience::Anyone => true,
            PageAudience::Member => access.is_some(),
            PageAudience::TenantManagers => {
                access.is_some_and(|a| a.role().can(Capability::TenantManage))
            }
            PageAudience::WorkspaceCreators => crate::workspaces::may_create(svc, actor),
            PageAudience::PlatformOperators => actor.is_platform_operator,
        })
        .filter_map(|(name, href, _)| {
            let score = terms.score(name)?;
            Some((
                score,
                hit(
                    HitKind::Page,
                    name.to_string(),
                    href.to_string(),
                    href.to_string(),
                ),
            ))
        })
        .collect()
}

fn tenant_hits(tenants: &[TenantView], terms: &Terms) -> Vec<(u32, SearchHit)> {
    let scored = tenants.iter().filter_map(|t| {
        // A Microsoft tenant id matches from its start (people paste it).
        let by_id = (terms.text.len() >= 4
            && t.microsoft_tenant_id
                .to_lowercase()
                .starts_with(&terms.text))
        .then_some(u32::MAX / 2);
        Some((by_id.or_else(|| terms.score(&t.display_name))?, t))
    });
    best(scored, |t| t.display_name.as_str())
        .into_iter()
        .map(|(score, t)| {
            (
                score,
                hit(
                    HitKind::Tenant,
                    t.display_name.clone(),
                    format!("{} · {}", t.status.label(), t.microsoft_tenant_id),
                    format!("/admin/t/{}", t.id.0),
                ),
            )
        })
        .collect()
}

/// The best `PER_KIND + 1` of many scored things (one more than shown, so
/// the answer can say there were more), before any hit is built.
fn best<'a, T: 'a>(
    scored: impl Iterator<Item = (u32, T)>,
    name: impl Fn(&T) -> &str,
) -> Vec<(u32, T)> {
    let mut all: Vec<(u32, T)> = scored.collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| name(&a.1).cmp(name(&b.1))));
    all.truncate(PER_KIND + 1);
    all
}

/// "start inventory contoso": a start the member may make, on a tenant they
/// see, leading to that tenant's Start buttons (the start itself stays one
/// deliberate press away, with the gate's answer beside it). Every word after
/// "start" must be in the operation's label or the tenant's name.
fn actions(
    access: &WorkspaceAccess,
    tenants: &[TenantView],
    terms: &Terms,
) -> Vec<(u32, SearchHit)> {
    let Some((verb, rest)) = terms.words.split_first() else {
        return vec![];
    };
    if verb.len() < 2 || !"start".starts_with(verb.as_str()) {
        return vec![];
    }
    let ops: Vec<_> = crate::provider::TENANT_OPERATIONS
        .iter()
        .map(|op| op.spec())
        .filter(|s| {
            s.available
                && !s.test_only
                && s.started_from == StartedFrom::AnyStartButton
                && access.role().can(s.capability)
        })
        .collect();
    let rest = Terms::from_words(rest.to_vec());
    // Each word scored against each label once and each name once, not per pair.
    let by_label: Vec<Vec<Option<u32>>> = ops.iter().map(|s| rest.word_scores(s.label)).collect();
    let mut scored = vec![];
    for t in tenants
        .iter()
        .filter(|t| t.status == crate::views::TenantStatus::Active)
    {
        let by_name = rest.word_scores(&t.display_name);
        for (o, label_scores) in by_label.iter().enumerate() {
            let score = label_scores
                .iter()
                .zip(&by_name)
                .try_fold(1u32, |total, (a, b)| Some(total + (*a).max(*b)?));
            if let Some(score) = score {
                scored.push((score, (t, ops[o])));
            }
        }
    }
    best(scored.into_iter(), |(t, _)| t.display_name.as_str())
        .into_iter()
        .map(|(score, (t, spec))| {
            (
                score,
                hit(
                    HitKind::Action,
                    format!("Start {} on {}", spec.label.to_lowercase(), t.display_name),
                    "Opens the tenant's Start buttons".into(),
                    format!("/admin/t/{}#start-operations", t.id.0),
                ),
            )
        })
        .collect()
}

async fn run_hit(svc: &Services, actor: &Actor, terms: &Terms) -> AppResult<Vec<(u32, SearchHit)>> {
    let Some(n) = terms.run_number() else {
        return Ok(vec![]);
    };
    let view = match crate::runs::service::RunService::view_for(svc, actor, RunId(n)).await {
        Ok(v) => v,
        // Not there, or not theirs: the same nothing.
        Err(crate::error::AppError::NotFound | crate::error::AppError::Forbidden) => {
            return Ok(vec![]);
        }
        Err(e) => return Err(e),
    };
    let headline = crate::runs::presenter::headline(&view, svc.now());
    let detail = match &view.tenant_name {
        Some(t) => format!("{} · {t}", headline.label),
        None => headline.label,
    };
    Ok(vec![(
        1,
        hit(
            HitKind::Run,
            format!("Run #{n} · {}", view.truth.op_type.spec().label),
            detail,
            format!("/admin/operations/{n}"),
        ),
    )])
}

/// `%word%` with LIKE's wildcards escaped (names are stored folded).
fn like(word: &str) -> String {
    format!("%{}%", crate::store::like_escaped(word))
}

/// `AND {column} LIKE $n` for every word (from `$first`), and the binds:
/// every word must be in the name, so the candidates are all real matches.
fn every_word(terms: &Terms, column: &str, first: usize) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut binds = vec![];
    for (i, w) in terms.words.iter().enumerate() {
        sql.push_str(&format!(" AND {column} LIKE ${} ESCAPE '\\'", first + i));
        binds.push(like(w));
    }
    (sql, binds)
}

/// Candidates first the names that start with the first word, then the
/// shortest (the ranking's own order), so the cut keeps the best.
fn candidate_order(column: &str, name: &str, bind: usize) -> String {
    format!(
        "ORDER BY CASE WHEN {column} LIKE ${bind} ESCAPE '\\' THEN 0 ELSE 1 END, LENGTH({name}), {name} LIMIT {CANDIDATES}"
    )
}

/// Policies of each visible tenant's latest published inventory: per tenant,
/// its newest published snapshot (one index step back from the newest), then
/// that snapshot's items by the browse index.
async fn policies(
    svc: &Services,
    access: &WorkspaceAccess,
    visible: &str,
    terms: &Terms,
) -> AppResult<Vec<(u32, SearchHit)>> {
    let Some(first) = terms.words.first() else {
        return Ok(vec![]);
    };
    let (words, binds) = every_word(terms, "i.search_name", 2);
    // The newest published snapshot per tenant, worked out once per tenant
    // (materialized: not again per matching item).
    let sql = format!(
        "WITH latest AS MATERIALIZED (
             SELECT t.id AS tenant_id, t.display_name AS tenant_name,
                    (SELECT s.id FROM inventory_snapshots s WHERE s.tenant_id = t.id AND {}
                     ORDER BY s.id DESC LIMIT 1) AS snapshot_id
             FROM tenants t WHERE t.workspace_id = $1{visible})
         SELECT i.display_name, i.kind, l.tenant_id, l.tenant_name FROM latest l
         JOIN inventory_items i ON i.snapshot_id = l.snapshot_id
         WHERE i.kind IN ('device_configuration', 'compliance_policy'){words}
         {}",
        crate::runs::sql::published_scalar("s"),
        candidate_order("i.search_name", "i.display_name", binds.len() + 2)
    );
    let mut q = sqlx::query_as::<_, (String, String, i64, String)>(sqlx::AssertSqlSafe(sql))
        .bind(access.id().0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q
        .bind(format!("{}%", crate::store::like_escaped(first)))
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, kind, tenant, tenant_name)| {
            let score = terms.score(&name)?;
            let (what, browse) = if kind == "compliance_policy" {
                ("Compliance policy", "kind=compliance_policies&")
            } else {
                ("Device configuration", "")
            };
            let href = format!(
                "/admin/t/{tenant}/inventory?{browse}q={}",
                encode_query_value(&name)
            );
            Some((
                score,
                hit(
                    HitKind::Policy,
                    name,
                    format!("{what} · {tenant_name}"),
                    href,
                ),
            ))
        })
        .collect())
}

/// Groups of each visible tenant's latest published directory sync (the
/// newest published run of its rows: `directory_groups_external` read
/// backwards from the tenant's newest run), by the browse index.
async fn groups(
    svc: &Services,
    access: &WorkspaceAccess,
    visible: &str,
    terms: &Terms,
) -> AppResult<Vec<(u32, SearchHit)>> {
    let Some(first) = terms.words.first() else {
        return Ok(vec![]);
    };
    let (words, binds) = every_word(terms, "g.search_name", 2);
    // The newest published directory run per tenant and its attempt, worked
    // out once per tenant (materialized: not again per matching group).
    let sql = format!(
        "WITH latest AS MATERIALIZED (
             SELECT l.tenant_id, l.tenant_name, l.run_id,
                    (SELECT pr.attempts FROM operation_runs pr WHERE pr.id = l.run_id) AS attempts
             FROM (
                 SELECT t.id AS tenant_id, t.display_name AS tenant_name,
                        (SELECT x.run_id FROM directory_groups x WHERE x.tenant_id = t.id AND {}
                         ORDER BY x.run_id DESC LIMIT 1) AS run_id
                 FROM tenants t WHERE t.workspace_id = $1{visible}) l)
         SELECT g.display_name, l.tenant_id, l.tenant_name FROM latest l
         JOIN directory_groups g ON g.tenant_id = l.tenant_id AND g.run_id = l.run_id AND g.attempt = l.attempts
         WHERE 1 = 1{words}
         {}",
        crate::runs::sql::published_scalar("x"),
        candidate_order("g.search_name", "g.display_name", binds.len() + 2)
    );
    let mut q =
        sqlx::query_as::<_, (String, i64, String)>(sqlx::AssertSqlSafe(sql)).bind(access.id().0);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q
        .bind(format!("{}%", crate::store::like_escaped(first)))
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, tenant, tenant_name)| {
            let score = terms.score(&name)?;
            let href = format!("/admin/t/{tenant}/groups?q={}", encode_query_value(&name));
            Some((
                score,
                hit(HitKind::Group, name, format!("Group · {tenant_name}"), href),
            ))
        })
        .collect())
}

async fn baselines(
    svc: &Services,
    access: &WorkspaceAccess,
    terms: &Terms,
) -> AppResult<Vec<(u32, SearchHit)>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM baselines WHERE workspace_id = $1")
            .bind(access.id().0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name)| {
            let score = terms.score(&name)?;
            Some((
                score,
                hit(
                    HitKind::Baseline,
                    name,
                    "Baseline".into(),
                    format!("/admin/baselines/{id}"),
                ),
            ))
        })
        .collect())
}

async fn schedules(
    svc: &Services,
    access: &WorkspaceAccess,
    terms: &Terms,
) -> AppResult<Vec<(u32, SearchHit)>> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, op_type FROM schedules WHERE workspace_id = $1")
            .bind(access.id().0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, op)| {
            let score = terms.score(&name)?;
            let what = op
                .parse::<crate::runs::OperationType>()
                .ok()
                .map_or("Schedule".to_string(), |t| {
                    format!("Schedule · {}", t.spec().label)
                });
            Some((
                score,
                hit(
                    HitKind::Schedule,
                    name,
                    what,
                    format!("/admin/schedules#schedule-{id}"),
                ),
            ))
        })
        .collect())
}
