//! Single sign-on with an OpenID Connect provider (Google, Entra, Keycloak, GitLab…): the
//! authorization code flow with PKCE, through the `openidconnect` crate, which checks the ID
//! token's signature, issuer, audience, expiry and nonce.
//!
//! The provider's discovery document and keys are fetched on first use and kept; when an ID
//! token names a key they do not hold (the provider rotated its keys), they are fetched again
//! and the token checked once more. Who may come in is decided here too ([`Oidc::admit`]).

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    reqwest, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Every claim of the ID token beyond the standard ones, so the groups claim can be read by
/// the name the operator configured (`groups`, `roles`, …).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long the discovery document and keys are kept before they are fetched again anyway.
const METADATA_TTL: Duration = Duration::from_secs(6 * 3600);
/// How long a sign-in may take at the provider before its callback is refused.
pub const PENDING_TTL_MS: i64 = 10 * 60_000;

/// The provider and the rules for who may come in, from the `AUTOPILOT_OIDC_*` settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `<AUTOPILOT_PUBLIC_URL>/auth/oidc/callback`: register it at the provider.
    pub redirect_uri: String,
    /// The button: "Sign in with <label>".
    pub label: String,
    /// Email domains whose people may come in (lower-case, without `@`).
    pub allowed_domains: Vec<String>,
    /// Groups whose members may come in.
    pub allowed_groups: Vec<String>,
    /// Groups whose members come in as admins.
    pub admin_groups: Vec<String>,
    pub groups_claim: String,
}

/// Why a sign-in through the provider did not work. Each is a page of its own; none carries
/// a secret (codes, tokens and the client secret are never in it, nor in the logs).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider cannot be reached or answered nonsense: {0}")]
    ProviderDown(String),
    #[error("the provider refused the code: {0}")]
    Exchange(String),
    #[error("the provider sent no ID token")]
    NoIdToken,
    #[error("the ID token does not check out: {0}")]
    BadIdToken(String),
}

/// A sign-in on its way through the provider: kept in the browser's session until the
/// callback, which takes it out (so it works once).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub started_at: i64,
    /// The hash of the invitation being accepted, when the sign-in started on an invite page.
    pub invite_hash: Option<String>,
}

/// The person the provider vouches for, from a checked ID token.
#[derive(Clone, Debug)]
pub struct Person {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// `false` when the provider says it has not checked the email.
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// How people sign in on this server: the provider, if any, and who may use a password.
#[derive(Clone, Default)]
pub struct SignIn {
    pub oidc: Option<Arc<Oidc>>,
    pub password: app::api::PasswordSignIn,
}

impl SignIn {
    /// Whether someone with this role may sign in with a password.
    pub fn password_allowed(&self, role: app::domain::UserRole) -> bool {
        match self.password {
            app::api::PasswordSignIn::On => true,
            app::api::PasswordSignIn::Admins => role == app::domain::UserRole::Admin,
            app::api::PasswordSignIn::Off => false,
        }
    }

    /// What the sign-in page shows.
    pub fn options(&self) -> app::api::SignInOptions {
        app::api::SignInOptions {
            provider_label: self.oidc.as_ref().map(|o| o.settings.label.clone()),
            password: self.password,
        }
    }
}

/// Who a first sign-in is let in as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Member,
    Admin,
    Refused,
}

pub struct Oidc {
    pub settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    /// The provider's metadata and keys, and when they were fetched.
    cached: RwLock<Option<(Arc<Client>, Instant)>>,
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> anyhow::Result<Oidc> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| anyhow::anyhow!("AUTOPILOT_OIDC_ISSUER is not a URL: {e}"))?;
        let redirect = RedirectUrl::new(settings.redirect_uri.clone())
            .map_err(|e| anyhow::anyhow!("the redirect URI is not a URL: {e}"))?;
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let the provider's answers send us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("the HTTP client for the provider: {e}"))?;
        Ok(Oidc {
            settings,
            issuer,
            redirect,
            http,
            cached: RwLock::new(None),
        })
    }

    /// The client for the provider, from the cache while it is fresh.
    async fn client(&self) -> Result<Arc<Client>, OidcError> {
        if let Some((client, at)) = self.cached.read().await.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(client.clone());
            }
        }
        self.refresh().await
    }

    /// Fetches the discovery document and the keys again.
    async fn refresh(&self) -> Result<Arc<Client>, OidcError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::ProviderDown(e.to_string()))?;
        let client = Client::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone());
        let client = Arc::new(client);
        *self.cached.write().await = Some((client.clone(), Instant::now()));
        tracing::info!(issuer = %self.settings.issuer, "fetched the provider's metadata and keys");
        Ok(client)
    }

    /// Where to send the browser, and what to keep for the callback.
    pub async fn start(
        &self,
        now_ms: i64,
        invite_hash: Option<String>,
    ) -> Result<(String, Pending), OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            started_at: now_ms,
            invite_hash,
        };
        Ok((url.to_string(), pending))
    }

    /// Trades the code for tokens (with the PKCE verifier) and checks the ID token. The
    /// caller has already matched `state` and taken `pending` out of the session.
    pub async fn finish(&self, pending: &Pending, code: &str) -> Result<Person, OidcError> {
        let client = self.client().await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::ProviderDown(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(exchange_error(&e)))?;
        let id_token = tokens.id_token().ok_or(OidcError::NoIdToken)?;
        let nonce = Nonce::new(pending.nonce.clone());
        let verify = |client: &Client| {
            let verifier = client.id_token_verifier();
            id_token.claims(&verifier, &nonce).cloned()
        };
        let checked = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key we do not hold: the provider rotated its keys. Fetch them once more.
                tracing::info!("the ID token names a key we do not hold; fetching the keys again");
                let fresh = self.refresh().await?;
                verify(&fresh)
            }
            other => other,
        };
        let claims = checked.map_err(|e| OidcError::BadIdToken(e.to_string()))?;
        let groups = match claims
            .additional_claims()
            .0
            .get(&self.settings.groups_claim)
        {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(Person {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified() != Some(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            groups,
        })
    }

    /// Whether a person signing in for the first time may come in, and as what. Someone in an
    /// admin group comes in as admin; else a verified email in an allowed domain, or a group
    /// in the allowed ones, makes a member. With neither list set nobody comes in on their
    /// own (only by invitation).
    pub fn admit(&self, person: &Person) -> Admission {
        let s = &self.settings;
        let in_any = |groups: &[String]| person.groups.iter().any(|g| groups.contains(g));
        if in_any(&s.admin_groups) {
            return Admission::Admin;
        }
        let domain_ok = person.email_verified
            && person
                .email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .is_some_and(|(_, domain)| s.allowed_domains.contains(&domain.to_lowercase()));
        if domain_ok || in_any(&s.allowed_groups) {
            Admission::Member
        } else {
            Admission::Refused
        }
    }
}

