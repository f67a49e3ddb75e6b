//! The guard in front of every route. A web page must not be able to spend
//! the user's provider credit:
//! - Host must be an IP literal, `localhost` (or `*.localhost`), or listed in
//!   `server.allowed_hosts` — a DNS-rebinding page sends its own name.
//! - A browser request from a foreign `Origin` (or `Sec-Fetch-Site:
//!   cross-site`) that writes is refused unless the origin is in
//!   `server.cors_origins`; those get CORS headers and preflight answers.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::ApiError;
use crate::config::ServerConfig;
use crate::providers::Endpoint;
use crate::server::AppState;

pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let rt = state.runtime.load();
    let server = &rt.config.server;
    // Refusals in the shape the client's SDK parses.
    let shape = if req.uri().path().starts_with("/v1/messages") {
        Endpoint::Messages
    } else {
        Endpoint::ChatCompletions
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if let Some(h) = &host
        && !host_allowed(h, server)
    {
        return ApiError::forbidden(
            "host_not_allowed",
            format!("Host '{h}' is not allowed (DNS rebinding guard); add it to server.allowed_hosts if intended"),
        )
        .into_response_for(shape);
    }
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let cors_origin = origin
        .as_deref()
        .filter(|o| !same_origin(o, host.as_deref()) && cors_allowed(o, server, req.uri().path()));
    if let Some(o) = &origin {
        if !same_origin(o, host.as_deref()) && cors_origin.is_none() && write {
            return ApiError::forbidden(
                "cross_origin_refused",
                format!("cross-origin request from '{o}' refused; allow it in server.cors_origins"),
            )
            .into_response_for(shape);
        }
    } else if write && cross_site(req.headers()) {
        return ApiError::forbidden("cross_origin_refused", "cross-site browser request refused")
            .into_response_for(shape);
    }
    let cors = cors_origin.and_then(|o| HeaderValue::from_str(o).ok());
    if req.method() == Method::OPTIONS {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Some(o) = cors {
            add_cors(resp.headers_mut(), o, true);
        }
        return resp;
    }
    let mut resp = next.run(req).await;
    if let Some(o) = cors {
        add_cors(resp.headers_mut(), o, false);
    }
    resp
}

fn add_cors(h: &mut HeaderMap, origin: HeaderValue, preflight: bool) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-aigw-request-id, x-aigw-provider, x-aigw-model, x-aigw-route-mode, x-aigw-attempts, x-aigw-overhead-ms, retry-after",
        ),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, x-api-key, openai-organization, openai-project, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// Host names a rebinding attack cannot use: IP literals (the page's origin
/// is then the IP itself), `localhost` and `*.localhost` (browsers pin them
/// to loopback), and what the operator listed.
pub fn host_allowed(host: &str, server: &ServerConfig) -> bool {
    let name = strip_port(host).to_ascii_lowercase();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    server
        .allowed_hosts
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(&name) || a.eq_ignore_ascii_case(host))
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split_once(']')
            .map_or(host, |(ip, _)| &host[..ip.len() + 2]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

fn cors_allowed(origin: &str, server: &ServerConfig, path: &str) -> bool {
    // Never CORS on anything but the client API.
    (path.starts_with("/v1/") || path == "/healthz")
        && server
            .cors_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
}

fn cross_site(h: &HeaderMap) -> bool {
    h.get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn server(extra: &str) -> ServerConfig {
        Config::parse(&format!("[server]\n{extra}\n"), "t")
            .unwrap()
            .server
    }

    #[test]
    fn host_allow_list() {
        let s = server("");
        for ok in [
            "127.0.0.1:4000",
            "localhost:4000",
            "LOCALHOST",
            "[::1]:4000",
            "app.localhost:4000",
            "192.168.1.5:4000",
        ] {
            assert!(host_allowed(ok, &s), "{ok}");
        }
        for bad in [
            "evil.example:4000",
            "localhost.evil.example",
            "attacker.com",
        ] {
            assert!(!host_allowed(bad, &s), "{bad}");
        }
        let s = server("allowed_hosts = [\"gw.internal\"]");
        assert!(host_allowed("gw.internal:4000", &s));
        assert!(!host_allowed("other.internal:4000", &s));
    }

    #[test]
    fn origins() {
        assert!(same_origin("http://127.0.0.1:4000", Some("127.0.0.1:4000")));
        assert!(!same_origin("http://evil.example", Some("127.0.0.1:4000")));
        assert!(!same_origin("null", Some("127.0.0.1:4000")));
        let s = server("cors_origins = [\"http://localhost:5173\"]");
        assert!(cors_allowed(
            "http://localhost:5173",
            &s,
            "/v1/chat/completions"
        ));
        assert!(!cors_allowed(
            "http://localhost:5173",
            &s,
            "/admin/api/config"
        ));
        assert!(!cors_allowed(
            "http://evil.example",
            &s,
            "/v1/chat/completions"
        ));
    }
}
