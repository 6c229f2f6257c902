//! `/admin/webhooks`: endpoints told of the board's events. Add one (its secret is shown
//! once), see where each stands (active, failing with its last error, off and why), turn it
//! on or off, send a test event, retry now, rotate its secret, read its delivery log and
//! redeliver.

use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{
    list_webhooks, webhook_log, AddWebhook, NewWebhook, Redeliver, RemoveWebhook, RetryWebhook,
    RotateWebhook, SetWebhookEnabled, TestWebhook,
};
use crate::domain::{format_time, EndpointState, WebhookEndpoint, WebhookEvent, WebhookFormat};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// The events a new endpoint starts with checked.
const DEFAULT_EVENTS: [WebhookEvent; 3] = [
    WebhookEvent::IssueMoved,
    WebhookEvent::RunFinished,
    WebhookEvent::FeedbackReceived,
];

#[component]
pub fn AdminWebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhook>::new();
    let toggle = ServerAction::<SetWebhookEnabled>::new();
    let remove = ServerAction::<RemoveWebhook>::new();
    let rotate = ServerAction::<RotateWebhook>::new();
    let test = ServerAction::<TestWebhook>::new();
    let retry = ServerAction::<RetryWebhook>::new();
    let redeliver = ServerAction::<Redeliver>::new();
    let endpoints = Resource::new(
        move || {
            (
                add.version().get(),
                toggle.version().get(),
                remove.version().get(),
                rotate.version().get(),
                test.version().get(),
                retry.version().get(),
                redeliver.version().get(),
            )
        },
        |_| list_webhooks(),
    );
    // The endpoint whose log is open.
    let shown = RwSignal::new(None::<i64>);
    let actions = Actions {
        toggle,
        remove,
        rotate,
        test,
        retry,
        redeliver,
        shown,
    };
    let marker = hydration_marker();
    let secret_note = move |made: Option<Result<NewWebhook, crate::error::AppError>>, what| {
        made.and_then(Result::ok).map(|made| {
            view! {
                <p class="notice webhook-secret" role="status">
                    {what} " for " {made.endpoint.url.clone()}
                    " (shown once: verify each request's webhook-signature with it): "
                    <code>{made.secret}</code>
                </p>
            }
        })
    };
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin webhooks">
                <h1>"Webhooks"</h1>
                <p class="hint">
                    "Tell other tools what happens on the board. JSON endpoints get signed requests "
                    "(Standard Webhooks); Slack and Discord endpoints get a readable message. Each "
                    "endpoint gets its events in order; a failing one is retried for about a day."
                </p>
                <AddForm add />
                {action_error(add.value())}
                {move || secret_note(add.value().get(), "Endpoint added: its secret")}
                {move || secret_note(rotate.value().get(), "New secret")}
                {action_error(toggle.value())}
                {action_error(remove.value())}
                {action_error(rotate.value())}
                {action_error(test.value())}
                {action_error(retry.value())}
                {action_error(redeliver.value())}
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match endpoints.await {
                            Ok(rows) => view! { <EndpointTable rows actions /> }.into_any(),
                            Err(err) => error_note(&err),
                        }
                    })}
                </Suspense>
                {move || shown.get().map(|id| view! { <DeliveryLog id actions /> })}
            </main>
        </div>
    }
}

/// The page's actions, handed to the table and the log.
#[derive(Clone, Copy)]
struct Actions {
    toggle: ServerAction<SetWebhookEnabled>,
    remove: ServerAction<RemoveWebhook>,
    rotate: ServerAction<RotateWebhook>,
    test: ServerAction<TestWebhook>,
    retry: ServerAction<RetryWebhook>,
    redeliver: ServerAction<Redeliver>,
    shown: RwSignal<Option<i64>>,
}

