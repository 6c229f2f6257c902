//! Extractors whose rejections are our JSON errors, and the one that says who is calling.

use super::client::{client_address, client_key, ClientKey};
use super::AppState;
use app::domain::{Action, Caller};
use app::error::AppError;
use app::store::Device;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use std::marker::PhantomData;

/// `axum::Json`, rejecting bad bodies with `{"error": …}` (400 syntax, 415 content type,
/// 413 too large, 422 wrong shape).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

/// `axum::extract::Path`, rejecting with a JSON 400 (e.g. `/issues/abc`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query`, rejecting with a JSON 400 (e.g. `?status=doing`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// Who is calling, allowed to do `A` (role and scopes): `Allowed(caller, _): Allowed<may::Read>`.
/// Checked with the request's head, before any body extractor reads the body, so a token
/// without the scope gets its 403 naming the scope whatever it sent. No credential: 401.
pub struct Allowed<A>(pub Caller, pub PhantomData<A>);

/// What a route needs the caller to be allowed, as a type for [`Allowed`].
pub trait Needs {
    const ACTION: Action;
}

/// The actions routes name in [`Allowed`].
pub mod may {
    use super::Needs;
    use app::domain::Action;

    macro_rules! actions {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl Needs for $name {
                const ACTION: Action = Action::$name;
            }
        )*};
    }
    actions!(Read, EditIssue, Comment, Attach, MoveIssue, Administer);
}

impl<A: Needs> FromRequestParts<AppState> for Allowed<A> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = app::auth::authenticate(parts, &state.store, state.auth.policy).await?;
        caller.require(A::ACTION)?;
        Ok(Allowed(caller, PhantomData))
    }
}

/// The key a request's client is counted under by per-client limits.
pub struct Client(pub ClientKey);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(client_key(parts, &state.auth.trusted_proxies)))
    }
}

/// Where a sign-in comes from (the browser's `User-Agent` and the client's address), filed
/// with the session for `/account/sessions`.
pub struct SignInFrom(pub Device);

impl FromRequestParts<AppState> for SignInFrom {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .map(|ua| String::from_utf8_lossy(ua.as_bytes()).into_owned())
            .unwrap_or_default();
        let address = client_address(parts, &state.auth.trusted_proxies).to_canonical();
        Ok(SignInFrom(Device {
            user_agent,
            address: address.to_string(),
        }))
    }
}

/// `axum::extract::Multipart`, rejecting a non-multipart body with a JSON 415.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(AppError::from)
    }
}
