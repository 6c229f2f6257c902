//! Server functions: the board's calls to the server. Thin: find out who is asking, then let
//! the store (which applies the domain rules) do the work.

use crate::domain::{Issue, IssueDetail, Kind, NewIssue, Priority, Status};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::domain::{Actor, Role};
    use crate::error::{AppError, AppResult};
    use crate::store::Store;
    use leptos::prelude::use_context;

    /// The store, provided to every request by the server.
    pub fn store() -> AppResult<Store> {
        use_context::<Store>().ok_or_else(|| {
            tracing::error!("the store is missing from the request context");
            AppError::Internal
        })
    }

    /// Who is calling. Until accounts exist, every caller is an anonymous member, which is why
    /// the server listens on loopback by default.
    pub async fn current_actor() -> AppResult<Actor> {
        Ok(Actor::new(Role::Member, "anonymous"))
    }
}

/// Every issue on the board, in column order.
#[server]
pub async fn list_board() -> Result<Vec<Issue>, AppError> {
    ssr::current_actor().await?;
    ssr::store()?.list_issues(&Default::default()).await
}

#[server]
pub async fn get_issue_detail(id: i64) -> Result<IssueDetail, AppError> {
    ssr::current_actor().await?;
    ssr::store()?.issue_detail(id).await
}

/// Files a new issue from the board's form. `human_only` is a checkbox: present means on.
#[server]
pub async fn create_issue(
    title: String,
    #[server(default)] body: String,
    #[server(default)] kind: Kind,
    #[server(default)] priority: Priority,
    #[server(default)] human_only: Option<String>,
) -> Result<Issue, AppError> {
    let actor = ssr::current_actor().await?;
    let new = NewIssue {
        title,
        body,
        kind,
        priority,
        human_only: human_only.is_some(),
        ..Default::default()
    };
    ssr::store()?.create_issue(&actor, new).await
}

/// Moves an issue, naming the version the board last saw so a stale board cannot overwrite
/// someone else's move.
#[server]
pub async fn move_issue(id: i64, to: Status, version: i64) -> Result<Issue, AppError> {
    let actor = ssr::current_actor().await?;
    ssr::store()?
        .move_issue(&actor, id, to, Some(version))
        .await
}
