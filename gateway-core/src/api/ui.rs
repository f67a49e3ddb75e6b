//! The operator UI at `/ui`: the Vite build of `frontend/` (`frontend/dist`),
//! embedded in the binary by `rust-embed` (release builds; debug builds read
//! the folder at run time, so a rebuilt UI needs no cargo rebuild). `/`
//! redirects to `/ui/`.
//!
//! - Unknown paths without a file extension get `index.html` (the UI routes
//!   in the URL hash, but a reload of a deep link must not 404); a missing
//!   file *with* an extension is a 404, so a stale asset link shows up.
//! - Hashed files under `assets/` are cached for a year (`immutable`);
//!   everything else is `no-cache` with an `ETag` (the SHA-256 of the file).
//! - Every answer carries a strict CSP (`default-src 'self'`, no inline
//!   script or style; `connect-src` also allows the desktop shell's IPC
//!   origins), `nosniff`, `no-referrer` and `frame-ancestors 'none'`.
//! - When the UI was not built (a fresh checkout, cargo-only builds) the
//!   folder is allowed to be missing and `/ui` answers 503 with a page that
//!   says how to build it.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rust_embed::Embed;

#[derive(Embed)]
// `frontend/dist`, as a canonical absolute path from build.rs.
#[folder = "$AIGW_UI_DIST"]
#[allow_missing = true]
struct Assets;

/// The content security policy of every UI answer. `ipc:` and
/// `http://ipc.localhost` are where the Tauri window's `invoke` goes when it
/// loads this page; a browser cannot reach either.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
font-src 'self'; connect-src 'self' ipc: http://ipc.localhost; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>AI Model Gateway: UI not built</title></head>
<body>
<h1>The operator UI was not built</h1>
<p>This <code>aigw</code> binary was compiled without <code>frontend/dist</code>. The gateway itself works:
the OpenAI API is at <code>/v1</code> and the admin API at <code>/admin/api</code>.</p>
<p>To build the UI, from the repository root (Node.js 20.19+ and npm):</p>
<pre>npm --prefix frontend ci &amp;&amp; npm --prefix frontend run build</pre>
<p>A debug build of <code>aigw</code> picks the files up at once; a release build embeds them, so rebuild it
afterwards (<code>cargo build --release</code>).</p>
</body></html>
";

/// `/`, `/ui`, `/ui/` and `/ui/{*path}`, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(|headers: HeaderMap| async move { serve("", &headers) }))
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// The content type for a file name, by extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Vite puts content-hashed files under `assets/`: they never change.
pub fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        IMMUTABLE
    } else {
        NO_CACHE
    }
}

/// Whether the last path segment names a file (has an extension).
fn looks_like_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

/// Paths that could leave the folder are refused before any lookup.
fn safe(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|seg| seg != ".." && seg != ".")
}

fn with_security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn plain(status: StatusCode, body: &'static str, content_type: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    with_security_headers(resp)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let path = path.trim_start_matches('/');
    if !safe(path) {
        return plain(
            StatusCode::NOT_FOUND,
            "not found\n",
            "text/plain; charset=utf-8",
        );
    }
    let name = if path.is_empty() { "index.html" } else { path };
    let (name, file) = match Assets::get(name) {
        Some(f) => (name, f),
        None if name != "index.html" && looks_like_file(name) => {
            return plain(
                StatusCode::NOT_FOUND,
                "not found\n",
                "text/plain; charset=utf-8",
            );
        }
        // SPA fallback: a deep link gets the app.
        None => match Assets::get("index.html") {
            Some(f) => ("index.html", f),
            None => {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    NOT_BUILT,
                    "text/html; charset=utf-8",
                );
            }
        },
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = cache_control(name);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = file.data.into_owned().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(name)),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    with_security_headers(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        routes::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[test]
    fn content_types_and_caching() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-AbC123.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-AbC123.CSS"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("x.woff2"), "font/woff2");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(cache_control("assets/index-AbC123.js"), IMMUTABLE);
        assert_eq!(cache_control("index.html"), NO_CACHE);
        assert_eq!(cache_control("favicon.svg"), NO_CACHE);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "../Cargo.toml",
            "assets/../../x",
            "/etc/passwd",
            "a\\b",
            "./index.html",
        ] {
            assert!(!safe(bad), "{bad}");
        }
        for ok in ["", "index.html", "assets/index-1.js", "deep/link"] {
            assert!(safe(ok), "{ok}");
        }
    }

    #[tokio::test]
    async fn root_and_bare_ui_redirect() {
        for p in ["/", "/ui"] {
            let r = get(p, &[]).await;
            assert!(r.status().is_redirection(), "{p}: {}", r.status());
            assert_eq!(r.headers()[header::LOCATION], "/ui/");
        }
    }

    /// Works whether or not `frontend/dist` was built: the app (200) or the
    /// "not built" page (503), with the CSP either way.
    #[tokio::test]
    async fn index_or_not_built_page_with_csp() {
        let built = Assets::get("index.html").is_some();
        for p in ["/ui/", "/ui/providers/deep/link"] {
            let r = get(p, &[]).await;
            let expected = if built {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            assert_eq!(r.status(), expected, "{p}");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert_eq!(r.headers()[header::CACHE_CONTROL], NO_CACHE);
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        assert!(CSP.starts_with("default-src 'self'"));
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
    }

    #[tokio::test]
    async fn missing_files_are_404_not_the_app() {
        let r = get("/ui/assets/index-doesnotexist.js", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = get("/ui/../Cargo.toml", &[]).await;
        assert_ne!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn built_assets_are_immutable_and_revalidate() {
        let Some(asset) = Assets::iter().find(|p| p.starts_with("assets/")) else {
            return; // UI not built in this checkout: covered by the test above
        };
        let r = get(&format!("/ui/{asset}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(r.headers()[header::CONTENT_TYPE], content_type(&asset));
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        let r = get(&format!("/ui/{asset}"), &[("if-none-match", &etag)]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }
}
