//! Who is calling: passwords, bearer tokens and sessions. [`authenticate`] is the one check
//! that every protected route and server function goes through.

use crate::domain::{Action, Actor, Caller, User};
use crate::error::{AppError, AppResult};
use crate::store::{now_ms, Device, Store};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use http::request::Parts;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;
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

impl SessionPolicy {
    /// Sessions last seen or signed in before these times are over.
    pub fn cutoffs(&self, now: i64) -> crate::store::SessionCutoffs {
        crate::store::SessionCutoffs {
            seen_after: now - self.idle_ms,
            signed_in_after: now - self.max_lifetime_ms,
        }
    }
}

/// What a session remembers about its person.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct SessionAuth {
    user_id: i64,
    /// Its row in `session_devices` (what `/account/sessions` lists): when the row is gone,
    /// the session has been ended. Sessions from before the table have none, and end.
    #[serde(default)]
    device: Option<i64>,
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
pub struct Authenticated(pub Caller);

/// The caller, from a bearer token (with its scopes) or the session (every scope);
/// `Unauthorized` if neither names a live user, or the token is revoked or past its expiry.
pub async fn authenticate(
    parts: &Parts,
    store: &Store,
    policy: SessionPolicy,
) -> AppResult<Caller> {
    if let Some(Authenticated(caller)) = parts.extensions.get::<Authenticated>() {
        return Ok(caller.clone());
    }
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AppError::Unauthorized)?;
        return match store.user_by_token_hash(&token_hash(token)).await? {
            Some((user, token)) if !user.is_disabled() => Ok(Caller::token(
                Actor::user(&user),
                token.id,
                token.scopes().0,
            )),
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
    let user = match auth.device {
        Some(device) => store.session_user(device, auth.user_id).await?,
        None => None,
    };
    let now = now_ms();
    let alive = user.as_ref().is_some_and(|u| {
        !u.is_disabled()
            && u.auth_epoch == auth.auth_epoch
            && now - auth.signed_in_at <= policy.max_lifetime_ms
            && now - auth.last_seen_at <= policy.idle_ms
    });
    match (user, auth.device) {
        (Some(user), Some(device)) if alive => {
            if now - auth.last_seen_at >= TOUCH_EVERY_MS {
                let touched = SessionAuth {
                    last_seen_at: now,
                    ..auth
                };
                session
                    .insert(SESSION_KEY, touched)
                    .await
                    .map_err(session_error)?;
                store.touch_session(device, now).await?;
            }
            Ok(Caller::session(Actor::user(&user), device))
        }
        _ => {
            if let Some(device) = auth.device {
                store.forget_session(device).await?;
            }
            session.flush().await.map_err(session_error)?;
            Err(AppError::Unauthorized)
        }
    }
}

/// Like [`authenticate`], and the caller's role and scopes must allow `action`
/// ([`Caller::require`]: a 403 naming what is missing).
pub async fn authorize(
    parts: &Parts,
    store: &Store,
    policy: SessionPolicy,
    action: Action,
) -> AppResult<Caller> {
    let caller = authenticate(parts, store, policy).await?;
    caller.require(action)?;
    Ok(caller)
}

