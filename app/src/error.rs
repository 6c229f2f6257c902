//! The one error type of the app. Server functions return it to the browser, the JSON API turns
//! it into `{"error": {"code", "message"}}` with a fitting status. Internal failures are logged
//! on the server and reach the caller only as "internal": no SQL, no paths.

use crate::domain::{Invalid, MoveDenied};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What every error answer of the JSON API carries: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// What went wrong, for scripts: `bad_request`, `invalid`, `move_denied`, `not_found`,
    /// `conflict`, `payload_too_large`, `unsupported_media_type`, `unauthorized`,
    /// `forbidden`, `rate_limited`, `limit_reached`, `unavailable` or `internal`.
    pub code: String,
    /// The same, in words for a person.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(into = "WireError", from = "WireError")]
pub enum AppError {
    /// The request itself is malformed (syntax, wrong shape of a path or a query).
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed, but a value breaks a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The transition rules refuse this move.
    #[error(transparent)]
    MoveDenied(#[from] MoveDenied),
    #[error("{0} not found")]
    NotFound(String),
    /// Someone else changed the issue first (stale `version`), or the state moved on.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many requests, try again shortly")]
    RateLimited,
    /// A per-caller limit other than the rate (live streams open at once, say).
    #[error("{0}")]
    LimitReached(String),
    #[error("something went wrong on the server")]
    Internal,
    /// Switched off by an admin, or not available right now.
    #[error("{0}")]
    Unavailable(String),
    /// The call never reached the app, or its answer could not be read (network, encoding).
    #[error("{0}")]
    Transport(String),
    /// An error as the browser reads it from the server (a server function's answer, a
    /// resource in the page): what to show and its status, never matched on.
    #[error("{message}")]
    Remote { status: u16, message: String },
}

/// How an error crosses to the browser: its status and its words, as the JSON API gives them.
/// The browser only shows errors, and reading every variant back would cost the board's wasm
/// a decoder for each of them. The server also sends the JSON API's `{"error": {"code",
/// "message"}}` beside them, so a script reads a server function's error as it reads the
/// API's; the browser skips it.
#[derive(Serialize, Deserialize)]
struct WireError {
    status: u16,
    message: String,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    error: Option<WireDetail>,
}

#[derive(Serialize, Default)]
struct WireDetail {
    code: &'static str,
    message: String,
}

impl From<AppError> for WireError {
    fn from(err: AppError) -> Self {
        let message = err.to_string();
        // An error read back in the browser has no code of its own to send on.
        let error = (!matches!(err, AppError::Remote { .. })).then(|| WireDetail {
            code: err.code(),
            message: message.clone(),
        });
        WireError {
            status: err.status(),
            message,
            error,
        }
    }
}

impl From<WireError> for AppError {
    fn from(wire: WireError) -> Self {
        AppError::Remote {
            status: wire.status,
            message: wire.message,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Invalid(_) | AppError::MoveDenied(_) => 422,
            AppError::RateLimited | AppError::LimitReached(_) => 429,
            AppError::Internal | AppError::Transport(_) => 500,
            AppError::Unavailable(_) => 503,
            AppError::Remote { status, .. } => *status,
        }
    }

    /// A stable machine-readable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Invalid(_) => "invalid",
            AppError::MoveDenied(_) => "move_denied",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::RateLimited => "rate_limited",
            AppError::LimitReached(_) => "limit_reached",
            AppError::Internal => "internal",
            AppError::Unavailable(_) => "unavailable",
            AppError::Transport(_) => "transport",
            // Only ever made in the browser, which sends no codes on.
            AppError::Remote { .. } => "remote",
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }
}

impl FromServerFnError for AppError {
    type Encoder = crate::api::codec::JsonTextEncoding;

