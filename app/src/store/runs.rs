//! The runner's side of the store: runner registration and heartbeats, the atomic claim, run
//! records and their logs, finishing a run, and rescuing issues whose lease ran out.

use super::issues::{end_of_column, fetch_issue, move_in};
use super::threads::insert_comment;
use super::{now_ms, on_pool, on_tx, Db, EventRecord, Store};
use crate::domain::{
    check_move, next_run, Actor, AuthorKind, Issue, PlanState, PullRequest, Role, Run, RunOutcome,
    RunRow, RunnerInfo, Status, WebhookEvent,
};
use crate::error::{AppError, AppResult};

const RUN_COLUMNS: &str = "id, issue_id, runner_id, attempt, started_at, finished_at, outcome, \
     exit_code, result, branch, cost_usd, duration_ms, num_turns, cancel_requested, model, agent, session_id, kind, resumed";

/// The agents a runner can work with: those it has installed, and the board's default (what
/// an issue that names none asks for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentChoice {
    pub default_agent: String,
    pub installed: Vec<String>,
}

impl AgentChoice {
    /// `AND COALESCE(agent, $first) IN ($first+1, …)`, for binds of the default then each
    /// installed agent. No agent installed: nothing is claimable.
    fn clause(&self, first: usize) -> String {
        if self.installed.is_empty() {
            return "AND FALSE".into();
        }
        let names: Vec<String> = (0..self.installed.len())
            .map(|i| format!("${}", first + 1 + i))
            .collect();
        format!("AND COALESCE(agent, ${first}) IN ({})", names.join(", "))
    }

    /// The values [`AgentChoice::clause`] names, in order.
    fn binds(&self) -> Vec<String> {
        if self.installed.is_empty() {
            return Vec::new();
        }
        std::iter::once(self.default_agent.clone())
            .chain(self.installed.iter().cloned())
            .collect()
    }
}

/// What a runner learns from its heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// It still holds the claim on its current issue (false: stop working on it).
    pub holds_claim: bool,
    /// An admin asked to cancel the current run.
    pub cancel_requested_by: Option<String>,
}

/// How a run ends, as the runner reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFinish {
    pub outcome: RunOutcome,
    /// Where the issue goes: `in_review`, `blocked` or (when interrupted) `ready`.
    pub to: Status,
    /// The comment left on the issue: the agent's question, or the runner's explanation.
    pub comment: Option<(AuthorKind, String)>,
    pub exit_code: Option<i64>,
    pub result: Option<String>,
    pub branch: Option<String>,
    pub pr_url: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<i64>,
    pub num_turns: Option<i64>,
    /// The model the agent was given (`--model`), if one was named.
    pub model: Option<String>,
    /// The agent that worked it.
    pub agent: Option<String>,
    /// The agent's session, to resume it from.
    pub session_id: Option<String>,
    /// Whether the run resumed the agent's earlier session (`None`: it did not try).
    pub resumed: Option<bool>,
    /// What the run committed, for review.
    pub patches: Option<RunPatches>,
}

/// A committed run's change as unified diffs, each already cut to [`crate::domain::PATCH_CAP`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunPatches {
    /// The base branch against the issue's branch: everything a merge would bring.
    pub branch: String,
    /// This run's own commit.
    pub run: String,
    /// Whether either was cut.
    pub truncated: bool,
}

impl RunFinish {
    pub fn new(outcome: RunOutcome, to: Status) -> Self {
        RunFinish {
            outcome,
            to,
            comment: None,
            exit_code: None,
            result: None,
            branch: None,
            pr_url: None,
            cost_usd: None,
            duration_ms: None,
            num_turns: None,
            model: None,
            agent: None,
            session_id: None,
            resumed: None,
            patches: None,
        }
    }
}

