//! The published contract, `/api/openapi.json`, held against the router both ways: every
//! operation it describes is served (a request reaches its handler, not the router's
//! fallback, and gets one of the statuses the contract lists), and no route is registered
//! outside it (every route of the server goes through `utoipa_axum::routes!`, which writes
//! the route and its description in one step). The board's own pages and server functions
//! are the one exception: they are the page's private calls, built and shipped with it.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::{Caller, TestApp};
use serde_json::Value;

async fn the_contract(app: &TestApp) -> Value {
    let spec = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/api/openapi.json",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(spec.status, StatusCode::OK, "{}", spec.text());
    spec.json()
}

/// The contract is public, OpenAPI 3.1, names both ways in, and describes the error shape.
async fn the_contract_is_public_and_describes_auth_and_errors() {
    let app = TestApp::new().await;
    let spec = the_contract(&app).await;
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        spec["openapi"]
    );
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    let error = &spec["components"]["schemas"]["ErrorBody"];
    assert!(error["properties"]["error"].is_object(), "{error}");
    // A protected operation needs either way in; the public ones need none.
    assert!(spec["security"].as_array().unwrap().len() == 2);
    let feedback = &spec["paths"]["/api/autopilot/feedback"]["post"];
    assert_eq!(feedback["security"], serde_json::json!([]));
    // Each protected operation names the scope its token needs; a missing one is a 403.
    let list = &spec["paths"]["/api/autopilot/issues"]["get"];
    let needs = |scope: &str| serde_json::json!([{"bearer": [scope]}, {"session": []}]);
    assert_eq!(list["security"], needs("read"), "{list}");
    for status in ["401", "403", "404", "429"] {
        assert!(list["responses"][status].is_object(), "{status}");
    }
    let status = &spec["paths"]["/api/autopilot/issues/{id}/status"]["post"];
    assert_eq!(status["security"], needs("move"));
    assert_eq!(
        spec["paths"]["/api/autopilot/issues"]["post"]["security"],
        needs("write")
    );
    assert_eq!(spec["paths"]["/metrics"]["get"]["security"], needs("admin"));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = &operation["security"];
            if security == &serde_json::json!([]) {
                continue;
            }
            let scopes = security[0]["bearer"].as_array();
            assert!(
                // All of them (request-changes moves the issue and comments on it).
                scopes.is_some_and(|s| !s.is_empty()),
                "{method} {path} does not say which scope its token needs: {security}"
            );
            assert!(
                operation["responses"]["403"].is_object(),
                "{method} {path} does not list the 403 of a missing scope"
            );
        }
    }
}

/// Each operation of the contract reaches its handler and answers a status it lists.
async fn every_operation_in_the_contract_is_served() {
    let app = TestApp::new().await;
    let id = app.create("A real issue").await["id"].as_i64().unwrap();
    let spec = the_contract(&app).await;
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    // Operation ids name the links between operations: each must be unique.
    let mut ids = std::collections::BTreeSet::new();
    for item in paths.values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
            }
        }
    }
    let admin = app.admin();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let uri = path.replace("{id}", &id.to_string());
            let method = method.to_uppercase();
            let reply = if uri.ends_with("/stream") || uri.ends_with("/log") {
                app.status_only(&admin, &method, &uri).await
            } else {
                app.call(&admin, &method, &uri, None, Body::empty()).await
            };
            let what = format!("{method} {path}: {} {}", reply.status, reply.text());
            assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
            // The router's own 404s: the API's, and the plain page for any other address.
            let fallback = reply.status == StatusCode::NOT_FOUND
                && (reply.text().contains("API route not found")
                    || reply
                        .text()
                        .contains("<title>Not found · Autopilot</title>"));
            assert!(!fallback, "not served: {what}");
            let listed = operation["responses"]
                .as_object()
                .unwrap()
                .contains_key(reply.status.as_str());
            assert!(listed, "a status the contract does not list: {what}");
        }
    }
}

/// The reference page is Swagger UI from the binary itself, under the board's policy: its
/// scripts are files of this server, none inline and nothing from elsewhere.
async fn the_reference_page_is_served_under_the_boards_policy() {
    let app = TestApp::new().await;
    let get = |path: &'static str| app.call(&Caller::Anonymous, "GET", path, None, Body::empty());
    let page = get("/api/docs/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let policy = page.headers[axum::http::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(!page.text().contains("https://"), "{}", page.text());
    let initializer = get("/api/docs/swagger-initializer.js").await;
    assert!(initializer.text().contains("/api/openapi.json"));
    let bundle = get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, StatusCode::OK);
}

