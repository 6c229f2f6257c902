//! The API's published contract: OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! annotations and the domain types' schemas, so it cannot drift from the code. Every route
//! outside the board's own pages and server functions is registered through
//! `utoipa_axum::routes!`, which puts it in the router and in the spec in one step.
//!
//! Served at `/api/openapi.json` (public: it holds no data), with Swagger UI's reference page
//! at `/api/docs`, its files compiled into the binary (nothing from a CDN).

use super::AppState;
use app::error::ErrorBody;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi, RefOr, Response as ApiResponse, ResponseBuilder,
    SecurityRequirement,
};
use utoipa::{IntoResponses, Modify, OpenApi as _, PartialSchema};

/// Where the spec and its reference page are served.
const SPEC_PATH: &str = "/api/openapi.json";
const DOCS_PATH: &str = "/api/docs";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Autopilot",
        description = "The board's JSON API (under the original plugin's paths, `/api/autopilot`), \
            the public feedback route, sign-in forms and health. Authenticate with a bearer token \
            (`autopilot token create`) or, from the board's own pages, the session cookie. Every \
            error answer is `{\"error\": {\"code\", \"message\"}}`. Times are Unix milliseconds (UTC).",
        license(name = "MIT")
    ),
    paths(login_page, setup_page),
    modifiers(&Security),
    tags(
        (name = "issues", description = "Issues, their threads, attachments and history"),
        (name = "runs", description = "The agent runner's records"),
        (name = "live", description = "Changes as they happen"),
        (name = "feedback", description = "The public widget's route and scripts"),
        (name = "sign-in", description = "The board's sign-in and first-run forms"),
        (name = "service", description = "Health, metrics and this contract"),
        (name = "mcp", description = "The board as a Model Context Protocol server, for coding agents"),
        (name = "webhooks", description = "Endpoints told of the board's events (admins), and the requests they get (see `webhooks`)"),
    ),
    components(schemas(
        super::webhooks::WebhookPayload,
        super::webhooks::WebhookData,
        super::webhooks::WebhookIssue,
        super::webhooks::WebhookComment,
        super::webhooks::WebhookRun,
    ))
)]
struct ApiDoc;

/// The sign-in page, rendered by the board's app (its form posts to `POST /login`).
#[utoipa::path(get, path = "/login", tag = "sign-in", security(()),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 303, description = "Already signed in: on to the board", headers(("Location" = String)))))]
#[allow(dead_code)] // describes a page of the app; Leptos serves it
fn login_page() {}

/// The first-run page (its form posts to `POST /setup`); once anyone exists, it sends the
/// browser to the sign-in page.
#[utoipa::path(get, path = "/setup", tag = "sign-in", security(()),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 303, description = "Already set up: to the sign-in page", headers(("Location" = String)))))]
#[allow(dead_code)] // describes a page of the app; Leptos serves it
fn setup_page() {}

/// The base document the routers add their operations to.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// Names of the two ways in, as the operations' `security` refers to them.
pub const BEARER: &str = "bearer";
pub const SESSION: &str = "session";

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `autopilot token create` or `/account/tokens`: `Authorization: \
                         Bearer <token>`. Each operation lists the scope its token needs \
                         (read, write, move, admin); the owner's role still applies.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "autopilot_session",
                "The board's session cookie, set by `POST /login` (named \
                 `__Host-autopilot_session` when the board is served over https). Writes with it \
                 must come from the board's own origin.",
            ))),
        );
        // Either one; the public operations say `security: []` for themselves.
        api.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(SESSION, Vec::<String>::new()),
        ]);
    }
}

/// Gives the operations the router registered with an empty `security` list (utoipa writes
/// `security(())` as `[{}]`, "optional"; public routes want `[]`, "none").
pub fn finish(mut api: OpenApi) -> OpenApi {
    for item in api.paths.paths.values_mut() {
        for method in [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Patch,
            HttpMethod::Put,
            HttpMethod::Delete,
            HttpMethod::Options,
            HttpMethod::Head,
        ] {
            if let Some(op) = operation_mut(item, &method) {
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &SecurityRequirement::default()));
                if public {
                    op.security = Some(Vec::new());
                }
            }
        }
    }
    api
}

