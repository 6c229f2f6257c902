//! Sessions live in the board's own database, on either engine, so a person signed in through
//! one server is signed in on every server of the same board.

use super::{Db, Store};
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

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match &self.0 {
            Db::Sqlite(s) => s.create(record).await,
            Db::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match &self.0 {
            Db::Sqlite(s) => s.save(record).await,
            Db::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match &self.0 {
            Db::Sqlite(s) => s.load(id).await,
            Db::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match &self.0 {
            Db::Sqlite(s) => s.delete(id).await,
            Db::Postgres(s) => s.delete(id).await,
        }
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
