//! Issue 9: replay and the synthetic model benchmark, against fake
//! upstreams with different latencies and failure rates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::time::Duration;

use common::*;
use gateway_core::config::Config;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

/// What these tests add to the shared gateway (started with a data dir,
/// so with a request log).
impl TestGateway {
    /// Waits until the telemetry log has `n` rows for `origin`.
    async fn rows(&self, origin: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let (_, v) = self
                .admin(
                    reqwest::Method::GET,
                    &format!("/telemetry/requests?minutes=60&origin={origin}"),
                    None,
                )
                .await;
            let rows = v["items"].as_array().cloned().unwrap_or_default();
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} {origin} rows");
    }
}

#[tokio::test]
async fn replay_reaches_exactly_the_chosen_target_and_is_not_client_traffic() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "[telemetry]\nstore_bodies = true\n{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route("m", "", &[("a", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let mut body = chat_body("m", false);
    body["x_custom"] = json!({"keep": true});
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.handle.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let id = header(&r, "x-aigw-request-id");
    gw.rows("client", 1).await;

    let (s, v) = gw
        .admin(
            reqwest::Method::POST,
            "/replay",
            Some(json!({"request_id": id, "provider": "b", "model": "bm"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["replay"]["provider"], "b");
    assert_eq!(v["replay"]["model"], "bm");
    assert_eq!(v["replay"]["status"], 200);
    assert!(
        v["replay"]["response"]
            .as_str()
            .unwrap()
            .contains("Hello from b")
    );
    assert_eq!(v["original"]["id"], id.as_str());
    assert_eq!(v["original"]["provider"], "a");
    // exactly the chosen target, with the original body and the new model
    assert_eq!(a.request_count(), 1);
    assert_eq!(b.request_count(), 1);
    let got = b.proxied_requests()[0].json();
    assert_eq!(got["model"], "bm");
    assert_eq!(got["x_custom"], json!({"keep": true}));
    assert_eq!(got["messages"], body["messages"]);
    // logged as a replay, not as client traffic
    let replays = gw.rows("replay", 1).await;
    assert_eq!(replays[0]["provider"], "b");
    let clients = gw.rows("client", 1).await;
    assert_eq!(clients.len(), 1);
    let (_, summary) = gw
        .admin(reqwest::Method::GET, "/telemetry/summary", None)
        .await;
    assert!(!summary.to_string().contains("\"requests\":2"), "{summary}");

    // a pasted body to a provider that fails: reported, not retried elsewhere
    b.push(Behavior::status(503));
    let (s, v) = gw
        .admin(
            reqwest::Method::POST,
            "/replay",
            Some(json!({"body": chat_body("x", false), "provider": "b", "model": "bm"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["replay"]["status"], 503);
    assert_eq!(v["replay"]["error"], "upstream_5xx");
    assert_eq!(a.request_count(), 1, "no fallback during a replay");
    let (s, v) = gw
        .admin(
            reqwest::Method::POST,
            "/replay",
            Some(json!({"request_id": "req_nope", "provider": "b"})),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn replay_without_stored_bodies_asks_for_a_pasted_one() {
    let a = FakeUpstream::start("a").await;
    let toml = format!("{}{}", provider(&a, ""), route("m", "", &[("a", None)]));
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.handle.base_url()))
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    let id = header(&r, "x-aigw-request-id");
    gw.rows("client", 1).await;
    let (s, v) = gw
        .admin(
            reqwest::Method::POST,
            "/replay",
            Some(json!({"request_id": id, "provider": "a"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("store_bodies"),
        "{v}"
    );
    // viewers cannot replay
    let r = gw
        .http
        .post(format!("{}/admin/api/replay", gw.handle.base_url()))
        .json(&json!({"body": chat_body("m", false), "provider": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn benchmark_figures_match_what_the_fakes_do() {
    let fast = FakeUpstream::start("fast").await;
    let slow = FakeUpstream::start("slow").await;
    let flaky = FakeUpstream::start("flaky").await;
    slow.set_default(Behavior::delay(Duration::from_millis(150), Behavior::Ok));
    flaky.set_default(Behavior::status(500));
    flaky.push(Behavior::Ok);
    flaky.push(Behavior::Ok);
    let toml = format!(
        "{}{}{}",
        provider(&fast, ""),
        provider(&slow, ""),
        provider(&flaky, "")
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let spec = json!({
        "targets": [{"provider": "fast", "model": "m"}, {"provider": "slow", "model": "m"}, {"provider": "flaky", "model": "m"}],
        "protocols": ["chat"], "stream": [false], "requests": 4, "concurrency": 1, "max_cost_usd": 1.0,
    });
    let (s, e) = gw
        .admin(reqwest::Method::POST, "/bench/estimate", Some(spec.clone()))
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["requests"], 12);
    assert_eq!(
        e["unpriced"].as_array().unwrap().len(),
        3,
        "model m has no price: {e}"
    );

    let (s, run) = gw
        .admin(reqwest::Method::POST, "/bench/runs", Some(spec))
        .await;
    assert_eq!(s, 200, "{run}");
    let by = |p: &str| {
        run["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["provider"] == p)
            .unwrap()
            .clone()
    };
    let (f, sl, fl) = (by("fast"), by("slow"), by("flaky"));
    assert_eq!((f["sent"].as_u64(), f["ok"].as_u64()), (Some(4), Some(4)));
    assert_eq!(f["success_rate"], 1.0);
    // the slow fake waits 150 ms before answering
    assert!(sl["latency_ms"]["p50"].as_f64().unwrap() >= 150.0, "{sl}");
    assert!(f["latency_ms"]["p50"].as_f64().unwrap() < sl["latency_ms"]["p50"].as_f64().unwrap());
    assert_eq!(fl["success_rate"], 0.5);
    assert_eq!(fl["errors"], json!({"upstream_5xx": 2}));
    assert_eq!(
        (
            fast.request_count(),
            slow.request_count(),
            flaky.request_count()
        ),
        (4, 4, 4)
    );
    // stored and comparable over time
    let (_, list) = gw.admin(reqwest::Method::GET, "/bench/runs", None).await;
    assert_eq!(list["runs"][0]["id"], run["id"]);
    let (s, one) = gw
        .admin(
            reqwest::Method::GET,
            &format!("/bench/runs/{}", run["id"]),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(one["reports"].as_array().unwrap().len(), 3);
    // benchmark traffic is logged as such, not as client traffic
    gw.rows("bench", 12).await;
    let (_, c) = gw
        .admin(reqwest::Method::GET, "/telemetry/requests?minutes=60", None)
        .await;
    assert_eq!(c["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn streaming_benchmark_measures_time_to_first_token() {
    let up = FakeUpstream::start("up").await;
    up.set_default(Behavior::Stream {
        deltas: vec!["1 ".into(), "2 ".into(), "3".into()],
        interval: Duration::from_millis(60),
    });
    let gw = TestGateway::builder(&provider(&up, ""))
        .data_dir()
        .start()
        .await;
    let spec = json!({"targets": [{"provider": "up", "model": "m"}], "stream": [true], "requests": 2, "max_cost_usd": 1.0});
    let (s, run) = gw
        .admin(reqwest::Method::POST, "/bench/runs", Some(spec))
        .await;
    assert_eq!(s, 200, "{run}");
    let r = &run["reports"][0];
    assert_eq!(r["ok"], 2);
    // first content after one interval, the whole answer after three or more
    assert!(r["ttft_ms"]["p50"].as_f64().unwrap() >= 60.0, "{r}");
    assert!(r["latency_ms"]["p50"].as_f64().unwrap() >= 180.0, "{r}");
    assert!(r["tokens_per_s"].as_f64().unwrap() > 0.0, "{r}");
}

#[tokio::test]
async fn the_cost_cap_stops_a_run() {
    let up = FakeUpstream::start("up").await;
    // about a cent per request at this price
    let toml = format!(
        "[[telemetry.prices]]\nmodel = \"pricey\"\ninput_per_mtok = 150.0\noutput_per_mtok = 150.0\n{}",
        provider(&up, "")
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let spec = json!({
        "targets": [{"provider": "up", "model": "pricey"}], "stream": [false],
        "requests": 10, "concurrency": 1, "max_tokens": 16, "max_cost_usd": 0.02,
    });
    let (_, est) = gw
        .admin(reqwest::Method::POST, "/bench/estimate", Some(spec.clone()))
        .await;
    let est_cost = est["cost_usd"].as_f64().unwrap();
    assert!(
        est_cost > 0.02,
        "the estimate shows the run would cost more than the cap: {est}"
    );
    let (s, run) = gw
        .admin(reqwest::Method::POST, "/bench/runs", Some(spec))
        .await;
    assert_eq!(s, 200, "{run}");
    assert_eq!(run["stopped_by_cost_cap"], true);
    assert!(run["spent_usd"].as_f64().unwrap() <= 0.02, "{run}");
    let sent = run["reports"][0]["sent"].as_u64().unwrap();
    assert!((1..10).contains(&sent), "{run}");
    assert_eq!(up.request_count() as u64, sent);
}

#[test]
fn bench_schedule_is_off_by_default_and_validated() {
    let p =
        "[[providers]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    assert!(Config::parse(p, "t").unwrap().bench.is_none());
    let c = Config::parse(&format!("{p}[bench]\nevery_minutes = 10\ntargets = [\"up:m\"]\nprotocols = [\"chat\", \"messages\"]\n"), "t").unwrap();
    let (every, spec) = c.bench.unwrap();
    assert_eq!(every, Duration::from_secs(600));
    assert_eq!(spec.targets[0].model, "m");
    assert_eq!(spec.protocols.len(), 2);
    let off = Config::parse(&format!("{p}[bench]\ntargets = [\"up:m\"]\n"), "t").unwrap();
    assert!(off.bench.is_none(), "every_minutes defaults to 0 = off");
    let e = Config::parse(&format!("{p}[bench]\nevery_minutes = 5\ntargets = [\"ghost:m\", \"nocolon\"]\nprotocols = [\"smtp\"]\n"), "t").unwrap_err();
    let paths: Vec<&str> = e.issues.iter().map(|i| i.path.as_str()).collect();
    assert!(
        paths.contains(&"bench.targets[0]")
            && paths.contains(&"bench.targets[1]")
            && paths.contains(&"bench.protocols[0]"),
        "{paths:?}"
    );
}
