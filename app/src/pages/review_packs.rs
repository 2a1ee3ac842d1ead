//! The review pack card on the tenant dashboard (an island: it generates
//! through the gate and polls while a pack is being made).

use crate::forms::{browser, submit_for_json, toast_view};
use crate::pages::operations::refresh_while_active;
use leptos::prelude::*;

/// The review pack card of a tenant dashboard: the latest pack (status,
/// expiry, downloads through the authorised route) and a form to generate a
/// new one. Refreshes every 10 s only while the latest pack is queued or
/// generating; never without a pack; stops on ready, failed or expired.
#[island]
pub fn ReviewPackPanel(initial: domain::review_packs::ReviewPackCard) -> impl IntoView {
    use domain::review_packs::{GenerateAnswer, PackFile, ReviewPackCard, Section, format_size};
    use domain::runs::presenter::Toast;
    let tenant = initial.tenant;
    let state = RwSignal::new(initial);
    let toast = RwSignal::new(None::<Toast>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let polling = StoredValue::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let watch = move || {
        refresh_while_active(
            polling,
            false,
            move || crate::api::load_review_pack_card(tenant),
            move |fresh: ReviewPackCard| {
                let more = fresh.polls();
                if state.get_untracked() != fresh {
                    state.set(fresh);
                }
                more
            },
        );
    };
    Effect::new(move |_| {
        if state.get_untracked().polls() {
            watch();
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        submit_for_json(
            ev,
            form_ref,
            pending,
            error,
            crate::forms::target::<crate::api::GenerateReviewPack>(),
            move |a: GenerateAnswer, _| {
                toast.set(Some(a.toast));
                let polls = a.card.polls();
                state.set(a.card);
                browser::announce_run_started();
                if polls {
                    watch();
                }
            },
        );
    };
    view! {
        <section class="card mt-6" aria-labelledby="review-pack" data-testid="review-pack-card"
            data-status=move || state.get().latest.map(|p| p.status.as_str()).unwrap_or("none")>
            <h2 id="review-pack" class="section-title">"Review pack"</h2>
            <div aria-live="polite">
                {move || {
                    let card = state.get();
                    match card.latest {
                        None => view! {
                            <p class="muted">"No review pack yet. A pack is a report of this tenant (HTML) with its data as CSV and JSON (ZIP), kept for "
                                {card.retention_days} " days."</p>
                        }.into_any(),
                        Some(p) => {
                            let busy = p.status.polls();
                            let ready = p.status == domain::review_packs::PackStatus::Ready;
                            view! {
                                <p>
                                    <span class=pack_badge(p.status) data-testid="review-pack-status">{p.status.label()}</span>
                                    " " <span aria-busy=busy.to_string()>{p.status_sentence(crate::time::when_text)}</span>
                                </p>
                                <p class="muted text-sm">
                                    {p.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(" · ")}
                                    " — requested " {crate::time::when_text(p.created_at)}
                                    {p.requested_by.clone().map(|by| format!(" by {by}"))}
                                    " · " <a class="link" href=domain::runs::presenter::run_link(p.run)>"Open the run"</a>
                                </p>
                                {ready.then(|| view! {
                                    <ul class="data-list">
                                        <li><a class="link" href=p.link(PackFile::Html) download data-testid="review-pack-html">
                                            "Download the report (HTML, " {format_size(p.html_size.unwrap_or_default())} ")"</a></li>
                                        <li><a class="link" href=p.link(PackFile::Zip) download data-testid="review-pack-zip">
                                            "Download the data (ZIP with CSV and JSON, " {format_size(p.zip_size.unwrap_or_default())} ")"</a></li>
                                    </ul>
                                })}
                            }.into_any()
                        }
                    }
                }}
            </div>
            {move || state.get().can_generate.then(|| view! {
                <form node_ref=form_ref method="post" action={crate::forms::target::<crate::api::GenerateReviewPack>()} on:submit=on_submit class="server-form mt-3">
                    <p class="form-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                    <fieldset class="field">
                        <legend>"Sections to include"</legend>
                        {Section::ALL.into_iter().map(|s| {
                            let id = format!("pack-section-{}", s.as_str());
                            let label_for = id.clone();
                            view! {
                                <label for=label_for class="checkbox">
                                    <input type="checkbox" id=id name=format!("section_{}", s.as_str()) value="on" checked/>
                                    " " {s.label()}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                    <button type="submit" class="btn btn-secondary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Starting…" } else { "Generate review pack" }}
                    </button>
                </form>
            })}
            <div role="status" aria-live="polite">
                {move || toast.get().map(|t| toast_view(t, toast))}
            </div>
        </section>
    }
}

/// Literal class names so the stylesheet build keeps them.
fn pack_badge(status: domain::review_packs::PackStatus) -> &'static str {
    use domain::review_packs::PackStatus;
    match status {
        PackStatus::Queued | PackStatus::Generating => "badge badge-info",
        PackStatus::Ready => "badge badge-ok",
        PackStatus::Failed => "badge badge-bad",
        PackStatus::Expired => "badge badge-muted",
    }
}