/// The models and agents an issue may name are this board's (AUTOPILOT_MODELS, AUTOPILOT_AGENT
/// and AUTOPILOT_AGENTS): the contract lists them, with `""` and `null` for the default.
pub fn with_choices(mut api: OpenApi, models: &[String], agents: &[String]) -> OpenApi {
    let one_of = |names: &[String], description: &str| -> RefOr<Schema> {
        let choices = names
            .iter()
            .map(|m| serde_json::Value::from(m.as_str()))
            .chain([serde_json::Value::from(""), serde_json::Value::Null]);
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .enum_values(Some(choices))
            .description(Some(description))
            .into()
    };
    let model = one_of(
        models,
        "One of this board's models, or empty for the runner's default",
    );
    let agent = one_of(
        agents,
        "One of this board's agents, or empty for its default agent",
    );
    if let Some(components) = api.components.as_mut() {
        for name in ["NewIssue", "IssuePatch"] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                object.properties.insert("model".into(), model.clone());
                object.properties.insert("agent".into(), agent.clone());
            }
        }
    }
    api
}

fn operation_mut<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &HttpMethod,
) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        HttpMethod::Options => item.options.as_mut(),
        HttpMethod::Head => item.head.as_mut(),
        HttpMethod::Trace => item.trace.as_mut(),
    }
}

/// One error answer in the one error shape.
fn error(description: &str) -> RefOr<ApiResponse> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ErrorBody::schema()))
                .build(),
        )
        .build()
        .into()
}

/// The errors a protected route that reads can answer.
pub struct ReadErrors;

impl IntoResponses for ReadErrors {
    fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
        BTreeMap::from([
            ("400".into(), error("The request is malformed (`bad_request`): a path or query value of the wrong type.")),
            ("401".into(), error("No valid token or session (`unauthorized`): none sent, revoked, or past its expiry.")),
            ("403".into(), error("A token without the scope this operation needs (`forbidden`): the message names it, e.g. `this token lacks the \"read\" scope` (scopes: read, write, move, admin, runner, mcp).")),
            ("404".into(), error("No such thing (`not_found`).")),
            ("429".into(), error("Too many requests from this caller (`rate_limited`), or too many live streams open (`limit_reached`).")),
            ("503".into(), error("The database is unavailable right now, or the server is at its request limit (`unavailable`): try again.")),
        ])
    }
}

/// The errors a protected route that writes can answer.
pub struct WriteErrors;

impl IntoResponses for WriteErrors {
    fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
        let mut all = ReadErrors::responses();
        all.extend([
            ("403".into(), error("Not allowed (`forbidden`): a write riding on the session cookie from another site, or a token without the scope this operation needs (the message names it: `this token lacks the \"write\" scope`).")),
            ("409".into(), error("Someone changed it first (`conflict`): the `version` sent is not the current one.")),
            ("413".into(), error("The body is over its limit (`payload_too_large`).")),
            ("415".into(), error("The body is not of the content type this route takes (`unsupported_media_type`).")),
            ("422".into(), error("Well-formed, but a value breaks a rule (`invalid`), or the transition rules refuse the move (`move_denied`).")),
        ]);
        all
    }
}

/// The finished document, as served.
#[derive(Clone)]
pub struct SpecJson(pub Arc<str>);

impl SpecJson {
    pub fn new(api: &OpenApi) -> Self {
        let json = serde_json::to_value(api)
            .map(with_event_schemas)
            .map(with_webhooks)
            .and_then(|spec| serde_json::to_string_pretty(&spec));
        match json {
            Ok(json) => SpecJson(json.into()),
            Err(err) => {
                tracing::error!(%err, "encoding the OpenAPI document");
                SpecJson("{}".into())
            }
        }
    }
}

