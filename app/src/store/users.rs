//! People, their password hashes and their bearer tokens.

use super::{now_ms, on_pool, on_tx, Store, Tx};
use crate::domain::{Scopes, User, UserRole};
use crate::error::{AppError, AppResult};

pub(super) const USER_COLUMNS: &str =
    "id, email, display_name, role, auth_epoch, created_at, disabled_at";

/// A bearer token's public face; the token itself is shown once and only its hash is kept.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// As stored: a comma list, or `legacy` (see [`crate::domain::stored_scopes`]).
    #[sqlx(rename = "scopes")]
    pub stored_scopes: Option<String>,
    pub expires_at: Option<i64>,
}

impl ApiToken {
    /// What the token may do, and whether it is a legacy one (made before scopes: all).
    pub fn scopes(&self) -> (Scopes, bool) {
        crate::domain::stored_scopes(self.stored_scopes.as_deref())
    }
}

const TOKEN_COLUMNS: &str =
    "id, user_id, name, created_at, last_used_at, revoked_at, scopes, expires_at";

/// A token is marked used at most this often: a script's every call must not be a write.
const TOKEN_TOUCH_EVERY_MS: i64 = 60_000;

impl Store {
    pub async fn count_users(&self) -> AppResult<i64> {
        let (n,): (i64,) =
            on_pool!(self, e => sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(e).await)?;
        Ok(n)
    }

