//! The built site's files: the wasm, its JS glue, the stylesheet and `public/`.
//!
//! A release build (`cargo leptos build --release --precompress`) names the wasm, JS and CSS
//! after their content (`autopilot.<hash>.wasm`, listed in `hash.txt` next to the binary) and
//! leaves `.br` and `.gz` copies beside each file, compressed once at build time. Hashed
//! files never change, so browsers keep them for a year without asking again; anything else
//! is revalidated on every use (`Last-Modified`), so a rebuild shows at once.

use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::response::Response;
use leptos::prelude::LeptosOptions;
use std::path::PathBuf;
use std::sync::OnceLock;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Where Leptos looks for the build's file hashes: next to the running binary.
fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// True when the build named its files after their content. The binary then links to the
/// hashed names; a binary without `hash.txt` beside it (tests, a debug build without hashing)
/// links to the plain names, so it never points at files that do not exist.
pub fn built_with_hashes(options: &LeptosOptions) -> bool {
    hash_file(options).is_some_and(|path| path.is_file())
}

/// `/pkg/autopilot.<hash>.css`, for pages written by hand (the rest use `HashedStylesheet`).
pub fn stylesheet_href(options: &LeptosOptions) -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let hashes = options
            .hash_files
            .then(|| hash_file(options))
            .flatten()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let css_hash = hashes.lines().find_map(|line| {
            let (kind, hash) = line.split_once(':')?;
            (kind.trim() == "css").then(|| hash.trim().to_string())
        });
        let name = &options.output_name;
        let pkg = &options.site_pkg_dir;
        match css_hash {
            Some(hash) => format!("/{pkg}/{name}.{hash}.css"),
            None => format!("/{pkg}/{name}.css"),
        }
    })
}

/// Sets how long a browser may keep a static file: hashed build outputs for good, the rest
/// until they change.
pub fn with_cache_policy(path: &str, hashed: bool, mut response: Response) -> Response {
    if !(response.status().is_success() || response.status().as_u16() == 304) {
        return response;
    }
    let policy = if hashed && path.starts_with("/pkg/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn ok() -> Response {
        Response::new(Body::empty())
    }

    fn policy(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn only_hashed_build_outputs_are_immutable() {
        let hashed = with_cache_policy("/pkg/autopilot.abc.wasm", true, ok());
        assert_eq!(policy(&hashed), Some(IMMUTABLE));
        let plain = with_cache_policy("/pkg/autopilot.wasm", false, ok());
        assert_eq!(policy(&plain), Some(REVALIDATE));
        let public = with_cache_policy("/favicon.svg", true, ok());
        assert_eq!(policy(&public), Some(REVALIDATE));
        let mut missing = ok();
        *missing.status_mut() = axum::http::StatusCode::NOT_FOUND;
        let missing = with_cache_policy("/pkg/autopilot.abc.wasm", true, missing);
        assert_eq!(policy(&missing), None);
    }
}
