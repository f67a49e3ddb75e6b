//! Issue 20, virtual keys, as a team admin meets them: keys made through
//! the admin API (the secret shown once), used by clients of both
//! protocols, revoked (401 at once), rotated (with and without grace),
//! expired; a model outside the key's patterns is 403 `model_not_allowed`;
//! a spent budget is 429 `budget_exceeded` with `Retry-After` until the
//! reset; spend survives a restart; each key has its own RPM; the secret is
//! in no list, audit row, request log or metric.

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use testkit::FakeUpstream;

/// One provider `a` with a price of $0.1 per token in and out, and a route `*`.
fn config(a: &FakeUpstream) -> String {
    format!(
        "{}{}[[telemetry.prices]]\nprovider = \"a\"\ninput_per_mtok = 100000\noutput_per_mtok = 100000\n",
        provider(a, ""),
        route("*", "", &[("a", None)])
    )
}

/// The id and secret `aigw keys client create` printed (`id: …`, `secret: …`).
pub(crate) fn created_key(out: &str) -> (String, String) {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .trim()
            .to_string()
    };
    (field("id:"), field("secret:"))
}

impl TestGateway {
    pub(crate) async fn create_key(&self, body: Value) -> (String, String) {
        let (s, v) = self.admin_post("/keys/client", body).await;
        assert_eq!(s, 200, "{v}");
        let secret = v["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("aigw_vk_"), "{v}");
        (v["key"]["id"].as_str().unwrap().to_string(), secret)
    }

    pub(crate) async fn chat_with(&self, key: &str, model: &str) -> reqwest::Response {
        let mut body = chat_body(model, false);
        body["max_tokens"] = json!(10);
        self.http
            .post(format!("{}/v1/chat/completions", self.url))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn messages_with(&self, key: &str, model: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/messages", self.url))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({
                "model": model,
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            }))
            .send()
            .await
            .unwrap()
    }

    async fn key_view(&self, id: &str) -> Value {
        let (s, v) = self.admin_get("/keys/client").await;
        assert_eq!(s, 200, "{v}");
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no key {id} in {v}"))
    }
}

