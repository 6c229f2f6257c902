//! A person's own ways in. `/account/tokens`: each person makes bearer tokens with the scopes
//! a script needs, sees a new one once, lists theirs and revokes them. `/account/sessions`:
//! where they are signed in, and ending any of it.

use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{list_my_sessions, EndMyOtherSessions, EndMySession, SessionView};
use crate::api::{list_my_tokens, CreateMyToken, RevokeMyToken, TokenView};
use crate::domain::{format_time, Scope};
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn AccountTokensPage() -> impl IntoView {
    let create = ServerAction::<CreateMyToken>::new();
    let revoke = ServerAction::<RevokeMyToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_my_tokens(),
    );
    let marker = hydration_marker();
    let scope_boxes = Scope::ALL
        .into_iter()
        .map(|scope| {
            let name = format!("scope_{}", scope.as_str());
            view! {
                <label class="scope">
                    <input type="checkbox" name=name checked=scope == Scope::Read />
                    <strong>{scope.as_str()}</strong>
                    " "
                    <span class="hint">{scope.describe()}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin account">
                <h1>"Tokens"</h1>
                <p>
                    "Scripts call the API with "<code>"Authorization: Bearer <token>"</code>
                    ". Give each one only the scopes it needs; your role still applies."
                </p>
                <ActionForm action=create attr:class="new-token">
                    <label>"Name" <input type="text" name="name" required maxlength="100" /></label>
                    <fieldset>
                        <legend>"Scopes"</legend>
                        {scope_boxes}
                    </fieldset>
                    <label>
                        "Expires"
                        <select name="expires_in_days">
                            <option value="">"never"</option>
                            <option value="30">"in 30 days"</option>
                            <option value="90" selected>"in 90 days"</option>
                        </select>
                    </label>
                    <button type="submit">"Create token"</button>
                </ActionForm>
                {action_error(create.value())}
                {action_error(revoke.value())}
                {move || {
                    create
                        .value()
                        .get()
                        .and_then(Result::ok)
                        .map(|new| {
                            view! {
                                <div class="new-token-shown" role="status">
                                    <p>
                                        {format!("Your token “{}”. Copy it now: it is not shown again.", new.name)}
                                    </p>
                                    <code class="secret">{new.token}</code>
                                </div>
                            }
                        })
                }}
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Ok(tokens) => view! { <TokenTable tokens revoke /> }.into_any(),
                            Err(err) => error_note(&err),
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenView>, revoke: ServerAction<RevokeMyToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="empty">"No tokens yet."</p> }.into_any();
    }
    let when =
        |at: Option<i64>, none: &'static str| at.map_or_else(|| none.to_string(), format_time);
    let rows = tokens
        .into_iter()
        .map(|token| {
            let scopes = if token.legacy {
                view! {
                    <span class="legacy">"full rights — replace it"</span>
                }
                .into_any()
            } else {
                token.scopes.to_string().replace(',', ", ").into_any()
            };
            let label = format!("Revoke {}", token.name);
            view! {
                <tr data-token=token.name.clone() class:legacy=token.legacy>
                    <td>{token.name.clone()}</td>
                    <td>{scopes}</td>
                    <td>{format_time(token.created_at)}</td>
                    <td>{when(token.last_used_at, "never")}</td>
                    <td>{when(token.expires_at, "never")}</td>
                    <td class="actions">
                        <ActionForm action=revoke attr:class="inline">
                            <input type="hidden" name="id" value=token.id />
                            <button type="submit" class="secondary" aria-label=label>
                                "Revoke"
                            </button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="tokens">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Scopes"</th>
                    <th>"Created"</th>
                    <th>"Last used"</th>
                    <th>"Expires"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn AccountSessionsPage() -> impl IntoView {
    let end = ServerAction::<EndMySession>::new();
    let end_others = ServerAction::<EndMyOtherSessions>::new();
    let sessions = Resource::new(
        move || (end.version().get(), end_others.version().get()),
        |_| list_my_sessions(),
    );
    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin account">
                <h1>"Sessions"</h1>
                <p>
                    "Where you are signed in. End a session you do not recognise, or one on a "
                    "device you no longer use: it is signed out at its next request."
                </p>
                {action_error(end.value())}
                {action_error(end_others.value())}
                {move || {
                    end_others
                        .value()
                        .get()
                        .and_then(Result::ok)
                        .map(|ended| {
                            let words = match ended {
                                1 => "1 other session ended.".to_string(),
                                n => format!("{n} other sessions ended."),
                            };
                            view! { <p class="notice" role="status">{words}</p> }
                        })
                }}
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match sessions.await {
                            Ok(sessions) => view! { <SessionTable sessions end end_others /> }.into_any(),
                            Err(err) => error_note(&err),
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}

#[component]
fn SessionTable(
    sessions: Vec<SessionView>,
    end: ServerAction<EndMySession>,
    end_others: ServerAction<EndMyOtherSessions>,
) -> impl IntoView {
    let others = sessions.iter().filter(|s| !s.current).count();
    let rows = sessions
        .into_iter()
        .map(|session| {
            let label = format!(
                "End the session on {} from {}",
                session.device, session.address
            );
            let action = if session.current {
                view! { <span class="current">"This session"</span> }.into_any()
            } else {
                view! {
                    <ActionForm action=end attr:class="inline">
                        <input type="hidden" name="id" value=session.id />
                        <button type="submit" class="secondary" aria-label=label>
                            "End"
                        </button>
                    </ActionForm>
                }
                .into_any()
            };
            view! {
                <tr data-session=session.id class:current=session.current>
                    <td>{session.device}</td>
                    <td><code>{session.address}</code></td>
                    <td>{format_time(session.signed_in_at)}</td>
                    <td>{format_time(session.last_seen_at)}</td>
                    <td class="actions">{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="sessions">
            <thead>
                <tr>
                    <th>"Device"</th>
                    <th>"Address"</th>
                    <th>"Signed in"</th>
                    <th>"Last seen"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {(others > 0).then(|| view! {
            <ActionForm action=end_others attr:class="end-others">
                <button type="submit" class="secondary">"End all other sessions"</button>
            </ActionForm>
        })}
    }
}
