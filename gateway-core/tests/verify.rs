//! Verification runs (model authenticity): a baseline recorded from a
//! truthful fake, then runs through a fake that "substitutes a smaller
//! model" (other token counts, wrong answers) and a second truthful one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use crate::wire::anthropic_provider;
use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, probe_model};

async fn three(extra: &str) -> (FakeUpstream, FakeUpstream, FakeUpstream, TestGateway) {
    fakes(extra, provider, [("cheap", false), ("mirror", true)]).await
}

/// A truthful `trusted` provider and two more of `kind`, each truthful or a
/// substituted smaller model, on a gateway with a data dir.
async fn fakes(
    extra: &str,
    kind: fn(&FakeUpstream, &str) -> String,
    [(one, one_true), (two, two_true)]: [(&str, bool); 2],
) -> (FakeUpstream, FakeUpstream, FakeUpstream, TestGateway) {
    let trusted = FakeUpstream::start("trusted").await;
    let first = FakeUpstream::start(one).await;
    let second = FakeUpstream::start(two).await;
    trusted.set_default(Behavior::Scripted(probe_model(true)));
    first.set_default(Behavior::Scripted(probe_model(one_true)));
    second.set_default(Behavior::Scripted(probe_model(two_true)));
    let toml = format!(
        "{extra}{}{}{}",
        provider(&trusted, ""),
        kind(&first, ""),
        kind(&second, "")
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    (trusted, first, second, gw)
}

fn target(p: &str) -> Value {
    json!({"provider": p, "model": "big-model"})
}

/// `POST /verify/runs` of `provider` against the `trusted` baseline.
async fn run_against_trusted(gw: &TestGateway, provider: &str) -> (u16, Value) {
    gw.admin_post(
        "/verify/runs",
        json!({"target": target(provider), "baseline": target("trusted")}),
    )
    .await
}

fn reasons(run: &Value, kind: &str) -> Vec<Value> {
    run["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_substituted_model_is_highly_suspect_and_a_truthful_one_normal() {
    let (trusted, cheap, mirror, gw) = three("").await;
    let n = gw.admin_get("/verify/suite").await.1["probes"]
        .as_array()
        .unwrap()
        .len();
    assert!(n >= 6, "the suite has its probes");

    // no baseline yet: a clear error, nothing sent
    let (s, e) = run_against_trusted(&gw, "cheap").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("no_baseline")),
        "{e}"
    );
    assert_eq!(cheap.request_count(), 0);

    let (s, b) = gw
        .admin_post(
            "/verify/baselines",
            json!({"target": target("trusted"), "source": "ui"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(trusted.request_count(), n);
    let probes = b["probes"].as_array().unwrap();
    assert!(
        probes.iter().all(|p| p["passed"] == true),
        "the truthful fake passes every check: {b}"
    );
    let tc = probes.iter().find(|p| p["probe"] == "token_count").unwrap();
    assert!(
        tc["tokens_in"].as_u64().unwrap() > 100,
        "the paragraph's tokens as the fake counted them"
    );
    assert_eq!(tc["tokens_estimated"], false);

    // the substitute: other tokenizer, wrong answers
    let (s, run) = gw
        .admin_post(
            "/verify/runs",
            json!({"target": target("cheap"), "baseline": target("trusted"), "source": "ui"}),
        )
        .await;
    assert_eq!(s, 200, "{run}");
    assert_eq!(run["verdict"], "highly_suspect", "{run}");
    assert_eq!(cheap.request_count(), n);
    let tokens = reasons(&run, "tokens");
    assert!(
        tokens
            .iter()
            .any(|r| r["probe"] == "token_count" && r["counted"] == true),
        "{run}"
    );
    let failed: Vec<Value> = reasons(&run, "check")
        .iter()
        .map(|r| r["probe"].clone())
        .collect();
    assert_eq!(
        failed,
        [
            json!("arithmetic"),
            json!("reverse"),
            json!("system_prompt")
        ],
        "{run}"
    );
    assert!(
        reasons(&run, "check")[0]["message"]
            .as_str()
            .unwrap()
            .contains("7006652"),
        "the reason says what was expected: {run}"
    );

    // a truthful second provider
    let (s, ok) = run_against_trusted(&gw, "mirror").await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["verdict"], "normal", "{ok}");
    assert!(
        ok["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["counted"] == false)
    );
    assert_eq!(mirror.request_count(), n);

    // every probe went to exactly the chosen target, with its model
    assert!(
        mirror
            .proxied_requests()
            .iter()
            .all(|r| r.model().as_deref() == Some("big-model"))
    );
    assert_eq!(
        trusted.request_count(),
        n,
        "runs do not touch the baseline's provider"
    );

    // stored; a viewer reads them but cannot start one
    let (_, list) = gw.admin_get("/verify/runs").await;
    let ids: Vec<&Value> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&ok["id"], &run["id"]]);
    let (s, one) = gw.admin_get(&format!("/verify/runs/{}", run["id"])).await;
    assert_eq!((s, &one["verdict"]), (200, &json!("highly_suspect")));
    let (s, _) = gw.viewer_get("/verify/runs").await;
    assert_eq!(s, 200);
    let (s, _) = gw.viewer_get("/verify/baselines").await;
    assert_eq!(s, 200);
    let (s, _) = gw
        .viewer_post(
            "/verify/runs",
            json!({"target": target("mirror"), "baseline": target("trusted")}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(mirror.request_count(), n, "the viewer's run sent nothing");
    let (_, bl) = gw.admin_get("/verify/baselines").await;
    assert_eq!(bl["baselines"][0]["target"], target("trusted"));

    // logged with origin verify, never as client traffic
    let mut logged = 0;
    for _ in 0..200 {
        let (_, v) = gw
            .admin_get("/telemetry/requests?minutes=60&origin=verify&limit=100")
            .await;
        logged = v["items"].as_array().map_or(0, Vec::len);
        if logged >= 3 * n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(logged, 3 * n, "baseline and two runs");
    let (_, c) = gw.admin_get("/telemetry/requests?minutes=60").await;
    assert_eq!(c["items"], json!([]), "no client traffic");
}

#[tokio::test]
async fn the_cost_cap_stops_a_verification_and_bad_input_is_refused() {
    let (trusted, cheap, _mirror, gw) = three(
        "[[telemetry.prices]]\nmodel = \"big-model\"\ninput_per_mtok = 1000.0\noutput_per_mtok = 1000.0\n",
    )
    .await;
    let (s, e) = gw
        .admin_post("/verify/estimate", json!({"target": target("trusted")}))
        .await;
    assert_eq!(s, 200, "{e}");
    let n = gw.admin_get("/verify/suite").await.1["probes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(e["requests"].as_u64(), Some(n as u64));
    let cost = e["cost_usd"].as_f64().expect("priced");
    assert!(
        cost > 0.05,
        "1000 $/Mtok makes the suite dearer than the default cap: {e}"
    );

    // over the cap: refused before anything is sent, nothing stored
    let (s, e) = gw
        .admin_post("/verify/baselines", json!({"target": target("trusted")}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("cost_cap")),
        "{e}"
    );
    assert_eq!(trusted.request_count(), 0);
    let (_, bl) = gw.admin_get("/verify/baselines").await;
    assert_eq!(bl["baselines"], json!([]));
    // a cap that allows it
    let (s, b) = gw
        .admin_post(
            "/verify/baselines",
            json!({"target": target("trusted"), "max_cost_usd": 10.0}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let spent = b["spent_usd"].as_f64().unwrap();
    assert!(
        spent > 0.0 && spent <= cost,
        "spent {spent} within the estimate {cost}"
    );

    for (body, code) in [
        (
            json!({"target": {"provider": "ghost", "model": "m"}}),
            "invalid_verify",
        ),
        (
            json!({"target": target("cheap"), "max_cost_usd": -1}),
            "invalid_verify",
        ),
        (
            json!({"target": target("cheap"), "baseline": target("trusted"), "token_tolerance_pct": 500}),
            "invalid_verify",
        ),
        (
            json!({"target": target("cheap"), "baseline": target("mirror"), "max_cost_usd": 10.0}),
            "no_baseline",
        ),
        (
            json!({"target": target("cheap"), "baseline": target("trusted")}),
            "cost_cap",
        ),
    ] {
        let (s, e) = gw.admin_post("/verify/runs", body.clone()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {e}"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (s, e) = gw.admin(reqwest::Method::POST, "/verify/runs", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{e}"
    );
    assert_eq!(cheap.request_count(), 0, "nothing refused was sent");
}

fn aigw(args: &[&str]) -> (i32, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args(args)
        .env_remove("AIGW_LISTEN")
        .env("AIGW_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

// aigw runs as a blocking child process: keep a worker free for the fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aigw_verify_baseline_run_and_list_with_exit_codes() {
    let trusted = FakeUpstream::start("trusted").await;
    let cheap = FakeUpstream::start("cheap").await;
    trusted.set_default(Behavior::Scripted(probe_model(true)));
    cheap.set_default(Behavior::Scripted(probe_model(false)));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("{}{}", provider(&trusted, ""), provider(&cheap, "")),
    )
    .unwrap();
    let data = dir.path().join("data");
    let (c, d) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let run = |args: &[&str]| aigw(&[&["--config", c, "--data-dir", d][..], args].concat());

    // without --yes: the estimate only, nothing sent
    let (code, t) = run(&["verify", "baseline", "--target", "trusted:big"]);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("8 requests") && t.contains("--yes"), "{t}");
    assert_eq!(trusted.request_count(), 0);

    let (code, t) = run(&["verify", "baseline", "--target", "trusted:big", "--yes"]);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("baseline 1 recorded"), "{t}");

    let (code, t) = run(&[
        "verify",
        "run",
        "--target",
        "cheap:big",
        "--baseline",
        "trusted:big",
        "--yes",
    ]);
    assert_eq!(code, 3, "highly_suspect exits 3: {t}");
    assert!(
        t.contains("verdict: highly_suspect") && t.contains("arithmetic: check failed"),
        "{t}"
    );

    let (code, t) = run(&["verify", "run", "--target", "trusted:big", "--yes"]);
    assert_eq!(code, 0, "against its own baseline: {t}");
    assert!(t.contains("verdict: normal"), "{t}");

    let (code, t) = run(&["verify", "run", "--target", "cheap:big", "--yes"]);
    assert_eq!(code, 1, "no baseline of its own: {t}");
    assert!(t.contains("no baseline for cheap:big"), "{t}");

    let (code, t) = run(&["verify", "list"]);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("highly_suspect") && t.contains("normal"), "{t}");
}

/// The probes are chat completions; an Anthropic-kind target gets them
/// translated to Messages (and the answers back), and is scored the same.
#[tokio::test]
async fn an_anthropic_kind_target_is_verified_through_translation() {
    let (_trusted, claude, _cheap, gw) = fakes(
        "",
        anthropic_provider,
        [("claude", true), ("cheapclaude", false)],
    )
    .await;
    let (s, b) = gw
        .admin_post("/verify/baselines", json!({"target": target("trusted")}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, ok) = run_against_trusted(&gw, "claude").await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["verdict"], "normal", "{ok}");
    assert!(
        claude
            .proxied_requests()
            .iter()
            .all(|r| r.path == "/v1/messages"),
        "spoken to in its own protocol"
    );
    let tool = ok["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == "tool_call")
        .unwrap();
    assert_eq!(
        tool["passed"], true,
        "the tool_use block came back as a tool call: {tool}"
    );
    let (_, bad) = run_against_trusted(&gw, "cheapclaude").await;
    assert_eq!(bad["verdict"], "highly_suspect", "{bad}");
}
