//! Every SQL statement of Autopilot lives under this module; nothing else talks to the database.
//!
//! Two engines sit behind one API: SQLite (embedded, the default) and PostgreSQL (several
//! servers and runners sharing one board). A statement both accept is written once and run on
//! either through [`on_pool!`] / [`on_tx!`], which compile it once per engine; where the engines
//! differ, the two statements sit side by side in a `match` on the backend.
//!
//! Writes go through methods that validate their input with `domain`, apply the transition rules
//! and write their `events` row in the same transaction as the change. Write transactions are
//! serialised: `BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL.
//! That keeps event ids in commit order, so a live stream reading "events after id N" never
//! skips a change that committed late.

mod agent_loop;
mod backup;
mod copy;
mod figures;
mod identities;
mod invites;
mod issues;
mod limits;
mod recent;
mod runs;
mod sessions;
mod settings;
mod threads;
mod users;
mod webhooks;

pub use agent_loop::{ChecksVerdict, ForgeItem, LastSession};
pub use backup::{check_backup, BackupReport};
pub use copy::{copy_board, CopyReport};
pub use figures::{Figures, PoolFigures};
pub use identities::Identity;
pub use issues::IssueFilter;
pub use recent::FRESH;
pub use runs::{AgentChoice, Heartbeat, RunFinish, RunPatches};
pub use sessions::{Device, SessionBackend, SessionCutoffs, SessionRow, SESSIONS_PER_PERSON};
pub use settings::{Switch, SELF_HEAL_WINDOW_MS};
pub use threads::CommentAdded;
pub use users::ApiToken;
pub use webhooks::{Attempt, DeliveryToSend, EndpointToSend};

use crate::domain::{Actor, Status};
use crate::error::{AppError, AppResult};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Postgres, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// One thing, on either engine.
#[derive(Clone, Debug)]
pub enum Db<S, P> {
    Sqlite(S),
    Postgres(P),
}

type Pool = Db<SqlitePool, PgPool>;
/// A write transaction on either engine.
pub(crate) type Tx = Db<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

/// Runs `$body` with `$e` bound to the pool of `$store`, compiled once per engine: one SQL text
/// for both. The body's value must have the same type on both (map engine-specific results,
/// such as a query result, inside it).
macro_rules! on_pool {
    ($store:expr, $e:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Db::Sqlite($e) => $body,
            $crate::store::Db::Postgres($e) => $body,
        }
    };
}

/// Like [`on_pool!`], with `$e` the connection of the transaction `$tx` (a `&mut Tx`).
macro_rules! on_tx {
    ($tx:expr, $e:ident => $body:expr) => {
        match &mut *$tx {
            $crate::store::Db::Sqlite(tx) => {
                let $e = &mut **tx;
                $body
            }
            $crate::store::Db::Postgres(tx) => {
                let $e = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use {on_pool, on_tx};

/// The PostgreSQL channel that carries "something changed" between processes (ids only).
const CHANGES_CHANNEL: &str = "autopilot_changes";
/// The channel for "a run's log grew".
const RUN_LOGS_CHANNEL: &str = "autopilot_run_logs";
/// PostgreSQL's clock, in Unix milliseconds.
const PG_CLOCK: &str = "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
/// The advisory lock every PostgreSQL write transaction holds until it ends.
const WRITE_LOCK: i64 = 0x6175_746f_7069; // "autopi"

/// When a statement last failed because of the SQLite file itself (disk full, unwritable, I/O
/// error), in Unix ms. Connections given back soon after are closed, not kept: one that hit an
/// I/O error may have reopened its write-ahead log read-only, and would go on refusing writes
/// long after the fault is gone. The connection that saw the error is given back right after
/// it, so a short window catches it.
static LAST_STORAGE_FAULT: AtomicI64 = AtomicI64::new(0);

pub(crate) fn storage_fault_seen() {
    LAST_STORAGE_FAULT.store(now_ms(), Ordering::Relaxed);
}

fn storage_fault_just_now() -> bool {
    now_ms() - LAST_STORAGE_FAULT.load(Ordering::Relaxed) < 2_000
}

/// Why the database could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL as given, its password masked.
    #[error(
        "unsupported database URL '{0}': use sqlite://PATH or postgresql://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "there is no database at {0}: `autopilot serve` creates it on its first start; \
         check DATABASE_URL (a relative path is read from the directory you are in)"
    )]
    NoDatabase(String),
}

/// How to open the database.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Most connections the pool keeps open.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it fails with a clear error.
    pub acquire_timeout: Duration,
    /// SQLite: how long a statement waits for another process's write lock.
    pub busy_timeout: Duration,
    /// SQLite: make the file when there is none (the server does; the command line, which
    /// would otherwise quietly work on a new empty board, does not).
    pub create_if_missing: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
            create_if_missing: true,
        }
    }
}