/// Starts a session for `user` under a fresh id (no session fixation), and files it with the
/// device it came from.
pub async fn sign_in(
    session: &Session,
    store: &Store,
    user: &User,
    from: &Device,
) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    let now = now_ms();
    let device = store.record_session(user, from, now).await?;
    let auth = SessionAuth {
        user_id: user.id,
        device: Some(device),
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
pub async fn sign_out(session: &Session, store: &Store) -> AppResult<()> {
    let auth: Option<SessionAuth> = session.get(SESSION_KEY).await.map_err(session_error)?;
    if let Some(device) = auth.and_then(|a| a.device) {
        store.forget_session(device).await?;
    }
    session.flush().await.map_err(session_error)
}

/// At most this many password hashes (or checks) run at once, whatever comes in: each holds
/// 19 MiB and a core for a while, and the blocking pool would run hundreds side by side.
///
/// They run on the gate's own threads, one per slot, and not on the blocking pool: the
/// allocator keeps a freed 19 MiB block in the arena of the thread that used it, and the
/// blocking pool's ever-changing threads spread those over every arena (about 300 MiB kept
/// after a flood on 2 cores). On the same few threads the memory stays at slots × 19 MiB.
pub struct HashGate {
    slots: tokio::sync::Semaphore,
    /// How long a hash waits for a slot before the answer is "busy, try again".
    wait: Duration,
    /// To the gate's threads; `None` if none could be started (then the blocking pool).
    jobs: Option<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// How long a sign-in waits for a hashing slot: longer than a few hashes take, short enough
/// that a flood gets "try again" instead of a queue that only grows.
pub const HASH_WAIT: Duration = Duration::from_secs(3);

impl HashGate {
    pub fn new(slots: usize, wait: Duration) -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        let mut started = 0;
        for n in 0..slots.max(1) {
            let receiver = receiver.clone();
            let thread = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || loop {
                    let job = {
                        let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
                        receiver.recv()
                    };
                    match job {
                        // A job that panics drops its answer (the caller gets an error); the
                        // thread goes on.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                });
            match thread {
                Ok(_) => started += 1,
                Err(err) => tracing::error!(%err, "could not start a password-hashing thread"),
            }
        }
        HashGate {
            slots: tokio::sync::Semaphore::new(started.max(1)),
            wait,
            jobs: (started > 0).then_some(sender),
        }
    }

    /// The process' gate: one slot per core (at least one).
    pub fn global() -> &'static HashGate {
        static GATE: OnceLock<HashGate> = OnceLock::new();
        GATE.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            HashGate::new(cores, HASH_WAIT)
        })
    }

    /// Runs `work` on one of the gate's threads once a slot is free; `Unavailable` (503) when
    /// none came within the wait. The slot is held by the work itself, so a caller that goes
    /// away while it runs does not free its slot early: no more than the slots ever run at
    /// once.
    pub async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let Ok(Ok(slot)) = tokio::time::timeout(self.wait, self.slots.acquire()).await else {
            return Err(AppError::Unavailable(
                "too many sign-ins at this moment; try again in a few seconds".into(),
            ));
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _slot = slot;
            let _ = answer.send(work());
        });
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|_| AppError::Internal)?,
            None => drop(tokio::task::spawn_blocking(job)),
        }
        answered.await.map_err(|_| AppError::Internal)
    }
}

/// Argon2id with the crate's default parameters (19 MiB, 2 passes), off the async runtime,
/// through the [`HashGate`].
pub async fn hash_password(password: String) -> AppResult<String> {
    HashGate::global()
        .run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|err| {
            tracing::error!(%err, "password hashing failed");
            AppError::Internal
        })
}

/// Checks a password against a stored hash, off the async runtime, through the
/// [`HashGate`]. With no hash (unknown email) it checks against a dummy one, so both cases
/// take the same time. `Unavailable` when the gate stayed full.
pub async fn verify_password(password: String, hash: Option<String>) -> AppResult<bool> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = hash.is_some();
    let result = HashGate::global()
        .run(move || {
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
            matches_phc(password.as_bytes(), &hash)
        })
        .await?;
    Ok(known && result)
}

/// What argon2's `verify_password` does (the same parameters, salt and constant-time
/// comparison), with the work memory of [`argon2_into`] instead of a fresh 19 MiB each time.
fn matches_phc(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; argon2::password_hash::Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    argon2_into(&argon, password, salt, out).is_ok()
        && secrets_match_bytes(out, expected.as_bytes())
}

