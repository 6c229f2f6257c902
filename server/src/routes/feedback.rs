//! `POST /api/autopilot/feedback`: the only write open to the public. It can create a
//! `feedback` issue in `backlog` and nothing else: it reads nothing, moves nothing. It sits on
//! the public half of the router with its own body limit, rate limits (per client address and
//! global, so a flood cannot fill the database or slow the board) and CORS for the sites
//! allowed in AUTOPILOT_FEEDBACK_ORIGINS. Admins can close it in `/admin`.
//!
//! Also here: the two scripts other sites load, `/autopilot/feedback.js` (the widget) and
//! `/autopilot/sdk.js` (status toasts for the team's own app). They are compiled into the
//! binary, so they are served the same with or without a site root.

use super::auth::origin_is_ours;
use super::client::{client_key, ClientKey, Policy, Strikes};
use super::extract::Json;
use super::AppState;
use app::domain::{Actor, Feedback, FEEDBACK_BODY_MAX_BYTES};
use app::error::{AppError, ErrorBody};
use app::store::{Store, Switch};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How much feedback is taken in: per client (an address; an IPv6 /64), from everyone
/// together each minute, and from everyone in a day. The per-client table holds at most [`STRIKES_CAP`](super::client::STRIKES_CAP)
/// clients, however many addresses a flood comes from.
pub struct FeedbackLimits {
    per_client: Strikes<ClientKey>,
    global: DefaultDirectRateLimiter,
    per_day: i64,
}

impl FeedbackLimits {
    pub fn new(per_day: u32) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        FeedbackLimits {
            per_client: Strikes::new(Policy::per_minute(PER_CLIENT_PER_MINUTE as u32)),
            global: RateLimiter::direct(per_minute(GLOBAL_PER_MINUTE as u32)),
            per_day: i64::from(per_day),
        }
    }
}

/// The same caps, counted in the database: they hold across all servers of a board.
const PER_CLIENT_PER_MINUTE: i64 = 5;
const GLOBAL_PER_MINUTE: i64 = 120;

impl FeedbackLimits {
    /// `Err(seconds)` to wait when over a limit. This process' own limiters turn a flood
    /// away before it costs a database write; the database's count is the one every server
    /// shares.
    async fn admit(&self, store: &Store, client: ClientKey) -> Result<Result<(), u64>, AppError> {
        let clock = DefaultClock::default();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs() + 1;
        if let Err(wait) = self.per_client.take(&client) {
            return Ok(Err(wait.as_secs() + 1));
        }
        if let Err(seconds) = self.global.check().map_err(wait) {
            return Ok(Err(seconds));
        }
        let minute = 60_000;
        let bucket = format!("feedback:{client}");
        if let Some(seconds) = store
            .take_rate(&bucket, minute, PER_CLIENT_PER_MINUTE)
            .await?
        {
            return Ok(Err(seconds));
        }
        if let Some(seconds) = store
            .take_rate("feedback", minute, GLOBAL_PER_MINUTE)
            .await?
        {
            return Ok(Err(seconds));
        }
        // Last, so only feedback within the minute's limits counts against the day.
        if let Some(seconds) = store
            .take_rate("feedback-day", 86_400_000, self.per_day)
            .await?
        {
            return Ok(Err(seconds));
        }
        Ok(Ok(()))
    }

    pub fn forget_quiet(&self) {
        self.per_client.forget_quiet();
    }

    /// Clients counted now.
    pub fn tracked(&self) -> usize {
        self.per_client.keys()
    }
}

pub fn router(allowed_origins: &[String]) -> OpenApiRouter<AppState> {
    // OPTIONS is a route of its own so the CORS layer answers the preflight (the router's
    // method-not-allowed fallback sits outside route layers).
    let router = OpenApiRouter::new()
        .routes(routes!(submit, preflight))
        .layer(DefaultBodyLimit::max(FEEDBACK_BODY_MAX_BYTES));
    let router = match cors(allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.routes(routes!(widget)).routes(routes!(sdk))
}

/// The CORS preflight of a site's page (answered by the CORS layer for allowed sites).
#[utoipa::path(options, path = "/api/autopilot/feedback", operation_id = "feedback_preflight", tag = "feedback", security(()),
    responses(
        (status = 200, description = "A preflight, answered with CORS headers (when sites are allowed)"),
        (status = 204, description = "No sites are allowed: nothing to say")))]
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The feedback widget, for a `<script>` tag on any page of an allowed site.
#[utoipa::path(get, path = "/autopilot/feedback.js", operation_id = "feedback_widget", tag = "feedback", security(()),
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String)))]
async fn widget() -> Response {
    script(WIDGET_JS)
}

/// The host-app launcher: status toasts for the team's own app.
#[utoipa::path(get, path = "/autopilot/sdk.js", operation_id = "host_app_sdk", tag = "feedback", security(()),
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String)))]
async fn sdk() -> Response {
    script(SDK_JS)
}