    /// On the server, these are the caller's mistakes: a body that is not the function's
    /// arguments (junk, a wrong type, a missing field, not UTF-8), or one cut off at the size
    /// limit. They are 4xx with words about the input only, never 500 (which would page
    /// self-heal for a bug that is not there). In the browser they are the call failing on its
    /// way: `Transport`.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        {
            let err = match value {
                ServerFnErrorErr::Args(why) | ServerFnErrorErr::Deserialization(why)
                    if why.contains("length limit exceeded") =>
                {
                    AppError::PayloadTooLarge("the request body is too large".into())
                }
                ServerFnErrorErr::Args(why) | ServerFnErrorErr::Deserialization(why) => {
                    AppError::BadRequest(format!(
                        "the request could not be read as this call's arguments: {}",
                        input_words(&why)
                    ))
                }
                ServerFnErrorErr::MissingArg(name) => {
                    AppError::BadRequest(format!("missing argument {}", input_words(&name)))
                }
                other => {
                    tracing::error!(error = %other, "a server function failed outside its body");
                    AppError::Transport("the call could not be completed".into())
                }
            };
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                if let Ok(status) = http::StatusCode::from_u16(err.status()) {
                    response.set_status(status);
                }
            }
            err
        }
        #[cfg(not(feature = "ssr"))]
        AppError::Transport(value.to_string())
    }
}

