//! `autopilot db copy`: a whole board from one database into an empty one (SQLite to
//! PostgreSQL when a team moves up, or back), keeping every id.
//!
//! Sessions are not copied: people sign in again on the new database.

use super::{on_pool, on_tx, Db, Store};
use crate::error::{AppError, AppResult};
use sqlx::Row;

/// How a column is read and written.
#[derive(Clone, Copy)]
enum Col {
    Int,
    /// A 32-bit integer (`priority`).
    Int32,
    Float,
    Text,
    Bool,
    Bytes,
}

/// One value in flight.
enum Value {
    Int(Option<i64>),
    Int32(Option<i32>),
    Float(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

struct Table {
    name: &'static str,
    /// Ordered by this column, read `batch` rows at a time (text keys are read whole).
    key: &'static str,
    batch: i64,
    columns: &'static [(&'static str, Col)],
}

use Col::*;

/// Every table of the board, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("email", Text),
            ("display_name", Text),
            ("password_hash", Text),
            ("role", Text),
            ("auth_epoch", Int),
            ("created_at", Int),
            ("disabled_at", Int),
        ],
    },
    Table {
        name: "api_tokens",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
            ("scopes", Text),
            ("expires_at", Int),
        ],
    },
    Table {
        name: "invitations",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("secret_hash", Text),
            ("role", Text),
            ("created_by", Int),
            ("created_at", Int),
            ("expires_at", Int),
            ("used_at", Int),
            ("used_by", Int),
            ("revoked_at", Int),
        ],
    },
    Table {
        name: "oidc_identities",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("issuer", Text),
            ("subject", Text),
            ("created_at", Int),
            ("last_seen_at", Int),
        ],
    },
    Table {
        name: "issues",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("title", Text),
            ("body", Text),
            ("status", Text),
            ("kind", Text),
            ("priority", Int32),
            ("human_only", Bool),
            ("assignee", Text),
            ("created_by", Text),
            ("claimed_by", Text),
            ("claimed_at", Int),
            ("lease_expires_at", Int),
            ("branch", Text),
            ("pr_url", Text),
            ("pr_checks", Text),
            ("result", Text),
            ("position", Float),
            ("version", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("model", Text),
            ("agent", Text),
            ("question", Text),
            ("plan_first", Bool),
            ("plan_state", Text),
            ("next_run", Text),
            ("ci_fix_attempts", Int),
        ],
    },
    Table {
        name: "forge_imports",
        key: "key",
        batch: 0,
        columns: &[("key", Text), ("issue_id", Int), ("created_at", Int)],
    },
    Table {
        name: "issue_dependencies",
        key: "issue_id",
        batch: 0,
        columns: &[("issue_id", Int), ("depends_on", Int)],
    },
    Table {
        name: "comments",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("issue_id", Int),
            ("author_kind", Text),
            ("author", Text),
            ("body", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "attachments",
        key: "id",
        // Up to 25 MiB each.
        batch: 8,
        columns: &[
            ("id", Int),
            ("issue_id", Int),
            ("filename", Text),
            ("content_type", Text),
            ("size", Int),
            ("bytes", Bytes),
            ("created_by", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "events",
        key: "id",
        batch: 1000,
        columns: &[
            ("id", Int),
            ("issue_id", Int),
            ("actor", Text),
            ("kind", Text),
            ("from_status", Text),
            ("to_status", Text),
            ("data", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "settings",
        key: "key",
        batch: 0,
        columns: &[
            ("key", Text),
            ("value", Text),
            ("updated_by", Text),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "self_heal_reports",
        key: "fingerprint",
        batch: 0,
        columns: &[
            ("fingerprint", Text),
            ("issue_id", Int),
            ("occurrences", Int),
            ("first_seen_at", Int),
            ("last_seen_at", Int),
        ],
    },
    Table {
        name: "runners",
        key: "id",
        batch: 0,
        columns: &[
            ("id", Text),
            ("host", Text),
            ("pid", Int),
            ("started_at", Int),
            ("heartbeat_at", Int),
            ("stopped_at", Int),
            ("current_issue", Int),
            ("current_run", Int),
            ("last_outcome", Text),
            ("agents", Text),
        ],
    },
    Table {
        name: "runs",
        key: "id",
        // Logs up to 2 MiB each, and two patches up to 1 MiB.
        batch: 16,
        columns: &[
            ("id", Int),
            ("issue_id", Int),
            ("runner_id", Text),
            ("attempt", Int),
            ("started_at", Int),
            ("finished_at", Int),
            ("outcome", Text),
            ("exit_code", Int),
            ("result", Text),
            ("log", Text),
            ("branch", Text),
            ("cost_usd", Float),
            ("duration_ms", Int),
            ("num_turns", Int),
            ("cancel_requested", Text),
            ("model", Text),
            ("agent", Text),
            ("session_id", Text),
            ("kind", Text),
            ("resumed", Bool),
            ("branch_patch", Text),
            ("run_patch", Text),
            ("patch_truncated", Bool),
        ],
    },
    Table {
        name: "webhook_endpoints",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("url", Text),
            ("format", Text),
            ("events", Text),
            ("description", Text),
            ("enabled", Bool),
            ("allow_private", Bool),
            ("secret", Text),
            ("old_secret", Text),
            ("old_secret_until", Int),
            ("failures", Int),
            ("failing_since", Int),
            ("last_error", Text),
            ("off_reason", Text),
            ("sender", Text),
            ("sender_until", Int),
            ("created_by", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "webhook_deliveries",
        key: "id",
        batch: 500,
        columns: &[
            ("id", Int),
            ("endpoint_id", Int),
            ("message_id", Text),
            ("event_type", Text),
            ("issue_id", Int),
            ("payload", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_attempt_at", Int),
            ("last_status", Int),
            ("last_latency_ms", Int),
            ("last_error", Text),
            ("response_excerpt", Text),
            ("created_at", Int),
            ("delivered_at", Int),
        ],
    },
];

/// Tables whose ids come from a sequence on PostgreSQL.
const SEQUENCED: &[&str] = &[
    "users",
    "api_tokens",
    "invitations",
    "oidc_identities",
    "issues",
    "comments",
    "attachments",
    "events",
    "runs",
    "webhook_endpoints",
    "webhook_deliveries",
];

/// What was copied: rows per table.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

/// Reads one row's columns as the table says.
fn read_row<R: Row>(row: &R, columns: &[(&str, Col)]) -> Result<Vec<Value>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, col))| {
            Ok(match col {
                Int => Value::Int(row.try_get(i)?),
                Int32 => Value::Int32(row.try_get(i)?),
                Float => Value::Float(row.try_get(i)?),
                Text => Value::Text(row.try_get(i)?),
                Bool => Value::Bool(row.try_get(i)?),
                Bytes => Value::Bytes(row.try_get(i)?),
            })
        })
        .collect()
}

/// Binds a row's values to an INSERT, in column order.
macro_rules! bind_row {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Int32(v) => query.bind(v),
                Value::Float(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Copies every table of `from` into `to`, in one transaction on `to`: either the whole
/// board arrives or nothing does. `to` must hold no board yet (no user, issue or event).
pub async fn copy_board(from: &Store, to: &Store) -> AppResult<CopyReport> {
    let (used,): (i64,) = on_pool!(to, e => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM issues)
              + (SELECT COUNT(*) FROM events)"
    )
    .fetch_one(e)
    .await)?;
    if used > 0 {
        return Err(AppError::Conflict(
            "the target database already holds a board; copy into an empty database".into(),
        ));
    }
    let mut report = CopyReport::default();
    let mut tx = to.begin_write().await?;
    for table in TABLES {
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
        let list = names.join(", ");
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {} ({list}) VALUES ({})",
            table.name,
            placeholders.join(", ")
        );
        let mut copied = 0u64;
        let mut after: i64 = i64::MIN;
        loop {
            let rows: Vec<Vec<Value>> = if table.batch > 0 {
                let select = format!(
                    "SELECT {list} FROM {} WHERE {key} > $1 ORDER BY {key} LIMIT $2",
                    table.name,
                    key = table.key
                );
                on_pool!(from, e => {
                    let rows = sqlx::query(&select)
                        .bind(after)
                        .bind(table.batch)
                        .fetch_all(e)
                        .await?;
                    rows.iter()
                        .map(|row| read_row(row, table.columns))
                        .collect::<Result<_, sqlx::Error>>()
                })?
            } else {
                let select = format!("SELECT {list} FROM {} ORDER BY {}", table.name, table.key);
                on_pool!(from, e => {
                    let rows = sqlx::query(&select).fetch_all(e).await?;
                    rows.iter()
                        .map(|row| read_row(row, table.columns))
                        .collect::<Result<_, sqlx::Error>>()
                })?
            };
            let n = rows.len() as i64;
            for values in rows {
                if let Some(Value::Int(Some(id))) = values.first() {
                    after = *id;
                }
                on_tx!(&mut tx, e => bind_row!(sqlx::query(&insert), values)
                    .execute(e)
                    .await
                    .map(|_| ()))?;
                copied += 1;
            }
            if table.batch == 0 || n < table.batch {
                break;
            }
        }
        report.tables.push((table.name, copied));
    }
    if let Db::Postgres(tx) = &mut tx {
        for table in SEQUENCED {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut **tx)
            .await?;
        }
    }
    to.commit(tx).await?;
    Ok(report)
}
