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
    /// The agent reached the spending limit of one run (AUTOPILOT_MAX_RUN_USD).
    OverBudget,
    /// An admin cancelled the run.
    Cancelled,
    /// The runner was stopped (SIGTERM); the issue went back to `ready`.
    Interrupted,
    /// The claim was lost (lease expired, or someone moved the issue) before the run ended.
    Lost,
    /// A plan run wrote its plan; the issue waits in review for a person to approve it.
    Planned,
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
            RunOutcome::OverBudget => "over_budget",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Lost => "lost",
            RunOutcome::Planned => "planned",
        }
    }
}

/// What a run is for. Every kind counts against the same caps and budget, and each shows in
/// the runs list and the history.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Work on the issue (the first run, or one after an approved plan).
    Work,
    /// A read-only run that writes a plan for a person to approve.
    Plan,
    /// Carries on after a person answered the agent's question.
    Answer,
    /// Fixes the pull request's failing checks.
    ChecksFix,
    /// Answers review comments (on the board or on the forge).
    ReviewFix,
}

impl RunKind {
    pub const ALL: [RunKind; 5] = [
        RunKind::Work,
        RunKind::Plan,
        RunKind::Answer,
        RunKind::ChecksFix,
        RunKind::ReviewFix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Work => "work",
            RunKind::Plan => "plan",
            RunKind::Answer => "answer",
            RunKind::ChecksFix => "checks_fix",
            RunKind::ReviewFix => "review_fix",
        }
    }

    /// How the runs list and the history name it.
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Work => "work",
            RunKind::Plan => "plan",
            RunKind::Answer => "answer",
            RunKind::ChecksFix => "checks fix",
            RunKind::ReviewFix => "review fix",
        }
    }

    pub fn parse(text: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How the comment holding a plan run's plan starts.
pub const PLAN_HEADING: &str = "Plan, waiting for approval:";

/// Where a plan-first issue's plan stands.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// The agent wrote a plan; it waits in review for a person.
    Proposed,
    /// A person approved it: the agent works from it.
    Approved,
}

/// What the next run of an issue is, and whether it continues the agent's earlier session
/// (an answer, an approved plan, a change request, failing checks) rather than starting
/// afresh. A plan-first issue plans, read-only, until a person approves a plan; whatever
/// else happens meanwhile (a question answered, changes asked for) is still planning.
pub fn next_run(
    plan_first: bool,
    plan: Option<PlanState>,
    next: Option<RunKind>,
) -> (RunKind, bool) {
    let planning = plan_first && plan != Some(PlanState::Approved);
    let kind = match next {
        _ if planning => RunKind::Plan,
        Some(kind) => kind,
        None => RunKind::Work,
    };
    (kind, next.is_some())
}

/// One run of the agent on an issue.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    pub num_turns: Option<i64>,
    pub cancel_requested: Option<String>,
    /// The model the agent was given, when one was named.
    pub model: Option<String>,
    /// The agent that worked it (`None` for runs from before agents could be chosen).
    pub agent: Option<String>,
    /// The agent's session, to resume it from, when the agent named one.
    #[serde(default)]
    pub session_id: Option<String>,
    /// What the run was for.
    #[serde(default = "work")]
    pub kind: RunKind,
    /// Whether it resumed the agent's earlier session (`None`: it did not try).
    #[serde(default)]
    pub resumed: Option<bool>,
}

fn work() -> RunKind {
    RunKind::Work
}

/// A pull request as the runner last read it from the forge (`gh pr view`).
#[derive(Clone, Debug, PartialEq)]
pub enum PullRequest {
    /// Still open; its checks: `pending`, `passing`, `failing`, or none.
    Open { checks: Option<String> },
    /// Merged, by this login.
    Merged { by: String },
    /// Closed without merging.
    Closed,
}

/// What the agent spent on an issue, summed over its runs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Effort {
    pub runs: usize,
    pub duration_ms: i64,
    pub turns: i64,
    pub cost_usd: f64,
}

impl Effort {
    pub fn of(runs: &[Run]) -> Effort {
        runs.iter().fold(Effort::default(), |sum, run| Effort {
            runs: sum.runs + 1,
            duration_ms: sum.duration_ms + run.duration_ms.unwrap_or(0),
            turns: sum.turns + run.num_turns.unwrap_or(0),
            cost_usd: sum.cost_usd + run.cost_usd.unwrap_or(0.0),
        })
    }

    /// `2 runs · 3 min 20 s · 41 turns · $0.42`
    pub fn summary(&self) -> String {
        let secs = self.duration_ms / 1000;
        let time = match secs {
            s if s < 60 => format!("{s} s"),
            s => format!("{} min {} s", s / 60, s % 60),
        };
        format!(
            "{} · {time} · {} turns · {}",
            runs_label(self.runs as i64),
            self.turns,
            super::dollars(self.cost_usd)
        )
    }
}

/// `1 run`, `3 runs`.
pub fn runs_label(runs: i64) -> String {
    match runs {
        1 => "1 run".to_string(),
        n => format!("{n} runs"),
    }
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
    /// The agents it has installed, with their versions.
    pub agents: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_plans_until_a_plan_is_approved_and_continues_when_told_to() {
        use PlanState::*;
        use RunKind::*;
        assert_eq!(next_run(false, None, None), (Work, false));
        assert_eq!(next_run(false, None, Some(Answer)), (Answer, true));
        assert_eq!(next_run(false, None, Some(ChecksFix)), (ChecksFix, true));
        // Plan first: planning (fresh, or carrying on after an answer or a change request).
        assert_eq!(next_run(true, None, None), (Plan, false));
        assert_eq!(next_run(true, None, Some(Answer)), (Plan, true));
        assert_eq!(next_run(true, Some(Proposed), Some(Plan)), (Plan, true));
        // Approved: work from the plan, in the same session.
        assert_eq!(next_run(true, Some(Approved), Some(Work)), (Work, true));
        assert_eq!(next_run(true, Some(Approved), None), (Work, false));
        assert_eq!(
            next_run(true, Some(Approved), Some(ReviewFix)),
            (ReviewFix, true)
        );
        for kind in RunKind::ALL {
            assert_eq!(RunKind::parse(kind.as_str()), Some(kind));
        }
    }

    fn run(ms: Option<i64>, turns: Option<i64>, usd: Option<f64>) -> Run {
        Run {
            id: 1,
            issue_id: 1,
            runner_id: "r".into(),
            attempt: 1,
            started_at: 0,
            finished_at: None,
            outcome: None,
            exit_code: None,
            result: None,
            branch: None,
            cost_usd: usd,
            duration_ms: ms,
            num_turns: turns,
            kind: RunKind::Work,
            resumed: None,
            cancel_requested: None,
            model: None,
            agent: None,
            session_id: None,
        }
    }

    #[test]
    fn effort_sums_the_runs_and_reads_at_a_glance() {
        let runs = [
            run(Some(150_000), Some(30), Some(0.25)),
            run(Some(50_000), Some(11), Some(0.17)),
            run(None, None, None),
        ];
        let effort = Effort::of(&runs);
        assert_eq!(
            (effort.runs, effort.duration_ms, effort.turns),
            (3, 200_000, 41)
        );
        assert_eq!(effort.summary(), "3 runs · 3 min 20 s · 41 turns · $0.42");
        assert_eq!(
            Effort::of(&runs[1..2]).summary(),
            "1 run · 50 s · 11 turns · $0.17"
        );
    }
}
