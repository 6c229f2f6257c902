//! `/api/autopilot/webhooks`: admins manage webhook endpoints, read their delivery logs, and
//! redeliver. The `admin` scope, and the admin role, as on `/admin/webhooks`.

use super::extract::{may, Allowed, Json, Path, Query};
use super::openapi::WriteErrors;
use super::AppState;
use app::domain::{WebhookDelivery, WebhookEndpoint, WebhookInput};
use app::error::AppError;
use app::store::Store;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(retry_now))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
        // An endpoint is a URL, a few events and a line of text.
        .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
}

/// The most an endpoint's JSON may take.
const WEBHOOK_BODY_LIMIT: usize = 16 * 1024;

/// An endpoint just made, with its secret: shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct Created {
    endpoint: WebhookEndpoint,
    /// `whsec_…`: verify each request's `webhook-signature` with it (Standard Webhooks).
    secret: String,
}

/// A new secret, and until when the old one still signs too.
#[derive(Serialize, utoipa::ToSchema)]
struct Rotated {
    secret: String,
    /// Unix ms: until then each request carries both signatures.
    old_secret_until: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogPage {
    /// Deliveries older than this one (its id), to page back.
    before: Option<i64>,
    /// How many, 1 to 200 (50 when left out).
    limit: Option<i64>,
}

/// Every endpoint, oldest first, with where it stands (active, failing, off) and how many
/// deliveries wait.
#[utoipa::path(get, path = "/api/autopilot/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    responses((status = 200, description = "The endpoints", body = Vec<WebhookEndpoint>), WriteErrors))]
async fn list(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
) -> Result<axum::Json<Vec<WebhookEndpoint>>, AppError> {
    Ok(axum::Json(store.list_webhooks().await?))
}

/// Adds an endpoint. Its secret is in this answer only (rotate it to get a new one).
#[utoipa::path(post, path = "/api/autopilot/webhooks", operation_id = "create_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    request_body = WebhookInput,
    responses((status = 201, description = "Added", body = Created, links(
            ("ReadWebhook" = (operation_id = "get_webhook", parameters(("id" = "$response.body#/endpoint/id")))),
            ("ChangeWebhook" = (operation_id = "update_webhook", parameters(("id" = "$response.body#/endpoint/id")))),
            ("RotateSecret" = (operation_id = "rotate_webhook_secret", parameters(("id" = "$response.body#/endpoint/id")))),
            ("TestWebhook" = (operation_id = "test_webhook", parameters(("id" = "$response.body#/endpoint/id")))),
            ("RetryWebhook" = (operation_id = "retry_webhook", parameters(("id" = "$response.body#/endpoint/id")))),
            ("ReadDeliveries" = (operation_id = "webhook_deliveries", parameters(("id" = "$response.body#/endpoint/id")))),
            ("RemoveWebhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/endpoint/id")))))), WriteErrors))]
async fn create(
    State(store): State<Store>,
    Allowed(caller, _): Allowed<may::Administer>,
    Json(input): Json<WebhookInput>,
) -> Result<(StatusCode, axum::Json<Created>), AppError> {
    let (endpoint, secret) = store.create_webhook(&caller.label(), input).await?;
    tracing::info!(endpoint = endpoint.id, by = %caller.label(), "webhook endpoint added");
    Ok((
        StatusCode::CREATED,
        axum::Json(Created { endpoint, secret }),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/autopilot/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint), WriteErrors))]
async fn show(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
) -> Result<axum::Json<WebhookEndpoint>, AppError> {
    Ok(axum::Json(store.webhook(id).await?))
}

/// Changes an endpoint (the whole of it, as when adding). Turning it on again sends what
/// waited, in order.
#[utoipa::path(put, path = "/api/autopilot/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    request_body = WebhookInput,
    responses((status = 200, description = "As changed", body = WebhookEndpoint), WriteErrors))]
async fn update(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
    Json(input): Json<WebhookInput>,
) -> Result<axum::Json<WebhookEndpoint>, AppError> {
    Ok(axum::Json(store.update_webhook(id, input).await?))
}

