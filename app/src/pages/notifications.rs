use crate::api;
use crate::components::{EmptyState, NoWorkspace, load};
use crate::forms::ServerForm;
use domain::runs::views::NotificationsPage;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Notifications() -> impl IntoView {
    view! {
        <Title text="Notifications · Tenantry"/>
        {load(api::load_notifications(), |page: Option<NotificationsPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Notifications"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => view! {
                <section class="page">
                    <h1 class="page-title">"Notifications"</h1>
                    <p class="muted">"When an operation you started ends, it is reported here."</p>
                    {(p.unread > 0).then(|| view! {
                        <ServerForm action={crate::forms::target::<crate::api::MarkAllNotificationsRead>()} submit_label="Mark all read".to_string()>
                            <span class="sr-only">"Mark every notification read"</span>
                        </ServerForm>
                    })}
                    {if p.items.is_empty() {
                        view! { <EmptyState title="Nothing yet">"Start an operation; you will hear here when it ends."</EmptyState> }.into_any()
                    } else {
                        view! {
                            <ul class="notification-list">
                                {p.items.into_iter().map(|n| view! {
                                    <li class=if n.read { "notification" } else { "notification unread" }>
                                        <div>
                                            <p class="font-medium"><a class="link" href=n.link.clone()>{n.title.clone()}</a>
                                                {(!n.read).then(|| view! { <span class="badge badge-info ml-2">"New"</span> })}
                                            </p>
                                            <p class="muted">{n.body.clone()}</p>
                                            {crate::components::next_steps_list(n.next_steps.clone(), "next-steps text-sm")}
                                            <p class="muted text-sm">{crate::time::when(n.created_at)}</p>
                                        </div>
                                        {(!n.read).then(|| view! {
                                            <ServerForm action={crate::forms::target::<crate::api::MarkNotificationRead>()} submit_label="Mark read".to_string() inline=true>
                                                <input type="hidden" name="notification" value=n.id.to_string()/>
                                            </ServerForm>
                                        })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </section>
            }.into_any(),
        })}
    }
}
