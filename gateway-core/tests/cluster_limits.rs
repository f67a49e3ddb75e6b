//! Issue 20, limits and budgets shared by three replicas through a real
//! `redis-server`: 60 RPM across three replicas admits 60 under concurrent
//! load spread over all three; a $1 budget stops at $1 (within one
//! request's estimate); with Redis killed mid-run no request fails, each
//! replica enforces a third of the limit, `aigw_cluster_engine_up` says 0,
//! and when Redis returns the spend of the outage is added to it.

use std::time::{Duration, Instant};

use crate::cluster_common::*;
use crate::common::*;

use serde_json::{Value, json};
use testkit::{FakeUpstream, RedisServer};

/// One provider `a` at $0.01 a token in and out (an answer, 10 in and 3
/// out, costs $0.13), a route `*`, and `extra` (e.g. `[limits]`).
fn config(a: &FakeUpstream, extra: &str) -> String {
    format!(
        "{}{}[[telemetry.prices]]\nprovider = \"a\"\ninput_per_mtok = 10000\noutput_per_mtok = 10000\n{extra}\n",
        provider(a, ""),
        route("*", "", &[("a", None)])
    )
}

const ANSWER_USD: f64 = 0.13;

fn key_body() -> Value {
    let mut body = chat_body("gpt-5", false);
    body["max_tokens"] = json!(10);
    body
}

/// What a request of [`key_body`] is estimated at: its bytes / 4 in and
/// `max_tokens` out, $0.01 each.
fn estimate_usd() -> f64 {
    let bytes = serde_json::to_vec(&key_body()).unwrap().len() as f64;
    ((bytes / 4.0).ceil() + 10.0) * 0.01
}

async fn chat_as(gw: &TestGateway, secret: Option<&str>) -> u16 {
    let mut rb = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&key_body());
    if let Some(s) = secret {
        rb = rb.bearer_auth(s);
    }
    rb.send().await.unwrap().status().as_u16()
}

/// `n` requests to each replica at once; the statuses per replica.
async fn burst(gws: &[TestGateway], n: usize, secret: Option<&str>) -> Vec<Vec<u16>> {
    let per: Vec<_> = gws
        .iter()
        .map(|gw| async move {
            futures_util::future::join_all((0..n).map(|_| chat_as(gw, secret))).await
        })
        .collect();
    futures_util::future::join_all(per).await
}

/// A key made on a seed gateway, whose data dir the replicas copy.
async fn seed_with_key(toml: &str, key: Value) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), toml).unwrap();
    let seed = TestGateway::builder(toml).in_dir(dir.path()).start().await;
    let (s, v) = seed.admin_post("/keys/client", key).await;
    assert_eq!(s, 200, "{v}");
    let id = v["key"]["id"].as_str().unwrap().to_string();
    let secret = v["secret"].as_str().unwrap().to_string();
    seed.shutdown().await;
    (dir, id, secret)
}

/// The budget's `spent` and `reserved` in Redis (the one budget key).
fn redis_budget(redis: &RedisServer, id: &str) -> Option<(f64, f64)> {
    let keys = redis.command(&["KEYS", &format!("aigw:{{budget:vk:{id}}}:*")]);
    let key = keys.lines().find(|l| l.starts_with("aigw:"))?.to_string();
    let reply = redis.command(&["HMGET", &key, "spent", "reserved"]);
    let nums: Vec<f64> = reply
        .lines()
        .filter(|l| !l.starts_with('*') && !l.starts_with('$'))
        .filter_map(|l| l.parse().ok())
        .collect();
    Some((*nums.first()?, *nums.get(1)?))
}

