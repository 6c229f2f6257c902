//! Sessions live in the board's own database, on either engine, so a person signed in through
//! one server is signed in on every server of the same board.
//!
//! The database never holds a session id as the cookie carries it: every id is hashed
//! (SHA-256) before it is stored or looked up, so a copy of the database (a backup, a stolen
//! file) holds no id that signs anyone in. The stored record carries the hashed id too (the
//! underlying store writes the id into the record's data).

use super::{Db, Store};
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The session store of this board's engine.
#[derive(Clone, Debug)]
pub struct SessionBackend(Db<SqliteStore, PostgresStore>);

impl SessionBackend {
    /// Creates the session table where the engine's migrations do not (SQLite).
    pub(super) async fn migrate(&self) -> sqlx::Result<()> {
        match &self.0 {
            Db::Sqlite(store) => store.migrate().await,
            Db::Postgres(_) => Ok(()),
        }
    }

    async fn inner_create(&self, record: &mut Record) -> session_store::Result<()> {
        match &self.0 {
            Db::Sqlite(s) => s.create(record).await,
            Db::Postgres(s) => s.create(record).await,
        }
    }

    async fn inner_delete(&self, stored: &Id) -> session_store::Result<()> {
        match &self.0 {
            Db::Sqlite(s) => s.delete(stored).await,
            Db::Postgres(s) => s.delete(stored).await,
        }
    }
}

impl Store {
    /// The session store, kept in this same database.
    pub fn session_store(&self) -> SessionBackend {
        SessionBackend(match &self.pool {
            Db::Sqlite(pool) => Db::Sqlite(SqliteStore::new(pool.clone())),
            Db::Postgres(pool) => Db::Postgres(PostgresStore::new(pool.clone())),
        })
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
        match &self.0 {
            Db::Sqlite(s) => s.save(&row).await,
            Db::Postgres(s) => s.save(&row).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = stored_session_id(id);
        let found = match &self.0 {
            Db::Sqlite(s) => s.load(&key).await,
            Db::Postgres(s) => s.load(&key).await,
        }?;
        Ok(found.map(|record| Record { id: *id, ..record }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner_delete(&stored_session_id(id)).await
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match &self.0 {
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
