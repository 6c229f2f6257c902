//! Self-heal (opt-in, `AUTOPILOT_SELF_HEAL=1`): when a request panics or is answered with a
//! 5xx, the server files a `bug` in `backlog` about itself. The issue names the method, the
//! route template (`/api/autopilot/issues/{id}`, never the raw URL, which may carry secrets),
//! the status and a one-line summary with no stack. The same failure again within an hour
//! counts on the issue already filed (see `Store::record_failure`, which also writes each
//! failure at most about once a minute: a flood of one failure is counted, not written).
//!
//! Only the server's own failures are filed: a 4xx is the caller's mistake (junk sent to a
//! server function is a 400, see `routes::server_fn_calls`), a 503 is "try again", and a
//! `transport` error is a call that could not be read or answered, not a bug of a handler.

use super::AppState;
use app::domain::{Kind, NewIssue, Priority};
use app::error::AppError;
use app::store::Store;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::any::Any;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// What a caught panic said, carried on the 500 response to the self-heal middleware.
#[derive(Clone)]
struct PanicNote(String);

/// Turns a panic into a JSON 500 (the server keeps running) and notes its message.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a request handler panicked".into());
    tracing::error!(panic = %message, "a request handler panicked");
    let mut response = AppError::Internal.into_response();
    response.extensions_mut().insert(PanicNote(message));
    response
}

/// Wraps every route of `router` (not the fallbacks) so its failures are filed.
pub fn install(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .route_layer(CatchPanicLayer::custom(panic_response))
        .route_layer(from_fn_with_state(state.store.clone(), watch))
}

async fn watch(
    State(store): State<Store>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = route.map_or_else(|| "(no route)".to_string(), |r| r.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status();
    // A 503 says "try again": the storage or the database is away for now, or a switch is
    // off. That is a bad day, not a bug (and filing it would need the storage that is away).
    if !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    let panic = response.extensions().get::<PanicNote>().cloned();
    // Our 5xx answers are small JSON; read it for the summary and pass it on unchanged.
    let (parts, body) = response.into_parts();
    let bytes = match tokio::time::timeout(
        Duration::from_secs(1),
        axum::body::to_bytes(body, 16 * 1024),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        _ => Default::default(),
    };
    if panic.is_none() && error_code(&bytes).as_deref() == Some("transport") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let summary = match panic {
        Some(PanicNote(message)) => format!("panic: {}", first_line(&message)),
        None => error_message(&bytes),
    };
    tokio::spawn(async move {
        let failure = Failure {
            method,
            route,
            status,
            summary,
        };
        match store
            .record_failure(&failure.fingerprint(), failure.report())
            .await
        {
            Ok((issue, occurrences)) => {
                tracing::warn!(issue, occurrences, "self-heal: failure recorded")
            }
            Err(AppError::RateLimited) => {
                tracing::debug!("self-heal: a repeat counted, to be written with the next one")
            }
            Err(err) => tracing::error!(%err, "self-heal: could not record a failure"),
        }
    });
    Response::from_parts(parts, Body::from(bytes))
}

/// One failed request, as self-heal files it.
struct Failure {
    method: Method,
    route: String,
    status: StatusCode,
    summary: String,
}

impl Failure {
    fn fingerprint(&self) -> String {
        format!(
            "{} {} {} {}",
            self.method,
            self.route,
            self.status.as_u16(),
            self.summary
        )
    }

    fn report(&self) -> NewIssue {
        NewIssue {
            title: format!(
                "Server error: {} {} answered {}",
                self.method,
                self.route,
                self.status.as_u16()
            ),
            body: format!(
                "Filed by self-heal.\n\n- Method: `{}`\n- Route: `{}`\n- Status: {}\n- Error: {}\n\n\
                 Repeats within an hour are counted in this issue's history.",
                self.method, self.route, self.status, self.summary
            ),
            kind: Kind::Bug,
            priority: Priority::High,
            ..NewIssue::default()
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// The `message` of our JSON error body, or a plain description.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(first_line))
        .unwrap_or_else(|| "no error message".into())
}

/// The `code` of our JSON error body (the JSON API's and server functions' alike).
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_and_report_name_the_route_template_not_the_url() {
        let failure = Failure {
            method: Method::GET,
            route: "/api/autopilot/issues/{id}".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            summary: "panic: boom".into(),
        };
        let report = failure.report();
        assert_eq!(report.kind, Kind::Bug);
        assert!(report.title.contains("/api/autopilot/issues/{id}"));
        assert!(report.body.contains("panic: boom"));
        assert_eq!(
            failure.fingerprint(),
            "GET /api/autopilot/issues/{id} 500 panic: boom"
        );
    }

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(
            first_line(&format!("{}\nstack", "x".repeat(300))).len(),
            200
        );
        assert_eq!(
            error_message(br#"{"error":{"code":"internal","message":"went wrong"}}"#),
            "went wrong"
        );
        assert_eq!(error_message(b"<html>"), "no error message");
        assert_eq!(
            error_code(
                br#"{"status":500,"message":"x","error":{"code":"transport","message":"x"}}"#
            )
            .as_deref(),
            Some("transport")
        );
        assert_eq!(error_code(b"<html>"), None);
    }
}
