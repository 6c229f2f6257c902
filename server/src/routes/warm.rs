//! Answers kept warm: the board page and the JSON API's whole list.
//!
//! The board page: Rendering a board on the server costs far more than reading it,
//! and many people open the same board between two changes: the rendered page is kept,
//! keyed by the address, who is asking and the newest event id, and served again until the
//! next change (every change writes an event). A few pages are kept, the least recent go.

use super::AppState;
use app::auth::Authenticated;
use app::domain::{Actor, Role};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Mutex;

/// Pages kept (each a few hundred KiB at most, columns being capped).
const KEPT: usize = 32;
/// A page larger than this is not kept.
const PAGE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A kept page is someone's: keyed by who asks (their user id, not their name: names are not
/// unique), the address and the board's newest event.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    uri: String,
    user_id: Option<i64>,
    actor: String,
    role: Role,
    event: i64,
}

impl Key {
    fn new(uri: String, actor: Actor, event: i64) -> Key {
        Key {
            uri,
            user_id: actor.user_id,
            actor: actor.name,
            role: actor.role,
            event,
        }
    }
}

#[derive(Default)]
pub struct WarmPages {
    /// Most recently used last.
    pages: Mutex<Vec<(Key, HeaderMap, Bytes)>>,
    /// One render at a time: right after a change every viewer misses at once, and one of
    /// them rendering while the others wait for its page beats all of them rendering.
    rendering: tokio::sync::Mutex<()>,
}

impl WarmPages {
    /// How many pages are kept now.
    pub fn kept(&self) -> usize {
        self.pages.lock().map_or(0, |pages| pages.len())
    }

    fn get(&self, key: &Key) -> Option<(HeaderMap, Bytes)> {
        let mut pages = self.pages.lock().ok()?;
        let at = pages.iter().position(|(k, ..)| k == key)?;
        let page = pages.remove(at);
        let found = (page.1.clone(), page.2.clone());
        pages.push(page);
        Some(found)
    }

    fn put(&self, key: Key, headers: HeaderMap, body: Bytes) {
        if let Ok(mut pages) = self.pages.lock() {
            // Pages of older events are never asked for again.
            pages.retain(|(k, ..)| k.event >= key.event && k != &key);
            if pages.len() >= KEPT {
                pages.remove(0);
            }
            pages.push((key, headers, body));
        }
    }
}

fn kept(state: &AppState, key: &Key) -> Option<Response> {
    let (headers, body) = state.warm_pages.get(key)?;
    let body = with_a_fresh_nonce(body);
    let mut response = Response::new(Body::from(body));
    *response.headers_mut() = headers;
    Some(response)
}

/// A kept page goes out again with a nonce of its own, so no two answers share one: the
/// page's nonce (a random token) is replaced on its scripts; the policy is made from the page
/// afterwards (`headers.rs`).
fn with_a_fresh_nonce(body: Bytes) -> Bytes {
    let (Some(old), Ok(page)) = (app::security::nonce_in(&body), std::str::from_utf8(&body)) else {
        return body;
    };
    let new = leptos::nonce::Nonce::new().to_string();
    Bytes::from(page.replace(&old, &new))
}

/// One list answer: its query string, the board version it was made at, the answer.
type KeptList = (String, (i64, i64), ListAnswer);

/// The whole list as JSON, and whether it was cut at the list's cap.
#[derive(Clone)]
pub struct ListAnswer {
    pub json: Bytes,
    pub truncated: bool,
}

/// The whole-list answer of the JSON API (every issue, the original's call), kept until the
/// board changes: the list is the biggest answer the API gives, and scripts poll it.
#[derive(Default)]
pub struct WarmList {
    kept: Mutex<Option<KeptList>>,
    rendering: tokio::sync::Mutex<()>,
}

impl WarmList {
    /// The answer for `query` at `version`, made by `make` unless it is kept.
    pub async fn get_or_make<F, Fut>(
        &self,
        query: &str,
        version: (i64, i64),
        make: F,
    ) -> Result<ListAnswer, app::error::AppError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<ListAnswer, app::error::AppError>>,
    {
        let kept = || {
            let kept = self.kept.lock().ok()?;
            let (q, v, body) = kept.as_ref()?;
            (q == query && *v == version).then(|| body.clone())
        };
        if let Some(body) = kept() {
            return Ok(body);
        }
        let _rendering = self.rendering.lock().await;
        if let Some(body) = kept() {
            return Ok(body);
        }
        let body = make().await?;
        if let Ok(mut kept) = self.kept.lock() {
            *kept = Some((query.to_string(), version, body.clone()));
        }
        Ok(body)
    }
}

/// Serves a kept board page when nothing changed since it was rendered; keeps new ones.
/// Sits inside the page guard, which has found out who is asking.
pub async fn board_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let actor = request.extensions().get::<Authenticated>().cloned();
    // The board alone: a drawer (`?issue=`) shows a run's log, which grows without events.
    let board = request.method() == Method::GET
        && request.uri().path() == "/"
        && !request.uri().query().unwrap_or_default().contains("issue=");
    let (Some(Authenticated(caller)), true) = (actor, board) else {
        return next.run(request).await;
    };
    // A token that may not read renders its own (refused) page, never a kept one.
    if caller.allows(app::domain::Action::Read).is_err() {
        return next.run(request).await;
    }
    let actor = caller.actor;
    let Ok(event) = state.store.latest_event_id().await else {
        return next.run(request).await;
    };
    let key = Key::new(request.uri().to_string(), actor, event);
    if let Some(page) = kept(&state, &key) {
        return page;
    }
    let _rendering = state.warm_pages.rendering.lock().await;
    if let Some(page) = kept(&state, &key) {
        return page;
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, PAGE_MAX_BYTES).await {
        Ok(bytes) => {
            state
                .warm_pages
                .put(key, parts.headers.clone(), bytes.clone());
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(err) => {
            tracing::error!(%err, "reading a rendered board page");
            Response::from_parts(parts, Body::empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_people_of_the_same_name_never_share_a_page() {
        let person = |id| Actor {
            user_id: Some(id),
            ..Actor::new(Role::Member, "Ann")
        };
        let key = |actor| Key::new("/".into(), actor, 7);
        assert_ne!(key(person(1)), key(person(2)));
        assert_eq!(key(person(1)), key(person(1)));

        let pages = WarmPages::default();
        pages.put(
            key(person(1)),
            HeaderMap::new(),
            Bytes::from_static(b"Ann #1"),
        );
        assert!(pages.get(&key(person(2))).is_none());
        assert_eq!(pages.get(&key(person(1))).unwrap().1, "Ann #1");
    }
}
