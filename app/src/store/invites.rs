//! Invite links. Only a SHA-256 of each link's secret is kept (see `auth::token_hash`).

use super::identities::{link_identity, Identity};
use super::users::insert_user;
use super::{now_ms, on_pool, on_tx, Store};
use crate::domain::{Invitation, InviteState, User, UserRole, INVITE_PREFIX};
use crate::error::{AppError, AppResult};

const INVITE_SELECT: &str = "SELECT i.id, i.role, i.created_at, i.expires_at, i.used_at,
    i.revoked_at, u.email AS used_by_email
    FROM invitations i LEFT JOIN users u ON u.id = i.used_by";

impl Store {
    /// A new invitation for `role`, working for `lifetime_ms` from now, and the secret of its
    /// link (shown once: only its hash is kept). `created_by` is the admin who made it (none
    /// from the command line).
    pub async fn create_invitation(
        &self,
        role: UserRole,
        lifetime_ms: i64,
        created_by: Option<i64>,
    ) -> AppResult<(Invitation, String)> {
        let secret = crate::auth::new_secret(INVITE_PREFIX);
        let secret_hash = crate::auth::token_hash(&secret);
        let now = now_ms();
        let (id,): (i64,) = on_pool!(self, e => sqlx::query_as(
            "INSERT INTO invitations (secret_hash, role, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&secret_hash)
        .bind(role)
        .bind(created_by)
        .bind(now)
        .bind(now + lifetime_ms)
        .fetch_one(e)
        .await)?;
        Ok((self.invitation_by_id(id).await?, secret))
    }

    /// Every invitation, newest first.
    pub async fn list_invitations(&self) -> AppResult<Vec<Invitation>> {
        let sql = format!("{INVITE_SELECT} ORDER BY i.id DESC");
        Ok(on_pool!(self, e => sqlx::query_as::<_, Invitation>(&sql).fetch_all(e).await)?)
    }

    pub async fn invitation_by_id(&self, id: i64) -> AppResult<Invitation> {
        let sql = format!("{INVITE_SELECT} WHERE i.id = $1");
        on_pool!(self, e => sqlx::query_as::<_, Invitation>(&sql).bind(id).fetch_optional(e).await)?
            .ok_or_else(|| AppError::not_found(format!("invitation {id}")))
    }

    /// The invitation whose link holds the secret with this hash, if any.
    pub async fn invitation_by_secret_hash(
        &self,
        secret_hash: &str,
    ) -> AppResult<Option<Invitation>> {
        let sql = format!("{INVITE_SELECT} WHERE i.secret_hash = $1");
        Ok(on_pool!(self, e => sqlx::query_as::<_, Invitation>(&sql)
            .bind(secret_hash)
            .fetch_optional(e)
            .await)?)
    }

    /// Revokes an invitation not yet used (a used or revoked one is left as it is).
    pub async fn revoke_invitation(&self, id: i64) -> AppResult<Invitation> {
        on_pool!(self, e => sqlx::query(
            "UPDATE invitations SET revoked_at = $2
             WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(e)
        .await
        .map(|_| ()))?;
        self.invitation_by_id(id).await
    }

    /// Uses an open invitation to make an account with its role, in one write transaction:
    /// two people opening the same link at once make one account, not two. With `identity`
    /// the account is linked to the invitee's account at the OpenID provider. Answers the
    /// invitation's state instead when it is not open (nothing is made), and not found for a
    /// secret no invitation has. An email in use is a conflict (the link stays open).
    pub async fn accept_invitation(
        &self,
        secret_hash: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        identity: Option<Identity<'_>>,
    ) -> AppResult<Result<User, InviteState>> {
        let sql = format!("{INVITE_SELECT} WHERE i.secret_hash = $1");
        let mut tx = self.begin_write().await?;
        let invite = on_tx!(&mut tx, e => sqlx::query_as::<_, Invitation>(&sql)
            .bind(secret_hash)
            .fetch_optional(e)
            .await)?
        .ok_or_else(|| AppError::not_found("invitation"))?;
        let state = invite.state(now_ms());
        if state != InviteState::Open {
            return Ok(Err(state));
        }
        let user = insert_user(&mut tx, email, name, invite.role, password_hash).await?;
        if let Some(identity) = identity {
            link_identity(&mut tx, user.id, identity).await?;
        }
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE invitations SET used_at = $2, used_by = $3 WHERE id = $1"
        )
        .bind(invite.id)
        .bind(now_ms())
        .bind(user.id)
        .execute(e)
        .await
        .map(|_| ()))?;
        self.commit(tx).await?;
        Ok(Ok(user))
    }
}
