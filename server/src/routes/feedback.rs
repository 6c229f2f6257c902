//! `POST /api/autopilot/feedback`: the only route open to the public. It can create a
//! `feedback` issue in `backlog` and nothing else: it reads nothing, moves nothing. It sits on
//! the public half of the router with its own body limit, rate limits (per client address and
//! global, so a flood cannot fill the database or slow the board) and CORS for the sites
//! allowed in AUTOPILOT_FEEDBACK_ORIGINS.

use super::client::client_address;
use super::extract::Json;
use super::AppState;
use app::domain::{Actor, Feedback, FEEDBACK_BODY_MAX_BYTES};
use app::error::AppError;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How much feedback is taken in: per client address, and from everyone together.
pub struct FeedbackLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    global: DefaultDirectRateLimiter,
}

impl Default for FeedbackLimits {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        FeedbackLimits {
            per_client: RateLimiter::keyed(per_minute(5)),
            global: RateLimiter::direct(per_minute(120)),
        }
    }
}

impl FeedbackLimits {
    /// `Err(seconds)` to wait when over a limit.
    fn admit(&self, client: IpAddr) -> Result<(), u64> {
        let clock = DefaultClock::default();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs() + 1;
        self.per_client.check_key(&client).map_err(wait)?;
        self.global.check().map_err(wait)
    }

    pub fn forget_quiet(&self) {
        self.per_client.retain_recent();
    }
}

pub fn router(allowed_origins: &[String]) -> Router<AppState> {
    // OPTIONS is a route of its own so the CORS layer answers the preflight (the router's
    // method-not-allowed fallback sits outside route layers).
    let router = Router::new()
        .route(
            "/api/autopilot/feedback",
            post(submit).options(|| async { StatusCode::NO_CONTENT }),
        )
        .layer(DefaultBodyLimit::max(FEEDBACK_BODY_MAX_BYTES));
    match cors(allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for the embedding sites; none configured means same-origin only.
fn cors(allowed_origins: &[String]) -> Option<CorsLayer> {
    if allowed_origins.is_empty() {
        return None;
    }
    let origin = if allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::POST])
            .allow_headers([header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    Json(feedback): Json<Feedback>,
) -> Result<Response, AppError> {
    let client = client_address(&parts, &state.auth.trusted_proxies);
    if let Err(seconds) = state.feedback_limits.admit(client) {
        tracing::warn!(%client, "feedback rate limit hit");
        let mut response = AppError::RateLimited.into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let received = (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "status": "received" })),
    );
    // The honeypot: a field people never see. Bots that fill it are thanked and ignored.
    if feedback
        .website
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        tracing::info!(%client, "feedback honeypot filled; dropped");
        return Ok(received.into_response());
    }
    state
        .store
        .create_issue(&Actor::public(), feedback.into_new_issue()?)
        .await?;
    Ok(received.into_response())
}
