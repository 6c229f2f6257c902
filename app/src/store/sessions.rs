//! Sessions live in the board's own database, on either engine, so a person signed in through
//! one server is signed in on every server of the same board.
//!
//! The database never holds a session id as the cookie carries it: every id is hashed
//! (SHA-256) before it is stored or looked up, so a copy of the database (a backup, a stolen
//! file) holds no id that signs anyone in. The stored record carries the hashed id too (the
//! underlying store writes the id into the record's data).

use super::users::USER_COLUMNS;
use super::{on_pool, Db, Store};
use crate::domain::User;
use crate::error::{AppError, AppResult};
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Where a session was started from, as `/account/sessions` shows it.
#[derive(Clone, Debug, Default)]
pub struct Device {
    /// The browser's `User-Agent`, cut to [`USER_AGENT_MAX_BYTES`].
    pub user_agent: String,
    /// The client's address (see `server::routes::client`).
    pub address: String,
}

pub const USER_AGENT_MAX_BYTES: usize = 512;

/// A person keeps at most this many sessions: signing in once more ends the oldest.
pub const SESSIONS_PER_PERSON: i64 = 50;

/// One session's row: what `/account/sessions` lists.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_agent: String,
    pub address: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
}

/// The times before which a session is over: idle since, or signed in before.
#[derive(Clone, Copy, Debug)]
pub struct SessionCutoffs {
    pub seen_after: i64,
    pub signed_in_after: i64,
}