#[component]
fn AddForm(add: ServerAction<AddWebhook>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let format = RwSignal::new(WebhookFormat::Standard);
    let allow_private = RwSignal::new(false);
    let chosen = RwSignal::new(DEFAULT_EVENTS.to_vec());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let events = chosen
            .get()
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",");
        add.dispatch(AddWebhook {
            url: url.get(),
            format: format.get(),
            events,
            description: description.get(),
            allow_private: allow_private.get(),
        });
    };
    // A fresh form after an endpoint is added.
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            url.set(String::new());
            description.set(String::new());
        }
    });
    let boxes = WebhookEvent::choosable()
        .map(|event| {
            let checked = move || chosen.get().contains(&event);
            let flip = move |_| {
                chosen.update(|all| {
                    if let Some(at) = all.iter().position(|e| *e == event) {
                        all.remove(at);
                    } else {
                        all.push(event);
                    }
                })
            };
            view! {
                <label class="event-choice">
                    <input
                        type="checkbox"
                        name="events"
                        value=event.as_str()
                        prop:checked=checked
                        on:change=flip
                    />
                    {event.describe()}
                </label>
            }
        })
        .collect_view();
    let formats = WebhookFormat::ALL
        .iter()
        .map(|f| view! { <option value=f.as_str()>{f.label()}</option> })
        .collect_view();
    view! {
        <form class="add-webhook" on:submit=submit>
            <h2>"Add an endpoint"</h2>
            <label>
                "URL"
                <input
                    type="url"
                    name="url"
                    required
                    placeholder="https://example.com/autopilot-hook"
                    prop:value=move || url.get()
                    on:input=move |ev| url.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Format"
                <select
                    name="format"
                    on:change=move |ev| {
                        if let Ok(f) = event_target_value(&ev).parse() {
                            format.set(f)
                        }
                    }
                >
                    {formats}
                </select>
            </label>
            <label>
                "Description"
                <input
                    type="text"
                    name="description"
                    maxlength="200"
                    prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev))
                />
            </label>
            <fieldset class="events">
                <legend>"Events"</legend>
                {boxes}
            </fieldset>
            <label class="event-choice">
                <input
                    type="checkbox"
                    name="allow_private"
                    prop:checked=move || allow_private.get()
                    on:change=move |_| allow_private.update(|on| *on = !*on)
                />
                "Allow private network addresses (a service inside your network)"
            </label>
            <button type="submit" disabled=move || add.pending().get()>
                "Add endpoint"
            </button>
        </form>
    }
}

/// Where an endpoint stands, in words.
fn state_text(endpoint: &WebhookEndpoint) -> String {
    match endpoint.state {
        EndpointState::Active if endpoint.failures > 0 => format!(
            "active ({} failed attempt{} in a row)",
            endpoint.failures,
            if endpoint.failures == 1 { "" } else { "s" }
        ),
        EndpointState::Active => "active".into(),
        EndpointState::Failing => format!(
            "failing: paused after {} failed attempts in a row{}{}",
            endpoint.failures,
            endpoint
                .failing_since
                .map(|t| format!(" since {}", format_time(t)))
                .unwrap_or_default(),
            endpoint
                .next_retry_at
                .map(|t| format!("; next try {}", format_time(t)))
                .unwrap_or_default()
        ),
        EndpointState::Off => match &endpoint.off_reason {
            Some(reason) => format!("off: {reason}"),
            None => "off".into(),
        },
    }
}

