//! Find anything (spec 013): the palette's server function and the search
//! page over a synced tenant — tenants by name, typo and Microsoft tenant id,
//! runs by number, policies and groups of the latest sync, actions, pages,
//! recent tenants — and never what the member may not see.

use crate::both_backends;
use crate::common::{Backend, Browser};
use crate::provider::{HEALTHY, NO_CONSENT, provider_world};
use domain::rbac::Role;
use serde_json::Value;

async fn search(b: &Browser, q: &str) -> Value {
    let r = b.call("/api/search", &[("q", q.to_string())]).await;
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// (kind, title) of every hit.
fn hits(v: &Value) -> Vec<(String, String)> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_string(),
                h["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn first_of(v: &Value, kind: &str) -> Option<Value> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == kind)
        .cloned()
}

async fn finds_what_the_member_may_see(backend: Backend) {
    let w = provider_world(backend).await;
    let contoso = w.tenant("Contoso", HEALTHY).await;
    let fabrikam = w.tenant("Fabrikam", NO_CONSENT).await;
    w.connect(contoso, HEALTHY).await;
    w.run_to_end(contoso, "tenant_verification").await;
    let inventory = w.run_to_end(contoso, "inventory_sync").await;
    w.run_to_end(contoso, "directory_groups_sync").await;
    let pool = w.app.services.store.unguarded_pool();

    // Tenants: by a prefix, by a typo, by the Microsoft tenant id's start.
    let v = search(&w.owner, "cont").await;
    assert_eq!(first_of(&v, "Tenant").unwrap()["title"], "Contoso", "{v}");
    assert_eq!(
        first_of(&v, "Tenant").unwrap()["href"],
        format!("/admin/t/{contoso}")
    );
    let v = search(&w.owner, "Contsoo").await;
    assert_eq!(
        first_of(&v, "Tenant").unwrap()["title"],
        "Contoso",
        "a typo: {v}"
    );
    let v = search(&w.owner, &HEALTHY[..8].to_uppercase()).await;
    assert_eq!(first_of(&v, "Tenant").unwrap()["title"], "Contoso", "{v}");
    assert!(
        search(&w.owner, "zzzz").await["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A run by its number, with the presenter's words.
    let v = search(&w.owner, &format!("#{}", inventory.id)).await;
    let run = first_of(&v, "Run").unwrap();
    assert_eq!(run["href"], format!("/admin/operations/{}", inventory.id));
    assert!(
        run["title"].as_str().unwrap().contains("Inventory"),
        "{run}"
    );
    assert!(
        run["detail"].as_str().unwrap().contains("Succeeded"),
        "{run}"
    );
    assert!(first_of(&search(&w.owner, "#987654").await, "Run").is_none());

    // A policy and a group of the latest sync, by a word of their names.
    let (policy,): (String,) = sqlx::query_as(
        "SELECT display_name FROM inventory_items WHERE kind = 'device_configuration' ORDER BY id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let v = search(&w.owner, &policy).await;
    let p = first_of(&v, "Policy").expect("the policy");
    assert_eq!(p["title"], policy.as_str());
    assert!(p["detail"].as_str().unwrap().ends_with("Contoso"), "{p}");
    assert!(
        p["href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/admin/t/{contoso}/inventory?q=")),
        "{p}"
    );
    let (group,): (String,) =
        sqlx::query_as("SELECT display_name FROM directory_groups ORDER BY id LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    let v = search(&w.owner, &group).await;
    assert_eq!(
        first_of(&v, "Group").expect("the group")["title"],
        group.as_str()
    );
    // Another sync does not show a policy twice (only the latest snapshot).
    w.run_to_end(contoso, "inventory_sync").await;
    let v = search(&w.owner, &policy).await;
    let same = hits(&v)
        .into_iter()
        .filter(|(k, t)| k == "Policy" && *t == policy)
        .count();
    assert_eq!(same, 1, "{v}");
    // LIKE's wildcards are only characters.
    assert!(first_of(&search(&w.owner, "%").await, "Policy").is_none());
    assert!(first_of(&search(&w.owner, "_").await, "Group").is_none());

    // Actions and pages.
    let v = search(&w.owner, "start inv cont").await;
    let a = first_of(&v, "Action").expect("an action");
    assert_eq!(a["title"], "Start inventory sync on Contoso");
    assert_eq!(a["href"], format!("/admin/t/{contoso}#start-operations"));
    let v = search(&w.owner, "operat").await;
    assert_eq!(first_of(&v, "Page").unwrap()["href"], "/admin/operations");
    assert!(
        first_of(&search(&w.owner, "system").await, "Page").is_none(),
        "not an operator"
    );

    // At most five of a kind, and it says there were more.
    for i in 0..6 {
        w.tenant(
            &format!("Contoso Branch {i}"),
            &format!("aaaaaaaa-0000-4000-8000-00000000000{i}"),
        )
        .await;
    }
    let v = search(&w.owner, "contoso").await;
    let tenants = hits(&v).into_iter().filter(|(k, _)| k == "Tenant").count();
    assert_eq!((tenants, v["more"].as_bool()), (5, Some(true)), "{v}");
    assert_eq!(
        first_of(&v, "Tenant").unwrap()["title"],
        "Contoso",
        "the shortest name first"
    );

    // Bounded input: a long query is cut, not refused.
    let long = "contoso ".repeat(2000);
    let cut = search(&w.owner, &long).await;
    assert!(cut["query"].as_str().unwrap().len() <= 100, "{cut}");

    // Recent tenants: the empty query lists the ones opened last.
    assert!(
        search(&w.owner, "").await["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.owner.get(&format!("/admin/t/{fabrikam}")).await.status,
        200
    );
    w.app.clock.advance_ms(1_000);
    assert_eq!(
        w.owner.get(&format!("/admin/t/{contoso}")).await.status,
        200
    );
    let recent = hits(&search(&w.owner, "").await);
    assert_eq!(
        recent,
        vec![
            ("Tenant".to_string(), "Contoso".to_string()),
            ("Tenant".to_string(), "Fabrikam".to_string())
        ]
    );
    // Opening the latest again writes nothing; another one moves to the top.
    let visits = || async {
        let (at,): (i64,) = sqlx::query_as("SELECT MAX(visited_at) FROM recent_tenants")
            .fetch_one(pool)
            .await
            .unwrap();
        at
    };
    let before = visits().await;
    w.app.clock.advance_ms(1_000);
    assert_eq!(
        w.owner.get(&format!("/admin/t/{contoso}")).await.status,
        200
    );
    assert_eq!(visits().await, before, "a reload is no write");
    assert_eq!(
        w.owner.get(&format!("/admin/t/{fabrikam}")).await.status,
        200
    );
    assert_eq!(
        hits(&search(&w.owner, "").await)[0],
        ("Tenant".to_string(), "Fabrikam".to_string())
    );

    // A read-only member assigned to Fabrikam alone: nothing of Contoso, no starts.
    let (owner_id,): (i64,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'owner@example.com'")
            .fetch_one(pool)
            .await
            .unwrap();
    let owner = w
        .app
        .actor(domain::ids::UserId(owner_id), "owner@example.com");
    let ro = w.app.create_user("ro@example.com", false).await;
    domain::workspaces::add_member_directly(
        &w.app.services,
        &owner,
        w.ws,
        "ro@example.com",
        Role::Readonly,
    )
    .await
    .unwrap();
    domain::tenants::set_assignment(&w.app.services, &owner, fabrikam, ro, true)
        .await
        .unwrap();
    let reader = w.app.browser();
    assert_eq!(reader.sign_in("ro@example.com").await.status, 200);
    let r = reader
        .call("/api/workspaces/switch", &[("workspace", w.ws.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = search(&reader, "contoso").await;
    assert!(hits(&v).is_empty(), "{v}");
    assert!(first_of(&search(&reader, &policy).await, "Policy").is_none());
    assert!(first_of(&search(&reader, &group).await, "Group").is_none());
    assert!(first_of(&search(&reader, &format!("#{}", inventory.id)).await, "Run").is_none());
    assert_eq!(
        first_of(&search(&reader, "fabri").await, "Tenant").unwrap()["title"],
        "Fabrikam"
    );
    assert!(
        first_of(&search(&reader, "start").await, "Action").is_none(),
        "read-only"
    );
    // Another workspace's owner finds none of it.
    let (_, stranger, _) = w
        .app
        .signed_in_owner_of("else@example.com", "Other MSP")
        .await;
    for q in [
        "contoso",
        "fabrikam",
        policy.as_str(),
        &format!("{}", inventory.id),
    ] {
        let v = search(&stranger, q).await;
        assert!(hits(&v).iter().all(|(k, _)| k == "Page"), "{q}: {v}");
    }
    // Signed out: 401.
    let r = w
        .app
        .browser()
        .call("/api/search", &[("q", "contoso".into())])
        .await;
    assert_eq!(r.status, 401);

    // The search page renders the same without script.
    let html = w.owner.get("/admin/search?q=contoso").await.body;
    assert!(html.contains("data-testid=\"search-results\""), "{html}");
    assert!(html.contains(&format!("href=\"/admin/t/{contoso}\"")));
    let html = w.owner.get("/admin/search?q=qqqqqq").await.body;
    assert!(html.contains("No matches"));
}

both_backends!(finds_what_the_member_may_see);