/// 150 requests at once, 50 on each replica, against `ingress_rpm = 60`:
/// exactly 60 are admitted, plus at most what refilled while they ran
/// (one a second, and one for a partial second), and every other one is
/// a 429: none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_rpm_across_three_replicas_admits_sixty() {
    let a = FakeUpstream::start("a").await;
    let redis_server = RedisServer::start().await;
    let gws = start_same(
        3,
        &config(&a, "[limits]\ningress_rpm = 60"),
        &redis_section(&redis_server.url()),
    )
    .await;
    wait_redis_up(&gws).await;
    let t0 = Instant::now();
    let statuses = burst(&gws, 50, None).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let all: Vec<u16> = statuses.iter().flatten().copied().collect();
    assert!(all.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    let ok = all.iter().filter(|s| **s == 200).count();
    let refilled = elapsed.floor() as usize + 1;
    assert!(
        (60..=60 + refilled).contains(&ok),
        "{ok} admitted in {elapsed:.1} s: {statuses:?}"
    );
    // Spread over all three, decided by Redis (not one replica alone).
    assert!(
        gws.iter().all(|g| redis(g).degraded_decisions() == 0),
        "a decision was local"
    );
}

/// A $1 budget on one key used on three replicas at once: it stops with at
/// most $1 spent and less than one request's estimate left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_dollar_budget_stops_at_one_dollar_across_replicas() {
    let a = FakeUpstream::start("a").await;
    let redis_server = RedisServer::start().await;
    let toml = config(&a, "");
    let (seed, id, secret) = seed_with_key(&toml, json!({"name": "team", "budget_usd": 1.0})).await;
    let gws = start_replicas_from(
        Some(&seed.path().join("data")),
        &vec![toml; 3],
        &redis_section(&redis_server.url()),
    )
    .await;
    wait_redis_up(&gws).await;
    // At once on every replica until each is refused ...
    let mut served = 0;
    for _ in 0..10 {
        let statuses = burst(&gws, 3, Some(&secret)).await;
        let flat: Vec<u16> = statuses.iter().flatten().copied().collect();
        assert!(flat.iter().all(|s| *s == 200 || *s == 429), "{flat:?}");
        served += flat.iter().filter(|s| **s == 200).count();
        if flat.iter().all(|s| *s == 429) {
            break;
        }
    }
    // ... then, once every settle is in, one at a time until refused.
    let settled = |served: usize| {
        redis_budget(&redis_server, &id).is_some_and(|(spent, reserved)| {
            reserved.abs() < 1e-9 && (spent - ANSWER_USD * served as f64).abs() < 1e-6
        })
    };
    for i in 0.. {
        eventually("every settle reached redis", || settled(served)).await;
        let status = chat_as(&gws[i % 3], Some(&secret)).await;
        if status == 429 {
            break;
        }
        assert_eq!(status, 200);
        served += 1;
        assert!(served < 20, "the budget never stopped the key");
    }
    let spent = ANSWER_USD * served as f64;
    let estimate = estimate_usd();
    assert!(spent <= 1.0 + 1e-9, "spent {spent}");
    assert!(
        1.0 - spent < estimate,
        "stopped at {spent} with {estimate} an estimate"
    );
    // The refusal is the budget's, on every replica.
    for gw in gws.iter() {
        let r = gw
            .http
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(&secret)
            .json(&key_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
    }
}

