//! Key pools (`api_keys`) and provider switches (`enabled`, `headers`
//! references), against real fake upstreams: a key that gets 429 cools and
//! the next key of the same target serves; key names (never values) in the
//! request log and `/admin/api/status`; a disabled provider is skipped and
//! `provider/model` to it refused; header values are redacted for viewers
//! and in every diff. Keys live in the test's private Secret Service
//! (`bash /work/tasks/rt.sh` / scripts/test.sh set AIGW_TEST_KEYRING=1).

use std::time::Duration;

use gateway_core::secrets::{keychain_delete, keychain_set};
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

use crate::common::{TestGateway, chat_body, header, provider, route};

fn keyring_available() -> bool {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through rt.sh / scripts/test.sh)");
    false
}

/// Keychain entries named for this test and process, removed on drop.
struct Keys(Vec<String>);

impl Keys {
    fn set(tag: &str, values: &[(&str, &str)]) -> Keys {
        let names = values
            .iter()
            .map(|(n, v)| {
                let name = format!("aigw-{tag}-{n}-{}", std::process::id());
                keychain_set(&name, v).unwrap();
                name
            })
            .collect();
        Keys(names)
    }
    fn r#ref(&self, i: usize) -> String {
        format!("keyring:{}", self.0[i])
    }
    /// `api_keys = [...]` of every entry, in order.
    fn api_keys(&self) -> String {
        let refs: Vec<String> = (0..self.0.len())
            .map(|i| format!("\"{}\"", self.r#ref(i)))
            .collect();
        format!("api_keys = [{}]\n", refs.join(", "))
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = keychain_delete(n);
        }
    }
}

fn bearer(r: &testkit::Recorded) -> String {
    r.header("authorization").unwrap_or_default()
}

