//! `/admin/users`' invitations: admins make invite links, see them, and revoke them.

use crate::domain::{Invitation, InviteState, UserRole};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr::{current_admin, store};

/// A new invitation and its link's path, shown to the admin once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvite {
    pub invitation: Invitation,
    /// `/invite/<secret>`: the page prefixes the board's address.
    pub path: String,
}

#[server(endpoint = "create_invite", output = crate::api::codec::JsonText)]
pub async fn create_invite(role: UserRole, expires_in_days: i64) -> Result<NewInvite, AppError> {
    let admin = current_admin().await?;
    let lifetime = crate::domain::invite_lifetime_ms(expires_in_days)?;
    let (invitation, secret) = store()?
        .create_invitation(role, lifetime, admin.user_id)
        .await?;
    tracing::info!(invitation = invitation.id, by = ?admin.user_id, "invitation created");
    Ok(NewInvite {
        invitation,
        path: crate::domain::invite_path(&secret),
    })
}

/// An invitation with where it stands now (by the server's clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRow {
    pub invitation: Invitation,
    pub state: InviteState,
}

#[server(endpoint = "list_invites", output = crate::api::codec::JsonText)]
pub async fn list_invites() -> Result<Vec<InviteRow>, AppError> {
    current_admin().await?;
    let now = crate::store::now_ms();
    Ok(store()?
        .list_invitations()
        .await?
        .into_iter()
        .map(|invitation| InviteRow {
            state: invitation.state(now),
            invitation,
        })
        .collect())
}

/// Revokes an invitation not yet used; its link then says so.
#[server(endpoint = "revoke_invite", output = crate::api::codec::JsonText)]
pub async fn revoke_invite(id: i64) -> Result<Invitation, AppError> {
    current_admin().await?;
    store()?.revoke_invitation(id).await
}
