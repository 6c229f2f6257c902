//! `POST /api/autopilot/feedback`: the only route open to the public. It can create a
//! `feedback` issue in `backlog` and nothing else: it reads nothing, moves nothing.

use super::extract::Json;
use super::AppState;
use app::domain::{Actor, Feedback, FEEDBACK_BODY_MAX_BYTES};
use app::error::AppError;
use app::store::Store;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/autopilot/feedback", post(submit))
        .layer(DefaultBodyLimit::max(FEEDBACK_BODY_MAX_BYTES))
}

async fn submit(
    State(store): State<Store>,
    Json(feedback): Json<Feedback>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), AppError> {
    let issue = store
        .create_issue(&Actor::public(), feedback.into_new_issue()?)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": issue.id, "status": "received" })),
    ))
}
