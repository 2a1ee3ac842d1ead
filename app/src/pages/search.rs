//! Find anything: the search page (`/admin/search?q=`, works without
//! script) and the command palette in the shell (Ctrl-K).

use crate::api;
use crate::components::load;
use domain::search::{HitKind, SearchHit, SearchResults};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Hits under their kind's heading, in `HitKind` order.
fn grouped(hits: &[SearchHit]) -> Vec<(HitKind, Vec<(usize, SearchHit)>)> {
    let mut groups: Vec<(HitKind, Vec<(usize, SearchHit)>)> = vec![];
    for (i, h) in hits.iter().enumerate() {
        match groups.last_mut() {
            Some((k, list)) if *k == h.kind => list.push((i, h.clone())),
            _ => groups.push((h.kind, vec![(i, h.clone())])),
        }
    }
    groups
}

/// What the list is when nothing is typed.
fn heading(results: &SearchResults, kind: HitKind) -> &'static str {
    if results.query.is_empty() {
        "Recent tenants"
    } else {
        kind.heading()
    }
}

/// The search icon (the box and the palette).
fn search_icon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <circle cx="11" cy="11" r="6"/>
            <path d="M20 20l-4.5-4.5"/>
        </svg>
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let q = use_query_map()
        .with_untracked(|m| m.get("q"))
        .unwrap_or_default();
    let shown = q.clone();
    view! {
        <div class="page">
            <h1 class="page-title">"Search"</h1>
            <form method="get" action="/admin/search" role="search" class="search-form">
                <label for="search-page-q" class="sr-only">"Search tenants, runs, policies, groups, baselines, schedules and pages"</label>
                <input id="search-page-q" name="q" type="search" class="input" value=shown maxlength="100"
                    placeholder="Tenant, run number, policy, group…" autocomplete="off"/>
                <button type="submit" class="btn btn-primary">"Search"</button>
            </form>
            {load(api::search(q), |r: SearchResults| results_page(r))}
        </div>
    }
}