#[tokio::test]
async fn a_key_is_created_used_and_revoked_with_401_at_once() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::builder(&config(&a)).data_dir().start().await;
    // an open gateway until a key exists
    assert_eq!(gw.chat(&chat_body("gpt-5", false)).await.status(), 200);
    let (id, secret) = gw
        .create_key(json!({"name": "alice", "team": "ml", "tags": {"cost-center": "42"}}))
        .await;
    let r = gw.chat_with(&secret, "gpt-5").await;
    assert_eq!(r.status(), 200);
    // the key is the gateway's: it does not go upstream
    let last = a.requests().pop().unwrap();
    assert!(
        last.header("authorization")
            .is_none_or(|h| !h.contains(&secret)),
        "the virtual key went upstream"
    );
    // now a key is needed
    assert_eq!(gw.chat(&chat_body("gpt-5", false)).await.status(), 401);
    assert_eq!(
        gw.chat_with("aigw_vk_0000", "gpt-5").await.status(),
        401,
        "an unknown virtual key"
    );
    let ev = gw.capture.wait(4).await;
    let used = ev
        .iter()
        .find(|e| e.virtual_key.as_deref() == Some(&id))
        .unwrap();
    assert_eq!(
        (used.client.as_str(), used.team.as_deref()),
        ("alice", Some("ml"))
    );

    let k = gw.key_view(&id).await;
    assert_eq!(k["status"], "active");
    assert_eq!(k["tags"]["cost-center"], "42");
    assert!(secret.starts_with(k["prefix"].as_str().unwrap()));
    let (s, v) = gw
        .admin_post(&format!("/keys/client/{id}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let r = gw.chat_with(&secret, "gpt-5").await;
    assert_eq!(r.status(), 401);
    assert_eq!(gw.key_view(&id).await["status"], "revoked");
    let (s, _) = gw
        .admin_post("/keys/client/vk_nope/revoke", json!({}))
        .await;
    assert_eq!(s, 404);

    // the secret is nowhere: lists, audit, the request log, metrics, files
    let (_, list) = gw.admin_get("/keys/client").await;
    let (_, audit) = gw.admin_get("/audit?limit=50").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"virtual_key_create"), "{audit}");
    assert!(actions.contains(&"virtual_key_revoke"), "{audit}");
    let metrics = gw
        .http
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"aigw_key_requests_total{key="alice",team="ml"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"aigw_key_spend_usd_total{key="alice",team="ml"}"#));
    // spend by key and team from the request log (written off the hot path)
    let mut spend = Value::Null;
    for _ in 0..300 {
        let (s, v) = gw.admin_get("/telemetry/keys?minutes=60").await;
        assert_eq!(s, 200, "{v}");
        spend = v;
        if spend["keys"].as_array().is_some_and(|k| !k.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = &spend["keys"][0];
    assert_eq!(
        (
            row["virtual_key"].as_str(),
            row["name"].as_str(),
            row["team"].as_str()
        ),
        (Some(id.as_str()), Some("alice"), Some("ml")),
        "{spend}"
    );
    assert_eq!(row["requests"], 1, "{spend}");
    assert!(row["cost_usd"].as_f64().unwrap() > 0.0, "{spend}");
    assert_eq!(spend["teams"][0]["team"], "ml", "{spend}");
    let data = gw.data_dir().to_path_buf();
    gw.handle.shutdown().await;
    let hash = hex_sha256(&secret);
    for text in [
        list.to_string(),
        audit.to_string(),
        spend.to_string(),
        metrics,
    ] {
        assert!(!text.contains(&secret) && !text.contains(&hash), "{text}");
    }
    for f in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let s = String::from_utf8_lossy(&bytes);
        assert!(!s.contains(&secret), "the secret is stored in clear");
    }
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[tokio::test]
async fn rotation_gives_a_new_secret_and_the_old_one_a_grace() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    let (id, old) = gw.create_key(json!({"name": "ci"})).await;
    let (s, v) = gw
        .admin_post(
            &format!("/keys/client/{id}/rotate"),
            json!({"grace_s": 600}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let new = v["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(gw.chat_with(&new, "m").await.status(), 200);
    assert_eq!(
        gw.chat_with(&old, "m").await.status(),
        200,
        "within its grace"
    );
    // rotated again without grace: only the newest works
    let (s, v) = gw
        .admin_post(&format!("/keys/client/{id}/rotate"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let newest = v["secret"].as_str().unwrap().to_string();
    assert_eq!(gw.chat_with(&newest, "m").await.status(), 200);
    assert_eq!(gw.chat_with(&new, "m").await.status(), 401);
    assert_eq!(gw.chat_with(&old, "m").await.status(), 401);
    let (s, v) = gw
        .admin_post(
            &format!("/keys/client/{id}/rotate"),
            json!({"grace_s": 99999999}),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_key")));
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    let (id, secret) = gw
        .create_key(json!({"name": "temp", "expires_in_s": 1}))
        .await;
    let (_, keep) = gw.create_key(json!({"name": "keep"})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(gw.chat_with(&secret, "m").await.status(), 401);
    assert_eq!(gw.chat_with(&keep, "m").await.status(), 200);
    assert_eq!(gw.key_view(&id).await["status"], "expired");
}

#[tokio::test]
async fn a_model_outside_the_keys_patterns_is_403_in_both_shapes() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    let (_, secret) = gw
        .create_key(json!({"name": "coder", "models": ["gpt-5*", "claude-*"]}))
        .await;
    assert_eq!(gw.chat_with(&secret, "gpt-5-mini").await.status(), 200);
    let r = gw.chat_with(&secret, "gpt-4o").await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_allowed", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-4o"));

    assert_eq!(
        gw.messages_with(&secret, "claude-sonnet-4").await.status(),
        200
    );
    let r = gw.messages_with(&secret, "llama-3").await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "permission_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model_not_allowed"),
        "{v}"
    );
    let refused = gw.capture.wait(4).await;
    assert_eq!(
        refused
            .iter()
            .filter(|e| e.error.as_deref() == Some("model_not_allowed"))
            .count(),
        2
    );
}

/// $0.1 a token: each answer (10 in, 3 out) costs $1.30, each request is
/// estimated at its body and `max_tokens` (about $3). A $5 budget stops
/// within one estimate of $5 and never goes over it.
#[tokio::test]
async fn a_budget_stops_at_the_budget_with_429_budget_exceeded() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    let (id, secret) = gw
        .create_key(json!({"name": "capped", "budget_usd": 5.0, "period": "daily"}))
        .await;
    let mut served = 0;
    let refused = loop {
        let r = gw.chat_with(&secret, "gpt-5").await;
        if r.status() != 200 {
            break r;
        }
        served += 1;
        assert!(served < 10, "the budget never stopped the key");
    };
    assert_eq!(refused.status(), 429);
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resets at"),
        "{v}"
    );
    let k = gw.key_view(&id).await;
    let spent = k["spent_usd"].as_f64().unwrap();
    assert!((spent - 1.3 * f64::from(served)).abs() < 1e-6, "{k}");
    assert!(spent <= 5.0, "{k}");
    let ev = gw.capture.wait(served as usize + 1).await;
    let estimate = 5.0 - spent;
    assert!(estimate < 4.0, "stopped {estimate} short of the budget");
    assert_eq!(k["reserved_usd"].as_f64(), Some(0.0), "{k}");
    assert_eq!(ev.last().unwrap().error.as_deref(), Some("budget_exceeded"));
    // the Anthropic shape says it too
    let r = gw.messages_with(&secret, "claude-x").await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    // a failed request refunds its reservation
    a.set_default(testkit::Behavior::status(500));
    let (id2, s2) = gw
        .create_key(json!({"name": "refund", "budget_usd": 5.0}))
        .await;
    let r = gw.chat_with(&s2, "gpt-5").await;
    assert!(r.status().is_server_error(), "{}", r.status());
    let k = gw.key_view(&id2).await;
    assert_eq!(
        (k["spent_usd"].as_f64(), k["reserved_usd"].as_f64()),
        (Some(0.0), Some(0.0)),
        "{k}"
    );
}

