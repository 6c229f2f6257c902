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
