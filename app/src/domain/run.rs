//! The runner's records: each runner process, and each run of the agent on an issue.

use serde::{Deserialize, Serialize};

/// How a run ended. Stored in `runs.outcome` as its `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Changes committed on the branch; the issue is in review.
    Review,
    /// The agent asked a question (`BLOCKED:`).
    Blocked,
    /// The agent finished without changing anything.
    NoChange,
    /// The agent changed a protected path (or ran git): nothing was committed.
    Protected,
    /// The agent failed: crash, API error, unreadable output, a git or push failure.
    Error,
    /// The agent ran past AUTOPILOT_TIMEOUT_SECONDS.
    Timeout,
    /// An admin cancelled the run.
    Cancelled,
    /// The runner was stopped (SIGTERM); the issue went back to `ready`.
    Interrupted,
    /// The claim was lost (lease expired, or someone moved the issue) before the run ended.
    Lost,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Review => "review",
            RunOutcome::Blocked => "blocked",
            RunOutcome::NoChange => "no_change",
            RunOutcome::Protected => "protected",
            RunOutcome::Error => "error",
            RunOutcome::Timeout => "timeout",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Lost => "lost",
        }
    }
}

/// One run of the agent on an issue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Run {
    pub id: i64,
    pub issue_id: i64,
    pub runner_id: String,
    pub attempt: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    pub exit_code: Option<i64>,
    pub result: Option<String>,
    pub branch: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<i64>,
    pub cancel_requested: Option<String>,
}

/// A runner process, as `/admin/runner` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RunnerInfo {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub stopped_at: Option<i64>,
    pub current_issue: Option<i64>,
    pub current_run: Option<i64>,
    /// When the current run started.
    pub run_started_at: Option<i64>,
    pub last_outcome: Option<String>,
}

/// A run with what `/admin/runner` shows of its issue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RunRow {
    #[cfg_attr(feature = "ssr", sqlx(flatten))]
    pub run: Run,
    pub issue_title: String,
    pub issue_status: super::Status,
}