/// The handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// Ticks after every committed change, so live streams wake at once instead of polling.
    /// On PostgreSQL a listener also ticks it for changes made by other processes.
    changes: Arc<watch::Sender<u64>>,
    /// Ticks when a run's log grows, for the drawers that show it live.
    run_logs: Arc<watch::Sender<u64>>,
    /// How often self-heal may write (see `record_failure`).
    failures: Arc<std::sync::Mutex<settings::FailureLimits>>,
    /// How much attachments may take.
    attachment_quota: AttachmentQuota,
    /// Whose tokens and sessions these are, as last read (see `recent`).
    tokens_seen: Arc<recent::Recent<String, (crate::domain::User, ApiToken)>>,
    sessions_seen: Arc<recent::Recent<(i64, i64), crate::domain::User>>,
    records_seen: Arc<recent::Recent<tower_sessions::session::Id, tower_sessions::session::Record>>,
}

/// How much the attachments may take: per issue (files and bytes) and on the whole board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentQuota {
    pub files_per_issue: i64,
    pub bytes_per_issue: i64,
    pub bytes_in_all: i64,
}

impl AttachmentQuota {
    /// The board's default: 50 files or 100 MiB an issue, 10 GiB in all.
    pub const DEFAULT: AttachmentQuota = AttachmentQuota {
        files_per_issue: 50,
        bytes_per_issue: 100 * 1024 * 1024,
        bytes_in_all: 10 * 1024 * 1024 * 1024,
    };
}

impl Default for AttachmentQuota {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Store {
    /// Opens (creating it if missing) the database named by `url` and brings its schema up to
    /// date.
    pub async fn open(url: &str) -> Result<Store, OpenError> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Store, OpenError> {
        let pool = if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(options.create_if_missing)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(options.busy_timeout);
            let file = connect.get_filename();
            let in_memory = file.as_os_str().is_empty() || file.as_os_str() == ":memory:";
            if !options.create_if_missing && !in_memory && !file.exists() {
                return Err(OpenError::NoDatabase(file.display().to_string()));
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                // A COMMIT that failed (a full disk) leaves sqlx's connection counting an open
                // transaction that SQLite already rolled back, and every later write on it
                // would fail: such a connection is closed, not put back. The ping waits for
                // the rollback queued by a dropped transaction to be done first.
                .after_release(|conn, _| {
                    Box::pin(async move {
                        conn.ping().await?;
                        Ok(!conn.is_in_transaction() && !storage_fault_just_now())
                    })
                })
                .connect_with(connect)
                .await?;
            sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?.application_name("autopilot");
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            Db::Postgres(pool)
        } else {
            return Err(OpenError::UnsupportedUrl(masked_url(url)));
        };
        let store = Store {
            pool,
            changes: Arc::new(watch::channel(0).0),
            run_logs: Arc::new(watch::channel(0).0),
            failures: Arc::default(),
            attachment_quota: AttachmentQuota::DEFAULT,
            tokens_seen: Arc::default(),
            sessions_seen: Arc::default(),
            records_seen: Arc::default(),
        };
        match &store.pool {
            Db::Sqlite(_) => store.session_store().migrate().await?,
            // The session table comes with the PostgreSQL migrations (where concurrent
            // start-ups cannot race on creating it).
            Db::Postgres(pool) => store.spawn_listener(pool.clone()),
        }
        Ok(store)
    }

    /// The same store, with attachments held to `quota`.
    pub fn with_attachment_quota(mut self, quota: AttachmentQuota) -> Store {
        self.attachment_quota = quota;
        self
    }

