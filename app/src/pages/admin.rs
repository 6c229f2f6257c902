//! `/admin`: the deployment's switches (the public feedback route), and the ways in to the
//! other admin pages.

use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{get_switches, SetFeedbackOpen};
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn AdminPage() -> impl IntoView {
    let set_feedback = ServerAction::<SetFeedbackOpen>::new();
    let switches = Resource::new(move || set_feedback.version().get(), |_| get_switches());
    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin">
                <h1>"Admin"</h1>
                <p>
                    <a href="/admin/users">"People"</a>
                    " · "
                    <a href="/admin/runner">"Runner"</a>
                    " · "
                    <a href="/admin/webhooks">"Webhooks"</a>
                </p>
                <h2>"Public feedback"</h2>
                <p class="hint">
                    "The feedback widget lets anyone on an allowed site file a "
                    <em>"feedback"</em>
                    " issue into the backlog. Turn it off to refuse new submissions."
                </p>
                {action_error(set_feedback.value())}
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match switches.await {
                            Ok(s) => {
                                let open = s.feedback_open;
                                view! {
                                    <p class="switch-state" data-feedback-open=open.to_string()>
                                        {if open {
                                            "Feedback is on: the public route takes submissions."
                                        } else {
                                            "Feedback is off: the public route refuses submissions."
                                        }}
                                    </p>
                                    <ActionForm action=set_feedback attr:class="inline">
                                        <input type="hidden" name="open" value=(!open).to_string() />
                                        <button type="submit">
                                            {if open { "Turn feedback off" } else { "Turn feedback on" }}
                                        </button>
                                    </ActionForm>
                                }
                                    .into_any()
                            }
                            Err(err) => error_note(&err),
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}
