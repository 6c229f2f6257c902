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

#[server(endpoint = "get_switches")]
pub async fn get_switches() -> Result<Switches, AppError> {
    current_admin().await?;
    let store = store()?;
    Ok(Switches {
        feedback_open: store.switch(Switch::FeedbackOpen).await?,
        runner_paused: store.switch(Switch::RunnerPaused).await?,
    })
}

/// Opens or closes the public feedback route.
#[server(endpoint = "set_feedback_open")]
pub async fn set_feedback_open(open: bool) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .set_switch(&admin, Switch::FeedbackOpen, open)
        .await
        .map_err(with_status)
}
