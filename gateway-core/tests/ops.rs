//! Issue 18, operations: the health probes (`/health`, `/ready`,
//! `?detail=true`), the last good version served when the config file is
//! broken at start, `aigw diagnose`, `aigw status`, `aigw backup` /
//! `aigw restore`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;
use testkit::FakeUpstream;

async fn get(gw: &TestGateway, path: &str) -> (u16, Value) {
    let r = gw
        .http
        .get(format!("{}{path}", gw.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_and_ready_answer_200_with_a_usable_provider() {
    let up = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&format!(
        "{}{}",
        provider(&up, ""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let (code, body) = get(&gw, "/health").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));
    assert!(body.get("providers").is_none(), "{body}");
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")), "{body}");
    // the older probe is still there
    assert_eq!(get(&gw, "/healthz").await.0, 200);

    // detail from loopback: per-provider state, no secrets
    let (code, body) = get(&gw, "/ready?detail=true").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["providers"][0]["name"], "a");
    assert_eq!(body["providers"][0]["usable"], true);
    assert_eq!(body["providers"][0]["key"], "none");
    assert_eq!(body["config_version"], 1);
    let (code, body) = get(&gw, "/ready?detail=maybe").await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["code"], "invalid_detail");

    // paused: not ready, still alive
    let (code, _) = gw
        .admin_post("/pause", serde_json::json!({"paused": true}))
        .await;
    assert_eq!(code, 200);
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!(code, 503);
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["reason"].as_str().unwrap().contains("paused"),
        "{body}"
    );
    assert_eq!(get(&gw, "/health").await.0, 200);
}

#[tokio::test]
async fn ready_is_503_when_no_provider_is_usable() {
    // no providers at all
    let gw = TestGateway::start("[server]\n").await;
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("no providers"),
        "{body}"
    );
    assert_eq!(get(&gw, "/health").await.0, 200);

    // the one provider's key is missing
    let up = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&format!(
        "{}{}",
        provider(&up, "api_key = \"env:AIGW_TEST_OPS_KEY_THAT_IS_NOT_SET\""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let (code, body) = get(&gw, "/ready?detail=true").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["providers"][0]["key"], "missing");
    assert_eq!(body["providers"][0]["usable"], false);
    assert!(
        !body
            .to_string()
            .contains("AIGW_TEST_OPS_KEY_THAT_IS_NOT_SET=")
    );
}

/// `?detail=true` from a peer beyond loopback: only with the admin token.
/// The router is called in-process with the peer address a socket would
/// give it (tests cannot connect from beyond loopback).
#[tokio::test]
async fn detail_from_beyond_loopback_needs_the_admin_token() {
    use tower::ServiceExt;
    let up = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&format!(
        "{}{}",
        provider(&up, ""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let app = gateway_core::api::router(gw.handle.state().clone());
    let peer: std::net::SocketAddr = "192.0.2.7:5555".parse().unwrap();
    let call = |path: &str, token: Option<&str>| {
        let mut req = http::Request::get(path).header("host", "127.0.0.1:4000");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut req = req.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let app = app.clone();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let code = r.status().as_u16();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (code, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (code, body) = call("/ready", None).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.get("providers").is_none());
    let (code, body) = call("/ready?detail=true", None).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"]["code"], "detail_forbidden");
    let (code, _) = call("/health?detail=true", Some(gw.tokens.viewer.expose())).await;
    assert_eq!(code, 403);
    let (code, body) = call("/health?detail=true", Some(gw.admin_token())).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["providers"][0]["name"], "a");
}