/// The limits the contract states are the ones the domain enforces, and the models it lists
/// are this board's.
async fn the_contract_states_the_domains_limits() {
    use app::domain::{ASSIGNEE_MAX_CHARS, BODY_MAX_BYTES, DEPENDS_ON_MAX, TITLE_MAX_CHARS};
    let app = TestApp::new().await;
    let spec = the_contract(&app).await;
    let new = &spec["components"]["schemas"]["NewIssue"]["properties"];
    assert_eq!(new["title"]["maxLength"], TITLE_MAX_CHARS);
    assert_eq!(new["body"]["maxLength"], BODY_MAX_BYTES);
    assert_eq!(new["assignee"]["maxLength"], ASSIGNEE_MAX_CHARS);
    assert_eq!(new["depends_on"]["maxItems"], DEPENDS_ON_MAX);
    assert_eq!(
        new["status"]["enum"],
        serde_json::json!(["backlog", "ready", null])
    );
    assert_eq!(
        new["model"]["enum"],
        serde_json::json!(["model-a", "model-b", "", null])
    );
    let patch = &spec["components"]["schemas"]["IssuePatch"]["properties"];
    assert_eq!(patch["title"]["maxLength"], TITLE_MAX_CHARS);
    assert_eq!(patch["model"], new["model"]);
}

/// What Schemathesis found, each kept fixed: input the contract calls invalid is refused,
/// and the refusal is one the contract lists.
async fn what_schemathesis_found_stays_fixed() {
    let app = TestApp::new().await;
    let id = app.create("A real issue").await["id"].as_i64().unwrap();
    // Search words and assignee over their stated length: a 400, not an empty list.
    let long_q = format!("/api/autopilot/issues?q={}", "0".repeat(201));
    assert_eq!(app.get(&long_q).await.status, StatusCode::BAD_REQUEST);
    let long_assignee = format!("/api/autopilot/issues?assignee={}", "a".repeat(101));
    assert_eq!(
        app.get(&long_assignee).await.status,
        StatusCode::BAD_REQUEST
    );
    // A NUL in the search words or the assignee (PostgreSQL refuses one in any text): an
    // answer, not a 500. The words match as if the NUL were a space; the assignee, nobody.
    let r = app.get("/api/autopilot/issues?q=A%00real&limit=5").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["issues"][0]["id"], id);
    let r = app
        .get("/api/autopilot/issues?assignee=ann%00&limit=5")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["issues"], serde_json::json!([]));
    let r = app
        .call(
            &app.member(),
            "GET",
            "/?q=%F2%97%AD%A4%00x",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A title over 200 characters as sent is too long, even if tidying would shorten it.
    let spaced = format!("a{}b", " ".repeat(199));
    let r = app
        .json(
            "POST",
            "/api/autopilot/issues",
            serde_json::json!({ "title": spaced }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    // An upload with a part besides `file` is refused, and nothing is stored.
    let body = "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n\
                --XB\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n42\r\n--XB--\r\n";
    let path = format!("/api/autopilot/issues/{id}/attachments");
    let r = app
        .raw("POST", &path, "multipart/form-data; boundary=XB", body)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(app.get(&path).await.json(), serde_json::json!([]));
    // A sign-in or set-up post that is no form: 415 in the error shape, not a redirect.
    for form in ["/login", "/setup"] {
        let r = app
            .call(&Caller::Anonymous, "POST", form, None, Body::empty())
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{form}");
        assert_eq!(r.error_code(), "unsupported_media_type", "{form}");
    }
}

on_both_engines!(
    what_schemathesis_found_stays_fixed,
    the_contract_states_the_domains_limits,
    the_reference_page_is_served_under_the_boards_policy,
    the_contract_is_public_and_describes_auth_and_errors,
    every_operation_in_the_contract_is_served,
);

/// No route is registered with plain axum calls in the server's code (outside its tests):
/// a route added that way would be missing from the contract.
#[test]
fn no_route_is_registered_outside_the_contract() {
    let mut offenders = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests sit at the end of a file; their routers are theirs.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let registers = [".route(", ".route_service(", ".nest(", ".nest_service("]
                    .iter()
                    .any(|call| line.contains(call));
                if registers && !line.trim_start().starts_with("//") {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "register routes with `utoipa_axum::routes!` so the contract describes them:\n{}",
        offenders.join("\n")
    );
}
