//! Accounts at the OpenID provider, linked to people: found by (issuer, subject), never by
//! email alone.

use super::users::insert_user;
use super::{now_ms, on_pool, on_tx, Store, Tx};
use crate::domain::{User, UserRole};
use crate::error::{AppError, AppResult};

/// The provider's name for a person: its issuer URL and its subject id there.
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
}

impl Store {
    /// The person linked to this account at the provider, marking it seen.
    pub async fn user_by_identity(&self, identity: Identity<'_>) -> AppResult<Option<User>> {
        let found: Option<(i64,)> = on_pool!(self, e => sqlx::query_as(
            "UPDATE oidc_identities SET last_seen_at = $3
             WHERE issuer = $1 AND subject = $2 RETURNING user_id",
        )
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(now_ms())
        .fetch_optional(e)
        .await)?;
        match found {
            Some((user_id,)) => Ok(Some(self.user_by_id(user_id).await?)),
            None => Ok(None),
        }
    }

    /// A new person who signed in through the provider, linked to their account there, in
    /// one write transaction. `password_hash` is of a secret nobody knows (they sign in
    /// through the provider; an admin may set a password later). An email in use is a
    /// conflict, and nothing is made.
    pub async fn create_user_with_identity(
        &self,
        email: &str,
        name: &str,
        role: UserRole,
        password_hash: &str,
        identity: Identity<'_>,
    ) -> AppResult<User> {
        let mut tx = self.begin_write().await?;
        let user = insert_user(&mut tx, email, name, role, password_hash).await?;
        link_identity(&mut tx, user.id, identity).await?;
        self.commit(tx).await?;
        Ok(user)
    }
}

/// Links a person to an account at the provider, inside a write transaction.
pub(super) async fn link_identity(
    tx: &mut Tx,
    user_id: i64,
    identity: Identity<'_>,
) -> AppResult<()> {
    let now = now_ms();
    let done = on_tx!(tx, e => sqlx::query(
        "INSERT INTO oidc_identities (user_id, issuer, subject, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(user_id)
    .bind(identity.issuer)
    .bind(identity.subject)
    .bind(now)
    .execute(e)
    .await
    .map(|_| ()));
    match done {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::Conflict(
            "this account at the provider is linked to someone already".into(),
        )),
        other => Ok(other?),
    }
}
