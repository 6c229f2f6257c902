//! Backups of a live SQLite board, and a check of one. (PostgreSQL has `pg_dump`.)

use super::{Db, Store};
use crate::error::{AppError, AppResult};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::Path;

/// What a backup holds, once checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupReport {
    pub issues: i64,
    pub comments: i64,
    pub runs: i64,
    pub users: i64,
    /// The newest migration it has (its schema's version).
    pub schema: i64,
}

impl Store {
    /// Writes a consistent copy of the whole database to `file` while the board keeps working
    /// (SQLite's `VACUUM INTO`: one read transaction, so writers are not held up and the copy
    /// is of one moment). `file` must not exist yet.
    ///
    /// The copy is private from its first byte: the file is made empty, readable by its owner
    /// only (0600), before anything is written into it. It holds no sessions: they are wiped
    /// from the copy (their bytes overwritten, not only unlinked), so a backup never signs
    /// anyone in. A copy that fails half-way is removed.
    pub async fn backup_to(&self, file: &Path) -> AppResult<()> {
        let Db::Sqlite(pool) = &self.pool else {
            return Err(AppError::BadRequest(
                "this board is on PostgreSQL: back it up with pg_dump (see the README)".into(),
            ));
        };
        create_private(file)?;
        let written = async {
            sqlx::query("VACUUM INTO $1")
                .bind(file.to_string_lossy().as_ref())
                .execute(pool)
                .await?;
            forget_sessions(file).await
        }
        .await;
        if written.is_err() {
            let _ = std::fs::remove_file(file);
        }
        written
    }
}

/// Makes `file`, empty and readable by its owner only; refuses one that exists (atomically:
/// `O_EXCL`, so nothing else's file is ever written over or made readable).
fn create_private(file: &Path) -> AppResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AppError::BadRequest(format!(
                "{} already exists; a backup never overwrites a file",
                file.display()
            )))
        }
        Err(err) => Err(AppError::BadRequest(format!(
            "cannot create {}: {err}",
            file.display()
        ))),
    }
}

/// Empties the copy's session table, with `secure_delete` so the rows' bytes are overwritten
/// in the file rather than left in free pages.
async fn forget_sessions(file: &Path) -> AppResult<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(false)
        .connect()
        .await?;
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut conn)
        .await?;
    let has_sessions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tower_sessions'",
    )
    .fetch_one(&mut conn)
    .await?;
    if has_sessions > 0 {
        sqlx::query("DELETE FROM tower_sessions")
            .execute(&mut conn)
            .await?;
    }
    // What the sessions came from (addresses, browsers) goes with them.
    sqlx::query("DELETE FROM session_devices")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Opens the SQLite file at `file` read-only and checks it: SQLite's integrity check, then
/// that it is an Autopilot board, and what it holds. Nothing in it is changed.
pub async fn check_backup(file: &Path) -> AppResult<BackupReport> {
    if !file.is_file() {
        return Err(AppError::BadRequest(format!(
            "{} is not a file",
            file.display()
        )));
    }
    let unreadable = |err: sqlx::Error| {
        AppError::BadRequest(format!(
            "{} is not a readable SQLite database: {err}",
            file.display()
        ))
    };
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .map_err(unreadable)?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(unreadable)?;
    if integrity != ["ok"] {
        return Err(AppError::BadRequest(format!(
            "{} is damaged: {}",
            file.display(),
            integrity.join("; ")
        )));
    }
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = Vec::new();
    for table in ["issues", "comments", "runs", "users"] {
        let n: i64 = sqlx::query_scalar(&count(table))
            .fetch_one(&mut conn)
            .await
            .map_err(|_| {
                AppError::BadRequest(format!(
                    "{} is a SQLite database, but not an Autopilot board (no {table} table)",
                    file.display()
                ))
            })?;
        counts.push(n);
    }
    let schema: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(unreadable)?;
    let _ = conn.close().await;
    Ok(BackupReport {
        issues: counts[0],
        comments: counts[1],
        runs: counts[2],
        users: counts[3],
        schema,
    })
}