#[tokio::test]
async fn spend_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = FakeUpstream::start("a").await;
    std::fs::write(dir.path().join("config.toml"), config(&a)).unwrap();
    let gw = TestGateway::builder(&config(&a))
        .in_dir(dir.path())
        .start()
        .await;
    let (id, secret) = gw
        .create_key(json!({"name": "persist", "budget_usd": 100.0}))
        .await;
    for _ in 0..2 {
        assert_eq!(gw.chat_with(&secret, "gpt-5").await.status(), 200);
    }
    let before = gw.key_view(&id).await["spent_usd"].as_f64().unwrap();
    assert!((before - 2.6).abs() < 1e-6, "{before}");
    gw.shutdown().await;

    let gw = TestGateway::builder(&config(&a))
        .in_dir(dir.path())
        .start()
        .await;
    let k = gw.key_view(&id).await;
    assert_eq!(k["spent_usd"].as_f64(), Some(before), "{k}");
    assert_eq!(gw.chat_with(&secret, "gpt-5").await.status(), 200);
    assert!((gw.key_view(&id).await["spent_usd"].as_f64().unwrap() - 3.9).abs() < 1e-6);
}

#[tokio::test]
async fn each_key_has_its_own_rpm() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    let (_, one) = gw.create_key(json!({"name": "one", "rpm": 2})).await;
    let (_, other) = gw.create_key(json!({"name": "other", "rpm": 2})).await;
    for _ in 0..2 {
        assert_eq!(gw.chat_with(&one, "m").await.status(), 200);
    }
    let r = gw.chat_with(&one, "m").await;
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").parse::<u64>().unwrap() >= 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert_eq!(gw.chat_with(&other, "m").await.status(), 200);
}

#[tokio::test]
async fn bad_key_requests_get_clear_errors_and_viewers_cannot_make_keys() {
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&config(&a)).await;
    for (body, code) in [
        (json!({"name": ""}), "invalid_key"),
        (json!({"name": "x", "models": ["a*b*"]}), "invalid_key"),
        (json!({"name": "x", "budget_usd": -1}), "invalid_key"),
        (json!({"name": "x", "period": "hourly"}), "invalid_json"),
        (json!({"name": "x", "nope": 1}), "invalid_json"),
    ] {
        let (s, v) = gw.admin_post("/keys/client", body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {v}"
        );
    }
    let (s, _) = gw.viewer_post("/keys/client", json!({"name": "x"})).await;
    assert_eq!(s, 403);
    let (s, v) = gw.viewer_get("/keys/client").await;
    assert_eq!((s, v["keys"].as_array().map(Vec::len)), (200, Some(0)));
}

/// `aigw keys client …` as the binary: on the data dir when no gateway
/// runs; through the running gateway's admin API when one does (a revoke
/// there is 401 at once).
#[tokio::test]
async fn the_cli_makes_keys_offline_and_revokes_them_on_a_running_gateway() {
    let a = FakeUpstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n{}", config(&a)),
    )
    .unwrap();
    let aigw_cmd = |args: &[&str], listen: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_aigw"));
        c.args(["--config", cfg.to_str().unwrap()])
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .env_remove("AIGW_CONFIG")
            .env_remove("AIGW_DATA_DIR")
            .env_remove("AIGW_LISTEN");
        if let Some(l) = listen {
            c.env("AIGW_LISTEN", l);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let out = aigw_cmd(
        &[
            "keys",
            "client",
            "create",
            "--name",
            "cli-key",
            "--team",
            "ops",
            "--models",
            "gpt-5*,claude-*",
            "--budget-usd",
            "100",
            "--period",
            "weekly",
            "--expires",
            "30d",
            "--tag",
            "env=ci",
        ],
        None,
    );
    let (id, secret) = created_key(&out);
    assert!(secret.starts_with("aigw_vk_"), "{out}");
    let list = aigw_cmd(&["keys", "client", "list"], None);
    assert!(
        list.contains(&id) && list.contains("cli-key") && list.contains("100.00/weekly"),
        "{list}"
    );
    assert!(!list.contains(&secret), "{list}");

    let gw = common::aigw::Aigw::serve_files(&cfg, &data, &[("AIGW_LISTEN", "127.0.0.1:0")]);
    assert_eq!(
        gw.chat_as(&secret, &chat_body("gpt-5", false))
            .await
            .status(),
        200
    );
    assert_eq!(
        gw.chat_as(&secret, &chat_body("o3", false)).await.status(),
        403
    );
    let listen = gw.url.trim_start_matches("http://").to_string();
    let out = aigw_cmd(&["keys", "client", "revoke", &id], Some(&listen));
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(
        gw.chat_as(&secret, &chat_body("gpt-5", false))
            .await
            .status(),
        401
    );
    let out = aigw_cmd(&["keys", "client", "list", "--json"], Some(&listen));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keys"][0]["status"], "revoked", "{v}");
}
