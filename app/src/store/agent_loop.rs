//! The agent finishing the job: answers to its questions, approved plans, failing checks and
//! review comments from the forge, each sending the issue back to the agent with what its
//! next run continues from (`issues.next_run`).

use super::issues::{fetch_issue, move_in};
use super::threads::insert_comment;
use super::{now_ms, on_pool, on_tx, Store, Tx};
use crate::domain::{
    validate_comment, Actor, AuthorKind, Comment, Issue, PlanState, Role, RunKind, Status,
};
use crate::error::{AppError, AppResult};

/// The forge, as the actor of what it brings in (and of what its pull requests become).
pub(super) fn forge() -> Actor {
    Actor::new(Role::System, "github")
}

/// A comment written on the issue's pull request, to bring into its thread once.
#[derive(Clone, Debug, PartialEq)]
pub struct ForgeItem {
    /// Unique on the forge (`github:review:123`): the same item is never brought in twice.
    pub key: String,
    /// Who wrote it there, as the thread shows it ("alice on GitHub").
    pub author: String,
    /// The comment's text (quoted as data).
    pub body: String,
    /// A review asking for changes: the issue goes back to the agent.
    pub requests_changes: bool,
}

/// What became of failing checks sent to [`Store::checks_failed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksVerdict {
    /// Back to ready, for the agent's attempt number `n`.
    SentBack(i64),
    /// The attempts are used up: blocked for a person.
    Blocked,
    /// Nothing to do: the issue left review, or another server got there first.
    Unchanged,
}

/// The session a run left behind, to resume it.
#[derive(Clone, Debug, PartialEq)]
pub struct LastSession {
    pub run_id: i64,
    pub agent: Option<String>,
    pub session_id: String,
    pub finished_at: i64,
}