/// Argon2 into `out`, in work memory kept by the calling thread (one of the [`HashGate`]'s
/// few) and reused: with a fresh 19 MiB for each hash, the allocator kept hundreds of MiB
/// after a burst of sign-ins. Every block is written before it is read, so old contents do
/// not matter. Unusual parameters (more memory than the default) get memory of their own.
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let count = argon.params().block_count();
    if count > argon2::Params::DEFAULT.block_count() {
        return argon.hash_password_into(password, salt, out);
    }
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
    })
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
    secrets_match_bytes(a.as_bytes(), b.as_bytes())
}

fn secrets_match_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let verify = |password: &str, hash: Option<String>| {
            let password = password.to_string();
            async move { verify_password(password, hash).await.unwrap() }
        };
        assert!(verify("correct horse battery", Some(hash.clone())).await);
        assert!(!verify("wrong horse battery", Some(hash)).await);
        assert!(!verify("correct horse battery", None).await);
        assert!(!verify("x", Some("not a hash".into())).await);
    }

    #[test]
    fn the_reused_memory_check_agrees_with_argon2s_own() {
        use argon2::password_hash::PasswordVerifier;
        use argon2::{Algorithm, Params, Version};
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let kinds = [
            (Algorithm::Argon2id, Version::V0x13, Params::default()),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(8 * 1024, 1, 2, Some(16)).unwrap(),
            ),
            (
                Algorithm::Argon2i,
                Version::V0x10,
                Params::new(4 * 1024, 2, 1, None).unwrap(),
            ),
            // More memory than the default: not the kept blocks.
            (
                Algorithm::Argon2d,
                Version::V0x13,
                Params::new(24 * 1024, 1, 1, None).unwrap(),
            ),
        ];
        for (algorithm, version, params) in kinds {
            let argon = Argon2::new(algorithm, version, params);
            let phc = argon
                .hash_password(b"the password", &salt)
                .unwrap()
                .to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(argon.verify_password(b"the password", &parsed).is_ok());
            assert!(matches_phc(b"the password", &phc), "{phc}");
            assert!(!matches_phc(b"the passworD", &phc), "{phc}");
            // Twice, in the same (reused) memory.
            assert!(matches_phc(b"the password", &phc), "{phc}");
        }
        assert!(!matches_phc(
            b"x",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$"
        ));
        assert!(!matches_phc(b"x", ""));
    }

    /// A gate of its own, leaked to get the `'static` the blocking pool needs.
    fn gate(slots: usize, wait: Duration) -> &'static HashGate {
        Box::leak(Box::new(HashGate::new(slots, wait)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_hash_gate_never_runs_more_than_its_slots_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let gate = gate(2, Duration::from_secs(30));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let job = |running: Arc<AtomicUsize>, most: Arc<AtomicUsize>| {
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(40));
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        // Callers that give up while their work runs (a client gone away) must not free
        // their slot early: these are cut off after 5 ms, their work goes on holding it.
        let mut abandoned = Vec::new();
        for _ in 0..4 {
            let work = job(running.clone(), most.clone());
            abandoned.push(tokio::spawn(tokio::time::timeout(
                Duration::from_millis(5),
                gate.run(work),
            )));
        }
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let work = job(running.clone(), most.clone());
            tasks.push(tokio::spawn(gate.run(work)));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for task in abandoned {
            let _ = task.await.unwrap();
        }
        // Let any abandoned work finish.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "more hashes than slots ran at once"
        );
        assert_eq!(running.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_full_gate_answers_busy_after_its_short_wait() {
        let gate = gate(1, Duration::from_millis(100));
        let held = tokio::spawn(gate.run(|| std::thread::sleep(Duration::from_millis(600))));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let refused = gate.run(|| ()).await.unwrap_err();
        assert_eq!(refused.status(), 503, "{refused}");
        assert!(started.elapsed() < Duration::from_millis(500));
        held.await.unwrap().unwrap();
        assert!(gate.run(|| ()).await.is_ok(), "the slot was not given back");
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
