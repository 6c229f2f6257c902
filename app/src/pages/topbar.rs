use crate::api::whoami;
use leptos::prelude::*;

/// The bar over every signed-in page: where you are, who you are, and the way out.
#[component]
pub fn TopBar() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Autopilot"
            </a>
            <nav class="topnav" aria-label="Main">
                <a href="/">"Board"</a>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await
                            .ok()
                            .map(|me| {
                                view! {
                                    {me.agent_stopped.clone().map(|why| view! {
                                        <span class="agent-stopped" role="status" title=why.clone()>
                                            "Agent stopped: spending cap reached"
                                        </span>
                                    })}
                                    {me.is_admin.then(|| view! { <a href="/admin">"Admin"</a> <a href="/admin/users">"People"</a> <a href="/admin/runner">"Runner"</a> <a href="/admin/webhooks">"Webhooks"</a> })}
                                    <span class="me">{me.name}</span>
                                    <a href="/account/tokens">"Tokens"</a>
                                    <a href="/account/sessions">"Sessions"</a>
                                    <form method="post" action="/logout" class="inline">
                                        <button type="submit" class="link">
                                            "Sign out"
                                        </button>
                                    </form>
                                }
                            })
                    })}
                </Suspense>
            </nav>
        </header>
    }
}
