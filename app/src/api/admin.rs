//! The admin's switches for the deployment.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr::{current_admin, store, with_status};
#[cfg(feature = "ssr")]
use crate::store::Switch;

/// The run-time switches, as `/admin` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switches {
    pub feedback_open: bool,
    pub runner_paused: bool,
}

#[server(endpoint = "get_switches", output = crate::api::codec::JsonText)]
pub async fn get_switches() -> Result<Switches, AppError> {
    current_admin().await?;
    let store = store()?;
    Ok(Switches {
        feedback_open: store.switch(Switch::FeedbackOpen).await?,
        runner_paused: store.switch(Switch::RunnerPaused).await?,
    })
}

/// Opens or closes the public feedback route.
#[server(endpoint = "set_feedback_open", output = crate::api::codec::JsonText)]
pub async fn set_feedback_open(open: bool) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .set_switch(&admin, Switch::FeedbackOpen, open)
        .await
        .map_err(with_status)
}

/// Everything `/admin/runner` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunnerState {
    pub paused: bool,
    /// New issues plan first unless they say otherwise.
    pub plan_first: bool,
    pub runners: Vec<crate::domain::RunnerInfo>,
    pub runs: Vec<crate::domain::RunRow>,
    pub spend: crate::domain::Spend,
    /// The server's clock, for "running for" and "last seen".
    pub now: i64,
}

/// How long a runner stays on `/admin/runner` after it was last heard from.
pub const RUNNERS_SHOWN_FOR_MS: i64 = 24 * 60 * 60 * 1000;

#[server(endpoint = "runner_overview", output = crate::api::codec::JsonText)]
pub async fn runner_overview() -> Result<RunnerState, AppError> {
    current_admin().await?;
    let store = store()?;
    let now = crate::store::now_ms();
    Ok(RunnerState {
        paused: store.switch(Switch::RunnerPaused).await?,
        plan_first: store.switch(Switch::PlanFirst).await?,
        runners: store.list_runners(now - RUNNERS_SHOWN_FOR_MS).await?,
        runs: store.recent_runs(30).await?,
        spend: store.spend().await?,
        now,
    })
}

/// Sets the board-wide spending caps (dollars; empty: no cap), from `/admin/runner`.
#[server(endpoint = "set_spend_caps", output = crate::api::codec::JsonText)]
pub async fn set_spend_caps(daily: String, monthly: String) -> Result<(), AppError> {
    use crate::domain::{parse_cap, SpendCaps};
    let admin = current_admin().await?;
    let invalid = |e: crate::domain::Invalid| with_status(e.into());
    let caps = SpendCaps {
        daily_usd: parse_cap("daily", &daily).map_err(invalid)?,
        monthly_usd: parse_cap("monthly", &monthly).map_err(invalid)?,
    };
    store()?
        .set_spend_caps(&admin, caps)
        .await
        .map_err(with_status)
}

/// Pauses (runners claim nothing new) or resumes every runner. When pausing, runs going on
/// finish, or with `cancel_running` are cancelled.
#[server(endpoint = "set_runner_paused", output = crate::api::codec::JsonText)]
pub async fn set_runner_paused(
    paused: bool,
    #[server(default)] cancel_running: bool,
) -> Result<(), AppError> {
    let admin = current_admin().await?;
    let store = store()?;
    store
        .set_switch(&admin, Switch::RunnerPaused, paused)
        .await
        .map_err(with_status)?;
    if paused && cancel_running {
        store.request_cancel_all(&admin).await?;
    }
    Ok(())
}

/// The board's default for new issues: the agent plans first (read-only) and works once a
/// person approves the plan.
#[server(endpoint = "set_plan_first", output = crate::api::codec::JsonText)]
pub async fn set_plan_first(on: bool) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .set_switch(&admin, Switch::PlanFirst, on)
        .await
        .map_err(with_status)
}

/// Stops the agent working on an issue; the issue goes to `blocked` saying who cancelled.
#[server(endpoint = "cancel_run", output = crate::api::codec::JsonText)]
pub async fn cancel_run(issue_id: i64) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .request_cancel(&admin, issue_id)
        .await
        .map_err(with_status)
}

/// Puts an issue back in `ready` for another run (its branch is continued).
#[server(endpoint = "retry_issue", output = crate::api::codec::JsonText)]
pub async fn retry_issue(issue_id: i64) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .move_issue(&admin, issue_id, crate::domain::Status::Ready, None)
        .await
        .map(|_| ())
        .map_err(with_status)
}
