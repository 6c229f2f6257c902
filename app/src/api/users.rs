//! Who am I, and the admin's management of people.

use crate::domain::{User, UserRole};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr::{caller, current_admin, store};

/// The signed-in person, as the top bar shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub is_admin: bool,
    /// Why the agent claims nothing, when a spending cap stops it (shown in the top bar).
    pub agent_stopped: Option<String>,
    /// The models an issue may ask for (AUTOPILOT_MODELS), for the forms.
    pub models: Vec<String>,
    /// The agents the board offers, the default first, for the forms.
    pub agents: Vec<String>,
}

#[server(endpoint = "whoami", output = crate::api::codec::JsonText)]
pub async fn whoami() -> Result<Me, AppError> {
    let actor = caller(crate::domain::Action::Read).await?;
    let store = store()?;
    let agent_stopped = store.cap_reached().await?.map(|r| r.sentence());
    Ok(Me {
        name: actor.actor.name,
        is_admin: actor.actor.role == crate::domain::Role::Admin,
        agent_stopped,
        models: super::ssr::allowed_models().0.to_vec(),
        agents: super::ssr::allowed_agents().0.to_vec(),
    })
}

#[server(endpoint = "list_users", output = crate::api::codec::JsonText)]
pub async fn list_users() -> Result<Vec<User>, AppError> {
    current_admin().await?;
    store()?.list_users().await
}

#[server(endpoint = "add_user", output = crate::api::codec::JsonText)]
pub async fn add_user(
    email: String,
    name: String,
    role: UserRole,
    password: String,
) -> Result<User, AppError> {
    use crate::domain::{validate_display_name, validate_email, validate_password};
    current_admin().await?;
    let email = validate_email(&email)?;
    let name = validate_display_name(&name)?;
    validate_password(&password)?;
    let hash = crate::auth::hash_password(password).await?;
    store()?.create_user(&email, &name, role, &hash).await
}

/// Changes a role or disables/enables someone, in one transaction. The last active admin
/// cannot be demoted or disabled: someone must always be able to manage the board. Disabling
/// someone deletes their bearer tokens (enabling them again gives none back).
#[server(endpoint = "update_user", output = crate::api::codec::JsonText)]
pub async fn update_user(
    id: i64,
    #[server(default)] role: Option<UserRole>,
    #[server(default)] disabled: Option<bool>,
) -> Result<User, AppError> {
    current_admin().await?;
    store()?
        .update_user(id, role, disabled)
        .await
        .map_err(super::ssr::with_status)
}

/// Sets a new password for someone; their sessions end.
#[server(endpoint = "reset_password", output = crate::api::codec::JsonText)]
pub async fn reset_password(id: i64, password: String) -> Result<User, AppError> {
    current_admin().await?;
    crate::domain::validate_password(&password)?;
    let hash = crate::auth::hash_password(password).await?;
    store()?.set_password_hash(id, &hash).await
}

/// Ends all of someone's sessions (an admin's "end all sessions"): they sign in again
/// everywhere; their tokens keep working.
#[server(endpoint = "end_sessions", output = crate::api::codec::JsonText)]
pub async fn end_sessions(id: i64) -> Result<User, AppError> {
    current_admin().await?;
    store()?
        .end_sessions(id)
        .await
        .map_err(super::ssr::with_status)
}