#[tokio::test]
async fn a_rate_limited_key_cools_and_the_next_key_serves_the_same_target() {
    if !keyring_available() {
        return;
    }
    let keys = Keys::set(
        "pool",
        &[("a", "sk-pool-value-a"), ("b", "sk-pool-value-b")],
    );
    let up = FakeUpstream::start("up").await;
    let other = FakeUpstream::start("other").await;
    let toml = format!(
        "{}{}{}",
        provider(&up, &keys.api_keys()),
        provider(&other, ""),
        route("m", "", &[("up", None), ("other", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    // key a (first in the rotation) gets 429 with Retry-After: 120
    up.push(Behavior::Status {
        status: 429,
        retry_after: Some(120),
        body: None,
    });
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "up", "same target, next key");
    let id = header(&r, "x-aigw-request-id");
    let seen: Vec<String> = up.proxied_requests().iter().map(bearer).collect();
    assert_eq!(
        seen,
        ["Bearer sk-pool-value-a", "Bearer sk-pool-value-b"],
        "key a, then key b for the same target"
    );
    assert_eq!(
        other.proxied_requests().len(),
        0,
        "no fallback to the next target"
    );

    // key a cools: the next requests all go out with key b
    for _ in 0..3 {
        assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    }
    let seen: Vec<String> = up.proxied_requests().iter().skip(2).map(bearer).collect();
    assert_eq!(seen, ["Bearer sk-pool-value-b"; 3]);

    // key names, never values, in the status
    let (s, status) = gw.admin_get("/status").await;
    assert_eq!(s, 200);
    let text = status.to_string();
    assert!(!text.contains("sk-pool-value"), "{text}");
    let state = status["provider_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "up")
        .unwrap()
        .clone();
    assert_eq!(state["enabled"], true);
    assert_eq!(state["cooling"], false, "key b still serves");
    assert_eq!(state["keys"][0]["name"], keys.r#ref(0).as_str());
    assert_eq!(state["keys"][1]["name"], keys.r#ref(1).as_str());
    let left = state["keys"][0]["cooldown_remaining_ms"].as_u64().unwrap();
    assert!(
        left > 60_000 && left <= 120_000,
        "Retry-After respected: {left}"
    );
    assert!(state["keys"][1]["cooldown_remaining_ms"].is_null());
    let (_, providers) = gw.admin_get("/providers").await;
    assert_eq!(
        providers["providers"][0]["keys"][1]["name"],
        keys.r#ref(1).as_str()
    );

    // ...and in the request log: the row names the key that served, each
    // attempt the key it was sent with
    let db = gw.handle.state().telemetry_hub.db().unwrap().clone();
    let detail = {
        let mut found = None;
        for _ in 0..500 {
            let id = id.clone();
            found = db
                .read(move |c| gateway_core::telemetry::query::request(c, &id))
                .unwrap();
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        found.expect("the request is logged")
    };
    assert_eq!(
        detail.request.key_name.as_deref(),
        Some(keys.r#ref(1).as_str())
    );
    let per_attempt: Vec<_> = detail
        .attempts
        .iter()
        .map(|a| (a.status, a.key_name.clone()))
        .collect();
    assert_eq!(
        per_attempt,
        [
            (Some(429), Some(keys.r#ref(0))),
            (Some(200), Some(keys.r#ref(1)))
        ]
    );

    // key b gets 401 too: every key cools, so the provider cools and the
    // route falls back to the next target
    up.push(Behavior::status(401));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 401, "the last key's own answer is relayed");
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "other");
    let (_, status) = gw.admin_get("/status").await;
    let up_state = status["provider_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "up")
        .unwrap()
        .clone();
    assert_eq!(up_state["cooling"], true, "{up_state}");
    let b_left = up_state["keys"][1]["cooldown_remaining_ms"]
        .as_u64()
        .unwrap();
    // a 401 cools the key for routing.max_cooldown_s (300 s by default)
    assert!(b_left > 200_000 && b_left <= 300_000, "{b_left}");
    gw.shutdown().await;
}

#[tokio::test]
async fn least_recently_limited_prefers_the_key_never_limited() {
    if !keyring_available() {
        return;
    }
    let keys = Keys::set(
        "lrl",
        &[("a", "sk-lrl-a"), ("b", "sk-lrl-b"), ("c", "sk-lrl-c")],
    );
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[routing]\nmax_cooldown_s = 1\n{}{}",
        provider(
            &up,
            &format!(
                "{}key_rotation = \"least_recently_limited\"\n",
                keys.api_keys()
            )
        ),
        route("m", "", &[("up", None)])
    );
    let gw = TestGateway::start(&toml).await;
    // a is limited (cooling 1 s at most), then b
    up.push(Behavior::status(429));
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    let seen: Vec<String> = up.proxied_requests().iter().map(bearer).collect();
    assert_eq!(seen, ["Bearer sk-lrl-a", "Bearer sk-lrl-b"]);
    // however the rotation turns, c (never limited) goes before a
    for _ in 0..3 {
        assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    }
    let later: Vec<String> = up.proxied_requests().iter().skip(2).map(bearer).collect();
    assert!(
        !later.contains(&"Bearer sk-lrl-a".to_string()),
        "a was limited most recently: {later:?}"
    );
}

#[tokio::test]
async fn a_disabled_provider_is_skipped_shown_and_refused_by_name() {
    let off = FakeUpstream::start("off").await;
    let on = FakeUpstream::start("on").await;
    let toml = format!(
        "{}{}{}{}",
        provider(&off, "enabled = false"),
        provider(&on, ""),
        route("m", "", &[("off", None), ("on", None)]),
        route("only-off", "", &[("off", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "on");
    assert_eq!(
        header(&r, "x-aigw-route-mode"),
        "provider_fallback",
        "the preferred target is skipped"
    );
    assert_eq!(off.proxied_requests().len(), 0);
    for model in ["off/gpt-4o", "only-off"] {
        let r = gw.chat(&chat_body(model, false)).await;
        assert_eq!(r.status(), 403, "{model}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "provider_disabled", "{v}");
        assert_eq!(v["error"]["type"], "permission_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("\"off\""),
            "{v}"
        );
    }
    assert_eq!(off.proxied_requests().len(), 0);
    let (_, status) = gw.admin_get("/status").await;
    let states = status["provider_states"].as_array().unwrap();
    assert_eq!(states[0]["name"], "off");
    assert_eq!(states[0]["enabled"], false);
    assert_eq!(states[1]["enabled"], true);
    let (_, providers) = gw.admin_get("/providers").await;
    assert_eq!(providers["providers"][0]["enabled"], false);
}

#[tokio::test]
async fn the_enabled_switch_publishes_an_audited_version() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route("m", "", &[("a", None), ("b", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let (s, draft) = gw
        .admin_post(
            "/config/draft",
            json!({"ops": [{"op": "set_provider_enabled", "name": "a", "enabled": false}]}),
        )
        .await;
    assert_eq!(s, 200, "{draft}");
    assert_eq!(
        draft["preview"]["summary"]["providers_changed"],
        json!(["a"])
    );
    let (s, published) = gw
        .admin_post(
            "/config/publish",
            json!({"toml": draft["toml"], "message": "disable a", "source": "ui"}),
        )
        .await;
    assert_eq!(s, 200, "{published}");
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    assert_eq!(a.proxied_requests().len(), 0);
    let (_, audit) = gw.admin_get("/audit").await;
    let e = &audit["entries"][0];
    assert_eq!(e["action"], "publish", "{audit}");
    assert_eq!(e["actor"], "admin-token");
    // viewers cannot flip it
    let r = gw
        .http
        .post(format!("{}/admin/api/config/publish", gw.url))
        .bearer_auth(gw.tokens.viewer.expose())
        .json(&json!({"toml": toml}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn header_references_are_resolved_and_sent_upstream() {
    if !keyring_available() {
        return;
    }
    let keys = Keys::set("hdr", &[("az", "azure-secret-value-123")]);
    let up = FakeUpstream::start("az").await;
    let toml = format!(
        "{}{}",
        provider(
            &up,
            &format!(
                "headers = {{ api-key = \"{}\", x-plain = \"visible\" }}",
                keys.r#ref(0)
            )
        ),
        route("m", "", &[("az", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    let got = &up.proxied_requests()[0];
    assert_eq!(
        got.header("api-key").as_deref(),
        Some("azure-secret-value-123")
    );
    assert_eq!(got.header("x-plain").as_deref(), Some("visible"));
    // the resolved value never comes back (the keys list names the ref only)
    let (_, k) = gw.admin_get("/keys").await;
    assert!(!k.to_string().contains("azure-secret-value"), "{k}");
    assert!(k.to_string().contains(&keys.0[0]), "{k}");
}

#[tokio::test]
async fn header_references_that_do_not_resolve_fail_over_with_the_reason() {
    let up = FakeUpstream::start("az").await;
    let backup = FakeUpstream::start("backup").await;
    let toml = format!(
        "{}{}{}",
        provider(
            &up,
            "headers = { api-key = \"keyring:aigw-test-surely-absent-hdr\" }"
        ),
        provider(&backup, ""),
        route("m", "", &[("az", None), ("backup", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "backup");
    assert_eq!(
        up.proxied_requests().len(),
        0,
        "never sent without its header"
    );
    let (_, p) = gw.admin_get("/providers").await;
    let err = p["providers"][0]["key_error"].as_str().unwrap();
    assert!(err.contains("header api-key"), "{err}");
}

#[tokio::test]
async fn viewers_never_see_a_header_value_in_status_config_diff_or_history() {
    let up = FakeUpstream::start("az").await;
    let secret = "literal-azure-key-0001";
    let toml = format!(
        "{}{}",
        provider(
            &up,
            &format!("[providers.headers]\napi-key = \"{secret}\"\n")
        ),
        route("m", "", &[("az", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    // the literal value is sent
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    assert_eq!(
        up.proxied_requests()[0].header("api-key").as_deref(),
        Some(secret)
    );
    // a publish that changes the value, then one that changes something else
    let changed = toml.replace(secret, "literal-azure-key-0002");
    let (s, p) = gw
        .admin_post("/config/diff", json!({"toml": changed}))
        .await;
    assert_eq!(s, 200);
    let diff = p["unified"].as_str().unwrap();
    assert!(!diff.contains("literal-azure-key"), "{diff}");
    let (s, _) = gw
        .admin_post(
            "/config/publish",
            json!({"toml": changed, "message": "rotate"}),
        )
        .await;
    assert_eq!(s, 200);
    let again = changed.replace("[providers.headers]", "rpm = 100\n[providers.headers]");
    let (s, v2) = gw
        .admin_post("/config/publish", json!({"toml": again, "message": "rpm"}))
        .await;
    assert_eq!(s, 200, "{v2}");
    let id = v2["version"]["id"].as_i64().unwrap();
    for path in [
        "/status".to_string(),
        "/config".to_string(),
        "/providers".to_string(),
        "/config/history".to_string(),
        format!("/config/versions/{id}"),
        format!("/config/versions/{}", id - 1),
    ] {
        let (s, v) = gw.viewer_get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        let text = v.to_string();
        assert!(!text.contains("literal-azure-key"), "{path}: {text}");
    }
    let (_, v) = gw.viewer_get(&format!("/config/versions/{id}")).await;
    assert!(
        v["toml"]
            .as_str()
            .unwrap()
            .contains("api-key = \"[REDACTED]\""),
        "{v}"
    );
    assert!(v["toml"].as_str().unwrap().contains("rpm = 100"));
    // the admin editing the config gets the text as written
    let (_, v) = gw.admin_get(&format!("/config/versions/{id}")).await;
    assert!(
        v["toml"]
            .as_str()
            .unwrap()
            .contains("literal-azure-key-0002")
    );
    // and every stored diff is clean, for admins too
    let (_, h) = gw.admin_get("/config/history").await;
    assert!(!h.to_string().contains("literal-azure-key"), "{h}");
}

/// The real binary with `env:` references (set in the child's environment
/// only): a pool whose first key gets 429, a header from the environment;
/// the request line names the key that served, no value reaches the log.
#[tokio::test]
async fn the_request_line_names_the_pool_key_and_never_a_value() {
    let up = FakeUpstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let rest = format!(
        "{}{}",
        provider(
            &up,
            "api_keys = [\"env:POOL_KEY_A\", \"env:POOL_KEY_B\"]\n\
             headers = { x-tenant = \"env:POOL_TENANT\" }"
        ),
        route("m", "", &[("up", None)])
    );
    let mut aigw = crate::common::aigw::Aigw::serve_config(
        dir.path(),
        &rest,
        &[
            ("POOL_KEY_A", "sk-env-pool-a-value"),
            ("POOL_KEY_B", "sk-env-pool-b-value"),
            ("POOL_TENANT", "tenant-env-value"),
        ],
    );
    up.push(Behavior::status(429));
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    let got = up.proxied_requests();
    assert_eq!(bearer(&got[1]), "Bearer sk-env-pool-b-value");
    assert_eq!(
        got[1].header("x-tenant").as_deref(),
        Some("tenant-env-value")
    );
    let mut line = None;
    for _ in 0..500 {
        line = aigw
            .log_lines()
            .into_iter()
            .find(|l| l.contains("aigw::request"));
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let line = line.expect("a request line");
    assert!(line.contains("key=\"env:POOL_KEY_B\""), "{line}");
    aigw.sigterm();
    aigw.wait_exit();
    let log = aigw.log_lines().join("\n");
    for secret in ["sk-env-pool", "tenant-env-value"] {
        assert!(!log.contains(secret), "{secret} in the log: {log}");
    }
}