/// What a decoder said about the caller's input, fit to send back: one line, printable, short
/// (it describes the input, which the caller wrote, and names nothing of the server).
#[cfg(feature = "ssr")]
fn input_words(said: &str) -> String {
    const MAX_CHARS: usize = 200;
    let line = said.lines().next().unwrap_or_default();
    let mut words: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CHARS)
        .collect();
    if line.chars().count() > MAX_CHARS {
        words.push('…');
    }
    if words.trim().is_empty() {
        "it is malformed".into()
    } else {
        words
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{AppError, ErrorBody, ErrorDetail};
    use axum::extract::multipart::{MultipartError, MultipartRejection};
    use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use http::StatusCode;

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            if let sqlx::Error::RowNotFound = err {
                return AppError::not_found("record");
            }
            tracing::error!(error = %err, "database error");
            // Read-only, I/O error, full, cannot open: the SQLite file itself is in trouble.
            if matches!(sqlite_code(&err), Some(8 | 10 | 13 | 14)) {
                crate::store::storage_fault_seen();
            }
            if storage_unavailable(&err) {
                AppError::Unavailable(
                    "the storage is unavailable right now (nothing was changed); try again \
                     shortly"
                        .into(),
                )
            } else {
                AppError::Internal
            }
        }
    }

    /// Whether the database is away or cannot take writes for now (connection lost, pool
    /// exhausted, disk full, locked, read-only): the caller may try again, the request was
    /// fine.
    fn storage_unavailable(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                matches!(sqlite_code(err), Some(5 | 6 | 8 | 10 | 13 | 14))
                    // PostgreSQL: connection exception, insufficient resources, operator
                    // intervention (shutdown, restart, cannot connect now).
                    || code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
            }
            _ => false,
        }
    }

    /// SQLite's primary result code of a database error. SQLite's codes are numbers (the
    /// primary code is the low byte of the extended one); PostgreSQL's are five-character
    /// SQLSTATEs, and give `None`.
    fn sqlite_code(err: &sqlx::Error) -> Option<i32> {
        let sqlx::Error::Database(db) = err else {
            return None;
        };
        let code = db.code()?;
        (code.len() < 5)
            .then(|| code.parse::<i32>().ok())
            .flatten()
            .map(|c| c & 0xff)
    }

    /// Body and extractor rejections keep axum's words (they describe the caller's mistake) but
    /// get our status codes and JSON shape.
    fn rejection(status: StatusCode, text: String) -> AppError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(text),
            StatusCode::UNPROCESSABLE_ENTITY => AppError::Invalid(crate::domain::Invalid {
                field: "request".into(),
                message: text,
            }),
            _ => AppError::BadRequest(text),
        }
    }

    impl From<JsonRejection> for AppError {
        fn from(r: JsonRejection) -> Self {
            rejection(r.status(), r.body_text())
        }
    }

    impl From<PathRejection> for AppError {
        fn from(r: PathRejection) -> Self {
            AppError::BadRequest(r.body_text())
        }
    }

    impl From<QueryRejection> for AppError {
        fn from(r: QueryRejection) -> Self {
            AppError::BadRequest(r.body_text())
        }
    }

    impl From<MultipartRejection> for AppError {
        fn from(r: MultipartRejection) -> Self {
            match r {
                MultipartRejection::InvalidBoundary(_) => {
                    AppError::UnsupportedMediaType("send the file as multipart/form-data".into())
                }
                other => rejection(other.status(), other.body_text()),
            }
        }
    }

    impl From<MultipartError> for AppError {
        fn from(e: MultipartError) -> Self {
            rejection(e.status(), e.body_text())
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = ErrorBody {
                error: ErrorDetail {
                    code: self.code().to_string(),
                    message: self.to_string(),
                },
            };
            let mut response = (status, Json(body)).into_response();
            if matches!(self, AppError::RateLimited) {
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_nothing_about_internals() {
        assert_eq!(
            AppError::Internal.to_string(),
            "something went wrong on the server"
        );
        assert_eq!(AppError::Internal.status(), 500);
    }

    #[test]
    fn errors_reach_the_browser_as_their_status_and_words() {
        let sent: AppError = MoveDenied::SameStatus(crate::domain::Status::Ready).into();
        let json = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"status":422,"message":"{sent}","error":{{"code":"move_denied","message":"{sent}"}}}}"#
            ),
            "no variant names, no internals; the JSON API's shape beside the browser's"
        );
        let read: AppError = serde_json::from_str(&json).unwrap();
        assert_eq!((read.status(), read.to_string()), (422, sent.to_string()));
        let internal = serde_json::to_string(&AppError::Internal).unwrap();
        assert_eq!(
            internal,
            r#"{"status":500,"message":"something went wrong on the server","error":{"code":"internal","message":"something went wrong on the server"}}"#
        );
        // What the browser read back goes on without a code.
        let again = serde_json::to_string(&read).unwrap();
        assert!(!again.contains("\"error\""), "{again}");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_body_that_is_not_the_arguments_is_the_callers_mistake() {
        let cases = [
            (
                ServerFnErrorErr::Args("missing field `id`".into()),
                400,
                "missing field `id`",
            ),
            (ServerFnErrorErr::MissingArg("to".into()), 400, "to"),
            (
                ServerFnErrorErr::Deserialization("invalid utf-8 sequence".into()),
                400,
                "utf-8",
            ),
            (
                ServerFnErrorErr::Deserialization("length limit exceeded".into()),
                413,
                "too large",
            ),
        ];
        for (said, status, words) in cases {
            let err = AppError::from_server_fn_error(said);
            assert_eq!(err.status(), status, "{err}");
            assert!(err.to_string().contains(words), "{err}");
            assert!(!err.to_string().contains("server function"), "{err}");
        }
        let long = AppError::from_server_fn_error(ServerFnErrorErr::Args(format!(
            "{}\nsecond line",
            "x".repeat(5000)
        )));
        assert!(long.to_string().len() < 400, "cut short");
        assert!(!long.to_string().contains("second line"));
        let ours = AppError::from_server_fn_error(ServerFnErrorErr::Response("boom".into()));
        assert_eq!((ours.status(), ours.code()), (500, "transport"));
        assert!(!ours.to_string().contains("boom"));
    }

    #[test]
    fn rule_errors_are_422_with_their_own_words() {
        let e: AppError = Invalid {
            field: "title".into(),
            message: "must not be empty".into(),
        }
        .into();
        assert_eq!((e.status(), e.code()), (422, "invalid"));
        assert_eq!(e.to_string(), "title: must not be empty");
    }
}
