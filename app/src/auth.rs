//! Who is calling: passwords, bearer tokens and sessions. [`authenticate`] is the one check
//! that every protected route and server function goes through.

use crate::domain::{Actor, Role, User};
use crate::error::{AppError, AppResult};
use crate::store::{now_ms, Store};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use http::request::Parts;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use tower_sessions::Session;

const SESSION_KEY: &str = "auth";
const TOKEN_PREFIX: &str = "ap_";

/// How long sessions live. The session layer's store expiry is set to the idle timeout too;
/// this is checked here as well because the store only counts writes as activity.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Signed out after this long without a request.
    pub idle_ms: i64,
    /// Signed out this long after signing in, whatever the activity.
    pub max_lifetime_ms: i64,
}

/// Activity is written back to the session at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a session remembers about its person.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct SessionAuth {
    user_id: i64,
    /// The user's `auth_epoch` at sign-in: a password change or disabling bumps it.
    auth_epoch: i64,
    signed_in_at: i64,
    last_seen_at: i64,
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(%err, "session store error");
    AppError::Internal
}

/// Who the page guard found the caller to be, kept on the request, so the server functions a
/// page calls while it renders do not look the caller up again. Only the server puts it there.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Actor);

/// The caller, from a bearer token or the session; `Unauthorized` if neither names a live user.
pub async fn authenticate(parts: &Parts, store: &Store, policy: SessionPolicy) -> AppResult<Actor> {
    if let Some(Authenticated(actor)) = parts.extensions.get::<Authenticated>() {
        return Ok(actor.clone());
    }
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AppError::Unauthorized)?;
        return match store.user_by_token_hash(&token_hash(token)).await? {
            Some(user) if !user.is_disabled() => Ok(Actor::user(&user)),
            _ => Err(AppError::Unauthorized),
        };
    }
    let session = parts
        .extensions
        .get::<Session>()
        .ok_or(AppError::Unauthorized)?;
    let auth: SessionAuth = session
        .get(SESSION_KEY)
        .await
        .map_err(session_error)?
        .ok_or(AppError::Unauthorized)?;
    let user = match store.user_by_id(auth.user_id).await {
        Ok(user) => Some(user),
        Err(AppError::NotFound(_)) => None,
        Err(other) => return Err(other),
    };
    let now = now_ms();
    let alive = user.as_ref().is_some_and(|u| {
        !u.is_disabled()
            && u.auth_epoch == auth.auth_epoch
            && now - auth.signed_in_at <= policy.max_lifetime_ms
            && now - auth.last_seen_at <= policy.idle_ms
    });
    match user {
        Some(user) if alive => {
            if now - auth.last_seen_at >= TOUCH_EVERY_MS {
                let touched = SessionAuth {
                    last_seen_at: now,
                    ..auth
                };
                session
                    .insert(SESSION_KEY, touched)
                    .await
                    .map_err(session_error)?;
            }
            Ok(Actor::user(&user))
        }
        _ => {
            session.flush().await.map_err(session_error)?;
            Err(AppError::Unauthorized)
        }
    }
}

/// Like [`authenticate`], and the caller must be an admin.
pub async fn authenticate_admin(
    parts: &Parts,
    store: &Store,
    policy: SessionPolicy,
) -> AppResult<Actor> {
    let actor = authenticate(parts, store, policy).await?;
    if actor.role != Role::Admin {
        return Err(AppError::Forbidden("admins only".into()));
    }
    Ok(actor)
}

/// Starts a session for `user` under a fresh id (no session fixation).
pub async fn sign_in(session: &Session, user: &User) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    let now = now_ms();
    let auth = SessionAuth {
        user_id: user.id,
        auth_epoch: user.auth_epoch,
        signed_in_at: now,
        last_seen_at: now,
    };
    session
        .insert(SESSION_KEY, auth)
        .await
        .map_err(session_error)
}

/// Deletes the session server-side; the old cookie is worthless afterwards.
pub async fn sign_out(session: &Session) -> AppResult<()> {
    session.flush().await.map_err(session_error)
}

/// Argon2id with the crate's default parameters (19 MiB, 2 passes), off the async runtime.
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|err| {
        tracing::error!(%err, "password hashing failed");
        AppError::Internal
    })
}

/// Checks a password against a stored hash, off the async runtime. With no hash (unknown
/// email) it checks against a dummy one, so both cases take the same time.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = hash.is_some();
    let result = tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut rand::rngs::OsRng);
                    Argon2::default()
                        .hash_password(b"not a password anyone has", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    known && result
}

/// A fresh random secret: 256 bits, hex, prefixed so it is recognisable in a leak scan.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

/// A new bearer token.
pub fn new_token() -> String {
    new_secret(TOKEN_PREFIX)
}

/// Tokens are long random strings, so a plain SHA-256 is enough to keep them useless if the
/// database leaks.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets in time independent of where they differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("correct horse battery".into(), None).await);
        assert!(!verify_password("x".into(), Some("not a hash".into())).await);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("ap_") && a.len() == 3 + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(secrets_match(&a, &a.clone()));
        assert!(!secrets_match(&a, &b));
        assert!(!secrets_match("ab", "abc"));
    }
}