/// The provider's own error code and words when it gave some; nothing of the request.
fn exchange_error<RE: std::error::Error + 'static>(
    error: &openidconnect::RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match error {
        openidconnect::RequestTokenError::ServerResponse(response) => response.to_string(),
        openidconnect::RequestTokenError::Request(_) => "the provider cannot be reached".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(domains: &[&str], groups: &[&str], admins: &[&str]) -> Oidc {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Oidc::new(OidcSettings {
            issuer: "https://id.example.com".into(),
            client_id: "autopilot".into(),
            client_secret: None,
            redirect_uri: "https://board.example.com/auth/oidc/callback".into(),
            label: "Example".into(),
            allowed_domains: list(domains),
            allowed_groups: list(groups),
            admin_groups: list(admins),
            groups_claim: "groups".into(),
        })
        .unwrap()
    }

    fn person(email: &str, verified: bool, groups: &[&str]) -> Person {
        Person {
            issuer: "https://id.example.com".into(),
            subject: "s".into(),
            email: Some(email.into()),
            email_verified: verified,
            name: None,
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn single_sign_on_needs_the_public_url_a_client_id_and_one_secret() {
        use crate::config::SignInArgs;
        let args = SignInArgs {
            oidc_issuer: Some("https://id.example.com".into()),
            oidc_client_id: Some("autopilot".into()),
            oidc_groups_claim: "groups".into(),
            oidc_allowed_domains: vec![" @Example.com".into(), "".into()],
            ..Default::default()
        };
        let said = args.oidc(None).unwrap_err().to_string();
        assert!(said.contains("needs AUTOPILOT_PUBLIC_URL"), "{said}");
        let settings = args
            .oidc(Some("https://Board.example.com/x"))
            .unwrap()
            .unwrap();
        assert_eq!(
            settings.redirect_uri,
            "https://board.example.com/auth/oidc/callback"
        );
        assert_eq!(settings.allowed_domains, vec!["example.com".to_string()]);
        let no_client = SignInArgs {
            oidc_client_id: None,
            ..args.clone()
        };
        assert!(no_client.oidc(Some("https://b.example")).is_err());
        let two_secrets = SignInArgs {
            oidc_client_secret: Some("s".into()),
            oidc_client_secret_file: Some("/nonexistent".into()),
            ..args.clone()
        };
        assert!(two_secrets.oidc(Some("https://b.example")).is_err());
        // Passwords off with no provider would lock everyone out.
        let locked_out = SignInArgs {
            password_signin: app::api::PasswordSignIn::Off,
            ..Default::default()
        };
        assert!(locked_out.oidc(None).is_err());
        assert!(SignInArgs::default().oidc(None).unwrap().is_none());
    }

    #[test]
    fn admission_follows_domains_and_groups() {
        let o = oidc(&["example.com"], &["staff"], &["ops"]);
        assert_eq!(
            o.admit(&person("a@example.com", true, &[])),
            Admission::Member
        );
        assert_eq!(
            o.admit(&person("a@Example.COM", true, &[])),
            Admission::Member
        );
        // An unverified email proves nothing.
        assert_eq!(
            o.admit(&person("a@example.com", false, &[])),
            Admission::Refused
        );
        assert_eq!(
            o.admit(&person("a@elsewhere.test", true, &[])),
            Admission::Refused
        );
        assert_eq!(
            o.admit(&person("a@elsewhere.test", true, &["staff"])),
            Admission::Member
        );
        assert_eq!(
            o.admit(&person("a@elsewhere.test", true, &["ops"])),
            Admission::Admin
        );
        // A look-alike domain is not the domain.
        assert_eq!(
            o.admit(&person("a@notexample.com", true, &[])),
            Admission::Refused
        );
        let nobody = oidc(&[], &[], &[]);
        assert_eq!(
            nobody.admit(&person("a@example.com", true, &["staff"])),
            Admission::Refused
        );
    }
}
