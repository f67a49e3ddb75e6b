//! The guard in front of every route. A web page must not be able to spend
//! the user's provider credit:
//! - Host must be an IP literal, `localhost` (or `*.localhost`), or listed in
//!   `server.allowed_hosts` — a DNS-rebinding page sends its own name.
//! - A browser request from a foreign `Origin` (or `Sec-Fetch-Site:
//!   cross-site`) that writes is refused unless the origin is in
//!   `server.cors_origins`; those get CORS headers and preflight answers.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};

use super::ApiError;
use super::error::shape_for;
use crate::config::ServerConfig;
use crate::state::AppState;

pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let rt = state.runtime.load();
    let server = &rt.config.server;
    // Refusals in the shape the client's SDK parses.
    let shape = shape_for(req.uri().path());
    let host = match host_of(&req) {
        Ok(h) => h,
        Err(why) => {
            return ApiError::forbidden("host_not_allowed", why).into_response_for(shape);
        }
    };
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
            "x-aigw-request-id, x-aigw-provider, x-aigw-model, x-aigw-route-mode, x-aigw-attempts, x-aigw-overhead-ms, x-aigw-token-count, retry-after",
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
                "authorization, content-type, x-api-key, openai-organization, openai-project, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, x-aigw-key",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// The host a request names: its one `Host` header, or (HTTP/2, which may
/// send none) its `:authority`; `None` when it names none. Refused: a Host
/// that is not text, more than one Host, and on HTTP/1 a request target in
/// absolute or authority form (`GET http://evil.example/…`) — the gateway is
/// no proxy, and such a target would name a host besides the Host header.
fn host_of(req: &Request) -> Result<Option<String>, String> {
    let h1 = matches!(
        req.version(),
        Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
    );
    if h1 && (req.uri().scheme().is_some() || req.uri().authority().is_some()) {
        return Err(
            "absolute-form request targets are refused (DNS rebinding guard): send the path only"
                .into(),
        );
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err("more than one Host header".into()),
        (Some(h), None) => match h.to_str() {
            // HTTP/2 may send both: they must agree.
            Ok(h)
                if req
                    .uri()
                    .authority()
                    .is_some_and(|a| !a.as_str().eq_ignore_ascii_case(h)) =>
            {
                Err("the Host header and the request's :authority differ".into())
            }
            Ok(h) => Ok(Some(h.to_string())),
            Err(_) => Err("the Host header is not valid text (DNS rebinding guard)".into()),
        },
        (None, _) => Ok(req.uri().authority().map(|a| a.to_string())),
    }
}

/// Host names a rebinding attack cannot use: IP literals (the page's origin
/// is then the IP itself), `localhost` and `*.localhost` (browsers pin them
/// to loopback), and what the operator listed. A Host that is not of the
/// form `name[:port]` or `[IPv6][:port]` is refused.
pub fn host_allowed(host: &str, server: &ServerConfig) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    if name.starts_with('[')
        || name.parse::<Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
    {
        return true;
    }
    server
        .allowed_hosts
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(&name) || a.eq_ignore_ascii_case(host))
}

/// The name of a well-formed Host value, lower-cased: `[IPv6]` (brackets
/// kept) followed by nothing or `:port`, or a name of letters, digits, `-`,
/// `.` and `_` followed by nothing or `:port`.
fn host_name(host: &str) -> Option<String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        ip.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':')?),
        };
        (&host[..ip.len() + 2], port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        };
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !name_ok {
            return None;
        }
        (name, port)
    };
    if let Some(p) = port {
        let ok = (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65535);
        if !ok {
            return None;
        }
    }
    Some(name.to_ascii_lowercase())
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
            "[::1].evil.com",
            "[::1]evil.com:4000",
            "[::1]:4000.evil.com",
            "[::1]:",
            "::1",
            "[evil.com]",
            "127.0.0.1:4000:80",
            "127.0.0.1:99999",
            "localhost:port",
            "evil.com/localhost",
            "evil.com@localhost",
            "",
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
