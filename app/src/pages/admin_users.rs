//! `/admin/users`: admins add people, change roles, disable accounts and reset passwords.

use super::admin_invites::Invitations;
use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{list_users, AddUser, EndSessions, ResetPassword, UpdateUser};
use crate::domain::{User, UserRole};
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let end = ServerAction::<EndSessions>::new();
    let users = Resource::new(
        move || {
            (
                add.version().get(),
                update.version().get(),
                reset.version().get(),
                end.version().get(),
            )
        },
        |_| list_users(),
    );
    let marker = hydration_marker();
    let add_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (add.value().get(), add_form.get()) {
            form.reset();
        }
    });
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="admin">
                <h1>"People"</h1>
                <ActionForm action=add node_ref=add_form attr:class="add-user">
                    <label>"Name" <input type="text" name="name" required /></label>
                    <label>"Email" <input type="email" name="email" required /></label>
                    <label>
                        "Role"
                        <select name="role">
                            <option value="member" selected>"member"</option>
                            <option value="admin">"admin"</option>
                        </select>
                    </label>
                    <label>
                        "Password" <input type="password" name="password" minlength="12" required />
                    </label>
                    <button type="submit">"Add person"</button>
                </ActionForm>
                {action_error(add.value())}
                {action_error(update.value())}
                {action_error(reset.value())}
                {action_error(end.value())}
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Ok(users) => view! { <UserTable users update reset end /> }.into_any(),
                            Err(err) => error_note(&err),
                        }
                    })}
                </Suspense>
                <Invitations />
            </main>
        </div>
    }
}

#[component]
fn UserTable(
    users: Vec<User>,
    update: ServerAction<UpdateUser>,
    reset: ServerAction<ResetPassword>,
    end: ServerAction<EndSessions>,
) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|user| {
            let other_role = match user.role {
                UserRole::Admin => UserRole::Member,
                UserRole::Member => UserRole::Admin,
            };
            let disabled = user.is_disabled();
            let password_label = format!("New password for {}", user.email);
            let end_label = format!("End all sessions of {}", user.email);
            view! {
                <tr data-email=user.email.clone() class:disabled=disabled>
                    <td>{user.display_name.clone()}</td>
                    <td>{user.email.clone()}</td>
                    <td>{user.role.as_str()}</td>
                    <td>{if disabled { "disabled" } else { "active" }}</td>
                    <td class="actions">
                        <div>
                        <ActionForm action=update attr:class="inline">
                            <input type="hidden" name="id" value=user.id />
                            <input type="hidden" name="role" value=other_role.as_str() />
                            <button type="submit" class="secondary">
                                {format!("Make {}", other_role.as_str())}
                            </button>
                        </ActionForm>
                        <ActionForm action=update attr:class="inline">
                            <input type="hidden" name="id" value=user.id />
                            <input type="hidden" name="disabled" value=(!disabled).to_string() />
                            <button type="submit" class="secondary">
                                {if disabled { "Enable" } else { "Disable" }}
                            </button>
                        </ActionForm>
                        <ActionForm action=end attr:class="inline">
                            <input type="hidden" name="id" value=user.id />
                            <button type="submit" class="secondary" aria-label=end_label>
                                "End all sessions"
                            </button>
                        </ActionForm>
                        <ActionForm action=reset attr:class="inline">
                            <input type="hidden" name="id" value=user.id />
                            <label>
                                <span class="visually-hidden">
                                    {password_label}
                                </span>
                                <input
                                    type="password"
                                    name="password"
                                    minlength="12"
                                    placeholder="New password"
                                    required
                                />
                            </label>
                            <button type="submit" class="secondary">
                                "Reset password"
                            </button>
                        </ActionForm>
                        </div>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Email"</th>
                    <th>"Role"</th>
                    <th>"State"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