/// Removes an endpoint and its delivery log; what waited is not sent.
#[utoipa::path(delete, path = "/api/autopilot/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Removed"), WriteErrors))]
async fn delete(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    store.delete_webhook(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret (in this answer only). The old one keeps signing beside it for a day.
#[utoipa::path(post, path = "/api/autopilot/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The new secret", body = Rotated), WriteErrors))]
async fn rotate_secret(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Rotated>, AppError> {
    let secret = store.rotate_webhook_secret(id).await?;
    let old_secret_until = store.webhook(id).await?.old_secret_until;
    Ok(axum::Json(Rotated {
        secret,
        old_secret_until,
    }))
}

/// Queues a `ping` event for the endpoint.
#[utoipa::path(post, path = "/api/autopilot/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses((status = 202, description = "Queued: see the delivery log"), WriteErrors))]
async fn send_test(
    State(store): State<Store>,
    Allowed(caller, _): Allowed<may::Administer>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    store.ping_webhook(id, &caller.label()).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sends what waits for the endpoint now, not at its next scheduled retry (after fixing the
/// receiver, say).
#[utoipa::path(post, path = "/api/autopilot/webhooks/{id}/retry", operation_id = "retry_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint), WriteErrors))]
async fn retry_now(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
) -> Result<axum::Json<WebhookEndpoint>, AppError> {
    Ok(axum::Json(store.retry_webhook_now(id).await?))
}

/// The endpoint's delivery log, newest first: each event with its last attempt's status,
/// latency, error and the start of the answer.
#[utoipa::path(get, path = "/api/autopilot/webhooks/{id}/deliveries", operation_id = "webhook_deliveries", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id"), LogPage),
    responses((status = 200, description = "Deliveries", body = Vec<WebhookDelivery>), WriteErrors))]
async fn deliveries(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path(id): Path<i64>,
    Query(page): Query<LogPage>,
) -> Result<axum::Json<Vec<WebhookDelivery>>, AppError> {
    Ok(axum::Json(
        store
            .webhook_deliveries(id, page.before, page.limit.unwrap_or(50))
            .await?,
    ))
}

/// Sends a delivery again, with the same `webhook-id` and payload, behind what waits.
#[utoipa::path(post, path = "/api/autopilot/webhooks/{id}/deliveries/{delivery}/redeliver", operation_id = "redeliver_webhook", tag = "webhooks",
    security(("bearer" = ["admin"]), ("session" = [])),
    params(("id" = i64, Path, description = "The endpoint's id"),
           ("delivery" = i64, Path, description = "The delivery's id")),
    responses((status = 201, description = "Queued again", body = WebhookDelivery), WriteErrors))]
async fn redeliver(
    State(store): State<Store>,
    _: Allowed<may::Administer>,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<WebhookDelivery>), AppError> {
    let queued = store.redeliver_webhook(id, delivery).await?;
    Ok((StatusCode::CREATED, axum::Json(queued)))
}

/// What each webhook request's body is (format `standard`): the event, when it happened, and
/// its data. Slack and Discord endpoints get a chat message made from it instead.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the payload the store writes, for the contract
pub struct WebhookPayload {
    /// `issue.created`, `issue.moved`, `issue.commented`, `issue.assigned`, `run.started`,
    /// `run.finished`, `feedback.received`, or `ping`.
    #[serde(rename = "type")]
    kind: app::domain::WebhookEvent,
    /// When it happened (RFC 3339, UTC).
    timestamp: String,
    /// 1: bumped when a payload's shape changes.
    schema_version: u32,
    data: WebhookData,
}

#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WebhookData {
    /// Who did it: a person's name, `runner:<id>`, `public` or `system`.
    actor: String,
    /// The issue, as it was after the change (absent for `ping`).
    issue: Option<WebhookIssue>,
    /// `issue.moved`: the status before.
    from: Option<app::domain::Status>,
    /// `issue.moved`: the status after.
    to: Option<app::domain::Status>,
    /// `issue.commented`.
    comment: Option<WebhookComment>,
    /// `run.started` and `run.finished`.
    run: Option<WebhookRun>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WebhookIssue {
    id: i64,
    title: String,
    status: app::domain::Status,
    kind: app::domain::Kind,
    priority: i64,
    assignee: Option<String>,
    branch: Option<String>,
    pr_url: Option<String>,
    /// The issue on the board.
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WebhookComment {
    id: i64,
    author: String,
    /// `human`, `agent` or `system`.
    author_kind: String,
    body: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WebhookRun {
    id: i64,
    /// `run.started`: work, plan, answer, checks_fix or review_fix.
    kind: Option<String>,
    attempt: Option<i64>,
    /// `run.finished`: review, blocked, failed, cancelled, planned, lost…
    outcome: Option<String>,
    cost_usd: Option<f64>,
    duration_ms: Option<i64>,
    num_turns: Option<i64>,
    branch: Option<String>,
    pr_url: Option<String>,
    agent: Option<String>,
    model: Option<String>,
}