/// An issue a runner may claim: ready, not for people only, and nothing it depends on is
/// still open (a person may still move it by hand).
macro_rules! claimable {
    () => {
        "status = 'ready' AND human_only = FALSE AND NOT EXISTS (\
         SELECT 1 FROM issue_dependencies d JOIN issues w ON w.id = d.depends_on \
         WHERE d.issue_id = issues.id AND w.status <> 'done')"
    };
}

impl Store {
    /// Records a runner process as started (again, if the id was used before).
    pub async fn register_runner(&self, id: &str, host: &str, pid: i64) -> AppResult<()> {
        let now = self.db_now().await?;
        on_pool!(self, e => sqlx::query(
            "INSERT INTO runners (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                 stopped_at = NULL, current_issue = NULL, current_run = NULL",
        )
        .bind(id)
        .bind(host)
        .bind(pid)
        .bind(now)
        .execute(e)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Records the agents a runner has installed, with their versions, as it shows them
    /// (`gemini 0.61.0, codex 0.16.0`).
    pub async fn report_agents(&self, id: &str, agents: &str) -> AppResult<()> {
        on_pool!(self, e => sqlx::query("UPDATE runners SET agents = $1 WHERE id = $2")
            .bind(agents)
            .bind(id)
            .execute(e)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn runner_stopped(&self, id: &str) -> AppResult<()> {
        let now = self.db_now().await?;
        on_pool!(self, e => sqlx::query(
            "UPDATE runners SET stopped_at = $1, current_issue = NULL, current_run = NULL
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(e)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Says the runner is alive, renews the lease on its current issue, and reports whether it
    /// still holds that claim and whether its run was cancelled. A lease that has run out is
    /// not renewed (the database was away for longer than the lease, say): the issue is
    /// someone else's to rescue, and this runner must stop.
    pub async fn heartbeat(
        &self,
        runner_id: &str,
        lease_ms: i64,
        current: Option<(i64, i64)>,
    ) -> AppResult<Heartbeat> {
        let now = self.db_now().await?;
        on_pool!(self, e => sqlx::query(
            "UPDATE runners SET heartbeat_at = $1, current_issue = $2, current_run = $3
             WHERE id = $4",
        )
        .bind(now)
        .bind(current.map(|c| c.0))
        .bind(current.map(|c| c.1))
        .bind(runner_id)
        .execute(e)
        .await
        .map(|_| ()))?;
        let (holds_claim, cancel_requested_by) = match current {
            None => (false, None),
            Some((issue_id, run_id)) => {
                let renewed = on_pool!(self, e => sqlx::query(
                    "UPDATE issues SET lease_expires_at = $1
                     WHERE id = $2 AND claimed_by = $3 AND status = 'in_progress'
                       AND lease_expires_at >= $4",
                )
                .bind(now + lease_ms)
                .bind(issue_id)
                .bind(runner_id)
                .bind(now)
                .execute(e)
                .await
                .map(|done| done.rows_affected()))?;
                let cancel: Option<(Option<String>,)> = on_pool!(self, e => sqlx::query_as(
                    "SELECT cancel_requested FROM runs WHERE id = $1"
                )
                .bind(run_id)
                .fetch_optional(e)
                .await)?;
                (renewed == 1, cancel.and_then(|c| c.0))
            }
        };
        Ok(Heartbeat {
            holds_claim,
            cancel_requested_by,
        })
    }

    /// Claims the most urgent, oldest `ready` issue that is not human-only, whatever agent it
    /// asks for ([`Store::claim_next_for`]).
    pub async fn claim_next(
        &self,
        runner_id: &str,
        lease_ms: i64,
    ) -> AppResult<Option<(Issue, Run)>> {
        self.claim_next_for(runner_id, lease_ms, None).await
    }

    /// Claims the most urgent, oldest `ready` issue that is not human-only, with one
    /// conditional UPDATE inside a write transaction, so two runners can never take the same
    /// issue. Starts its run record in the same transaction. With `agents`, only an issue
    /// whose agent (or, when it asks for none, the board's default) the runner has.
    pub async fn claim_next_for(
        &self,
        runner_id: &str,
        lease_ms: i64,
        agents: Option<&AgentChoice>,
    ) -> AppResult<Option<(Issue, Run)>> {
        check_move(Role::Runner, false, Status::Ready, Status::InProgress)?;
        // `AND COALESCE(agent, $5) IN ($6, …)`: the binds follow the query's own four.
        let agent_clause = agents.map_or(String::new(), |a| a.clause(5));
        // A read first: an idle runner looking often must not queue for the write lock.
        let peek = format!(
            "SELECT id FROM issues WHERE {} {} LIMIT 1",
            claimable!(),
            agents.map_or(String::new(), |a| a.clause(1))
        );
        let waiting: Option<(i64,)> = on_pool!(self, e => {
            let mut query = sqlx::query_as(&peek);
            for value in agents.map(AgentChoice::binds).unwrap_or_default() {
                query = query.bind(value);
            }
            query.fetch_optional(e).await
        })?;
        if waiting.is_none() {
            return Ok(None);
        }
        // The board-wide spending caps, checked by every runner before each claim.
        if let Some(reached) = self.cap_reached().await? {
            tracing::debug!(runner = runner_id, "{}", reached.sentence());
            return Ok(None);
        }
        let actor = Actor::new(Role::Runner, runner_id);
        let mut tx = self.begin_write().await?;
        let now = Store::clock(&mut tx).await?;
        // The write transaction holds the database, so the end of the column cannot move.
        let position = end_of_column(&mut tx, Status::InProgress).await?;
        let sql = match tx {
            Db::Sqlite(_) => format!(
                "UPDATE issues SET status = 'in_progress', claimed_by = $1, claimed_at = $2,
                     lease_expires_at = $3, version = version + 1, updated_at = $2, position = $4
                 WHERE id = (SELECT id FROM issues WHERE {} {agent_clause}
                             ORDER BY priority DESC, created_at, id LIMIT 1)
                   AND status = 'ready' AND human_only = FALSE
                 RETURNING id",
                claimable!()
            ),
            Db::Postgres(_) => format!(
                "UPDATE issues SET status = 'in_progress', claimed_by = $1, claimed_at = $2,
                     lease_expires_at = $3, version = version + 1, updated_at = $2, position = $4
                 WHERE id = (SELECT id FROM issues WHERE {} {agent_clause}
                             ORDER BY priority DESC, created_at, id LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                claimable!()
            ),
        };
        let claimed: Option<(i64,)> = on_tx!(&mut tx, e => {
            let mut query = sqlx::query_as(&sql)
                .bind(runner_id)
                .bind(now)
                .bind(now + lease_ms)
                .bind(position);
            for value in agents.map(AgentChoice::binds).unwrap_or_default() {
                query = query.bind(value);
            }
            query.fetch_optional(e).await
        })?;
        let Some((issue_id,)) = claimed else {
            return Ok(None);
        };
        // The run's kind is decided here, from the issue as claimed, so it shows at once.
        let claimed = fetch_issue(&mut tx, issue_id).await?;
        let (kind, _) = next_run(claimed.plan_first, claimed.plan_state, claimed.next_run);
        super::EventRecord {
            issue_id,
            actor: &actor,
            kind: "moved",
            from: Some(Status::Ready),
            to: Some(Status::InProgress),
            data: serde_json::json!({ "claimed_by": runner_id, "run_kind": kind.as_str() }),
        }
        .write(&mut tx, now)
        .await?;
        let insert_run = format!(
            "INSERT INTO runs (issue_id, runner_id, attempt, started_at, kind)
             VALUES ($1, $2, (SELECT COUNT(*) + 1 FROM runs WHERE issue_id = $1), $3, $4)
             RETURNING {RUN_COLUMNS}"
        );
        let run = on_tx!(&mut tx, e => sqlx::query_as::<_, Run>(&insert_run)
            .bind(issue_id)
            .bind(runner_id)
            .bind(now)
            .bind(kind)
            .fetch_one(e)
            .await)?;
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE runners SET current_issue = $1, current_run = $2 WHERE id = $3"
        )
        .bind(issue_id)
        .bind(run.id)
        .bind(runner_id)
        .execute(e)
        .await
        .map(|_| ()))?;
        let started = serde_json::json!({
            "run": { "id": run.id, "kind": kind.as_str(), "attempt": run.attempt },
        });
        let label = actor.label();
        super::webhooks::enqueue(
            &mut tx,
            WebhookEvent::RunStarted,
            Some(issue_id),
            &label,
            started,
            now,
        )
        .await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        self.commit(tx).await?;
        Ok(Some((issue, run)))
    }

    /// Adds the agent's output to a run's log, and wakes whoever is watching it.
    pub async fn append_run_log(&self, run_id: i64, text: &str) -> AppResult<()> {
        on_pool!(self, e => sqlx::query("UPDATE runs SET log = log || $1 WHERE id = $2")
            .bind(text)
            .bind(run_id)
            .execute(e)
            .await
            .map(|_| ()))?;
        self.run_log_grew(run_id).await
    }

    /// Wakes when any run's log grows.
    pub fn subscribe_run_logs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.run_logs.subscribe()
    }

    /// The part of a run's log after `from` characters, the log's length in characters, and
    /// whether the run has finished.
    pub async fn run_log_since(&self, run_id: i64, from: i64) -> AppResult<(String, i64, bool)> {
        on_pool!(self, e => sqlx::query_as(
            "SELECT substr(log, CAST($1 AS INTEGER) + 1), CAST(length(log) AS BIGINT),
                    finished_at IS NOT NULL
             FROM runs WHERE id = $2",
        )
        .bind(from)
        .bind(run_id)
        .fetch_optional(e)
        .await)?
        .ok_or_else(|| AppError::not_found(format!("run {run_id}")))
    }

    /// Issues in review with a pull request: the ones a runner with push on follows.
    pub async fn open_pull_requests(&self) -> AppResult<Vec<(i64, String, i64)>> {
        Ok(on_pool!(self, e => sqlx::query_as(
            "SELECT id, pr_url, ci_fix_attempts FROM issues
             WHERE status = 'in_review' AND pr_url IS NOT NULL ORDER BY id",
        )
        .fetch_all(e)
        .await)?)
    }

    /// Records what a pull request became: merged, the issue is done (a system event names
    /// who merged it); closed without merging, it is blocked with a comment saying so; open,
    /// the state of its checks (an event only when it changes, so boards update). An issue
    /// no longer in review is left alone: following stops there.
    pub async fn record_pull_request(&self, issue_id: i64, pr: &PullRequest) -> AppResult<()> {
        let github = super::agent_loop::forge();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let issue = fetch_issue(&mut tx, issue_id).await?;
        if issue.status != Status::InReview {
            return Ok(());
        }
        match pr {
            PullRequest::Merged { by } => {
                let data = serde_json::json!({ "reason": "pull request merged", "merged_by": by });
                move_in(&mut tx, &github, issue_id, Status::Done, None, None, data).await?;
            }
            PullRequest::Closed => {
                let text = format!(
                    "The pull request {} was closed without merging.",
                    issue.pr_url.as_deref().unwrap_or("")
                );
                insert_comment(&mut tx, &github, AuthorKind::System, issue_id, &text, now).await?;
                let data = serde_json::json!({ "reason": "pull request closed" });
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
            }
            PullRequest::Open { checks } if *checks != issue.pr_checks => {
                on_tx!(&mut tx, e => sqlx::query(
                    "UPDATE issues SET pr_checks = $1, version = version + 1, updated_at = $2
                     WHERE id = $3",
                )
                .bind(checks)
                .bind(now)
                .bind(issue_id)
                .execute(e)
                .await
                .map(|_| ()))?;
                EventRecord {
                    issue_id,
                    actor: &github,
                    kind: "checks",
                    from: None,
                    to: None,
                    data: serde_json::json!({ "checks": checks }),
                }
                .write(&mut tx, now)
                .await?;
            }
            PullRequest::Open { .. } => return Ok(()),
        }
        self.commit(tx).await
    }

    /// The issue's runs that committed something, newest first: (run id, attempt).
    pub async fn committed_runs(&self, issue_id: i64) -> AppResult<Vec<(i64, i64)>> {
        Ok(on_pool!(self, e => sqlx::query_as(
            "SELECT id, attempt FROM runs WHERE issue_id = $1 AND branch_patch IS NOT NULL
             ORDER BY id DESC",
        )
        .bind(issue_id)
        .fetch_all(e)
        .await)?)
    }

    /// What a run committed, if it committed anything.
    pub async fn run_patches(&self, run_id: i64) -> AppResult<Option<RunPatches>> {
        let row: Option<(Option<String>, Option<String>, bool)> = on_pool!(self, e => sqlx::query_as(
            "SELECT branch_patch, run_patch, patch_truncated FROM runs WHERE id = $1",
        )
        .bind(run_id)
        .fetch_optional(e)
        .await)?;
        let (branch, run, truncated) =
            row.ok_or_else(|| AppError::not_found(format!("run {run_id}")))?;
        Ok(branch.map(|branch| RunPatches {
            branch,
            run: run.unwrap_or_default(),
            truncated,
        }))
    }

    /// Ends a run. While the runner still holds the claim, the issue moves to `finish.to` with
    /// the branch, PR link, result and comment; otherwise (lease run out, someone moved it) the
    /// issue is left alone and the run is recorded as lost. Returns whether the claim was held.
    pub async fn finish_run(
        &self,
        runner_id: &str,
        run_id: i64,
        issue_id: i64,
        finish: RunFinish,
    ) -> AppResult<bool> {
        let actor = Actor::new(Role::Runner, runner_id);
        let mut tx = self.begin_write().await?;
        let now = Store::clock(&mut tx).await?;
        // Already recorded (a retry after the answer to the first try was lost): say what
        // it was and change nothing.
        let recorded: Option<(Option<String>,)> = on_tx!(&mut tx, e => sqlx::query_as(
            "SELECT outcome FROM runs WHERE id = $1 AND finished_at IS NOT NULL"
        )
        .bind(run_id)
        .fetch_optional(e)
        .await)?;
        if let Some((outcome,)) = recorded {
            return Ok(outcome.as_deref() != Some(RunOutcome::Lost.as_str()));
        }
        let issue = fetch_issue(&mut tx, issue_id).await?;
        let holds = issue.status == Status::InProgress
            && issue.claimed_by.as_deref() == Some(runner_id)
            && issue.lease_expires_at.is_some_and(|at| at >= now);
        let outcome = if holds {
            finish.outcome
        } else {
            RunOutcome::Lost
        };
        if holds {
            let data = serde_json::json!({ "run_id": run_id, "outcome": outcome.as_str() });
            move_in(&mut tx, &actor, issue_id, finish.to, None, None, data).await?;
            on_tx!(&mut tx, e => sqlx::query(
                "UPDATE issues SET branch = COALESCE($1, branch), pr_url = COALESCE($2, pr_url),
                     result = $3
                 WHERE id = $4",
            )
            .bind(&finish.branch)
            .bind(&finish.pr_url)
            .bind(&finish.result)
            .bind(issue_id)
            .execute(e)
            .await
            .map(|_| ()))?;
            // The agent's loop: its question waits on the card; a plan waits for approval;
            // what this run continued with is done (unless it goes straight back to ready);
            // a new commit's checks are not known yet.
            let question = match (&finish.comment, finish.outcome) {
                (Some((AuthorKind::Agent, text)), RunOutcome::Blocked) => Some(text.clone()),
                _ => None,
            };
            let plan = (finish.outcome == RunOutcome::Planned).then_some(PlanState::Proposed);
            on_tx!(&mut tx, e => sqlx::query(
                "UPDATE issues SET question = $1, plan_state = COALESCE($2, plan_state),
                     next_run = CASE WHEN $3 THEN next_run END,
                     pr_checks = CASE WHEN $4 THEN NULL ELSE pr_checks END
                 WHERE id = $5",
            )
            .bind(&question)
            .bind(plan)
            .bind(finish.to == Status::Ready)
            .bind(finish.outcome == RunOutcome::Review)
            .bind(issue_id)
            .execute(e)
            .await
            .map(|_| ()))?;
            if let Some((kind, body)) = &finish.comment {
                let author = match kind {
                    AuthorKind::System => Actor::system(),
                    _ => actor.clone(),
                };
                insert_comment(&mut tx, &author, *kind, issue_id, body, now).await?;
            }
        }
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE runs SET finished_at = $1, outcome = $2, exit_code = $3, result = $4,
                 branch = $5, cost_usd = $6, duration_ms = $7, branch_patch = $8,
                 run_patch = $9, patch_truncated = $10, num_turns = $11, model = $12,
                 agent = $13, session_id = $14, resumed = $16
             WHERE id = $15",
        )
        .bind(now)
        .bind(outcome.as_str())
        .bind(finish.exit_code)
        .bind(&finish.result)
        .bind(&finish.branch)
        .bind(finish.cost_usd)
        .bind(finish.duration_ms)
        .bind(finish.patches.as_ref().map(|p| p.branch.as_str()))
        .bind(finish.patches.as_ref().map(|p| p.run.as_str()))
        .bind(finish.patches.as_ref().is_some_and(|p| p.truncated))
        .bind(finish.num_turns)
        .bind(&finish.model)
        .bind(&finish.agent)
        .bind(&finish.session_id)
        .bind(run_id)
        .bind(finish.resumed)
        .execute(e)
        .await
        .map(|_| ()))?;
        let finished = serde_json::json!({
            "run": {
                "id": run_id, "outcome": outcome.as_str(), "cost_usd": finish.cost_usd,
                "duration_ms": finish.duration_ms, "num_turns": finish.num_turns,
                "branch": finish.branch, "pr_url": finish.pr_url, "agent": finish.agent,
                "model": finish.model,
            },
        });
        let label = actor.label();
        super::webhooks::enqueue(
            &mut tx,
            WebhookEvent::RunFinished,
            Some(issue_id),
            &label,
            finished,
            now,
        )
        .await?;
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE runners SET current_issue = NULL, current_run = NULL, last_outcome = $1
             WHERE id = $2",
        )
        .bind(outcome.as_str())
        .bind(runner_id)
        .execute(e)
        .await
        .map(|_| ()))?;
        self.commit(tx).await?;
        self.run_log_grew(run_id).await?;
        Ok(holds)
    }

    /// Issues whose runner stopped renewing its claim go back to `ready` with a system
    /// comment, and their open runs are recorded as lost. Returns the issues rescued.
    pub async fn expire_leases(&self) -> AppResult<Vec<i64>> {
        let now = self.db_now().await?;
        let expired: Vec<(i64, String)> = on_pool!(self, e => sqlx::query_as(
            "SELECT id, claimed_by FROM issues
             WHERE status = 'in_progress' AND claimed_by IS NOT NULL AND lease_expires_at < $1",
        )
        .bind(now)
        .fetch_all(e)
        .await)?;
        let mut rescued = Vec::new();
        for (issue_id, runner) in expired {
            let mut tx = self.begin_write().await?;
            let now = Store::clock(&mut tx).await?;
            let issue = fetch_issue(&mut tx, issue_id).await?;
            // Renewed or finished since the first look: leave it.
            if issue.status != Status::InProgress
                || issue.lease_expires_at.is_none_or(|at| at >= now)
            {
                continue;
            }
            let system = Actor::system();
            let data = serde_json::json!({ "reason": "lease expired", "runner": runner });
            move_in(&mut tx, &system, issue_id, Status::Ready, None, None, data).await?;
            let note = format!(
                "The runner `{runner}` stopped renewing its claim (it was stopped or lost), so \
                 this issue is back in ready for the next run."
            );
            insert_comment(&mut tx, &system, AuthorKind::System, issue_id, &note, now).await?;
            on_tx!(&mut tx, e => sqlx::query(
                "UPDATE runs SET finished_at = $1, outcome = $2
                 WHERE issue_id = $3 AND finished_at IS NULL",
            )
            .bind(now)
            .bind(RunOutcome::Lost.as_str())
            .bind(issue_id)
            .execute(e)
            .await
            .map(|_| ()))?;
            self.commit(tx).await?;
            tracing::warn!(issue_id, %runner, "lease expired; issue back to ready");
            rescued.push(issue_id);
        }
        Ok(rescued)
    }

    /// Asks the runner working on `issue_id` to stop its run (it notices within a second).
    pub async fn request_cancel(&self, admin: &Actor, issue_id: i64) -> AppResult<()> {
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE runs SET cancel_requested = $1 WHERE issue_id = $2 AND finished_at IS NULL",
        )
        .bind(admin.label())
        .bind(issue_id)
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?;
        if done == 0 {
            return Err(AppError::Conflict(format!(
                "issue {issue_id} has no run going"
            )));
        }
        Ok(())
    }

