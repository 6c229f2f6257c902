//! `/admin/webhooks`: admins add endpoints, turn them on and off, rotate secrets, send a test
//! event, read each one's delivery log and redeliver. The JSON API
//! (`/api/autopilot/webhooks`) does the same for scripts.

use crate::domain::{WebhookDelivery, WebhookEndpoint, WebhookFormat};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr::{current_admin, store, with_status};
#[cfg(feature = "ssr")]
use crate::domain::{parse_webhook_events, WebhookInput};

/// An endpoint just added, and its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

#[server(endpoint = "list_webhooks", output = crate::api::codec::JsonText)]
pub async fn list_webhooks() -> Result<Vec<WebhookEndpoint>, AppError> {
    current_admin().await?;
    store()?.list_webhooks().await
}

/// Adds an endpoint. `events` is a comma list (`issue.moved,run.finished`).
#[server(endpoint = "add_webhook", output = crate::api::codec::JsonText)]
pub async fn add_webhook(
    url: String,
    format: WebhookFormat,
    events: String,
    description: String,
    allow_private: bool,
) -> Result<NewWebhook, AppError> {
    let admin = current_admin().await?;
    let input = WebhookInput {
        url,
        format,
        events: parse_webhook_events(&events),
        description,
        enabled: true,
        allow_private,
    };
    let (endpoint, secret) = store()?
        .create_webhook(&admin.label(), input)
        .await
        .map_err(with_status)?;
    tracing::info!(endpoint = endpoint.id, by = %admin.label(), "webhook endpoint added");
    Ok(NewWebhook { endpoint, secret })
}

/// Turns an endpoint on (what waited goes at once, in order) or off.
#[server(endpoint = "set_webhook_enabled", output = crate::api::codec::JsonText)]
pub async fn set_webhook_enabled(id: i64, enabled: bool) -> Result<WebhookEndpoint, AppError> {
    current_admin().await?;
    let store = store()?;
    let now = store.webhook(id).await.map_err(with_status)?;
    let input = WebhookInput {
        url: now.url,
        format: now.format,
        events: now.events,
        description: now.description,
        enabled,
        allow_private: now.allow_private,
    };
    store.update_webhook(id, input).await.map_err(with_status)
}

#[server(endpoint = "remove_webhook", output = crate::api::codec::JsonText)]
pub async fn remove_webhook(id: i64) -> Result<(), AppError> {
    current_admin().await?;
    store()?.delete_webhook(id).await.map_err(with_status)
}

/// A new secret, shown once; the old one signs beside it for a day.
#[server(endpoint = "rotate_webhook", output = crate::api::codec::JsonText)]
pub async fn rotate_webhook(id: i64) -> Result<NewWebhook, AppError> {
    current_admin().await?;
    let store = store()?;
    let secret = store.rotate_webhook_secret(id).await.map_err(with_status)?;
    Ok(NewWebhook {
        endpoint: store.webhook(id).await?,
        secret,
    })
}

#[server(endpoint = "test_webhook", output = crate::api::codec::JsonText)]
pub async fn test_webhook(id: i64) -> Result<(), AppError> {
    let admin = current_admin().await?;
    store()?
        .ping_webhook(id, &admin.label())
        .await
        .map_err(with_status)
}

/// Sends what waits now rather than at the next scheduled retry.
#[server(endpoint = "retry_webhook", output = crate::api::codec::JsonText)]
pub async fn retry_webhook(id: i64) -> Result<WebhookEndpoint, AppError> {
    current_admin().await?;
    store()?.retry_webhook_now(id).await.map_err(with_status)
}

/// The endpoint's 50 newest deliveries.
#[server(endpoint = "webhook_log", output = crate::api::codec::JsonText)]
pub async fn webhook_log(id: i64) -> Result<Vec<WebhookDelivery>, AppError> {
    current_admin().await?;
    store()?
        .webhook_deliveries(id, None, 50)
        .await
        .map_err(with_status)
}

#[server(endpoint = "redeliver", output = crate::api::codec::JsonText)]
pub async fn redeliver(id: i64, delivery: i64) -> Result<WebhookDelivery, AppError> {
    current_admin().await?;
    store()?
        .redeliver_webhook(id, delivery)
        .await
        .map_err(with_status)
}