    /// Creates a user. `email` and `name` must already be validated, `password_hash` an argon2id
    /// PHC string. An email in use is a conflict.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        role: UserRole,
        password_hash: &str,
    ) -> AppResult<User> {
        let mut tx = self.begin_write().await?;
        let user = insert_user(&mut tx, email, name, role, password_hash).await?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Creates the first admin, only while there is no user at all (one statement in a write
    /// transaction, so two set-up attempts at once cannot both succeed).
    pub async fn create_first_admin(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> AppResult<Option<User>> {
        let sql = format!(
            "INSERT INTO users (email, display_name, password_hash, role, created_at)
             SELECT $1, $2, $3, 'admin', $4 WHERE NOT EXISTS (SELECT 1 FROM users)
             RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let user = super::on_tx!(&mut tx, e => sqlx::query_as::<_, User>(&sql)
            .bind(email)
            .bind(name)
            .bind(password_hash)
            .bind(now_ms())
            .fetch_optional(e)
            .await)?;
        self.commit(tx).await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> AppResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY disabled_at IS NOT NULL, display_name, id"
        );
        Ok(on_pool!(self, e => sqlx::query_as::<_, User>(&sql).fetch_all(e).await)?)
    }

    pub async fn user_by_id(&self, id: i64) -> AppResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        on_pool!(self, e => sqlx::query_as::<_, User>(&sql).bind(id).fetch_optional(e).await)?
            .ok_or_else(|| AppError::not_found(format!("user {id}")))
    }

    pub async fn user_by_email(&self, email: &str) -> AppResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        on_pool!(self, e => sqlx::query_as::<_, User>(&sql).bind(email).fetch_optional(e).await)?
            .ok_or_else(|| AppError::not_found(format!("user {email}")))
    }

    /// The user and password hash for a login attempt, if the email is known.
    pub async fn login_candidate(&self, email: &str) -> AppResult<Option<(User, String)>> {
        let Some(user) = self.user_by_email(email).await.ok() else {
            return Ok(None);
        };
        let (hash,): (String,) = on_pool!(self, e => sqlx::query_as(
            "SELECT password_hash FROM users WHERE id = $1"
        )
        .bind(user.id)
        .fetch_one(e)
        .await)?;
        Ok(Some((user, hash)))
    }

    /// Sets a new password hash and ends every session of the user.
    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> AppResult<User> {
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE users SET password_hash = $2, auth_epoch = auth_epoch + 1 WHERE id = $1",
        )
        .bind(user_id)
        .bind(password_hash)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        self.announce().await?;
        self.changed_user(done, user_id).await
    }

    /// Ends every session of the user (each carries the `auth_epoch` it started under);
    /// their tokens are untouched.
    pub async fn end_sessions(&self, user_id: i64) -> AppResult<User> {
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE users SET auth_epoch = auth_epoch + 1 WHERE id = $1",
        )
        .bind(user_id)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        self.announce().await?;
        self.changed_user(done, user_id).await
    }

    pub async fn set_role(&self, user_id: i64, role: UserRole) -> AppResult<User> {
        self.change_user(user_id, Some(role), None, false).await
    }

    /// Disables a user (ending their sessions, and deleting their bearer tokens: enabling them
    /// again gives them none back) or enables them again.
    pub async fn set_disabled(&self, user_id: i64, disabled: bool) -> AppResult<User> {
        self.change_user(user_id, None, Some(disabled), false).await
    }

    /// An admin's change of someone's role and/or disabled state, in one write transaction.
    /// The last active admin cannot be demoted or disabled: someone must always be able to
    /// manage the board. The rule is checked inside the transaction (write transactions run
    /// one at a time), so two admins demoting each other at once leave one admin, not none.
    pub async fn update_user(
        &self,
        user_id: i64,
        role: Option<UserRole>,
        disabled: Option<bool>,
    ) -> AppResult<User> {
        self.change_user(user_id, role, disabled, true).await
    }

    async fn change_user(
        &self,
        user_id: i64,
        role: Option<UserRole>,
        disabled: Option<bool>,
        keep_an_admin: bool,
    ) -> AppResult<User> {
        let by_id = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let mut tx = self.begin_write().await?;
        let user = on_tx!(&mut tx, e => sqlx::query_as::<_, User>(&by_id)
            .bind(user_id)
            .fetch_optional(e)
            .await)?
        .ok_or_else(|| AppError::not_found(format!("user {user_id}")))?;
        let removes_an_admin = user.role == UserRole::Admin
            && !user.is_disabled()
            && (role == Some(UserRole::Member) || disabled == Some(true));
        if keep_an_admin && removes_an_admin {
            let (admins,): (i64,) = on_tx!(&mut tx, e => sqlx::query_as(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
            )
            .fetch_one(e)
            .await)?;
            if admins <= 1 {
                return Err(AppError::Conflict(
                    "this is the last active admin; make someone else admin first".into(),
                ));
            }
        }
        if let Some(role) = role {
            on_tx!(&mut tx, e => sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                .bind(user_id)
                .bind(role)
                .execute(e)
                .await
                .map(|_| ()))?;
        }
        match disabled {
            Some(true) => {
                on_tx!(&mut tx, e => sqlx::query(
                    "UPDATE users SET disabled_at = COALESCE(disabled_at, $2),
                     auth_epoch = auth_epoch + 1 WHERE id = $1",
                )
                .bind(user_id)
                .bind(now_ms())
                .execute(e)
                .await
                .map(|_| ()))?;
                on_tx!(&mut tx, e => sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                    .bind(user_id)
                    .execute(e)
                    .await
                    .map(|_| ()))?;
            }
            Some(false) => {
                on_tx!(&mut tx, e => sqlx::query(
                    "UPDATE users SET disabled_at = NULL WHERE id = $1"
                )
                .bind(user_id)
                .execute(e)
                .await
                .map(|_| ()))?;
            }
            None => {}
        }
        let user = on_tx!(&mut tx, e => sqlx::query_as::<_, User>(&by_id)
            .bind(user_id)
            .fetch_one(e)
            .await)?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// The user as it now is, or not found when the update touched no row.
    async fn changed_user(&self, rows_affected: u64, user_id: i64) -> AppResult<User> {
        if rows_affected == 0 {
            return Err(AppError::not_found(format!("user {user_id}")));
        }
        self.user_by_id(user_id).await
    }

    /// Counts admins who can still sign in: the last one may not be demoted or disabled.
    pub async fn count_active_admins(&self) -> AppResult<i64> {
        let (n,): (i64,) = on_pool!(self, e => sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(e)
        .await)?;
        Ok(n)
    }

    /// A token with every scope and no expiry (tests, benchmarks); people choose scopes
    /// through [`Store::create_scoped_token`].
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> AppResult<ApiToken> {
        self.create_scoped_token(user_id, name, token_hash, Scopes::all(), None)
            .await
    }

    /// Stores a new token's hash with its scopes and expiry (Unix ms, `None`: never).
    pub async fn create_scoped_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        scopes: Scopes,
        expires_at: Option<i64>,
    ) -> AppResult<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, scopes, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        );
        Ok(on_pool!(self, e => sqlx::query_as::<_, ApiToken>(&sql)
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .bind(scopes.to_string())
            .bind(expires_at)
            .fetch_one(e)
            .await)?)
    }

    /// The user behind a live token (not revoked, not expired) and the token, marking it as
    /// used at most once a minute.
    pub async fn user_by_token_hash(
        &self,
        token_hash: &str,
    ) -> AppResult<Option<(User, ApiToken)>> {
        let now = now_ms();
        let (changes, at) = (self.changes_seen(), std::time::Instant::now());
        if let Some(seen) = self.tokens_seen.get(&token_hash.to_string(), changes) {
            if seen.1.expires_at.is_none_or(|end| end > now) {
                return Ok(Some(seen));
            }
        }
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens
             WHERE token_hash = $1 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)"
        );
        let token = on_pool!(self, e => sqlx::query_as::<_, ApiToken>(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(e)
            .await)?;
        let Some(mut token) = token else {
            return Ok(None);
        };
        if token
            .last_used_at
            .is_none_or(|at| now - at >= TOKEN_TOUCH_EVERY_MS)
        {
            on_pool!(self, e => sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1"
            )
            .bind(token.id)
            .bind(now)
            .execute(e)
            .await
            .map(|_| ()))?;
            token.last_used_at = Some(now);
        }
        let user = self.user_by_id(token.user_id).await?;
        let found = (user, token);
        self.tokens_seen
            .put(token_hash.to_string(), changes, at, found.clone());
        Ok(Some(found))
    }

    /// A person's tokens that are not revoked (expired ones too, so they can see why a
    /// script stopped), newest first.
    pub async fn list_api_tokens(&self, user_id: i64) -> AppResult<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        );
        Ok(on_pool!(self, e => sqlx::query_as::<_, ApiToken>(&sql)
            .bind(user_id)
            .fetch_all(e)
            .await)?)
    }

    /// Revokes one of a person's tokens by id; someone else's token is "not found".
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> AppResult<()> {
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3
             WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(token_id)
        .bind(now_ms())
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        if done == 0 {
            return Err(AppError::not_found(format!("token {token_id}")));
        }
        self.announce().await
    }

    /// Revokes a user's tokens with this name; returns how many.
    pub async fn revoke_api_tokens(&self, user_id: i64, name: &str) -> AppResult<u64> {
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3
             WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(name)
        .bind(now_ms())
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        self.announce().await?;
        Ok(done)
    }
}

/// Inserts a person inside a write transaction; an email in use is a conflict.
pub(super) async fn insert_user(
    tx: &mut Tx,
    email: &str,
    name: &str,
    role: UserRole,
    password_hash: &str,
) -> AppResult<User> {
    let sql = format!(
        "INSERT INTO users (email, display_name, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    );
    let made = on_tx!(tx, e => sqlx::query_as::<_, User>(&sql)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role)
    .bind(now_ms())
    .fetch_one(e)
    .await);
    match made {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::Conflict(
            format!("a user with the email {email} already exists"),
        )),
        other => Ok(other?),
    }
}
