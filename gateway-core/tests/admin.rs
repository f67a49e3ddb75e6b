//! Issue 3 as a user meets it: the admin API's roles and sessions, the config
//! lifecycle (validate → diff → publish → history → rollback), hand edits of
//! the file, and a publish under load that breaks no stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

/// What these tests add to the shared gateway.
impl TestGateway {
    /// The audit log's actions, newest first.
    async fn audit_actions(&self) -> Vec<String> {
        let (_, audit) = self.admin_get("/audit").await;
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The gateway as these tests run it: its config in a file (watched every
/// 100 ms) and a data dir.
async fn gateway(toml: &str) -> TestGateway {
    TestGateway::builder(toml)
        .config_file()
        .watch_interval(Duration::from_millis(100))
        .start()
        .await
}

fn two_providers(a: &FakeUpstream, b: &FakeUpstream, target: &str) -> String {
    format!(
        "# my gateway\n[server]\nlisten = \"127.0.0.1:0\"\n\n{}{}{}",
        provider(a, ""),
        provider(b, ""),
        route("m", "", &[(target, None)])
    )
}

#[tokio::test]
async fn roles_tokens_and_sessions() {
    let up = FakeUpstream::start("a").await;
    let gw = gateway(&format!(
        "{}{}",
        provider(&up, ""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let url = |p: &str| format!("{}/admin/api{p}", gw.url);
    // no credentials
    let r = gw.http.get(url("/status")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "admin_auth_required"
    );
    // wrong token
    let (s, _) = gw
        .admin_as("aigw_admin_nope", reqwest::Method::GET, "/status", None)
        .await;
    assert_eq!(s, 401);
    // viewer reads, cannot write
    let (s, _) = gw.viewer_get("/config").await;
    assert_eq!(s, 200);
    let (s, e) = gw
        .viewer_post("/config/rollback", json!({"version": 1}))
        .await;
    assert_eq!(s, 403);
    assert_eq!(e["error"]["code"], "admin_role_required");
    // telemetry queries sit behind the same roles
    let r = gw.http.get(url("/telemetry/summary")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = gw.viewer_get("/telemetry/summary").await;
    assert_eq!(s, 200);
    // admin status
    let (s, v) = gw.admin_get("/status").await;
    assert_eq!(s, 200);
    assert_eq!(v["config_version"], 1);
    assert_eq!(v["endpoint"], format!("{}/v1", gw.url));

    // browser login: a signed HttpOnly SameSite=Strict cookie, never the token
    let r = gw
        .http
        .post(url("/login"))
        .json(&json!({"token": gw.admin_token()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(gw.admin_token()));
    let session = cookie.split(';').next().unwrap().to_string();
    let r = gw
        .http
        .get(url("/session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "admin");
    // a tampered cookie is refused
    let last = session.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &session[..session.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let r = gw
        .http
        .get(url("/session"))
        .header("cookie", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = gw
        .http
        .post(url("/login"))
        .json(&json!({"token": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // a cross-origin write with the cookie is refused by the guard
    let r = gw
        .http
        .post(url("/config/rollback"))
        .header("cookie", &session)
        .header("origin", "http://evil.example")
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // no CORS on admin routes, even for an allowed client origin
    let r = gw
        .http
        .request(reqwest::Method::OPTIONS, url("/status"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // DNS rebinding guard covers the admin API too
    let r = gw
        .http
        .get(url("/status"))
        .bearer_auth(gw.admin_token())
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let actions = gw.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "login") && actions.iter().any(|a| a == "login_failed"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn validate_diff_publish_history_rollback() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let v1 = two_providers(&a, &b, "a");
    let gw = gateway(&v1).await;
    assert_eq!(
        header(&gw.chat(&chat_body("m", false)).await, "x-aigw-provider"),
        "a"
    );

    // invalid: errors with line and field; nothing applied
    let bad = v1.replace("provider = \"a\"\n", "provider = \"ghost\"\n");
    let (s, v) = gw
        .admin_post("/config/validate", json!({"toml": bad}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["path"], "routes[0].targets[0].provider");
    assert!(v["errors"][0]["line"].as_u64().unwrap() > 1);
    let (s, v) = gw
        .admin_post("/config/publish", json!({"toml": bad, "message": "oops"}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "invalid_config");
    assert_eq!(
        std::fs::read_to_string(gw.config_path()).unwrap(),
        v1,
        "file untouched"
    );
    let (_, cfg) = gw.admin_get("/config").await;
    assert_eq!(cfg["version"]["id"], 1);

    // an unresolvable keyring reference is a warning, not an error
    let with_key = v1.replacen(
        "kind = \"openai\"\n",
        "kind = \"openai\"\napi_key = \"keyring:aigw-test-surely-absent\"\n",
        1,
    );
    let (_, v) = gw
        .admin_post("/config/validate", json!({"toml": with_key}))
        .await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["warnings"][0]["path"], "providers[0].api_key", "{v}");

    // diff: unified text + summary
    let v2 = v1.replace("provider = \"a\"\n", "provider = \"b\"\n");
    let (s, d) = gw.admin_post("/config/diff", json!({"toml": v2})).await;
    assert_eq!(s, 200);
    assert_eq!(d["validation"]["valid"], true);
    assert!(
        d["unified"]
            .as_str()
            .unwrap()
            .contains("-provider = \"a\"\n+provider = \"b\""),
        "{d}"
    );
    assert_eq!(d["summary"]["routes_changed"], json!(["m"]));

    // publish: new version, file written, hot-swapped
    let (s, p) = gw
        .admin_post(
            "/config/publish",
            json!({"toml": v2, "message": "route m to b", "source": "ui", "base_version": 1}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["version"]["id"], 2);
    assert_eq!(std::fs::read_to_string(gw.config_path()).unwrap(), v2);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    // stale base version: refused
    let (s, v) = gw
        .admin_post("/config/publish", json!({"toml": v1, "base_version": 1}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("version_conflict"))
    );

    // history with diffs
    let (_, h) = gw.admin_get("/config/history").await;
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["source"], "ui");
    assert_eq!(versions[0]["actor"], "admin-token");
    assert_eq!(versions[0]["message"], "route m to b");
    assert!(
        versions[0]["diff"]
            .as_str()
            .unwrap()
            .contains("+provider = \"b\"")
    );
    assert_eq!(versions[1]["source"], "startup");
    let (_, one) = gw.admin_get("/config/versions/1").await;
    assert_eq!(one["toml"], v1);

    // rollback is itself a new audited version
    let (s, p) = gw
        .admin_post(
            "/config/rollback",
            json!({"version": 1, "message": "b is flaky"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(p["version"]["id"], 3);
    assert_eq!(p["version"]["source"], "rollback");
    assert_eq!(std::fs::read_to_string(gw.config_path()).unwrap(), v1);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "a");
    let (s, _) = gw
        .admin_post("/config/rollback", json!({"version": 99}))
        .await;
    assert_eq!(s, 404);

    let actions = gw.audit_actions().await;
    assert_eq!(
        actions[..3].iter().map(String::as_str).collect::<Vec<_>>(),
        ["rollback", "publish", "publish_rejected"],
        "{actions:?}"
    );
}

#[tokio::test]
async fn hand_edits_are_versioned_or_rejected() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let v1 = two_providers(&a, &b, "a");
    let gw = gateway(&v1).await;
    let wait_version = |want: i64| {
        let gw = &gw;
        async move {
            for _ in 0..100 {
                if gw.admin_get("/config").await.1["version"]["id"] == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("version {want} never became live");
        }
    };
    // a good edit becomes version 2 with source "file"
    std::fs::write(
        gw.config_path(),
        v1.replace("provider = \"a\"\n", "provider = \"b\"\n"),
    )
    .unwrap();
    wait_version(2).await;
    let (_, h) = gw.admin_get("/config/history").await;
    assert_eq!(h["versions"][0]["source"], "file");
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    // a bad edit is rejected; version 2 stays live and the reason is shown
    std::fs::write(gw.config_path(), "[server]\nlisten = 12\n").unwrap();
    let mut error = Value::Null;
    for _ in 0..100 {
        error = gw.admin_get("/status").await.1["config_file_error"].clone();
        if !error.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(error.as_str().unwrap().contains("config.toml:2"), "{error}");
    assert_eq!(gw.admin_get("/config").await.1["version"]["id"], 2);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    let (_, audit) = gw.admin_get("/audit").await;
    assert_eq!(audit["entries"][0]["action"], "file_rejected");
}

#[tokio::test]
async fn profile_switch_keeps_comments_and_is_reversible() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}[profiles.local-only]\n[[profiles.local-only.routes]]\nmodel = \"m\"\n[[profiles.local-only.routes.targets]]\nprovider = \"b\"\n",
        two_providers(&a, &b, "a")
    );
    let gw = gateway(&toml).await;
    let (s, p) = gw
        .admin_post("/config/profile", json!({"profile": "local-only"}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["version"]["source"], "profile");
    let file = std::fs::read_to_string(gw.config_path()).unwrap();
    assert!(file.starts_with("# my gateway\n"), "comments kept: {file}");
    assert!(file.contains("profile = \"local-only\""));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    let (s, _) = gw
        .admin_post("/config/profile", json!({"profile": "nope"}))
        .await;
    assert_eq!(s, 422);
    let (s, _) = gw
        .admin_post("/config/profile", json!({"profile": null}))
        .await;
    assert_eq!(s, 200);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "a");
}

#[tokio::test]
async fn secrets_stay_out_of_diffs_and_providers_show_presence_only() {
    let a = FakeUpstream::start("a").await;
    let toml = format!(
        "{}{}",
        provider(&a, "api_key = \"env:AIGW_TEST_ADMIN_UNSET\""),
        route("m", "", &[("a", None)])
    );
    let gw = gateway(&toml).await;
    let pasted = format!("{toml}# old key: sk-proj-abcdefghijklmnopqrstuvwxyz123456\n");
    let (_, d) = gw.admin_post("/config/diff", json!({"toml": pasted})).await;
    let text = d.to_string();
    assert!(!text.contains("abcdefghijklmnopqrstuvwxyz"), "{text}");
    assert!(text.contains("[REDACTED]"));
    let (_, p) = gw.admin_get("/providers").await;
    assert_eq!(p["providers"][0]["key"], "missing");
    assert_eq!(
        p["providers"][0]["api_key_ref"],
        "env:AIGW_TEST_ADMIN_UNSET"
    );
    let (s, probe) = gw.admin_post("/providers/a/probe", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(probe["reachable"], true);
    assert_eq!(probe["models"], json!(["fake-model"]));
}

#[tokio::test]
async fn publish_during_50_streams_breaks_none() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    a.set_default(Behavior::Stream {
        deltas: (0..6).map(|i| format!("a{i} ")).collect(),
        interval: Duration::from_millis(100),
    });
    let v1 = two_providers(&a, &b, "a");
    let gw = Arc::new(gateway(&v1).await);
    let mut streams = Vec::new();
    for _ in 0..50 {
        let resp = gw
            .http
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&chat_body("m", true))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-aigw-provider"), "a");
        streams.push(tokio::spawn(async move { resp.text().await.unwrap() }));
    }
    // all 50 are flowing; publish a config that moves the route to b
    let (s, p) = gw
        .admin_post(
            "/config/publish",
            json!({"toml": two_providers(&a, &b, "b"), "message": "under load"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(
        header(&r, "x-aigw-provider"),
        "b",
        "new requests use the new version"
    );
    for s in streams {
        let body = s.await.unwrap();
        assert_eq!(streamed_text(&body), "a0 a1 a2 a3 a4 a5 ", "{body}");
        assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    }
    assert_eq!(a.cancelled_streams(), 0);
    let _ = &gw.handle;
}

/// Needs a Secret Service (scripts/test.sh runs one and sets AIGW_TEST_KEYRING=1).
#[tokio::test]
async fn keys_are_write_only_and_used_at_once() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through scripts/test.sh)");
        return;
    }
    let a = FakeUpstream::start("a").await;
    let name = format!("aigw-admin-test-{}", std::process::id());
    a.set_required_key(Some("sk-set-through-the-api"));
    let gw = gateway(&format!(
        "{}{}",
        provider(&a, &format!("api_key = \"keyring:{name}\"")),
        route("m", "", &[("a", None)])
    ))
    .await;
    let chat = || {
        gw.http
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&chat_body("m", false))
            .send()
    };
    // no key yet: the provider fails over (here: nowhere) with the reason
    assert_eq!(chat().await.unwrap().status(), 502);
    let (_, k) = gw.admin_get("/keys").await;
    assert_eq!(k["keys"][0]["name"], name.as_str());
    assert_eq!(k["keys"][0]["present"], false);
    let r = gw
        .http
        .put(format!("{}/admin/api/keys/{name}", gw.url))
        .bearer_auth(gw.admin_token())
        .json(&json!({"secret": "sk-set-through-the-api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("sk-set-through-the-api"), "{text}");
    // used at once, without a restart or publish
    assert_eq!(chat().await.unwrap().status(), 200);
    let (_, k) = gw.admin_get("/keys").await;
    assert_eq!(k["keys"][0]["present"], true);
    assert!(!k.to_string().contains("sk-set-through-the-api"));
    // viewers cannot set keys
    let r = gw
        .http
        .put(format!("{}/admin/api/keys/{name}", gw.url))
        .bearer_auth(gw.tokens.viewer.expose())
        .json(&json!({"secret": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = gw
        .http
        .delete(format!("{}/admin/api/keys/{name}", gw.url))
        .bearer_auth(gw.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(chat().await.unwrap().status(), 502);
    let actions = gw.audit_actions().await;
    assert!(actions.iter().any(|a| a == "key_set") && actions.iter().any(|a| a == "key_delete"));
    let (_, audit) = gw.admin_get("/audit").await;
    assert!(!audit.to_string().contains("sk-set-through-the-api"));
}

#[tokio::test]
async fn draft_edits_preview_and_publish_for_the_ui() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let base = format!(
        "# hand-written\n[server]\nlisten = \"127.0.0.1:0\"\n{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    );
    let gw = gateway(&base).await;
    let (s, d) = gw
        .admin_post(
            "/config/draft",
            json!({"ops": [
                {"op": "upsert_provider", "provider": {"name": "b", "kind": "openai", "base_url": b.base_url()}},
                {"op": "upsert_route", "route": {"model": "m", "cooldown_s": 5, "targets": [{"provider": "b", "model": "bm"}, {"provider": "a"}]}}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    let toml = d["toml"].as_str().unwrap();
    assert!(toml.starts_with("# hand-written"), "{toml}");
    assert_eq!(d["preview"]["validation"]["valid"], true);
    assert_eq!(d["preview"]["summary"]["providers_added"], json!(["b"]));
    assert_eq!(d["preview"]["summary"]["routes_changed"], json!(["m"]));
    // nothing published yet
    assert_eq!(gw.admin_get("/config").await.1["version"]["id"], 1);
    let (s, _) = gw
        .admin_post(
            "/config/publish",
            json!({"toml": toml, "message": "add b", "source": "ui"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, r) = gw.admin_get("/routes").await;
    assert_eq!(
        r["routes"][0]["targets"][0],
        json!({"provider": "b", "model": "bm", "weight": 1})
    );
    assert_eq!(r["routes"][0]["cooldown_s"], 5);
    assert_eq!(
        r["routes"][0]["sticky"], false,
        "priority routes are not sticky"
    );
    // the sticky switch: weighted is sticky by default, `sticky: false` turns it off
    for (sticky, want) in [(None, true), (Some(false), false), (Some(true), true)] {
        let mut route =
            json!({"model": "m", "strategy": "weighted", "targets": [{"provider": "b"}]});
        if let Some(v) = sticky {
            route["sticky"] = json!(v);
        }
        let (_, d) = gw
            .admin_post(
                "/config/draft",
                json!({"ops": [{"op": "upsert_route", "route": route}]}),
            )
            .await;
        let (s, _) = gw
            .admin_post(
                "/config/publish",
                json!({"toml": d["toml"], "source": "ui"}),
            )
            .await;
        assert_eq!(s, 200);
        let (_, r) = gw.admin_get("/routes").await;
        assert_eq!(r["routes"][0]["sticky"], want, "sticky {sticky:?}");
    }
    // a draft that breaks a route is previewed as invalid
    let (_, d) = gw
        .admin_post(
            "/config/draft",
            json!({"ops": [{"op": "remove_provider", "name": "b"}]}),
        )
        .await;
    assert_eq!(d["preview"]["validation"]["valid"], false);
    let (s, d) = gw
        .admin_post(
            "/config/draft",
            json!({"ops": [{"op": "remove_route", "model": "nope"}]}),
        )
        .await;
    assert_eq!(
        (s, d["error"]["code"].as_str()),
        (400, Some("invalid_draft"))
    );
}

#[tokio::test]
async fn pause_and_fallback_test() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let config = two_providers(&a, &b, "a").replace(
        "[[routes.targets]]\nprovider = \"a\"\n",
        "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\nmodel = \"bm\"\n",
    );
    let gw = gateway(&(config + &route("solo", "", &[("a", None)]))).await;
    let chat = || {
        gw.http
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&chat_body("m", false))
            .send()
    };
    let (s, p) = gw.admin_post("/pause", json!({"paused": true})).await;
    assert_eq!((s, p["paused"].as_bool()), (200, Some(true)));
    let r = chat().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "gateway_paused"
    );
    assert_eq!(gw.admin_get("/status").await.1["paused"], true);
    gw.admin_post("/pause", json!({"paused": false})).await;
    assert_eq!(chat().await.unwrap().status(), 200);

    let before = a.request_count();
    let (s, t) = gw.admin_post("/fallback-test", json!({"model": "m"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["status"], 200);
    assert_eq!(t["provider"], "b");
    assert_eq!(t["model"], "bm");
    assert_eq!(t["route_mode"], "model_fallback");
    assert_eq!(t["attempts"][0]["error"], "forced");
    assert_eq!(
        a.request_count(),
        before,
        "the forced failure never reaches the primary"
    );
    assert_eq!(
        b.proxied_requests().last().unwrap().model().as_deref(),
        Some("bm")
    );
    // and the primary is not cooled down by a forced failure
    assert_eq!(header(&chat().await.unwrap(), "x-aigw-provider"), "a");
    let (s, _) = gw
        .admin_post("/fallback-test", json!({"model": "nope"}))
        .await;
    assert_eq!(s, 404);
    // which fields each outcome has: served (above), a relayed upstream
    // failure, nothing left to try
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    let served = [
        "attempts",
        "body",
        "model",
        "provider",
        "request_id",
        "route",
        "route_mode",
        "status",
    ];
    assert_eq!(keys(&t), Some(served.map(String::from).to_vec()), "{t}");
    assert!(t["request_id"].as_str().unwrap().starts_with("fbt_"), "{t}");
    let failed = [
        "attempts",
        "error",
        "model",
        "provider",
        "request_id",
        "route",
        "route_mode",
        "status",
    ];
    b.set_default(Behavior::Status {
        status: 500,
        retry_after: None,
        body: None,
    });
    let (s, t) = gw.admin_post("/fallback-test", json!({"model": "m"})).await;
    assert_eq!(
        (s, &t["status"], &t["provider"]),
        (200, &json!(500), &json!("b")),
        "{t}"
    );
    assert_eq!(keys(&t), Some(failed.map(String::from).to_vec()), "{t}");
    b.set_default(Behavior::Ok);
    let (s, t) = gw
        .admin_post("/fallback-test", json!({"model": "solo"}))
        .await;
    assert_eq!((s, &t["provider"]), (200, &json!("a")), "{t}");
    assert!(t["status"].as_u64().unwrap() >= 500, "{t}");
    assert_eq!(keys(&t), Some(failed.map(String::from).to_vec()), "{t}");
    // update check: says when no release source is configured, and why a check fails
    let (s, u) = gw.admin_get("/update/check").await;
    assert_eq!((s, u["configured"].as_bool()), (200, Some(false)), "{u}");
    let dead = testkit::refused_addr().await;
    let (s, u) = gw
        .admin_get(&format!(
            "/update/check?manifest_url=http://{dead}/manifest.json"
        ))
        .await;
    assert_eq!(
        (s, u["error"]["code"].as_str()),
        (400, Some("update_check_failed")),
        "{u}"
    );
}

/// A publish that leaves a limit as it was keeps its state: a client over
/// its 2 RPM stays limited after an unrelated edit, and so does a provider
/// over its own RPM; a limit that changed is resized, keeping what was
/// spent (more in `limits::`).
#[tokio::test]
async fn limits_keep_their_state_across_publishes() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let v1 = format!(
        "[limits]\ningress_rpm = 2\n{}{}{}{}",
        provider(&a, "rpm = 1"),
        provider(&b, ""),
        route("m", "", &[("a", None)]),
        route("n", "", &[("b", None)]),
    );
    let gw = gateway(&v1).await;
    let publish = |toml: String, message: &'static str| {
        let gw = &gw;
        async move {
            let (s, p) = gw
                .admin_post("/config/publish", json!({"toml": toml, "message": message}))
                .await;
            assert_eq!(s, 200, "{p}");
        }
    };
    // the provider's one request a minute, then the client's second
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "provider_rate_limited", "{v}");
    // (that refusal was the client's second request of the minute)
    let r = gw.chat(&chat_body("n", false)).await;
    assert_eq!(r.status(), 429, "the client is over its 2 RPM");

    // an unrelated edit: both limits keep what was spent
    let v2 = v1.replace("[[routes]]\nmodel = \"n\"", "[[routes]]\nmodel = \"n2\"");
    assert_ne!(v1, v2);
    publish(v2.clone(), "rename route n").await;
    let r = gw.chat(&chat_body("n2", false)).await;
    assert_eq!(
        r.status(),
        429,
        "still over the client limit after a publish"
    );

    // the client limit changes from 2 to 5: 3 left; the provider's is kept
    let v3 = v2.replace("ingress_rpm = 2", "ingress_rpm = 5");
    publish(v3.clone(), "more client budget").await;
    assert_eq!(gw.chat(&chat_body("n2", false)).await.status(), 200);
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 429, "the provider's 1 RPM was spent before");

    // the provider's limit changes from 1 to 10: 9 left
    publish(v3.replace("rpm = 1", "rpm = 10"), "more provider budget").await;
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
}