#[component]
fn EndpointTable(rows: Vec<WebhookEndpoint>, actions: Actions) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="hint">"No endpoints yet."</p> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|endpoint| {
            let id = endpoint.id;
            let state = state_text(&endpoint);
            let events = endpoint
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let enabled = endpoint.enabled;
            let waiting = endpoint.pending;
            view! {
                <tr data-webhook=id data-state=endpoint.state.as_str()>
                    <td class="url">
                        <code>{endpoint.url.clone()}</code>
                        <div class="hint">{endpoint.description.clone()}</div>
                    </td>
                    <td>{endpoint.format.label()}</td>
                    <td class="events">{events}</td>
                    <td class="state">
                        <span class=format!("badge state-{}", endpoint.state.as_str())>{state}</span>
                        {endpoint
                            .last_error
                            .clone()
                            .map(|e| view! { <div class="hint last-error">"Last error: " {e}</div> })}
                    </td>
                    <td class="pending">{waiting}</td>
                    <td class="actions">
                        <ActionForm action=actions.toggle attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="enabled" value=(!enabled).to_string() />
                            <button type="submit" class="secondary">
                                {if enabled { "Turn off" } else { "Turn on" }}
                            </button>
                        </ActionForm>
                        <ActionForm action=actions.test attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="secondary">"Send test event"</button>
                        </ActionForm>
                        {(enabled && waiting > 0)
                            .then(|| {
                                view! {
                                    <ActionForm action=actions.retry attr:class="inline">
                                        <input type="hidden" name="id" value=id />
                                        <button type="submit" class="secondary">"Retry now"</button>
                                    </ActionForm>
                                }
                            })}
                        <ActionForm action=actions.rotate attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="secondary">"Rotate secret"</button>
                        </ActionForm>
                        <button
                            type="button"
                            class="secondary show-log"
                            on:click=move |_| actions.shown.set(Some(id))
                        >
                            "Delivery log"
                        </button>
                        <ActionForm action=actions.remove attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="danger">"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users webhook-endpoints">
            <thead>
                <tr>
                    <th>"Endpoint"</th>
                    <th>"Format"</th>
                    <th>"Events"</th>
                    <th>"State"</th>
                    <th>"Waiting"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn DeliveryLog(id: i64, actions: Actions) -> impl IntoView {
    let log = Resource::new(
        move || {
            (
                actions.redeliver.version().get(),
                actions.test.version().get(),
                actions.retry.version().get(),
            )
        },
        move |_| webhook_log(id),
    );
    let refresh = RwSignal::new(0u32);
    view! {
        <section class="delivery-log" data-log-of=id>
            <h2>{format!("Delivery log of endpoint {id}")}</h2>
            <p>
                <button
                    type="button"
                    class="secondary"
                    on:click=move |_| {
                        refresh.update(|n| *n += 1);
                        log.refetch();
                    }
                >
                    "Refresh"
                </button>
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(rows) if rows.is_empty() => {
                            view! { <p class="hint">"Nothing sent yet."</p> }.into_any()
                        }
                        Ok(rows) => {
                            let rows = rows
                                .into_iter()
                                .map(|d| {
                                    let answer = d
                                        .last_status
                                        .map(|s| s.to_string())
                                        .unwrap_or_else(|| "—".into());
                                    let detail = [d.last_error.clone(), d.response_excerpt.clone()]
                                        .into_iter()
                                        .flatten()
                                        .collect::<Vec<_>>()
                                        .join(" — ");
                                    let detail: String = detail.chars().take(160).collect();
                                    let delivery = d.id;
                                    view! {
                                        <tr data-delivery=delivery data-state=d.state.clone()>
                                            <td>{format_time(d.created_at)}</td>
                                            <td>{d.event_type.clone()}</td>
                                            <td>{d.issue_id.map(|i| format!("#{i}")).unwrap_or_default()}</td>
                                            <td class="state">{d.state.clone()}</td>
                                            <td>{d.attempts}</td>
                                            <td>{answer}</td>
                                            <td>{d.last_latency_ms.map(|ms| format!("{ms} ms")).unwrap_or_default()}</td>
                                            <td class="detail">
                                                <code>{detail}</code>
                                            </td>
                                            <td>
                                                <ActionForm action=actions.redeliver attr:class="inline">
                                                    <input type="hidden" name="id" value=id />
                                                    <input type="hidden" name="delivery" value=delivery />
                                                    <button type="submit" class="secondary">"Redeliver"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <table class="users deliveries">
                                    <thead>
                                        <tr>
                                            <th>"Made"</th>
                                            <th>"Event"</th>
                                            <th>"Issue"</th>
                                            <th>"State"</th>
                                            <th>"Attempts"</th>
                                            <th>"Answer"</th>
                                            <th>"Took"</th>
                                            <th>"Error or answer"</th>
                                            <th></th>
                                        </tr>
                                    </thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }
                                .into_any()
                        }
                        Err(err) => error_note(&err),
                    }
                })}
            </Suspense>
        </section>
    }
}
