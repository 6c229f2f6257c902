//! Answers kept warm: the board page and the JSON API's whole list.
//!
//! The board page: Rendering a board on the server costs far more than reading it,
//! and many people open the same board between two changes: the rendered page is kept,
//! keyed by the address, who is asking and the newest event id, and served again until the
//! next change (every change writes an event). A few pages are kept, the least recent go.
//!
//! A kept page is byte for byte the same in every answer: its inline scripts are allowed by
//! their hashes rather than a nonce (`app::security::kept_page`), so it is compressed once,
//! off the request path (brotli and gzip), and carries a strong ETag a reload can send back
//! for a 304.

use super::AppState;
use app::auth::Authenticated;
use app::domain::{Actor, Role};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

/// Pages kept (each a few hundred KiB at most, columns being capped).
const KEPT: usize = 32;
/// A page larger than this is not kept.
const PAGE_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Every change makes every kept page stale and each is compressed again, per person: fast
/// levels (brotli 5 is within a few per cent of 11 on a board page, at a small part of the time).
const BROTLI_LEVEL: u32 = 5;
const BROTLI_WINDOW: u32 = 22;
const GZIP_LEVEL: u32 = 6;
/// A kept page is someone's and is checked with the server at each use.
const CACHE_CONTROL: &str = "private, no-cache";

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

/// A kept page: its bytes, the same compressed, made once in the background (until then the
/// compression layer does it per answer, as for any page), and its answers' headers.
struct Kept {
    /// The page's headers with its policy, the security layer's and `Vary`: those of an
    /// answer compressed on the fly (no ETag: its bytes are not these).
    headers: HeaderMap,
    /// Whole, for each coding (`Coding::index`): those headers with the ETag and the
    /// `Content-Encoding`, and a 304's. An answer clones one map that nothing adds to: built
    /// per answer, and grown by the security layer's inserts, it cost a reallocation each
    /// (malloc and free were about 15 % of a kept answer's time).
    answers: [HeaderMap; 3],
    not_modified: [HeaderMap; 3],
    identity: Bytes,
    /// The ETag of the bytes, without quotes; the compressed ones add `-br` or `-gz`.
    tag: String,
    br: OnceLock<Bytes>,
    gz: OnceLock<Bytes>,
}

