//! Every SQL statement of Autopilot lives under this module; nothing else talks to the database.
//!
//! Writes go through methods that validate their input with `domain`, apply the transition rules
//! and write their `events` row in the same transaction as the change. Write transactions start
//! with `BEGIN IMMEDIATE` on SQLite so concurrent writers wait for each other (busy timeout)
//! instead of failing when a read lock cannot be upgraded.

mod issues;
mod runs;
mod settings;
mod threads;
mod users;

pub use issues::IssueFilter;
pub use runs::{Heartbeat, RunFinish};
pub use settings::{Switch, SELF_HEAL_WINDOW_MS};
pub use users::ApiToken;

use crate::domain::{Actor, Status};
use crate::error::AppResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why the database could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL '{0}': use sqlite://PATH (PostgreSQL support is planned)")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Ticks after every committed change, so live streams wake at once instead of polling.
    changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Ticks when a run's log grows, for the drawers that show it live.
    run_logs: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Store {
    /// Opens (creating it if missing) the database named by `url` and brings its schema up to
    /// date.
    pub async fn open(url: &str) -> Result<Store, OpenError> {
        if !url.starts_with("sqlite:") {
            return Err(OpenError::UnsupportedUrl(url.to_string()));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        let store = Store {
            pool,
            changes: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
            run_logs: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
        };
        store.session_store().migrate().await?;
        Ok(store)
    }

    async fn begin_write(&self) -> AppResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Commits a write and tells live streams that something changed.
    async fn commit(&self, tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> AppResult<()> {
        tx.commit().await?;
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Wakes when a change is committed through this store.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Removes sessions past their expiry (run now and then).
    pub async fn delete_expired_sessions(&self) -> AppResult<()> {
        use tower_sessions::ExpiredDeletion;
        self.session_store().delete_expired().await.map_err(|err| {
            tracing::error!(%err, "deleting expired sessions");
            crate::error::AppError::Internal
        })
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> AppResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// What one change to the board was: one row of the audit log.
struct EventRecord<'a> {
    issue_id: i64,
    actor: &'a Actor,
    kind: &'static str,
    from: Option<Status>,
    to: Option<Status>,
    data: serde_json::Value,
}

impl EventRecord<'_> {
    async fn write(self, conn: &mut SqliteConnection, now: i64) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO events (issue_id, actor, kind, from_status, to_status, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.issue_id)
        .bind(self.actor.label())
        .bind(self.kind)
        .bind(self.from)
        .bind(self.to)
        .bind(self.data.to_string())
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }
}
