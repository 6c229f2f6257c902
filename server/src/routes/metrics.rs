//! `/metrics`, in Prometheus' text format. Requests are counted and timed by route template
//! (`/api/autopilot/issues/{id}`, never the raw path, so the series stay few) as they are
//! answered; feedback accepted and refused is counted where it is handled. The rest is read
//! when the page is scraped: issues by status, runs by outcome and their cost, runners'
//! heartbeats, open live streams, the database pool.
//!
//! The recorder is the process's one global `metrics` recorder, installed by the first app
//! built: several apps in one process (the tests) add to the same figures.

use super::AppState;
use crate::config::MetricsAccess;
use app::error::AppError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const REQUEST_SECONDS: &str = "autopilot_http_request_duration_seconds";

/// The process's recorder, installed on first use (`None` if another one was installed).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_SECONDS.into()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .ok()?
                // Figures read at scrape time are set again at each scrape; a series that
                // stops being set (a runner that went away) is dropped a minute later.
                .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(60)))
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Counts and times every request, under the route it matched (see [`name_route`]).
pub async fn track(request: Request, next: Next) -> Response {
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let status = response.status().as_u16().to_string();
    metrics::counter!("autopilot_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A route layer: hands the route template the request matched to [`track`], which runs
/// outside the router and cannot see it otherwise.
pub async fn name_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// The board's figures in Prometheus' text format. Who may read them is AUTOPILOT_METRICS:
/// admins (the default), anyone, or nobody (404).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "service", security(("bearer" = ["admin"]), ("session" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "No admin token or session (`unauthorized`)", body = app::error::ErrorBody),
        (status = 403, description = "Not an admin, or a token without the `admin` scope (`forbidden`)", body = app::error::ErrorBody),
        (status = 404, description = "Metrics are off (`not_found`)", body = app::error::ErrorBody),
        (status = 503, description = "Not recorded in this process, or the database is unavailable (`unavailable`)", body = app::error::ErrorBody)))]
pub async fn serve(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    match state.metrics {
        MetricsAccess::Off => return Err(AppError::not_found("API route")),
        MetricsAccess::Admin => {
            // An admin's bearer token (a scraper), or an admin's session (a person looking).
            app::auth::authorize(
                &parts,
                &state.store,
                state.auth.policy,
                app::domain::Action::ReadMetrics,
            )
            .await?;
        }
        MetricsAccess::Open => {}
    }
    let Some(recorder) = recorder() else {
        return Err(AppError::Unavailable(
            "metrics are not recorded in this process".into(),
        ));
    };
    let now = app::store::now_ms();
    let figures = state.store.figures(now).await?;
    for (status, count) in figures.issues_by_status {
        metrics::gauge!("autopilot_issues", "status" => status.as_str()).set(count as f64);
    }
    for (outcome, count, cost) in figures.runs_by_outcome {
        metrics::gauge!("autopilot_runs", "outcome" => outcome.clone()).set(count as f64);
        metrics::gauge!("autopilot_run_cost_usd", "outcome" => outcome).set(cost);
    }
    metrics::gauge!("autopilot_runners").set(figures.runners.len() as f64);
    for runner in figures.runners {
        let age = (now - runner.heartbeat_at).max(0) as f64 / 1000.0;
        metrics::gauge!("autopilot_runner_heartbeat_age_seconds",
            "runner" => runner.id, "host" => runner.host)
        .set(age);
    }
    metrics::gauge!("autopilot_live_streams").set(state.live.open_now() as f64);
    let pool = figures.pool;
    metrics::gauge!("autopilot_db_connections", "state" => "open").set(pool.open as f64);
    metrics::gauge!("autopilot_db_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("autopilot_db_connections", "state" => "max").set(pool.max as f64);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder.render(),
    )
        .into_response())
}