/// The requests an endpoint receives, one per event, in the document's `webhooks` section
/// (which utoipa does not write).
fn with_webhooks(mut spec: serde_json::Value) -> serde_json::Value {
    let mut hooks = serde_json::Map::new();
    for event in app::domain::WebhookEvent::ALL {
        hooks.insert(
            event.as_str().to_string(),
            serde_json::json!({ "post": {
                "summary": format!("{} ({})", event.describe(), event.as_str()),
                "description": "Sent to each endpoint that chose this event (`ping`: every endpoint, from \"Send test event\"). \
                    Signed per Standard Webhooks: `webhook-signature` holds `v1,<base64 HMAC-SHA256>` of \
                    `<webhook-id>.<webhook-timestamp>.<body>` keyed with the endpoint's secret (the base64 \
                    after `whsec_`), one per secret while a rotated-out one still signs. Any 2xx answer \
                    delivers it; anything else is retried with backoff for about a day, in order, with \
                    the same `webhook-id`.",
                "tags": ["webhooks"],
                "parameters": [
                    { "name": "webhook-id", "in": "header", "required": true, "schema": { "type": "string" },
                      "description": "The event's id: the same on every retry and redelivery (drop repeats by it)" },
                    { "name": "webhook-timestamp", "in": "header", "required": true, "schema": { "type": "string" },
                      "description": "Unix seconds when this attempt was signed" },
                    { "name": "webhook-signature", "in": "header", "required": true, "schema": { "type": "string" },
                      "description": "Space-separated `v1,<signature>` values" },
                ],
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/WebhookPayload" } } } },
                "responses": {
                    "2XX": { "description": "Delivered" },
                    "default": { "description": "Not delivered: retried later" },
                },
            }}),
        );
    }
    spec["webhooks"] = serde_json::Value::Object(hooks);
    spec
}

/// The events each live stream sends, by path.
const STREAM_EVENTS: &[(&str, &[&str], &str)] = &[
    (
        "/api/autopilot/stream",
        &["change"],
        "`data` is the `Event` as JSON; `id` is its id",
    ),
    (
        "/api/autopilot/runs/{id}/log",
        &["log", "end"],
        "`log`: the log's new text; `end`: the run is over (`data` is `end`)",
    ),
];

/// Event streams are described one event at a time (`itemSchema`, as OpenAPI 3.2 does and
/// tools already read), since utoipa writes only 3.1's `schema`.
fn with_event_schemas(mut spec: serde_json::Value) -> serde_json::Value {
    for (path, events, about) in STREAM_EVENTS {
        let Some(item) = spec["paths"].get_mut(*path) else {
            continue;
        };
        let Some(media) = item["get"]["responses"]["200"]["content"].get_mut("text/event-stream")
        else {
            continue;
        };
        *media = serde_json::json!({
            "itemSchema": {
                "type": "object",
                "description": about,
                "required": ["event", "data"],
                "properties": {
                    "event": { "type": "string", "enum": events },
                    "data": { "type": "string" },
                    "id": { "type": "string" },
                    "retry": { "type": "integer", "minimum": 0 }
                }
            }
        });
    }
    spec
}

/// This contract.
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi", tag = "service", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)))]
pub async fn spec(axum::Extension(SpecJson(json)): axum::Extension<SpecJson>) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        json.to_string(),
    )
        .into_response()
}

/// The reference page, `/api/docs`: Swagger UI reading [`spec`], read-only (no "try it out":
/// the page would send requests with the reader's session).
pub fn docs() -> Router<AppState> {
    let docs: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        .config(
            utoipa_swagger_ui::Config::from(SPEC_PATH)
                .try_it_out_enabled(false)
                .supported_submit_methods(Vec::<&str>::new()),
        )
        .into();
    docs.layer(axum::middleware::map_response(with_docs_policy))
}

/// Swagger UI's scripts are files, so the board's policy holds with `script-src 'self'`.
async fn with_docs_policy(mut response: Response) -> Response {
    if let Ok(value) = axum::http::HeaderValue::from_str(&app::security::script_files_policy()) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}
