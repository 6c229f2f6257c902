//! Server functions: the board's calls to the server. Thin: find out who is asking, then let
//! the store (which applies the domain rules) do the work. Endpoints have stable names so
//! scripts, logs and the authorization matrix test can name them.

use crate::domain::{Issue, IssueDetail, Kind, Priority, Status};
use crate::error::AppError;
use leptos::prelude::*;

mod users;
pub use users::*;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::auth::{authenticate, authenticate_admin, SessionPolicy};
    use crate::domain::Actor;
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

    fn request() -> AppResult<(http::request::Parts, SessionPolicy)> {
        match (
            use_context::<http::request::Parts>(),
            use_context::<SessionPolicy>(),
        ) {
            (Some(parts), Some(policy)) => Ok((parts, policy)),
            _ => {
                tracing::error!("request parts or session policy missing from the context");
                Err(AppError::Internal)
            }
        }
    }

    /// Sets the HTTP status of a refused call, so scripts and logs see 401/403, not 500.
    fn refused(err: AppError) -> AppError {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(err.status()) {
                response.set_status(status);
            }
        }
        err
    }

    /// The signed-in caller; every server function starts here.
    pub async fn current_actor() -> AppResult<Actor> {
        let (parts, policy) = request()?;
        authenticate(&parts, &store()?, policy)
            .await
            .map_err(refused)
    }

    /// The signed-in caller, who must be an admin.
    pub async fn current_admin() -> AppResult<Actor> {
        let (parts, policy) = request()?;
        authenticate_admin(&parts, &store()?, policy)
            .await
            .map_err(refused)
    }
}

/// Every issue on the board, in column order.
#[server(endpoint = "list_board")]
pub async fn list_board() -> Result<Vec<Issue>, AppError> {
    ssr::current_actor().await?;
    ssr::store()?.list_issues(&Default::default()).await
}

#[server(endpoint = "get_issue_detail")]
pub async fn get_issue_detail(id: i64) -> Result<IssueDetail, AppError> {
    ssr::current_actor().await?;
    ssr::store()?.issue_detail(id).await
}

/// Files a new issue from the board's form. `human_only` is a checkbox: present means on.
#[server(endpoint = "create_issue")]
pub async fn create_issue(
    title: String,
    #[server(default)] body: String,
    #[server(default)] kind: Kind,
    #[server(default)] priority: Priority,
    #[server(default)] human_only: Option<String>,
) -> Result<Issue, AppError> {
    let actor = ssr::current_actor().await?;
    let new = crate::domain::NewIssue {
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
#[server(endpoint = "move_issue")]
pub async fn move_issue(id: i64, to: Status, version: i64) -> Result<Issue, AppError> {
    let actor = ssr::current_actor().await?;
    ssr::store()?
        .move_issue(&actor, id, to, Some(version))
        .await
}