    /// Follows the other processes' changes (LISTEN) and wakes this process' streams and
    /// runner. A notification is only a hint: after the listener reconnects it wakes everyone
    /// anyway, and they catch up from `events` by id.
    fn spawn_listener(&self, pool: PgPool) {
        let changes = Arc::downgrade(&self.changes);
        let run_logs = Arc::downgrade(&self.run_logs);
        tokio::spawn(async move {
            let tick = |sender: &std::sync::Weak<watch::Sender<u64>>| match sender.upgrade() {
                Some(s) => {
                    s.send_modify(|n| *n = n.wrapping_add(1));
                    true
                }
                None => false,
            };
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(%err, "cannot listen for changes; retrying");
                        if changes.strong_count() == 0 {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(err) = listener
                    .listen_all([CHANGES_CHANNEL, RUN_LOGS_CHANNEL])
                    .await
                {
                    tracing::warn!(%err, "cannot listen for changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // Whatever was sent while nobody listened: catch up.
                if !tick(&changes) || !tick(&run_logs) {
                    return;
                }
                loop {
                    match listener.try_recv().await {
                        Ok(Some(note)) => {
                            let sender = if note.channel() == RUN_LOGS_CHANNEL {
                                &run_logs
                            } else {
                                &changes
                            };
                            if !tick(sender) {
                                return;
                            }
                        }
                        // The connection was lost: a new listener, then catch up.
                        Ok(None) | Err(_) => {
                            tracing::warn!("lost the change listener; reconnecting");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Starts a write transaction; on both engines only one runs at a time.
    async fn begin_write(&self) -> AppResult<Tx> {
        Ok(match &self.pool {
            Db::Sqlite(pool) => Db::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Db::Postgres(tx)
            }
        })
    }

    /// Commits a write and tells live streams (of every process) that something changed.
    async fn commit(&self, tx: Tx) -> AppResult<()> {
        match tx {
            Db::Sqlite(tx) => tx.commit().await?,
            Db::Postgres(mut tx) => {
                // Delivered on commit, and only then.
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(CHANGES_CHANNEL)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?
            }
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Tells every process that something changed, after a write made outside a transaction
    /// (a token revoked, a session ended): their kept answers about it stop standing.
    async fn announce(&self) -> AppResult<()> {
        if let Db::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANGES_CHANNEL)
                .execute(pool)
                .await?;
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Tells every process that a run's log grew.
    async fn run_log_grew(&self, run_id: i64) -> AppResult<()> {
        if let Db::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(RUN_LOGS_CHANNEL)
                .bind(run_id.to_string())
                .execute(pool)
                .await?;
        }
        self.run_logs.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Wakes when a change is committed (by this process, or by another one on PostgreSQL).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// How many changes this process has been told of so far (its own commits, and on
    /// PostgreSQL other processes' too): while it stays the same, nothing it knows of changed.
    pub fn changes_seen(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Removes sessions past their expiry (run now and then).
    pub async fn delete_expired_sessions(&self) -> AppResult<()> {
        use tower_sessions::ExpiredDeletion;
        self.session_store().delete_expired().await.map_err(|err| {
            tracing::error!(%err, "deleting expired sessions");
            AppError::Internal
        })
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> AppResult<()> {
        on_pool!(self, e => sqlx::query("SELECT 1").execute(e).await.map(|_| ()))?;
        Ok(())
    }

    /// The database's clock, in Unix milliseconds. Leases and heartbeats use it: the hosts of
    /// several runners need not agree on the time, and the database is the one they share.
    async fn clock(tx: &mut Tx) -> AppResult<i64> {
        Ok(match tx {
            Db::Sqlite(_) => now_ms(),
            Db::Postgres(tx) => {
                let (now,): (i64,) = sqlx::query_as(PG_CLOCK).fetch_one(&mut **tx).await?;
                now
            }
        })
    }

    /// [`Store::clock`] outside a transaction.
    async fn db_now(&self) -> AppResult<i64> {
        Ok(match &self.pool {
            Db::Sqlite(_) => now_ms(),
            Db::Postgres(pool) => {
                let (now,): (i64,) = sqlx::query_as(PG_CLOCK).fetch_one(pool).await?;
                now
            }
        })
    }
}

/// A database URL fit for an error or a log line: any password in it becomes `***`. Works on
/// text that is not a well-formed URL too (a mistyped one is what gets printed most).
pub fn masked_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The user info ends at the last '@' before the query; the password runs from the
    // user's ':' to there (it may hold '/' or '@' when not percent-encoded).
    let before_query = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let Some(at) = before_query.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return url.to_string();
    };
    let user = &rest[..colon];
    if user.contains('/') {
        // A path with ':' and '@' in it (a SQLite file), not a user.
        return url.to_string();
    }
    format!("{scheme}{user}:***{}", &rest[at..])
}

/// Now, in Unix milliseconds (this host's clock).
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
    async fn write(self, tx: &mut Tx, now: i64) -> AppResult<()> {
        let data = self.data.to_string();
        on_tx!(tx, e => sqlx::query(
            "INSERT INTO events (issue_id, actor, kind, from_status, to_status, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.issue_id)
        .bind(self.actor.label())
        .bind(self.kind)
        .bind(self.from)
        .bind(self.to)
        .bind(&data)
        .bind(now)
        .execute(e)
        .await
        .map(|_| ()))?;
        webhooks::on_event(tx, &self, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn passwords_never_show_in_a_printed_url() {
        for (url, shown) in [
            (
                "postgress://ann:s3cret@db.example/board",
                "postgress://ann:***@db.example/board",
            ),
            (
                "postgresql://ann:p@ss:w0rd@db:5432/b?sslmode=require",
                "postgresql://ann:***@db:5432/b?sslmode=require",
            ),
            ("mysql://root:hunter2@h", "mysql://root:***@h"),
            ("ann:s3cret@host/db", "ann:***@host/db"),
            ("postgres://ann:a/b@c@h/db", "postgres://ann:***@h/db"),
            ("postgresql://ann@db/board", "postgresql://ann@db/board"),
            (
                "sqlite:///var/lib/autopilot.db",
                "sqlite:///var/lib/autopilot.db",
            ),
            ("sqlite://a@b.db", "sqlite://a@b.db"),
        ] {
            assert_eq!(masked_url(url), shown, "{url}");
        }
    }
}
