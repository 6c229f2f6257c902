//! The invitations part of `/admin/users`: make an invite link, see them all, revoke one.

use super::{action_error, error_note};
use crate::api::{list_invites, CreateInvite, InviteRow, RevokeInvite};
use crate::domain::{format_time, InviteState, INVITE_DEFAULT_DAYS, INVITE_MAX_DAYS};
use leptos::form::ActionForm;
use leptos::prelude::*;

/// The board's address as the admin's browser sees it, to show a whole link.
fn board_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

#[component]
pub fn Invitations() -> impl IntoView {
    let create = ServerAction::<CreateInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let invites = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_invites(),
    );
    let new_link = move || {
        create.value().get().and_then(Result::ok).map(|made| {
            let link = format!("{}{}", board_origin(), made.path);
            view! {
                <p class="notice invite-made" role="status">
                    "Send this link to the person (it is shown once): "
                    <a class="invite-link" href=made.path>{link}</a>
                </p>
            }
        })
    };
    view! {
        <section class="invitations">
            <h2>"Invitations"</h2>
            <p class="hint">
                "An invite link makes one account with its role: it works once, until it expires."
            </p>
            <ActionForm action=create attr:class="add-user create-invite">
                <label>
                    "Role"
                    <select name="role">
                        <option value="member" selected>"member"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label>
                    "Expires in (days)"
                    <input
                        type="number"
                        name="expires_in_days"
                        min="1"
                        max=INVITE_MAX_DAYS
                        value=INVITE_DEFAULT_DAYS
                        required
                    />
                </label>
                <button type="submit">"Create invite link"</button>
            </ActionForm>
            {action_error(create.value())}
            {action_error(revoke.value())}
            {new_link}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match invites.await {
                        Ok(rows) => view! { <InviteTable rows revoke /> }.into_any(),
                        Err(err) => error_note(&err),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn InviteTable(rows: Vec<InviteRow>, revoke: ServerAction<RevokeInvite>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="hint">"No invitations yet."</p> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|InviteRow { invitation, state }| {
            let id = invitation.id;
            view! {
                <tr data-invite=id data-state=state.as_str()>
                    <td>{invitation.role.as_str()}</td>
                    <td>{state.as_str()}</td>
                    <td>{format_time(invitation.created_at)}</td>
                    <td>{format_time(invitation.expires_at)}</td>
                    <td>{invitation.used_by_email.unwrap_or_default()}</td>
                    <td class="actions">
                        {(state == InviteState::Open)
                            .then(|| {
                                view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="id" value=id />
                                        <button type="submit" class="secondary">
                                            "Revoke"
                                        </button>
                                    </ActionForm>
                                }
                            })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users invites">
            <thead>
                <tr>
                    <th>"Role"</th>
                    <th>"State"</th>
                    <th>"Made"</th>
                    <th>"Expires"</th>
                    <th>"Used by"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