fn results_page(r: SearchResults) -> impl IntoView {
    if r.hits.is_empty() {
        let (title, text) = if r.query.is_empty() {
            (
                "Nothing opened yet",
                "Type a tenant's name or Microsoft tenant id, a run number, a policy, group, baseline or schedule name, or a page — or \"start\" and an operation.",
            )
        } else {
            (
                "No matches",
                "Nothing you may see matches every word. Try fewer or shorter words.",
            )
        };
        return view! {
            <div class="empty-state" data-testid="search-empty">
                <p class="empty-title">{title}</p>
                <p class="muted">{text}</p>
            </div>
        }
        .into_any();
    }
    let more = r.more;
    let groups = grouped(&r.hits);
    view! {
        <div class="stack" data-testid="search-results">
            {groups.into_iter().map(|(kind, hits)| view! {
                <section class="card" aria-label=heading(&r, kind)>
                    <h2 class="section-title">{heading(&r, kind)}</h2>
                    <ul class="search-hits">
                        {hits.into_iter().map(|(_, h)| view! {
                            <li>
                                <a href=h.href class="link">{h.title}</a>
                                <span class="muted text-sm">" · "{h.detail}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            }).collect_view()}
            {more.then(|| view! { <p class="muted text-sm">"Showing the best 5 of each kind: add a word to narrow."</p> })}
        </div>
    }
    .into_any()
}

/// The shell's search: before the page's script it is a plain form to the
/// search page; after, typing in it, clicking it or Ctrl-K (⌘K) opens the
/// palette — a modal dialog with a combobox and a list that follows each
/// keystroke (the newest answer wins), ↑/↓ to move, Enter to open, Escape to
/// close (the browser returns the focus to where it was).
#[island]
pub fn CommandPalette() -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let input = NodeRef::<leptos::html::Input>::new();
    let results = RwSignal::new(None::<SearchResults>);
    let failed = RwSignal::new(false);
    let active = RwSignal::new(0usize);
    let asked = StoredValue::new(0u64);
    let text = RwSignal::new(String::new());

    let ask = move |q: String| {
        let n = asked.get_value() + 1;
        asked.set_value(n);
        leptos::task::spawn_local(async move {
            // A short pause: a fast typist's keystrokes make one question.
            crate::forms::browser::sleep(90).await;
            if asked.get_value() != n {
                return;
            }
            let answer = api::search(q).await;
            if asked.get_value() != n {
                return;
            }
            match answer {
                Ok(r) => {
                    failed.set(false);
                    active.set(0);
                    results.set(Some(r));
                }
                Err(_) => failed.set(true),
            }
        });
    };
    let open = move |initial: String| {
        let Some(d) = dialog.get_untracked() else {
            return;
        };
        if d.open() {
            return;
        }
        text.set(initial.clone());
        if let Some(i) = input.get_untracked() {
            i.set_value(&initial);
        }
        let _ = d.show_modal();
        if let Some(i) = input.get_untracked() {
            let _ = i.focus();
        }
        ask(initial);
    };
    let go = move |i: usize| {
        let href = results.with_untracked(|r| {
            r.as_ref()
                .and_then(|r| r.hits.get(i))
                .map(|h| h.href.clone())
        });
        if let Some(href) = href {
            if let Some(d) = dialog.get_untracked() {
                d.close();
            }
            crate::forms::browser::navigate(Some(&href));
        }
    };
    let count = move || results.with(|r| r.as_ref().map_or(0, |r| r.hits.len()));
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowDown" => {
            ev.prevent_default();
            let n = count();
            if n > 0 {
                active.update(|a| *a = (*a + 1) % n);
            }
        }
        "ArrowUp" => {
            ev.prevent_default();
            let n = count();
            if n > 0 {
                active.update(|a| *a = (*a + n - 1) % n);
            }
        }
        "Enter" => {
            ev.prevent_default();
            if count() > 0 {
                go(active.get_untracked());
            } else {
                let q = text.get_untracked();
                crate::forms::browser::navigate(Some(&format!(
                    "/admin/search?q={}",
                    domain::validate::encode_query_value(&q)
                )));
            }
        }
        _ => {}
    };
    // Ctrl-K / ⌘K anywhere on the page.
    let _ = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
            ev.prevent_default();
            open(String::new());
        }
    });
    let option_id = |i: usize| format!("palette-option-{i}");
    let all_results = move || {
        format!(
            "/admin/search?q={}",
            domain::validate::encode_query_value(&text.get())
        )
    };
    view! {
        <form method="get" action="/admin/search" role="search" class="search-box"
            on:submit=move |ev| {
                ev.prevent_default();
                open(text.get_untracked());
            }>
            <label for="shell-search" class="sr-only">"Search Tenantry"</label>
            {search_icon()}
            <input id="shell-search" name="q" type="search" class="search-box-input" placeholder="Search…"
                autocomplete="off" maxlength="100" aria-keyshortcuts="Control+K Meta+K" aria-haspopup="dialog"
                on:click=move |_| open(String::new())
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    open(v);
                }/>
            <kbd class="search-box-key" aria-hidden="true">"Ctrl K"</kbd>
        </form>
        <dialog node_ref=dialog class="palette" aria-label="Command palette" data-testid="palette">
            <div class="palette-bar">
                {search_icon()}
                <input node_ref=input type="text" class="palette-input" role="combobox"
                    aria-label="Search tenants, runs, policies, groups, baselines, schedules, pages and actions"
                    aria-expanded=move || (count() > 0).to_string() aria-controls="palette-list"
                    aria-autocomplete="list" autocomplete="off" maxlength="100" spellcheck="false"
                    aria-activedescendant=move || (count() > 0).then(|| option_id(active.get()))
                    on:keydown=on_key
                    on:input=move |ev| {
                        let v = event_target_value(&ev);
                        text.set(v.clone());
                        ask(v);
                    }/>
            </div>
            <p class="sr-only" role="status" aria-live="polite">
                {move || match results.get() {
                    Some(r) if r.hits.is_empty() && !r.query.is_empty() => "No matches".to_string(),
                    Some(r) if r.hits.len() == 1 => "1 result".to_string(),
                    Some(r) => format!("{} results", r.hits.len()),
                    None => String::new(),
                }}
            </p>
            <div id="palette-list" role="listbox" aria-label="Results" class="palette-list">
                {move || {
                    let Some(r) = results.get() else {
                        return view! { <p class="loading" aria-busy="true">"Searching…"</p> }.into_any();
                    };
                    if r.hits.is_empty() {
                        let words = if r.query.is_empty() {
                            "Type a tenant, run number, policy, group, baseline, schedule or page — or \"start\" and an operation."
                        } else {
                            "No matches among what you may see."
                        };
                        return view! { <p class="palette-empty">{words}</p> }.into_any();
                    }
                    let current = active.get();
                    grouped(&r.hits).into_iter().enumerate().map(|(g, (kind, hits))| {
                        let label_id = format!("palette-group-{g}");
                        let labelled_by = label_id.clone();
                        view! {
                            <div role="group" aria-labelledby=labelled_by class="palette-group">
                                <div id=label_id role="presentation" class="palette-heading">{heading(&r, kind)}</div>
                                {hits.into_iter().map(|(i, h)| view! {
                                    <div id=option_id(i) role="option" class="palette-option"
                                        aria-selected=(i == current).to_string()
                                        on:mousemove=move |_| if active.get_untracked() != i { active.set(i) }
                                        on:click=move |_| go(i)>
                                        <span class="palette-title">{h.title}</span>
                                        <span class="palette-detail">{h.detail}</span>
                                    </div>
                                }).collect_view()}
                            </div>
                        }
                    }).collect_view().into_any()
                }}
            </div>
            <p class="form-error" role="alert" hidden=move || !failed.get()>"Search is not answering. Try again, or use the search page."</p>
            <div class="palette-foot">
                <span>"↑↓ move · Enter open · Esc close"</span>
                <a href=all_results class="link">"All results"</a>
            </div>
        </dialog>
    }
}