impl Store {
    /// Files a new session of `user` and answers its row's id (the session remembers it).
    /// The person's oldest sessions past [`SESSIONS_PER_PERSON`] end.
    pub async fn record_session(&self, user: &User, device: &Device, now: i64) -> AppResult<i64> {
        let mut user_agent = device.user_agent.clone();
        user_agent.truncate(user_agent.floor_char_boundary(USER_AGENT_MAX_BYTES));
        let (id,): (i64,) = on_pool!(self, e => sqlx::query_as(
            "INSERT INTO session_devices
                 (user_id, auth_epoch, user_agent, address, signed_in_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(user.id)
        .bind(user.auth_epoch)
        .bind(&user_agent)
        .bind(&device.address)
        .bind(now)
        .fetch_one(e)
        .await)?;
        let ended = on_pool!(self, e => sqlx::query(
            "DELETE FROM session_devices WHERE user_id = $1 AND id NOT IN
                 (SELECT id FROM session_devices WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(user.id)
        .bind(SESSIONS_PER_PERSON)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        if ended > 0 {
            self.announce().await?;
        }
        Ok(id)
    }

    /// The person of session row `session`, if the row is still there (not ended) and is
    /// theirs.
    pub async fn session_user(&self, session: i64, user_id: i64) -> AppResult<Option<User>> {
        let (changes, at) = (self.changes_seen(), std::time::Instant::now());
        if let Some(user) = self.sessions_seen.get(&(session, user_id), changes) {
            return Ok(Some(user));
        }
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $2 AND id =
                 (SELECT user_id FROM session_devices WHERE id = $1)"
        );
        let user = on_pool!(self, e => sqlx::query_as::<_, User>(&sql)
            .bind(session)
            .bind(user_id)
            .fetch_optional(e)
            .await)?;
        if let Some(user) = &user {
            self.sessions_seen
                .put((session, user_id), changes, at, user.clone());
        }
        Ok(user)
    }

    pub async fn touch_session(&self, session: i64, now: i64) -> AppResult<()> {
        on_pool!(self, e => sqlx::query("UPDATE session_devices SET last_seen_at = $2 WHERE id = $1")
            .bind(session)
            .bind(now)
            .execute(e)
            .await.map(|_| ()))?;
        Ok(())
    }

    /// Ends a session by its row (signing out, or found expired).
    pub async fn forget_session(&self, session: i64) -> AppResult<()> {
        on_pool!(self, e => sqlx::query("DELETE FROM session_devices WHERE id = $1")
            .bind(session)
            .execute(e)
            .await.map(|_| ()))?;
        self.announce().await
    }

    /// The live sessions of a person, last seen first.
    pub async fn list_sessions(
        &self,
        user_id: i64,
        live: SessionCutoffs,
    ) -> AppResult<Vec<SessionRow>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, SessionRow>(
            "SELECT d.id, d.user_agent, d.address, d.signed_in_at, d.last_seen_at
             FROM session_devices d JOIN users u ON u.id = d.user_id
             WHERE d.user_id = $1 AND d.auth_epoch = u.auth_epoch
               AND d.last_seen_at > $2 AND d.signed_in_at > $3
             ORDER BY d.last_seen_at DESC, d.id DESC",
        )
        .bind(user_id)
        .bind(live.seen_after)
        .bind(live.signed_in_after)
        .fetch_all(e)
        .await)?)
    }

    /// Ends one of a person's own sessions; `NotFound` if they have none by that id.
    pub async fn end_own_session(&self, user_id: i64, session: i64) -> AppResult<()> {
        let done = on_pool!(self, e => sqlx::query(
            "DELETE FROM session_devices WHERE id = $1 AND user_id = $2",
        )
        .bind(session)
        .bind(user_id)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        if done == 0 {
            return Err(AppError::not_found(format!("session {session}")));
        }
        self.announce().await
    }

    /// Ends every session of a person but `keep`; answers how many ended.
    pub async fn end_other_sessions(&self, user_id: i64, keep: i64) -> AppResult<u64> {
        let done = on_pool!(self, e => sqlx::query(
            "DELETE FROM session_devices WHERE user_id = $1 AND id <> $2",
        )
        .bind(user_id)
        .bind(keep)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        self.announce().await?;
        Ok(done)
    }

    /// Deletes the rows of sessions that are over: idle, too old, or ended by an epoch bump.
    pub async fn forget_ended_sessions(&self, live: SessionCutoffs) -> AppResult<()> {
        on_pool!(self, e => sqlx::query(
            "DELETE FROM session_devices WHERE last_seen_at <= $1 OR signed_in_at <= $2
                 OR auth_epoch <> (SELECT auth_epoch FROM users WHERE users.id = user_id)",
        )
        .bind(live.seen_after)
        .bind(live.signed_in_after)
        .execute(e)
        .await.map(|_| ()))?;
        self.announce().await
    }
}

/// The session store of this board's engine. The records it read stand for a while (see
/// `recent`): a page served from memory then costs no query. Whether a session still lets its
/// person in is decided by their session row and `auth_epoch` (`session_user`), which every
/// sign-out announces, so a record read a moment ago never keeps an ended session alive.
#[derive(Clone, Debug)]
pub struct SessionBackend {
    db: Db<SqliteStore, PostgresStore>,
    store: Store,
}

impl SessionBackend {
    /// Creates the session table where the engine's migrations do not (SQLite).
    pub(super) async fn migrate(&self) -> sqlx::Result<()> {
        match &self.db {
            Db::Sqlite(store) => store.migrate().await,
            Db::Postgres(_) => Ok(()),
        }
    }

    async fn inner_create(&self, record: &mut Record) -> session_store::Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.create(record).await,
            Db::Postgres(s) => s.create(record).await,
        }
    }

    async fn inner_delete(&self, stored: &Id) -> session_store::Result<()> {
        self.store.records_seen.forget(stored);
        match &self.db {
            Db::Sqlite(s) => s.delete(stored).await,
            Db::Postgres(s) => s.delete(stored).await,
        }
    }
}

impl Store {
    /// The session store, kept in this same database.
    pub fn session_store(&self) -> SessionBackend {
        SessionBackend {
            db: match &self.pool {
                Db::Sqlite(pool) => Db::Sqlite(SqliteStore::new(pool.clone())),
                Db::Postgres(pool) => Db::Postgres(PostgresStore::new(pool.clone())),
            },
            store: self.clone(),
        }
    }
}

/// The id a session is stored under: SHA-256 of the cookie's id, cut to the 128 bits an
/// `Id` holds (as many as the random id has, so nothing is lost to the cut).
pub fn stored_session_id(id: &Id) -> Id {
    let digest = Sha256::new()
        .chain_update(b"autopilot session id\0")
        .chain_update(id.to_string().as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

fn stored(record: &Record) -> Record {
    Record {
        id: stored_session_id(&record.id),
        ..record.clone()
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let mut row = stored(record);
            let wanted = row.id;
            self.inner_create(&mut row).await?;
            if row.id == wanted {
                return Ok(());
            }
            // The hash was taken (as likely as two random ids meeting), and the store filed
            // the record under an id of its own that no cookie names: take it back, draw again.
            self.inner_delete(&row.id).await?;
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = stored(record);
        self.store.records_seen.forget(&row.id);
        match &self.db {
            Db::Sqlite(s) => s.save(&row).await,
            Db::Postgres(s) => s.save(&row).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = stored_session_id(id);
        let (changes, at) = (self.store.changes_seen(), std::time::Instant::now());
        let now = tower_sessions::cookie::time::OffsetDateTime::now_utc();
        let seen = self.store.records_seen.get(&key, changes);
        let found = match seen.filter(|record| record.expiry_date > now) {
            Some(record) => Some(record),
            None => {
                let found = match &self.db {
                    Db::Sqlite(s) => s.load(&key).await,
                    Db::Postgres(s) => s.load(&key).await,
                }?;
                if let Some(record) = &found {
                    self.store
                        .records_seen
                        .put(key, changes, at, record.clone());
                }
                found
            }
        };
        Ok(found.map(|record| Record { id: *id, ..record }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner_delete(&stored_session_id(id)).await
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.delete_expired().await,
            Db::Postgres(s) => s.delete_expired().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_id_is_not_the_cookies_and_is_always_the_same() {
        let id = Id::default();
        let stored = stored_session_id(&id);
        assert_ne!(stored, id);
        assert_eq!(stored, stored_session_id(&id));
        assert_ne!(stored, stored_session_id(&Id::default()));
        // Hashing the stored id again does not give it back either.
        assert_ne!(stored_session_id(&stored), id);
    }
}