/// Redis killed mid-run: no request fails; each replica admits a third of
/// the 60 RPM (plus what refilled meanwhile, 20 a minute); the metric says
/// the engine is down and the decisions local; spend settled during the
/// outage is added to the budget when Redis returns (empty: it lost its
/// data), before it is used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_degrades_to_a_third_per_replica_and_resyncs_after_restart() {
    let a = FakeUpstream::start("a").await;
    let mut redis_server = RedisServer::start().await;
    let toml = config(&a, "[limits]\ningress_rpm = 60");
    let (seed, id, secret) =
        seed_with_key(&toml, json!({"name": "team", "budget_usd": 100.0})).await;
    let gws = start_replicas_from(
        Some(&seed.path().join("data")),
        &vec![toml; 3],
        &redis_section(&redis_server.url()),
    )
    .await;
    wait_redis_up(&gws).await;
    // Up: one request on each replica, each settled before the next.
    for (i, gw) in gws.iter().enumerate() {
        assert_eq!(chat_as(gw, Some(&secret)).await, 200);
        eventually("the settle reached redis", || {
            redis_budget(&redis_server, &id).is_some_and(|(spent, reserved)| {
                reserved.abs() < 1e-9 && (spent - ANSWER_USD * (i + 1) as f64).abs() < 1e-6
            })
        })
        .await;
    }
    // 3 of the 60 are spent in Redis; now it is gone.
    redis_server.kill();
    let t0 = Instant::now();
    let statuses = burst(&gws, 30, Some(&secret)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let refilled = (elapsed / 3.0).floor() as usize + 1;
    for (i, s) in statuses.iter().enumerate() {
        assert!(
            s.iter().all(|s| *s == 200 || *s == 429),
            "replica {i}: {s:?}"
        );
        let ok = s.iter().filter(|s| **s == 200).count();
        assert!(
            (20..=20 + refilled).contains(&ok),
            "replica {i} admitted {ok} of a third of 60 in {elapsed:.1} s: {s:?}"
        );
    }
    let outage_served: usize = statuses.iter().flatten().filter(|s| **s == 200).count();
    wait_redis_down(&gws).await;
    for gw in gws.iter() {
        let m = gw.metrics_text().await;
        assert!(
            m.contains("aigw_cluster_engine_up{engine=\"redis\"} 0"),
            "{m}"
        );
        assert!(redis(gw).degraded_decisions() >= 30, "{m}");
    }
    // Back, empty: the replicas push what they spent meanwhile.
    redis_server.restart().await;
    wait_redis_up(&gws).await;
    let outage_usd = ANSWER_USD * outage_served as f64;
    let (spent, reserved) = redis_budget(&redis_server, &id).expect("the budget resynced");
    assert!(reserved.abs() < 1e-9, "{reserved}");
    // The first replica back seeds the lost key with the spend it knew
    // last (one, two or all three of the requests before the outage).
    let before = spent - outage_usd;
    assert!(
        [1.0, 2.0, 3.0]
            .iter()
            .any(|n| (before - ANSWER_USD * n).abs() < 1e-6),
        "spent {spent} after an outage spending {outage_usd}"
    );
    for gw in gws.iter() {
        let m = gw.metrics_text().await;
        assert!(
            m.contains("aigw_cluster_engine_up{engine=\"redis\"} 1"),
            "{m}"
        );
    }
    // Shared again: the next request is decided by Redis.
    let before = redis(&gws[0]).degraded_decisions();
    assert_eq!(chat_as(&gws[0], Some(&secret)).await, 200);
    assert_eq!(redis(&gws[0]).degraded_decisions(), before);
}

/// Refused requests are decided in one call: a model limit's refusal says
/// so, and gives back nothing of the ingress limit (all or nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_takes_nothing_from_the_other_limits() {
    let a = FakeUpstream::start("a").await;
    let redis_server = RedisServer::start().await;
    let gws = start_same(
        2,
        &config(
            &a,
            "[limits]\ningress_rpm = 5\n[[limits.models]]\nmodel = \"gpt-5\"\nrpm = 2\n",
        ),
        &redis_section(&redis_server.url()),
    )
    .await;
    wait_redis_up(&gws).await;
    let t0 = Instant::now();
    assert_eq!(chat_as(&gws[0], None).await, 200);
    assert_eq!(chat_as(&gws[1], None).await, 200);
    let r = gws[0].chat(&key_body()).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.models"),
        "{v}"
    );
    // 2 of the 5 ingress requests are spent, not 3: three more for another model.
    for gw in [&gws[1], &gws[0], &gws[1]] {
        assert_eq!(gw.chat(&chat_body("other", false)).await.status(), 200);
    }
    let status = gws[0].chat(&chat_body("other", false)).await.status();
    // (5 a minute refill one every 12 s.)
    if t0.elapsed() < Duration::from_secs(12) {
        assert_eq!(status, 429);
    }
}