impl Kept {
    /// The rendered page made fit to keep, or `None` (then it is served as rendered). `https`:
    /// whether the security layer adds HSTS.
    fn new(mut headers: HeaderMap, page: &[u8], https: bool) -> Option<Kept> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let (page, hashes) = app::security::kept_page(page)?;
        let policy = HeaderValue::from_str(&app::security::hashed_page_policy(&hashes)).ok()?;
        let digest = sha2::Sha256::digest(&page);
        let mut tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        tag.truncate(22);
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        headers.remove(header::CONTENT_LENGTH);
        Some(Kept::with_headers(headers, Bytes::from(page), tag, https))
    }

    /// The page `identity` with its headers as rendered (and its policy), and `tag` its ETag:
    /// every answer's headers are made here, once.
    fn with_headers(mut headers: HeaderMap, identity: Bytes, tag: String, https: bool) -> Kept {
        let fixed = [
            (header::VARY, HeaderValue::from_static("accept-encoding")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
        ];
        for (name, value) in fixed.clone() {
            headers.insert(name, value);
        }
        super::headers::add(&mut headers, https);
        let with_etag = |mut answer: HeaderMap, coding: Coding| {
            if let Ok(etag) = HeaderValue::from_str(&format!("\"{tag}{}\"", coding.suffix())) {
                answer.insert(header::ETAG, etag);
            }
            answer
        };
        let answer = |coding: Coding| {
            let mut answer = with_etag(headers.clone(), coding);
            if let Some(name) = coding.name() {
                answer.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
            }
            answer
        };
        let not_modified = |coding: Coding| {
            let mut answer = with_etag(HeaderMap::from_iter(fixed.clone()), coding);
            super::headers::add(&mut answer, https);
            answer
        };
        Kept {
            answers: Coding::ALL.map(answer),
            not_modified: Coding::ALL.map(not_modified),
            headers,
            identity,
            tag,
            br: OnceLock::new(),
            gz: OnceLock::new(),
        }
    }

    /// Brotli and gzip of the page (blocking: a few milliseconds each).
    fn compress(&self) {
        let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_LEVEL, BROTLI_WINDOW);
        let mut gz =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
        // Writing into a Vec cannot fail.
        if br.write_all(&self.identity).is_ok() {
            let _ = self.br.set(Bytes::from(br.into_inner()));
        }
        if let Ok(gz) = gz.write_all(&self.identity).and_then(|()| gz.finish()) {
            let _ = self.gz.set(Bytes::from(gz));
        }
    }

    /// The answer to a request with these headers: the coding it prefers among those made,
    /// or a 304 when it already holds this page.
    fn answer(&self, request: &HeaderMap) -> Response {
        let wanted = Coding::preferred(request);
        let made = |coding| match coding {
            Coding::Brotli => self.br.get(),
            Coding::Gzip => self.gz.get(),
            Coding::Identity => Some(&self.identity),
        };
        // The preferred coding if made; else the other one the client takes; else the page as
        // it is, which the compression layer then compresses (and that answer has no ETag:
        // its bytes are not these).
        let ready = wanted.iter().find_map(|&c| made(c).map(|body| (c, body)));
        let (coding, body) = ready.unwrap_or((Coding::Identity, &self.identity));
        let on_the_fly = coding == Coding::Identity && wanted.first() != Some(&Coding::Identity);
        let mut response = Response::new(Body::empty());
        if on_the_fly {
            *response.headers_mut() = self.headers.clone();
        } else if self.matches(request) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            *response.headers_mut() = self.not_modified[coding.index()].clone();
            return response;
        } else {
            *response.headers_mut() = self.answers[coding.index()].clone();
        }
        *response.body_mut() = Body::from(body.clone());
        response
    }

    /// Whether `If-None-Match` names this page, in any coding (compared weakly, as the header
    /// is: the same page, whatever the bytes travelled as).
    fn matches(&self, request: &HeaderMap) -> bool {
        request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|tag| tag.trim())
            .any(|tag| {
                let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
                let tag = tag
                    .strip_suffix("-br")
                    .or_else(|| tag.strip_suffix("-gz"))
                    .unwrap_or(tag);
                tag == "*" || tag == self.tag
            })
    }
}

/// How a kept page travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// Every coding, each at its `index`.
    const ALL: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }

    /// Its place in `ALL`, and so in `Kept`'s arrays of answers.
    fn index(self) -> usize {
        self as usize
    }

    fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => "-br",
            Coding::Gzip => "-gz",
            Coding::Identity => "",
        }
    }

    /// The codings `Accept-Encoding` takes, best first, always ending with the page as it is
    /// (refusing that too would earn a 406 nobody wants). Weights as RFC 9110 §12.5.3 reads
    /// them (`;q=0` refuses, `*` stands for any coding not named); on a tie brotli goes first,
    /// it is the smaller. No header: the page as it is.
    fn preferred(request: &HeaderMap) -> Vec<Coding> {
        let (mut br, mut gzip, mut any) = (None::<u16>, None::<u16>, None::<u16>);
        let entries = request
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        for entry in entries {
            let mut parts = entry.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| {
                    let (k, v) = p.trim().split_once('=')?;
                    k.trim().eq_ignore_ascii_case("q").then(|| weight(v.trim()))
                })
                .next()
                .unwrap_or(Some(1000));
            let Some(q) = q else { continue };
            let slot = if name.eq_ignore_ascii_case("br") {
                &mut br
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if name == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        let mut codings: Vec<(u16, Coding)> = [
            (br.or(any).unwrap_or(0), Coding::Brotli),
            (gzip.or(any).unwrap_or(0), Coding::Gzip),
        ]
        .into_iter()
        .filter(|(q, _)| *q > 0)
        .collect();
        // Stable: brotli stays ahead of gzip at the same weight.
        codings.sort_by_key(|(q, _)| std::cmp::Reverse(*q));
        let mut codings: Vec<Coding> = codings.into_iter().map(|(_, c)| c).collect();
        codings.push(Coding::Identity);
        codings
    }
}

