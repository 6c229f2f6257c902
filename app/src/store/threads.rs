//! What hangs off an issue: comments, attachments and its history.

use super::issues::{fetch_issue, move_in};
use super::{now_ms, on_pool, on_tx, EventRecord, Store, Tx};
use crate::domain::{
    normalise_content_type, validate_attachment_size, validate_comment, validate_filename, Actor,
    Attachment, AuthorKind, Comment, Event, Invalid, Issue, IssueDetail, Role, Status,
};
use crate::error::{AppError, AppResult};

/// What adding a comment did.
#[derive(Debug, Clone)]
pub struct CommentAdded {
    pub comment: Comment,
    /// The issue as it now is.
    pub issue: Issue,
    /// The comment answered a blocked issue and moved it to ready.
    pub unblocked: bool,
}

const ATTACHMENT_COLUMNS: &str =
    "id, issue_id, filename, content_type, size, created_by, created_at";

impl Store {
    pub async fn issue_detail(&self, id: i64) -> AppResult<IssueDetail> {
        Ok(IssueDetail {
            issue: self.get_issue(id).await?,
            comments: self.list_comments(id).await?,
            attachments: self.list_attachments(id).await?,
        })
    }

    pub async fn list_comments(&self, issue_id: i64) -> AppResult<Vec<Comment>> {
        self.get_issue(issue_id).await?;
        Ok(on_pool!(self, e => sqlx::query_as::<_, Comment>(
            "SELECT id, issue_id, author_kind, author, body, created_at
             FROM comments WHERE issue_id = $1 ORDER BY id",
        )
        .bind(issue_id)
        .fetch_all(e)
        .await)?)
    }

    /// Adds a comment. A person commenting on a `blocked` issue answers its question, so the
    /// issue goes back to `ready` in the same transaction.
    pub async fn add_comment(
        &self,
        actor: &Actor,
        issue_id: i64,
        body: &str,
    ) -> AppResult<CommentAdded> {
        let body = validate_comment(body)?;
        let author_kind = match actor.role {
            Role::Member | Role::Admin => AuthorKind::Human,
            Role::Runner => AuthorKind::Agent,
            Role::System => AuthorKind::System,
            Role::Public => return Err(AppError::Forbidden("the public cannot comment".into())),
        };
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        let comment = insert_comment(&mut tx, actor, author_kind, issue_id, &body, now).await?;
        let unblocked = issue.status == Status::Blocked && author_kind == AuthorKind::Human;
        let issue = if unblocked {
            let reason =
                serde_json::json!({ "reason": "a person answered", "comment_id": comment.id });
            let moved = move_in(
                &mut tx,
                &Actor::system(),
                issue_id,
                Status::Ready,
                None,
                None,
                reason,
            )
            .await?;
            // The agent asked: its next run carries on from the answer.
            if issue.question.is_some() {
                super::agent_loop::after_answer(&mut tx, issue_id).await?;
                fetch_issue(&mut tx, issue_id).await?
            } else {
                moved
            }
        } else {
            issue
        };
        self.commit(tx).await?;
        Ok(CommentAdded {
            comment,
            issue,
            unblocked,
        })
    }

    /// A reviewer's change request: their comment, and the issue back from review to ready
    /// for the agent's next run (which reads the comment), in one transaction.
    pub async fn request_changes(
        &self,
        actor: &Actor,
        issue_id: i64,
        version: Option<i64>,
        body: &str,
    ) -> AppResult<(Comment, Issue)> {
        if !actor.role.is_human() {
            return Err(AppError::Forbidden(
                "only a person can request changes".into(),
            ));
        }
        let body = validate_comment(body)?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        if issue.status != Status::InReview {
            return Err(AppError::Conflict(format!(
                "#{issue_id} is {}, not in review: there is no change to ask about",
                issue.status.label()
            )));
        }
        let comment =
            insert_comment(&mut tx, actor, AuthorKind::Human, issue_id, &body, now).await?;
        let reason = serde_json::json!({ "reason": "changes requested", "comment_id": comment.id });
        move_in(
            &mut tx,
            actor,
            issue_id,
            Status::Ready,
            version,
            None,
            reason,
        )
        .await?;
        super::agent_loop::after_change_request(&mut tx, &issue).await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        self.commit(tx).await?;
        Ok((comment, issue))
    }

    pub async fn list_attachments(&self, issue_id: i64) -> AppResult<Vec<Attachment>> {
        let sql =
            format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE issue_id = $1 ORDER BY id");
        Ok(on_pool!(self, e => sqlx::query_as::<_, Attachment>(&sql)
            .bind(issue_id)
            .fetch_all(e)
            .await)?)
    }