    /// Asks every runner to stop its run (pausing with "cancel current runs"). Returns how
    /// many runs were going.
    pub async fn request_cancel_all(&self, admin: &Actor) -> AppResult<u64> {
        Ok(on_pool!(self, e => sqlx::query(
            "UPDATE runs SET cancel_requested = $1 WHERE finished_at IS NULL"
        )
        .bind(admin.label())
        .execute(e)
        .await
        .map(|done| done.rows_affected()))?)
    }

    /// Runners heard from since `heard_since` (Unix ms), most recently seen first, with their
    /// current run's start. Each start of a runner without a fixed AUTOPILOT_AGENT_ID is a new
    /// row, so old ones are left out.
    pub async fn list_runners(&self, heard_since: i64) -> AppResult<Vec<RunnerInfo>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, RunnerInfo>(
            "SELECT r.id, r.host, r.pid, r.started_at, r.heartbeat_at, r.stopped_at,
                    r.current_issue, r.current_run, runs.started_at AS run_started_at,
                    r.last_outcome, r.agents
             FROM runners r LEFT JOIN runs ON runs.id = r.current_run
             WHERE r.heartbeat_at >= $1
             ORDER BY r.heartbeat_at DESC",
        )
        .bind(heard_since)
        .fetch_all(e)
        .await)?)
    }

    /// The most recent runs, newest first, with their issue's title and status.
    pub async fn recent_runs(&self, limit: i64) -> AppResult<Vec<RunRow>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, RunRow>(
            "SELECT r.id, r.issue_id, r.runner_id, r.attempt, r.started_at, r.finished_at,
                    r.outcome, r.exit_code, r.result, r.branch, r.cost_usd, r.duration_ms,
                    r.num_turns, r.cancel_requested, r.model, r.agent, r.session_id, r.kind,
                    r.resumed, i.title AS issue_title, i.status AS issue_status
             FROM runs r JOIN issues i ON i.id = r.issue_id
             ORDER BY r.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(e)
        .await)?)
    }

    /// An issue's runs, newest first.
    pub async fn runs_for_issue(&self, issue_id: i64) -> AppResult<Vec<Run>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE issue_id = $1 ORDER BY id DESC");
        Ok(on_pool!(self, e => sqlx::query_as::<_, Run>(&sql)
            .bind(issue_id)
            .fetch_all(e)
            .await)?)
    }
}