/// Sets what the issue's next run continues with (and, for a plan, where it stands).
async fn set_next_run(
    conn: &mut Tx,
    id: i64,
    next: RunKind,
    plan: Option<Option<PlanState>>,
) -> AppResult<()> {
    on_tx!(conn, e => sqlx::query(
        "UPDATE issues SET next_run = $1,
             plan_state = CASE WHEN $2 THEN $3 ELSE plan_state END
         WHERE id = $4",
    )
    .bind(next)
    .bind(plan.is_some())
    .bind(plan.flatten())
    .bind(id)
    .execute(e)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// After changes were asked for: a proposed plan is planned again; work is fixed.
pub(super) async fn after_change_request(conn: &mut Tx, issue: &Issue) -> AppResult<()> {
    if issue.plan_state == Some(PlanState::Proposed) {
        set_next_run(conn, issue.id, RunKind::Plan, Some(None)).await
    } else {
        set_next_run(conn, issue.id, RunKind::ReviewFix, None).await
    }
}

/// After a person answered the agent's question: the next run carries on from the answer.
pub(super) async fn after_answer(conn: &mut Tx, issue_id: i64) -> AppResult<()> {
    set_next_run(conn, issue_id, RunKind::Answer, None).await
}

impl Store {
    /// A person answers the agent's question: their comment, and the issue back to ready for
    /// a run that continues from it. Only while the issue is blocked.
    pub async fn answer_question(
        &self,
        actor: &Actor,
        issue_id: i64,
        body: &str,
    ) -> AppResult<super::CommentAdded> {
        if !actor.role.is_human() {
            return Err(AppError::Forbidden(
                "only a person answers the agent".into(),
            ));
        }
        validate_comment(body)?;
        let issue = self.get_issue(issue_id).await?;
        if issue.status != Status::Blocked {
            return Err(AppError::Conflict(format!(
                "#{issue_id} is {}, not blocked: there is no question to answer",
                issue.status.label()
            )));
        }
        self.add_comment(actor, issue_id, body).await
    }

    /// A person approves the agent's plan: the issue goes back to ready, and the next run
    /// works from the plan (in the same session where the agent can resume it).
    pub async fn approve_plan(
        &self,
        actor: &Actor,
        issue_id: i64,
        version: Option<i64>,
    ) -> AppResult<Issue> {
        if !actor.role.is_human() {
            return Err(AppError::Forbidden("only a person approves a plan".into()));
        }
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        if issue.status != Status::InReview || issue.plan_state != Some(PlanState::Proposed) {
            return Err(AppError::Conflict(format!(
                "#{issue_id} has no plan waiting for approval"
            )));
        }
        let data = serde_json::json!({ "reason": "plan approved" });
        move_in(&mut tx, actor, issue_id, Status::Ready, version, None, data).await?;
        set_next_run(
            &mut tx,
            issue_id,
            RunKind::Work,
            Some(Some(PlanState::Approved)),
        )
        .await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        self.commit(tx).await?;
        Ok(issue)
    }

    /// The pull request's checks failed. While the issue is in review with `seen` rounds
    /// behind it: fewer than `max`, the forge's comment (the failing logs) goes on the issue
    /// and it goes back to ready for a checks-fixing run; `max` or more, blocked with it.
    /// Conditional on `seen`, so two servers reading the same checks act once.
    pub async fn checks_failed(
        &self,
        issue_id: i64,
        seen: i64,
        max: i64,
        comment: &str,
    ) -> AppResult<ChecksVerdict> {
        let github = forge();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        if issue.status != Status::InReview || issue.ci_fix_attempts != seen {
            return Ok(ChecksVerdict::Unchanged);
        }
        insert_comment(&mut tx, &github, AuthorKind::System, issue_id, comment, now).await?;
        let verdict = if seen < max {
            let data = serde_json::json!({ "reason": "checks failed", "attempt": seen + 1 });
            move_in(&mut tx, &github, issue_id, Status::Ready, None, None, data).await?;
            set_next_run(&mut tx, issue_id, RunKind::ChecksFix, None).await?;
            ChecksVerdict::SentBack(seen + 1)
        } else {
            let data = serde_json::json!({ "reason": "checks still failing", "attempts": seen });
            move_in(
                &mut tx,
                &github,
                issue_id,
                Status::Blocked,
                None,
                None,
                data,
            )
            .await?;
            ChecksVerdict::Blocked
        };
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE issues SET ci_fix_attempts = $1, pr_checks = 'failing' WHERE id = $2"
        )
        .bind(seen + i64::from(verdict != ChecksVerdict::Blocked))
        .bind(issue_id)
        .execute(e)
        .await
        .map(|_| ()))?;
        self.commit(tx).await?;
        Ok(verdict)
    }

    /// Brings comments from the issue's pull request into its thread, each once (across
    /// restarts and servers: the key is recorded in the same transaction). A new review that
    /// asks for changes sends an issue in review back to the agent, as "Request changes" on
    /// the board does. Returns the comments brought in.
    pub async fn import_forge_comments(
        &self,
        issue_id: i64,
        items: &[ForgeItem],
    ) -> AppResult<Vec<Comment>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        let mut added = Vec::new();
        let mut changes_requested = false;
        for item in items {
            let new = on_tx!(&mut tx, e => sqlx::query(
                "INSERT INTO forge_imports (key, issue_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&item.key)
            .bind(issue_id)
            .bind(now)
            .execute(e)
            .await
            .map(|done| done.rows_affected() == 1))?;
            if !new {
                continue;
            }
            let author = Actor::new(Role::System, item.author.clone());
            let body = validate_comment(&item.body)?;
            let comment =
                insert_comment(&mut tx, &author, AuthorKind::Human, issue_id, &body, now).await?;
            added.push(comment);
            changes_requested |= item.requests_changes;
        }
        if changes_requested && issue.status == Status::InReview {
            let data = serde_json::json!({ "reason": "changes requested on the pull request" });
            move_in(&mut tx, &forge(), issue_id, Status::Ready, None, None, data).await?;
            after_change_request(&mut tx, &issue).await?;
        }
        self.commit(tx).await?;
        Ok(added)
    }

    /// The session the issue's latest finished run left behind, if it left one.
    pub async fn last_session(&self, issue_id: i64) -> AppResult<Option<LastSession>> {
        let row: Option<(i64, Option<String>, String, i64)> = on_pool!(self, e => sqlx::query_as(
            "SELECT id, agent, session_id, finished_at FROM runs
             WHERE issue_id = $1 AND finished_at IS NOT NULL AND session_id IS NOT NULL
             ORDER BY id DESC LIMIT 1",
        )
        .bind(issue_id)
        .fetch_optional(e)
        .await)?;
        Ok(
            row.map(|(run_id, agent, session_id, finished_at)| LastSession {
                run_id,
                agent,
                session_id,
                finished_at,
            }),
        )
    }
}
