//! `/invite/<secret>`: the page an invitee opens from an admin's link, and its form. Plain
//! HTML, public (the invitee has no account yet), behind the same guards as `/login`.
//! A link that no longer works (used, expired, revoked, or never made) gets a page that says
//! which, and nothing is made.

use super::auth::{busy_page, FORM_BODY_LIMIT};
use super::extract::SignInFrom;
use super::plain::{escape, page};
use super::AppState;
use app::auth::{self, hash_password, token_hash};
use app::domain::{
    validate_display_name, validate_email, validate_password, Invitation, InviteState,
};
use app::error::AppError;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, accept))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
}

/// The invitation behind a link, if there is one.
async fn find(state: &AppState, secret: &str) -> Result<Option<Invitation>, AppError> {
    state
        .store
        .invitation_by_secret_hash(&token_hash(secret))
        .await
}

/// The invite page: the form to make an account, or why the link no longer works.
#[utoipa::path(get, path = "/invite/{secret}", tag = "sign-in", security(()),
    params(("secret" = String, Path, description = "The secret from the invite link")),
    responses(
        (status = 200, description = "The form to make an account", content_type = "text/html", body = String),
        (status = 404, description = "Not an invite link", content_type = "text/html", body = String),
        (status = 410, description = "The link was used, expired or revoked", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = app::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, AppError> {
    Ok(match find(&state, &secret).await? {
        Some(invite) if invite.state(app::store::now_ms()) == InviteState::Open => {
            form_page(&state, &secret, &invite, None, "", "", StatusCode::OK)
        }
        Some(invite) => gone_page(&state, Some(invite.state(app::store::now_ms()))),
        None => gone_page(&state, None),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Makes the invitee's account with the invitation's role and signs them in. A field that
/// breaks a rule, or an email in use, shows the form again with what they typed (never the
/// password) and the link still open.
#[utoipa::path(post, path = "/invite/{secret}", tag = "sign-in", security(()),
    params(("secret" = String, Path, description = "The secret from the invite link")),
    request_body(content = InviteForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Account made and signed in: to the board",
            headers(("Location" = String, description = "The board"))),
        (status = 400, description = "Not an invite form (`bad_request`)", body = app::error::ErrorBody),
        (status = 404, description = "Not an invite link", content_type = "text/html", body = String),
        (status = 415, description = "Not a URL-encoded form (`unsupported_media_type`)", body = app::error::ErrorBody),
        (status = 403, description = "A cross-site form (`forbidden`)", body = app::error::ErrorBody),
        (status = 409, description = "The email is in use: the form again", content_type = "text/html", body = String),
        (status = 410, description = "The link was used, expired or revoked", content_type = "text/html", body = String),
        (status = 413, description = "Over 8 KiB (`payload_too_large`)", body = app::error::ErrorBody),
        (status = 422, description = "A field breaks a rule: the form again, saying which", content_type = "text/html", body = String),
        (status = 503, description = "Every password-hashing slot is busy, or the database is unavailable: try again", content(
            (String = "text/html"),
            (app::error::ErrorBody = "application/json")))))]
async fn accept(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    session: Session,
    SignInFrom(from): SignInFrom,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Result<Response, AppError> {
    // A body that is no form is refused before the link is looked at (a browser always
    // sends the form).
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(AppError::PayloadTooLarge(format!(
                "an invite form is at most {FORM_BODY_LIMIT} bytes"
            )))
        }
        Err(rejection) if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            return Err(AppError::UnsupportedMediaType(
                "the invite form is sent as application/x-www-form-urlencoded".into(),
            ))
        }
        Err(_) => return Err(AppError::BadRequest("not an invite form".into())),
    };
    let invite = match find(&state, &secret).await? {
        Some(invite) if invite.state(app::store::now_ms()) == InviteState::Open => invite,
        Some(invite) => return Ok(gone_page(&state, Some(invite.state(app::store::now_ms())))),
        None => return Ok(gone_page(&state, None)),
    };
    let again = |problem: &str, status| {
        form_page(
            &state,
            &secret,
            &invite,
            Some(problem),
            &form.name,
            &form.email,
            status,
        )
    };
    let Ok(name) = validate_display_name(&form.name) else {
        return Ok(again(
            "Enter your name (up to 100 characters).",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    let Ok(email) = validate_email(&form.email) else {
        return Ok(again(
            "Enter an email address like name@example.com.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    if validate_password(&form.password).is_err() {
        return Ok(again(
            "The password needs 12 to 256 characters.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let hash = match hash_password(form.password.clone()).await {
        Ok(hash) => hash,
        Err(AppError::Unavailable(_)) => return Ok(busy_page()),
        Err(other) => return Err(other),
    };
    let made = state
        .store
        .accept_invitation(&token_hash(&secret), &email, &name, &hash, None)
        .await;
    match made {
        Ok(Ok(user)) => {
            auth::sign_in(&session, &state.store, &user, &from).await?;
            tracing::info!(
                user = user.id,
                invitation = invite.id,
                "invitation accepted"
            );
            Ok(Redirect::to("/").into_response())
        }
        // Used or revoked while the password was being hashed.
        Ok(Err(now)) => Ok(gone_page(&state, Some(now))),
        Err(AppError::NotFound(_)) => Ok(gone_page(&state, None)),
        Err(AppError::Conflict(_)) => Ok(again(
            "An account with this email exists already: sign in instead, or use another email.",
            StatusCode::CONFLICT,
        )),
        Err(other) => Err(other),
    }
}

fn form_page(
    state: &AppState,
    secret: &str,
    invite: &Invitation,
    problem: Option<&str>,
    name: &str,
    email: &str,
    status: StatusCode,
) -> Response {
    let action = escape(&app::domain::invite_path(secret));
    let role = invite.role.as_str();
    let expires = app::domain::format_time(invite.expires_at);
    let problem = problem
        .map(|p| format!(r#"<p class="error" role="alert">{}</p>"#, escape(p)))
        .unwrap_or_default();
    let (name, email) = (escape(name), escape(email));
    // Or come in through the provider: the account is linked to theirs, with this role.
    let provider = match &state.sign_in.oidc {
        Some(oidc) => format!(
            r#"<p class="hint">or</p><a class="button" href="/auth/oidc/start?invite={}">Sign in with {}</a>"#,
            escape(&app::percent::query_value(secret)),
            escape(&oidc.settings.label)
        ),
        None => String::new(),
    };
    let main = format!(
        r#"<main class="auth-page"><form class="auth-card" method="post" action="{action}">
<h1>Join Autopilot</h1>
<p class="hint">You are invited as a {role}. This link works once, until {expires}.</p>
{problem}
<label>Your name <input type="text" name="name" autocomplete="name" value="{name}" required></label>
<label>Email <input type="email" name="email" autocomplete="username" value="{email}" required></label>
<label>Password (12 characters or more) <input type="password" name="password" autocomplete="new-password" minlength="12" required></label>
<button type="submit">Create account and sign in</button>
{provider}</form></main>"#
    );
    page(state, "Join", status, &main)
}

/// Why a link does not work; `None`: no invitation has that secret (mistyped, or not a link).
pub(super) fn gone_page(state: &AppState, why: Option<InviteState>) -> Response {
    let sentence = match why {
        Some(InviteState::Used) => "This invite link has been used already. If it was you, sign in.",
        Some(InviteState::Expired) => "This invite link has expired. Ask an admin for a new one.",
        Some(InviteState::Revoked) => "This invite link was revoked by an admin. Ask them for a new one.",
        Some(InviteState::Open) | None => {
            "This is not a valid invite link. Check that it was copied whole, or ask an admin for a new one."
        }
    };
    let main = format!(
        r#"<main class="not-found"><h1>This invite link does not work</h1><p>{sentence}</p><p><a href="/login">Sign in</a></p></main>"#
    );
    // A link that never was is not found; one that was and is no longer is gone.
    let status = match why {
        None => StatusCode::NOT_FOUND,
        Some(_) => StatusCode::GONE,
    };
    page(state, "Invite link", status, &main)
}