/// A `q` value in thousandths (`None`: not one).
fn weight(text: &str) -> Option<u16> {
    let value: f32 = text.parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

/// The board's newest event id. Read again once this process hears of a change (its own
/// commits, and on PostgreSQL every other server's, through LISTEN) or after `FRESH` (a change
/// nobody announced: the CLI on SQLite, a lost notification); otherwise the last read stands,
/// so a kept page costs no query. One read serves every request that arrived before it
/// started: under load after a change, one query answers a whole batch instead of one each.
#[derive(Default)]
struct Newest {
    /// Reads started so far.
    started: std::sync::atomic::AtomicU64,
    /// The latest finished read.
    done: Mutex<Option<Read>>,
    /// One read at a time.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Clone, Copy)]
struct Read {
    /// Its number, in the order reads started.
    n: u64,
    /// The store's change count when it started.
    changes: u64,
    at: std::time::Instant,
    id: i64,
}

impl Newest {
    async fn get(&self, store: &app::store::Store) -> app::error::AppResult<i64> {
        use std::sync::atomic::Ordering::SeqCst;
        let last = || self.done.lock().ok().and_then(|done| *done);
        let still_true = |read: &Read| {
            read.changes == store.changes_seen() && read.at.elapsed() < app::store::FRESH
        };
        if let Some(read) = last().filter(still_true) {
            return Ok(read.id);
        }
        // A read numbered above this one started after this request arrived, so it sees every
        // change made before.
        let arrived = self.started.load(SeqCst);
        let _reading = self.reading.lock().await;
        if let Some(read) = last().filter(|read| read.n > arrived || still_true(read)) {
            return Ok(read.id);
        }
        let n = self.started.fetch_add(1, SeqCst) + 1;
        let (changes, at) = (store.changes_seen(), std::time::Instant::now());
        let id = store.latest_event_id().await?;
        if let Ok(mut done) = self.done.lock() {
            *done = Some(Read { n, changes, at, id });
        }
        Ok(id)
    }
}

#[derive(Default)]
pub struct WarmPages {
    /// Most recently used last.
    pages: Mutex<Vec<(Key, Arc<Kept>)>>,
    newest: Newest,
    /// One render at a time: right after a change every viewer misses at once, and one of
    /// them rendering while the others wait for its page beats all of them rendering.
    rendering: tokio::sync::Mutex<()>,
}

impl WarmPages {
    /// How many pages are kept now.
    pub fn kept(&self) -> usize {
        self.pages.lock().map_or(0, |pages| pages.len())
    }

    fn get(&self, key: &Key) -> Option<Arc<Kept>> {
        let mut pages = self.pages.lock().ok()?;
        let at = pages.iter().position(|(k, ..)| k == key)?;
        let page = pages.remove(at);
        let found = page.1.clone();
        pages.push(page);
        Some(found)
    }

    fn put(&self, key: Key, page: Arc<Kept>) {
        if let Ok(mut pages) = self.pages.lock() {
            // Pages of older events are never asked for again.
            pages.retain(|(k, ..)| k.event >= key.event && k != &key);
            if pages.len() >= KEPT {
                pages.remove(0);
            }
            pages.push((key, page));
        }
    }
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
/// Runs after the page guard (`super::guards`), which has found out who is asking.
pub async fn board_pages(state: &AppState, request: Request, next: Next) -> Response {
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
    let Ok(event) = state.warm_pages.newest.get(&state.store).await else {
        return next.run(request).await;
    };
    let key = Key::new(request.uri().to_string(), actor, event);
    if let Some(page) = state.warm_pages.get(&key) {
        return page.answer(request.headers());
    }
    let _rendering = state.warm_pages.rendering.lock().await;
    if let Some(page) = state.warm_pages.get(&key) {
        return page.answer(request.headers());
    }
    let asked = request.headers().clone();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, PAGE_MAX_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(%err, "reading a rendered board page");
            return Response::from_parts(parts, Body::empty());
        }
    };
    // The first answer is the kept page too, so that a reload finds the same bytes.
    let Some(page) = Kept::new(parts.headers.clone(), &bytes, state.auth.secure_cookies) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let page = Arc::new(page);
    state.warm_pages.put(key, page.clone());
    let compressing = page.clone();
    tokio::task::spawn_blocking(move || compressing.compress());
    page.answer(&asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &'static str) -> Arc<Kept> {
        let identity = Bytes::from_static(text.as_bytes());
        Arc::new(Kept::with_headers(
            HeaderMap::new(),
            identity,
            "abc".into(),
            false,
        ))
    }

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
        pages.put(key(person(1)), kept("Ann #1"));
        assert!(pages.get(&key(person(2))).is_none());
        assert_eq!(pages.get(&key(person(1))).unwrap().identity, "Ann #1");
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        use Coding::*;
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            Coding::preferred(&headers)
        };
        assert_eq!(Coding::preferred(&HeaderMap::new()), [Identity]);
        assert_eq!(with("gzip, deflate, br, zstd"), [Brotli, Gzip, Identity]);
        assert_eq!(with("gzip, br;q=0.5"), [Gzip, Brotli, Identity]);
        assert_eq!(with("br;q=0, gzip"), [Gzip, Identity]);
        assert_eq!(with("gzip;q=0, br;q=0"), [Identity]);
        assert_eq!(with("*"), [Brotli, Gzip, Identity]);
        assert_eq!(with("*;q=0.2, br;q=0"), [Gzip, Identity]);
        assert_eq!(with("gzip;q=0, gzip"), [Gzip, Identity]);
        assert_eq!(with("br;q=nonsense, identity"), [Identity]);
    }

    #[test]
    fn a_reload_gets_a_304_until_the_page_changes() {
        let page = kept("<p>board</p>");
        let mut asked = HeaderMap::new();
        asked.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        // Not compressed yet: the compression layer does it, and no ETag is promised.
        let first = page.answer(&asked);
        assert_eq!(first.status(), StatusCode::OK);
        assert!(!first.headers().contains_key(header::ETAG));
        assert_eq!(first.headers()[header::VARY], "accept-encoding");
        page.compress();
        let second = page.answer(&asked);
        assert_eq!(second.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(second.headers()[header::ETAG], "\"abc-br\"");
        for held in ["\"abc-br\"", "W/\"abc-gz\"", "\"x\", \"abc\"", "*"] {
            asked.insert(header::IF_NONE_MATCH, HeaderValue::from_static(held));
            let again = page.answer(&asked);
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{held}");
            assert_eq!(again.headers()[header::ETAG], "\"abc-br\"");
            assert_eq!(again.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        }
        asked.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"abd-br\""),
        );
        assert_eq!(page.answer(&asked).status(), StatusCode::OK);
    }

    #[test]
    fn each_coding_is_at_its_index() {
        for (at, coding) in Coding::ALL.into_iter().enumerate() {
            assert_eq!(coding.index(), at, "{coding:?}");
        }
    }

    #[test]
    fn a_kept_answer_has_every_header_the_outer_layers_would_add() {
        let mut rendered = HeaderMap::new();
        rendered.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let identity = Bytes::from_static(b"<p>board</p>");
        let page = Kept::with_headers(rendered, identity, "abc".into(), true);
        page.compress();
        let mut asked = HeaderMap::new();
        asked.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let answer = page.answer(&asked);
        let mut added = answer.headers().clone();
        crate::routes::headers::add(&mut added, true);
        assert_eq!(&added, answer.headers(), "the security layer adds nothing");
        assert_eq!(answer.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(answer.headers()[header::ETAG], "\"abc-gz\"");
        assert!(answer
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY));
        asked.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"abc-gz\""),
        );
        let reload = page.answer(&asked);
        assert_eq!(reload.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(reload.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!reload.headers().contains_key(header::CONTENT_TYPE));
    }
}