/// The embeddable widget and the host-app launcher, as shipped in `public/autopilot/`.
pub const WIDGET_JS: &str = include_str!("../../../public/autopilot/feedback.js");
pub const SDK_JS: &str = include_str!("../../../public/autopilot/sdk.js");

fn script(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Any site may load the script itself; what it may post is decided by CORS above.
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        source,
    )
        .into_response()
}

/// A browser page may post only from the board itself or from an allowed site. Requests with
/// no `Origin` (scripts, curl) are not a browser page acting for someone and pass.
fn origin_allowed(parts: &Parts, state: &AppState) -> bool {
    let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let allowed = &state.feedback_origins;
    allowed
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
        || origin_is_ours(
            origin,
            state.auth.public_origin.as_deref(),
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok()),
        )
}

/// CORS for the embedding sites; none configured means same-origin only. Credentials are
/// allowed because the original plugin's widget posts with `credentials: "include"` (the
/// route never reads a session: feedback is always the public's), which browsers refuse
/// with a wildcard origin: `*` echoes the page's origin instead.
fn cors(allowed_origins: &[String]) -> Option<CorsLayer> {
    if allowed_origins.is_empty() {
        return None;
    }
    let origin = if allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::mirror_request()
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
            .allow_credentials(true)
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

/// What a feedback post is answered when taken (or dropped as a bot's, unseen).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Received {
    /// Always `received`.
    status: &'static str,
    /// Always `true` (what the original's scripts check).
    ok: bool,
}

/// Files feedback as a `feedback` issue in `backlog`: the only write open to the public.
/// Limits: 5 a minute per client address (an IPv6 /64), 120 a minute and
/// `AUTOPILOT_FEEDBACK_PER_DAY` a day from everyone.
#[utoipa::path(post, path = "/api/autopilot/feedback", operation_id = "submit_feedback", tag = "feedback", security(()),
    request_body = Feedback,
    responses(
        (status = 201, description = "Received", body = Received),
        (status = 400, description = "Not JSON (`bad_request`)", body = ErrorBody),
        (status = 403, description = "From a page of a site not allowed (`forbidden`)", body = ErrorBody),
        (status = 413, description = "Over 16 KiB (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "A field breaks a rule (`invalid`)", body = ErrorBody),
        (status = 429, description = "Over a limit (`rate_limited`); `Retry-After` says when to try again", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Feedback is turned off on this board, or the database is unavailable (`unavailable`)", body = ErrorBody)))]
async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Json<Feedback>, AppError>,
) -> Response {
    let answer = match body {
        Ok(Json(feedback)) => file_feedback(state, parts, feedback).await,
        Err(err) => Err(err),
    };
    let (response, result, reason) = match answer {
        Ok((response, Verdict::Filed)) => (response, "accepted", ""),
        Ok((response, Verdict::Dropped(reason))) => (response, "refused", reason),
        Err(err) => {
            let reason = err.code();
            (err.into_response(), "refused", reason)
        }
    };
    metrics::counter!("autopilot_feedback_total", "result" => result, "reason" => reason)
        .increment(1);
    response
}

/// What became of a feedback post that got a 2xx or a rate-limit answer.
enum Verdict {
    Filed,
    /// Answered, but not filed: a bot (`honeypot`) or too many (`rate_limited`).
    Dropped(&'static str),
}

async fn file_feedback(
    state: AppState,
    parts: Parts,
    feedback: Feedback,
) -> Result<(Response, Verdict), AppError> {
    let client = client_key(&parts, &state.auth.trusted_proxies);
    if !origin_allowed(&parts, &state) {
        tracing::warn!(%client, origin = ?parts.headers.get(header::ORIGIN), "feedback from a site not allowed");
        return Err(AppError::Forbidden(
            "this site may not send feedback to this board".into(),
        ));
    }
    if let Err(seconds) = state.feedback_limits.admit(&state.store, client).await? {
        tracing::warn!(%client, "feedback rate limit hit");
        let mut response = AppError::RateLimited.into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok((response, Verdict::Dropped("rate_limited")));
    }
    if !state.store.switch(Switch::FeedbackOpen).await? {
        return Err(AppError::Unavailable(
            "feedback is turned off on this board".into(),
        ));
    }
    // `ok` is what scripts written for the original check. No id: it would tell any visitor
    // how many issues the board holds.
    let received = (
        StatusCode::CREATED,
        axum::Json(Received {
            status: "received",
            ok: true,
        }),
    );
    // The honeypot: a field people never see. Bots that fill it are thanked and ignored.
    if feedback
        .website
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        tracing::info!(%client, "feedback honeypot filled; dropped");
        return Ok((received.into_response(), Verdict::Dropped("honeypot")));
    }
    state
        .store
        .create_issue(&Actor::public(), feedback.into_new_issue()?)
        .await?;
    Ok((received.into_response(), Verdict::Filed))
}