    pub async fn add_attachment(
        &self,
        actor: &Actor,
        issue_id: i64,
        filename: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> AppResult<Attachment> {
        let filename = validate_filename(filename)?;
        validate_attachment_size(bytes.len())?;
        let content_type = normalise_content_type(content_type);
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        fetch_issue(&mut tx, issue_id).await?;
        // Inside the write transaction, so uploads at once cannot all fit the same room.
        self.check_attachment_quota(&mut tx, issue_id, bytes.len() as i64)
            .await?;
        let sql = format!(
            "INSERT INTO attachments (issue_id, filename, content_type, size, bytes, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ATTACHMENT_COLUMNS}"
        );
        let attachment = on_tx!(&mut tx, e => sqlx::query_as::<_, Attachment>(&sql)
        .bind(issue_id)
        .bind(&filename)
        .bind(&content_type)
        .bind(bytes.len() as i64)
        .bind(bytes)
        .bind(actor.label())
        .bind(now)
        .fetch_one(e)
        .await)?;
        EventRecord {
            issue_id,
            actor,
            kind: "attached",
            from: None,
            to: None,
            data: serde_json::json!({ "attachment_id": attachment.id, "filename": filename }),
        }
        .write(&mut tx, now)
        .await?;
        self.commit(tx).await?;
        Ok(attachment)
    }

    /// Refuses a file of `size` bytes that would take an issue past its attachments' quota
    /// (files or bytes) or the board past its total: 422 for the count, 413 for the bytes.
    async fn check_attachment_quota(&self, tx: &mut Tx, issue_id: i64, size: i64) -> AppResult<()> {
        let quota = self.attachment_quota;
        let mib = |bytes: i64| (bytes + 1024 * 1024 - 1) / (1024 * 1024);
        let (files, taken): (i64, i64) = on_tx!(tx, e => sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments
             WHERE issue_id = $1",
        )
        .bind(issue_id)
        .fetch_one(e)
        .await)?;
        if files >= quota.files_per_issue {
            return Err(Invalid {
                field: "file".into(),
                message: format!(
                    "#{issue_id} already has {files} attachments, the most an issue may have"
                ),
            }
            .into());
        }
        if taken + size > quota.bytes_per_issue {
            return Err(AppError::PayloadTooLarge(format!(
                "#{issue_id}'s attachments may take at most {} MiB in all ({} MiB taken); \
                 nothing was stored",
                mib(quota.bytes_per_issue),
                mib(taken)
            )));
        }
        let (in_all,): (i64,) = on_tx!(tx, e => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments"
        )
        .fetch_one(e)
        .await)?;
        if in_all + size > quota.bytes_in_all {
            return Err(AppError::PayloadTooLarge(format!(
                "the board's attachments may take at most {} MiB in all \
                 (AUTOPILOT_ATTACHMENTS_MAX_MB); nothing was stored",
                mib(quota.bytes_in_all)
            )));
        }
        Ok(())
    }

    /// An attachment with its bytes, for download.
    pub async fn get_attachment(&self, id: i64) -> AppResult<(Attachment, Vec<u8>)> {
        let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1");
        let attachment = on_pool!(self, e => sqlx::query_as::<_, Attachment>(&sql)
            .bind(id)
            .fetch_optional(e)
            .await)?
        .ok_or_else(|| AppError::not_found(format!("attachment {id}")))?;
        let (bytes,): (Vec<u8>,) = on_pool!(self, e => sqlx::query_as(
            "SELECT bytes FROM attachments WHERE id = $1"
        )
        .bind(id)
        .fetch_one(e)
        .await)?;
        Ok((attachment, bytes))
    }

    /// Everything that happened after event `after`, oldest first: what live streams send.
    pub async fn events_after(&self, after: i64, limit: i64) -> AppResult<Vec<Event>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, Event>(
            "SELECT id, issue_id, actor, kind, from_status, to_status, data, created_at
             FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(e)
        .await)?)
    }

    /// The id of the newest event (0 when there is none): where a new live stream starts.
    pub async fn latest_event_id(&self) -> AppResult<i64> {
        let (id,): (Option<i64>,) =
            on_pool!(self, e => sqlx::query_as(LATEST_EVENT).fetch_one(e).await)?;
        Ok(id.unwrap_or(0))
    }

    /// Changes when any issue does: the newest event id (every change writes one), and the
    /// sum of the leases held (heartbeats move leases forward without an event). What
    /// answers kept warm are keyed on.
    pub async fn board_version(&self) -> AppResult<(i64, i64)> {
        Ok(on_pool!(self, e => sqlx::query_as(BOARD_VERSION).fetch_one(e).await)?)
    }

    /// An issue's history, oldest first.
    pub async fn list_events(&self, issue_id: i64) -> AppResult<Vec<Event>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, Event>(
            "SELECT id, issue_id, actor, kind, from_status, to_status, data, created_at
             FROM events WHERE issue_id = $1 ORDER BY id",
        )
        .bind(issue_id)
        .fetch_all(e)
        .await)?)
    }
}

/// The newest event's id (see `latest_event_id`).
pub(super) const LATEST_EVENT: &str = "SELECT MAX(id) FROM events";

/// What warm answers are keyed on (see `board_version`); the leases come from a partial index
/// of the issues in progress.
pub(super) const BOARD_VERSION: &str = "SELECT (SELECT COALESCE(MAX(id), 0) FROM events),
        (SELECT CAST(COALESCE(SUM(lease_expires_at), 0) AS BIGINT) FROM issues
         WHERE status = 'in_progress')";

/// Writes a comment and its `commented` event inside a caller's transaction.
pub(super) async fn insert_comment(
    conn: &mut Tx,
    actor: &Actor,
    author_kind: AuthorKind,
    issue_id: i64,
    body: &str,
    now: i64,
) -> AppResult<Comment> {
    let comment = on_tx!(conn, e => sqlx::query_as::<_, Comment>(
        "INSERT INTO comments (issue_id, author_kind, author, body, created_at)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, issue_id, author_kind, author, body, created_at",
    )
    .bind(issue_id)
    .bind(author_kind)
    .bind(actor.label())
    .bind(body)
    .bind(now)
    .fetch_one(e)
    .await)?;
    EventRecord {
        issue_id,
        actor,
        kind: "commented",
        from: None,
        to: None,
        data: serde_json::json!({ "comment_id": comment.id, "author_kind": author_kind }),
    }
    .write(conn, now)
    .await?;
    Ok(comment)
}
