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
    pub async fn backup_to(&self, file: &Path) -> AppResult<()> {
        let Db::Sqlite(pool) = &self.pool else {
            return Err(AppError::BadRequest(
                "this board is on PostgreSQL: back it up with pg_dump (see the README)".into(),
            ));
        };
        if file.exists() {
            return Err(AppError::BadRequest(format!(
                "{} already exists; a backup never overwrites a file",
                file.display()
            )));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(file.to_string_lossy().as_ref())
            .execute(pool)
            .await?;
        Ok(())
    }
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
