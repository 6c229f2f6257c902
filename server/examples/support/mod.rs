//! What the benchmarks share: a scratch database with an admin and a bearer token, and the
//! board's router over it.

use app::auth::{hash_password, new_token, token_hash, SessionPolicy};
use app::domain::UserRole;
use app::store::Store;
use server::config::{AuthSettings, Intake};

pub struct ScratchBoard {
    pub store: Store,
    /// The admin's bearer token.
    pub token: String,
    _dir: tempfile::TempDir,
}

impl ScratchBoard {
    /// On a new SQLite file.
    #[allow(dead_code)] // not every benchmark uses it
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
