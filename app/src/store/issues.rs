use super::{now_ms, EventRecord, Store};
use crate::domain::{check_move, Actor, Issue, IssuePatch, Kind, NewIssue, Status};
use crate::error::{AppError, AppResult};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

macro_rules! issue_columns {
    () => {
        "id, title, body, status, kind, priority, human_only, assignee, created_by, claimed_by, \
         claimed_at, lease_expires_at, branch, pr_url, result, position, version, created_at, \
         updated_at"
    };
}

/// Which issues to list. Empty means all.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// Words to find in the title or body; `#12` or `12` also finds issue 12.
    pub q: Option<String>,
}

impl Store {
    pub async fn list_issues(&self, filter: &IssueFilter) -> AppResult<Vec<Issue>> {
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            issue_columns!(),
            " FROM issues WHERE 1 = 1"
        ));
        if let Some(status) = filter.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(kind) = filter.kind {
            sql.push(" AND kind = ").push_bind(kind);
        }
        if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
            sql.push(" AND (LOWER(title) LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR LOWER(body) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
            if let Ok(id) = q.trim_start_matches('#').parse::<i64>() {
                sql.push(" OR id = ").push_bind(id);
            }
            sql.push(")");
        }
        sql.push(" ORDER BY position, id");
        Ok(sql.build_query_as::<Issue>().fetch_all(&self.pool).await?)
    }

    pub async fn get_issue(&self, id: i64) -> AppResult<Issue> {
        fetch_issue(&mut *self.pool.acquire().await?, id).await
    }

    pub async fn create_issue(&self, actor: &Actor, new: NewIssue) -> AppResult<Issue> {
        let new = new.validate()?;
        let status = new.status.unwrap_or(Status::Backlog);
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let position = end_of_column(&mut tx, status).await?;
        let issue = sqlx::query_as::<_, Issue>(concat!(
            "INSERT INTO issues (title, body, status, kind, priority, human_only, assignee, \
             created_by, position, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) RETURNING ",
            issue_columns!()
        ))
        .bind(&new.title)
        .bind(&new.body)
        .bind(status)
        .bind(new.kind)
        .bind(new.priority)
        .bind(new.human_only)
        .bind(&new.assignee)
        .bind(actor.label())
        .bind(position)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        EventRecord {
            issue_id: issue.id,
            actor,
            kind: "created",
            from: None,
            to: Some(status),
            data: serde_json::json!({ "title": issue.title, "kind": issue.kind }),
        }
        .write(&mut tx, now)
        .await?;
        tx.commit().await?;
        Ok(issue)
    }

    /// Edits an issue's fields. With `patch.version` set, a stale version is a conflict.
    pub async fn update_issue(
        &self,
        actor: &Actor,
        id: i64,
        patch: IssuePatch,
    ) -> AppResult<Issue> {
        let patch = patch.validate()?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let current = fetch_issue(&mut tx, id).await?;
        check_version(&current, patch.version)?;

        let mut changed = Vec::new();
        let mut next = current.clone();
        if let Some(title) = patch.title.filter(|t| *t != current.title) {
            next.title = title;
            changed.push("title");
        }
        if let Some(body) = patch.body.filter(|b| *b != current.body) {
            next.body = body;
            changed.push("body");
        }
        if let Some(kind) = patch.kind.filter(|k| *k != current.kind) {
            next.kind = kind;
            changed.push("kind");
        }
        if let Some(priority) = patch.priority.filter(|p| *p != current.priority) {
            next.priority = priority;
            changed.push("priority");
        }
        if let Some(human_only) = patch.human_only.filter(|h| *h != current.human_only) {
            next.human_only = human_only;
            changed.push("human_only");
        }
        if let Some(assignee) = patch.assignee {
            let assignee = Some(assignee).filter(|a| !a.is_empty());
            if assignee != current.assignee {
                next.assignee = assignee;
                changed.push("assignee");
            }
        }
        if changed.is_empty() {
            return Ok(current);
        }
        let updated = sqlx::query_as::<_, Issue>(concat!(
            "UPDATE issues SET title = $1, body = $2, kind = $3, priority = $4, human_only = $5, \
             assignee = $6, version = version + 1, updated_at = $7 \
             WHERE id = $8 AND version = $9 RETURNING ",
            issue_columns!()
        ))
        .bind(&next.title)
        .bind(&next.body)
        .bind(next.kind)
        .bind(next.priority)
        .bind(next.human_only)
        .bind(&next.assignee)
        .bind(now)
        .bind(id)
        .bind(current.version)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(stale)?;
        EventRecord {
            issue_id: id,
            actor,
            kind: "updated",
            from: None,
            to: None,
            data: serde_json::json!({ "fields": changed }),
        }
        .write(&mut tx, now)
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Moves an issue to another column, if the transition rules let `actor` do it. With
    /// `version` set, a stale version is a conflict.
    pub async fn move_issue(
        &self,
        actor: &Actor,
        id: i64,
        to: Status,
        version: Option<i64>,
    ) -> AppResult<Issue> {
        let mut tx = self.begin_write().await?;
        let moved = move_in(&mut tx, actor, id, to, version, serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(moved)
    }
}

/// The move itself, inside a caller's transaction, so other writes (a comment that un-blocks
/// an issue) can share it.
pub(super) async fn move_in(
    conn: &mut SqliteConnection,
    actor: &Actor,
    id: i64,
    to: Status,
    version: Option<i64>,
    data: serde_json::Value,
) -> AppResult<Issue> {
    let now = now_ms();
    let current = fetch_issue(conn, id).await?;
    check_version(&current, version)?;
    check_move(actor.role, current.human_only, current.status, to)?;
    let position = end_of_column(conn, to).await?;
    // Leaving `in_progress` always ends the claim; it is the runner's to take again.
    let moved = sqlx::query_as::<_, Issue>(concat!(
        "UPDATE issues SET status = $1, position = $2, version = version + 1, updated_at = $3, \
         claimed_by = CASE WHEN $1 = 'in_progress' THEN claimed_by END, \
         claimed_at = CASE WHEN $1 = 'in_progress' THEN claimed_at END, \
         lease_expires_at = CASE WHEN $1 = 'in_progress' THEN lease_expires_at END \
         WHERE id = $4 AND version = $5 RETURNING ",
        issue_columns!()
    ))
    .bind(to)
    .bind(position)
    .bind(now)
    .bind(id)
    .bind(current.version)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(stale)?;
    EventRecord {
        issue_id: id,
        actor,
        kind: "moved",
        from: Some(current.status),
        to: Some(to),
        data,
    }
    .write(conn, now)
    .await?;
    Ok(moved)
}

pub(super) async fn fetch_issue(conn: &mut SqliteConnection, id: i64) -> AppResult<Issue> {
    sqlx::query_as::<_, Issue>(concat!(
        "SELECT ",
        issue_columns!(),
        " FROM issues WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::not_found(format!("issue {id}")))
}

async fn end_of_column(conn: &mut SqliteConnection, status: Status) -> AppResult<f64> {
    let (max,): (Option<f64>,) =
        sqlx::query_as("SELECT MAX(position) FROM issues WHERE status = $1")
            .bind(status)
            .fetch_one(conn)
            .await?;
    Ok(max.unwrap_or(0.0).floor() + 1.0)
}

fn check_version(current: &Issue, expected: Option<i64>) -> AppResult<()> {
    match expected {
        Some(v) if v != current.version => Err(AppError::Conflict(format!(
            "issue {} was changed by someone else (you had version {v}, it is now at {}); \
             reload and try again",
            current.id, current.version
        ))),
        _ => Ok(()),
    }
}

fn stale() -> AppError {
    AppError::Conflict("the issue changed while you were saving; reload and try again".into())
}

/// Makes `%`, `_` and `\` match themselves in a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
