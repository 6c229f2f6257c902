//! `/auth/oidc/start` and `/auth/oidc/callback`: signing in through the OpenID provider
//! (see `crate::oidc`). Public, behind the same guards as `/login`. What is kept between the
//! two (state, nonce, PKCE verifier) sits in the browser's server-side session and is taken
//! out by the callback, so each sign-in works once.

use super::extract::{Client, SignInFrom};
use super::plain::refusal;
use super::AppState;
use crate::oidc::{Admission, OidcError, Pending, Person, PENDING_TTL_MS};
use app::auth::{self, hash_password, new_secret, secrets_match, token_hash};
use app::domain::{validate_display_name, validate_email, InviteState, UserRole};
use app::error::AppError;
use app::store::{now_ms, Identity};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const PENDING_KEY: &str = "oidc_pending";
const NEXT_KEY: &str = "oidc_next";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// Where to go once signed in (a path on this site).
    next: Option<String>,
    /// The secret of the invitation being accepted, from an invite page.
    invite: Option<String>,
}

/// Sends the browser to the provider's sign-in page.
#[utoipa::path(get, path = "/auth/oidc/start", tag = "sign-in", security(()), params(StartQuery),
    responses(
        (status = 303, description = "To the provider", headers(("Location" = String))),
        (status = 410, description = "The invitation no longer works", content_type = "text/html", body = String),
        (status = 404, description = "Single sign-on is not set up on this board", content_type = "text/html", body = String),
        (status = 429, description = "Too many sign-ins started from this address in a minute", content_type = "text/html", body = String, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The provider cannot be reached", content_type = "text/html", body = String)))]
async fn start(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
    Query(query): Query<StartQuery>,
) -> Result<Response, AppError> {
    let Some(oidc) = state.sign_in.oidc.clone() else {
        return Ok(not_set_up(&state));
    };
    // Each start keeps a session (the pending sign-in) until it ends: a client may start only
    // so many a minute.
    if let Err(wait) = state.login_limits.admit_provider_start(client) {
        tracing::warn!(%client, "too many single sign-ons started");
        let seconds = wait.as_secs() + 1;
        let mut page = refusal(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins",
            &format!("Too many sign-ins were started from your address. Wait {seconds} seconds, then try again."),
        );
        page.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
        return Ok(page);
    }
    let invite_hash = match query.invite.as_deref() {
        Some(secret) => {
            let hash = token_hash(secret);
            match state.store.invitation_by_secret_hash(&hash).await? {
                Some(i) if i.state(now_ms()) == InviteState::Open => Some(hash),
                Some(i) => return Ok(super::invite::gone_page(&state, Some(i.state(now_ms())))),
                None => return Ok(super::invite::gone_page(&state, None)),
            }
        }
        None => None,
    };
    match oidc.start(now_ms(), invite_hash).await {
        Ok((url, pending)) => {
            session
                .insert(PENDING_KEY, pending)
                .await
                .map_err(session_error)?;
            let next = super::auth::safe_next(query.next.as_deref().unwrap_or("/")).to_string();
            session
                .insert(NEXT_KEY, next)
                .await
                .map_err(session_error)?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(err) => Ok(refused(&state, err)),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The provider's error code, when it did not sign the person in.
    error: Option<String>,
}

/// Where the provider sends the browser back: checks everything, then signs in (making the
/// account on a first sign-in, if the person is allowed in) and goes on.
#[utoipa::path(get, path = "/auth/oidc/callback", tag = "sign-in", security(()), params(CallbackQuery),
    responses(
        (status = 303, description = "Signed in: to where they were going", headers(("Location" = String))),
        (status = 400, description = "Not a sign-in this browser started, started too long ago, used already, or refused by the provider", content_type = "text/html", body = String),
        (status = 403, description = "The person is not allowed in, or is disabled; nothing is made", content_type = "text/html", body = String),
        (status = 409, description = "An account with the person's email exists and is not linked", content_type = "text/html", body = String),
        (status = 410, description = "The invitation no longer works", content_type = "text/html", body = String),
        (status = 404, description = "Single sign-on is not set up on this board", content_type = "text/html", body = String),
        (status = 503, description = "The provider cannot be reached", content_type = "text/html", body = String)))]
async fn callback(
    State(state): State<AppState>,
    session: Session,
    SignInFrom(from): SignInFrom,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(oidc) = state.sign_in.oidc.clone() else {
        return Ok(not_set_up(&state));
    };
    // Taken out whatever happens next: a callback works once.
    let pending: Option<Pending> = session.remove(PENDING_KEY).await.map_err(session_error)?;
    let next: String = session
        .remove(NEXT_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_else(|| "/".into());
    let bad = |sentence: &str| {
        refusal(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-in did not work",
            sentence,
        )
    };
    let Some(pending) = pending else {
        tracing::warn!(
            "single sign-on callback with no sign-in started in this browser (replayed?)"
        );
        return Ok(bad(
            "This sign-in was not started in this browser, or was finished already. Start again.",
        ));
    };
    if let Some(error) = query.error.as_deref() {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "the provider did not sign the person in");
        return Ok(bad(
            "The provider did not sign you in. Start again, or ask an admin.",
        ));
    }
    let state_ok = query
        .state
        .as_deref()
        .is_some_and(|s| secrets_match(s, &pending.state));
    if !state_ok {
        tracing::warn!("single sign-on callback with a wrong state");
        return Ok(bad(
            "This sign-in answer does not match the one this browser started. Start again.",
        ));
    }
    if now_ms() - pending.started_at > PENDING_TTL_MS {
        return Ok(bad("This sign-in took too long. Start again."));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(bad("The provider's answer has no code. Start again."));
    };
    let person = match oidc.finish(&pending, code).await {
        Ok(person) => person,
        Err(err) => return Ok(refused(&state, err)),
    };
    let identity = Identity {
        issuer: &person.issuer,
        subject: &person.subject,
    };
    let user = match state.store.user_by_identity(identity).await? {
        // The provider's admin groups are followed at every sign-in: a member who joined one
        // comes in as an admin. Leaving one demotes nobody (an admin may have been promoted
        // here by hand); take admin away on /admin/users.
        Some(user)
            if user.role == UserRole::Member
                && !user.is_disabled()
                && oidc.admit(&person) == Admission::Admin =>
        {
            tracing::info!(
                user = user.id,
                "in an admin group at the provider: made admin"
            );
            state.store.set_role(user.id, UserRole::Admin).await?
        }
        Some(user) => user,
        None => {
            match first_sign_in(&state, &oidc, &person, pending.invite_hash.as_deref()).await? {
                Ok(user) => user,
                Err(page) => return Ok(page),
            }
        }
    };
    if user.is_disabled() {
        tracing::info!(user = user.id, "a disabled person tried single sign-on");
        return Ok(refusal(
            &state,
            StatusCode::FORBIDDEN,
            "Your account is disabled",
            "Ask an admin to enable it.",
        ));
    }
    auth::sign_in(&session, &state.store, &user, &from).await?;
    tracing::info!(user = user.id, "signed in through the provider");
    Ok(Redirect::to(super::auth::safe_next(&next)).into_response())
}

/// Makes the account of someone the provider vouches for and nobody here knows yet: with the
/// invitation's role when they came from an invite page, else if the allow-lists let them in.
/// Anyone else gets a page saying so, and nothing is made.
async fn first_sign_in(
    state: &AppState,
    oidc: &crate::oidc::Oidc,
    person: &Person,
    invite_hash: Option<&str>,
) -> Result<Result<app::domain::User, Response>, AppError> {
    let refuse =
        |status, heading: &str, sentence: &str| Ok(Err(refusal(state, status, heading, sentence)));
    let admission = match invite_hash {
        Some(_) => Admission::Member, // the invitation's role applies, below
        None => oidc.admit(person),
    };
    let role = match admission {
        Admission::Admin => UserRole::Admin,
        Admission::Member => UserRole::Member,
        Admission::Refused => {
            tracing::info!(
                subject_len = person.subject.len(),
                "single sign-on refused: not on the allow-lists"
            );
            return refuse(
                StatusCode::FORBIDDEN,
                "You are not allowed in",
                "Your account at the provider is not one this board lets in. Ask an admin for an invitation.",
            );
        }
    };
    let Some(email) = person.email.as_deref().and_then(|e| validate_email(e).ok()) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "No email from the provider",
            "The provider did not tell us your email address, so no account can be made.",
        );
    };
    let name = person
        .name
        .as_deref()
        .and_then(|n| validate_display_name(n).ok())
        .or_else(|| email.split('@').next().map(str::to_string))
        .unwrap_or_else(|| email.clone());
    // They sign in through the provider: the password is a secret nobody is ever told.
    let hash = hash_password(new_secret("")).await?;
    let identity = Identity {
        issuer: &person.issuer,
        subject: &person.subject,
    };
    let made = match invite_hash {
        Some(invite) => match state
            .store
            .accept_invitation(invite, &email, &name, &hash, Some(identity))
            .await
        {
            Ok(Ok(user)) => Ok(user),
            Ok(Err(now)) => return Ok(Err(super::invite::gone_page(state, Some(now)))),
            Err(AppError::NotFound(_)) => return Ok(Err(super::invite::gone_page(state, None))),
            Err(err) => Err(err),
        },
        None => {
            state
                .store
                .create_user_with_identity(&email, &name, role, &hash, identity)
                .await
        }
    };
    match made {
        Ok(user) => {
            tracing::info!(user = user.id, role = user.role.as_str(), "account made at first single sign-on");
            Ok(Ok(user))
        }
        Err(AppError::Conflict(_)) => refuse(
            StatusCode::CONFLICT,
            "This email has an account already",
            "An account with your email exists here and is not linked to the provider. Sign in with its password, or ask an admin.",
        ),
        Err(err) => Err(err),
    }
}

/// Without a provider the sign-on routes are not there: a 404 (a 5xx would say the server
/// failed, and it did not).
fn not_set_up(state: &AppState) -> Response {
    refusal(
        state,
        StatusCode::NOT_FOUND,
        "Single sign-on is not set up",
        "This board has no sign-in provider. Sign in with your password.",
    )
}

/// The page for a sign-in the provider side spoiled; logged without codes or tokens.
fn refused(state: &AppState, err: OidcError) -> Response {
    tracing::warn!(error = %err, "single sign-on failed");
    match err {
        OidcError::ProviderDown(_) => refusal(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "The sign-in provider cannot be reached",
            "Try again in a little while, or sign in with your password if you have one.",
        ),
        OidcError::Exchange(_) | OidcError::NoIdToken => refusal(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-in did not work",
            "The provider did not accept this sign-in (it may have been used already). Start again.",
        ),
        OidcError::BadIdToken(_) => refusal(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-in did not work",
            "The provider's answer did not check out (expired, or not meant for this board). Start again.",
        ),
    }
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %err, "session store");
    AppError::Unavailable("the session store is unavailable".into())
}
