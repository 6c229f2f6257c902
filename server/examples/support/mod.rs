//! What the benchmarks share: a scratch database with an admin and a bearer token, and the
//! board's router over it.
// Each benchmark uses part of this.
#![allow(dead_code)]

use app::auth::{hash_password, new_token, token_hash, SessionPolicy};
use app::domain::UserRole;
use app::store::Store;
use server::config::{AuthSettings, Intake};

pub struct ScratchBoard {
    pub store: Store,
    /// Where it lives.
    pub url: String,
    /// The admin's bearer token.
    pub token: String,
    _dir: tempfile::TempDir,
}

impl ScratchBoard {
    /// On a new SQLite file.
    pub async fn new() -> anyhow::Result<ScratchBoard> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        Self::on(&url, dir).await
    }

    /// On the (empty) database at `url`.
    pub async fn on(url: &str, dir: tempfile::TempDir) -> anyhow::Result<ScratchBoard> {
        let store = Store::open(url).await?;
        let hash = hash_password("bench password 1".into()).await?;
        let user = store
            .create_user("bench@example.com", "Bench", UserRole::Admin, &hash)
            .await?;
        let token = new_token();
        store
            .create_api_token(user.id, "bench", &token_hash(&token))
            .await?;
        Ok(ScratchBoard {
            store,
            url: url.to_string(),
            token,
            _dir: dir,
        })
    }

    /// The whole HTTP application, believing `X-Forwarded-For` from `trusted_proxies`.
    pub fn router(&self, trusted_proxies: Vec<ipnet::IpNet>) -> anyhow::Result<axum::Router> {
        let auth = AuthSettings {
            policy: SessionPolicy {
                idle_ms: 3_600_000,
                max_lifetime_ms: 3_600_000,
            },
            public_origin: None,
            secure_cookies: false,
            trusted_proxies,
        };
        let addr = "127.0.0.1:0".parse()?;
        let store = self.store.clone();
        let (router, _) =
            server::build_app(store, "target/site", addr, auth, None, Intake::default());
        Ok(router)
    }
}

/// Median time (ms) of 20 authorised GETs of `path` through `router`, and the answer's size.
/// A `{n}` in the path becomes the request's number: board pages are kept warm per address,
/// so `/?n={n}` renders every time.
pub async fn median_ms(
    router: &axum::Router,
    path: &str,
    token: &str,
) -> anyhow::Result<(f64, usize)> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut times = Vec::new();
    let mut size = 0;
    for n in 0..20 {
        let req = axum::http::Request::get(path.replace("{n}", &n.to_string()))
            .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(axum::body::Body::empty())?;
        let started = std::time::Instant::now();
        let res = router.clone().oneshot(req).await?;
        let body = res.into_body().collect().await?.to_bytes();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], size))
}

/// Issues `from..to`, spread as on a board in use: 80 % done, the rest in the open columns.
pub async fn seed(store: &Store, from: usize, to: usize) -> anyhow::Result<()> {
    use app::domain::{Actor, NewIssue, Role, Status};
    let person = Actor::new(Role::Admin, "Bench");
    for i in from..to {
        let status = match i % 10 {
            0 => Status::Backlog,
            1 => Status::Ready,
            2 => Status::InProgress,
            3 => Status::InReview,
            _ => Status::Done,
        };
        let new = NewIssue {
            title: format!("Issue number {i} with a realistic title of some length"),
            body: "Some body text. ".repeat(20),
            human_only: true,
            status: Some(Status::Ready).filter(|_| status != Status::Backlog),
            ..Default::default()
        };
        let issue = store.create_issue(&person, new).await?;
        let walk: &[Status] = match status {
            Status::InProgress => &[Status::InProgress],
            Status::InReview => &[Status::InProgress, Status::InReview],
            Status::Done => &[Status::InProgress, Status::InReview, Status::Done],
            _ => &[],
        };
        for &to in walk {
            store.move_issue(&person, issue.id, to, None).await?;
        }
    }
    Ok(())
}
