//! A person's own tokens (`/account/tokens`). Only with a session: a token never manages
//! tokens (`Action::ManageAccount`), so a narrow token cannot mint a wider one.

use crate::domain::Scopes;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A token as its owner sees it: never the token itself, which is shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scopes: Scopes,
    /// Made before scopes existed: it has its owner's full rights until replaced.
    pub legacy: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// A new token, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub name: String,
    pub token: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::TokenView;
    use crate::store::ApiToken;

    pub const DAY_MS: i64 = 24 * 3_600_000;

    pub fn view(token: ApiToken) -> TokenView {
        let (scopes, legacy) = token.scopes();
        TokenView {
            id: token.id,
            name: token.name,
            scopes,
            legacy,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            expires_at: token.expires_at,
        }
    }
}

#[server(endpoint = "list_my_tokens", output = crate::api::codec::JsonText)]
pub async fn list_my_tokens() -> Result<Vec<TokenView>, AppError> {
    let me = super::ssr::caller(crate::domain::Action::ManageAccount).await?;
    let user_id = me.user_id.ok_or(AppError::Unauthorized)?;
    let tokens = super::ssr::store()?.list_api_tokens(user_id).await?;
    Ok(tokens.into_iter().map(ssr::view).collect())
}

/// Makes a token for the caller. Each scope is its own checkbox (`scope_read=on`, …);
/// `expires_in_days` is empty (never) or a number of days.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "create_my_token", output = crate::api::codec::JsonText)]
pub async fn create_my_token(
    name: String,
    #[server(default)] scope_read: Option<String>,
    #[server(default)] scope_write: Option<String>,
    #[server(default)] scope_move: Option<String>,
    #[server(default)] scope_admin: Option<String>,
    #[server(default)] scope_runner: Option<String>,
    #[server(default)] scope_mcp: Option<String>,
    #[server(default)] expires_in_days: String,
) -> Result<NewToken, AppError> {
    use crate::domain::Scope;
    let ticked = [
        (Scope::Read, scope_read),
        (Scope::Write, scope_write),
        (Scope::Move, scope_move),
        (Scope::Admin, scope_admin),
        (Scope::Runner, scope_runner),
        (Scope::Mcp, scope_mcp),
    ];
    let scopes: Scopes = ticked
        .into_iter()
        .filter(|(_, on)| on.is_some())
        .map(|(scope, _)| scope)
        .collect();
    ssr_create::create(name, scopes, expires_in_days)
        .await
        .map_err(super::ssr::with_status)
}

#[cfg(feature = "ssr")]
mod ssr_create {
    use super::*;
    use crate::domain::{validate_display_name, validate_expiry_days, Invalid};

    pub async fn create(
        name: String,
        scopes: Scopes,
        expires_in_days: String,
    ) -> Result<NewToken, AppError> {
        let me = crate::api::ssr::caller(crate::domain::Action::ManageAccount).await?;
        let user_id = me.user_id.ok_or(AppError::Unauthorized)?;
        let name = validate_display_name(&name)?;
        if scopes.is_empty() {
            return Err(AppError::Invalid(Invalid {
                field: "scopes".into(),
                message: "tick at least one scope".into(),
            }));
        }
        let days = match expires_in_days.trim() {
            "" => None,
            days => Some(days.parse::<i64>().map_err(|_| Invalid {
                field: "expires_in_days".into(),
                message: "must be a number of days, or empty for never".into(),
            })?),
        };
        let days = validate_expiry_days(days)?;
        let token = crate::auth::new_token();
        let expires_at = days.map(|d| crate::store::now_ms() + d * super::ssr::DAY_MS);
        crate::api::ssr::store()?
            .create_scoped_token(
                user_id,
                &name,
                &crate::auth::token_hash(&token),
                scopes,
                expires_at,
            )
            .await?;
        Ok(NewToken { name, token })
    }
}

#[server(endpoint = "revoke_my_token", output = crate::api::codec::JsonText)]
pub async fn revoke_my_token(id: i64) -> Result<(), AppError> {
    let me = super::ssr::caller(crate::domain::Action::ManageAccount).await?;
    let user_id = me.user_id.ok_or(AppError::Unauthorized)?;
    super::ssr::store()?
        .revoke_api_token(user_id, id)
        .await
        .map_err(super::ssr::with_status)
}

/// One of the caller's signed-in sessions, as `/account/sessions` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: i64,
    /// What the browser is, in words ("Chrome on Linux"), from its `User-Agent`.
    pub device: String,
    pub address: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The session this page was asked from.
    pub current: bool,
}

#[cfg(feature = "ssr")]
mod ssr_sessions {
    use crate::domain::{Action, Credential};
    use crate::error::{AppError, AppResult};

    /// The caller's person and session row: only a session manages sessions.
    pub async fn me() -> AppResult<(i64, i64)> {
        let me = crate::api::ssr::caller(Action::ManageAccount).await?;
        match (me.user_id, me.credential) {
            (Some(user), Credential::Session(session)) => Ok((user, session)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// "Firefox on Linux", or what the browser said when it is not one that is known.
    pub fn device_name(user_agent: &str) -> String {
        let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
        match woothee::parser::Parser::new().parse(user_agent) {
            Some(ua) if known(ua.name) && known(ua.os) => format!("{} on {}", ua.name, ua.os),
            Some(ua) if known(ua.name) => ua.name.to_string(),
            _ if user_agent.trim().is_empty() => "Unknown device".into(),
            _ => user_agent.chars().take(60).collect(),
        }
    }
}

#[server(endpoint = "list_my_sessions", output = crate::api::codec::JsonText)]
pub async fn list_my_sessions() -> Result<Vec<SessionView>, AppError> {
    let (user_id, current) = ssr_sessions::me().await?;
    let policy = use_context::<crate::auth::SessionPolicy>().ok_or(AppError::Internal)?;
    let live = policy.cutoffs(crate::store::now_ms());
    let rows = super::ssr::store()?.list_sessions(user_id, live).await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            id: row.id,
            device: ssr_sessions::device_name(&row.user_agent),
            address: row.address,
            signed_in_at: row.signed_in_at,
            last_seen_at: row.last_seen_at,
            current: row.id == current,
        })
        .collect())
}

/// Ends one of the caller's sessions (the device it was on is signed out at its next request).
#[server(endpoint = "end_my_session", output = crate::api::codec::JsonText)]
pub async fn end_my_session(id: i64) -> Result<(), AppError> {
    let (user_id, _) = ssr_sessions::me().await?;
    super::ssr::store()?
        .end_own_session(user_id, id)
        .await
        .map_err(super::ssr::with_status)
}

/// Ends every session of the caller but this one; answers how many ended.
#[server(endpoint = "end_my_other_sessions", output = crate::api::codec::JsonText)]
pub async fn end_my_other_sessions() -> Result<u64, AppError> {
    let (user_id, current) = ssr_sessions::me().await?;
    super::ssr::store()?
        .end_other_sessions(user_id, current)
        .await
        .map_err(super::ssr::with_status)
}
