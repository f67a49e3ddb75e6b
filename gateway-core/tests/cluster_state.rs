//! Team mode, issue 20: what replicas share through Redis besides limits
//! — cooldowns (a target cooled by one replica is skipped by all within a
//! second, cleared when it recovers or its cooldown ends), sticky-session
//! bindings (a session keeps its target on another replica) and response
//! cache entries (an answer cached on one replica is a hit on another).
//! Redis killed: every replica keeps serving from its own state. Real
//! `redis-server`, three in-process replicas on 127.0.0.1.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, RedisServer};

use crate::cluster_common::{redis_section, start_same, wait_redis_down, wait_redis_up};
use crate::common::*;

fn rate_limited(retry_after_s: u64) -> Behavior {
    Behavior::Status {
        status: 429,
        retry_after: Some(retry_after_s),
        body: None,
    }
}

/// Whether `gw`'s registry has `provider`'s target of `model` open
/// (cooling, by its own breaker or another replica's).
fn cooling(gw: &TestGateway, provider: &str, model: &str) -> bool {
    gw.handle
        .state()
        .health
        .snapshot(tokio::time::Instant::now())
        .into_iter()
        .any(|(p, m, s)| p == provider && m == model && s.open)
}

fn shared(gw: &TestGateway) -> &gateway_core::cluster::shared::SharedState {
    gw.handle
        .state()
        .shared
        .as_deref()
        .expect("a replica with redis_url shares state")
}

/// Polls `cond` every 10 ms until `deadline` after `from`; false if it
/// never held by then.
async fn within(from: Instant, deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if from.elapsed() > deadline {
            return cond();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        within(Instant::now(), Duration::from_secs(20), cond).await,
        "never happened: {what}"
    );
}

fn served_by(r: &reqwest::Response) -> String {
    header(r, "x-aigw-provider")
}

#[tokio::test]
async fn a_target_cooled_on_one_replica_is_skipped_by_the_others_within_a_second() {
    let redis = RedisServer::start().await;
    let hot = FakeUpstream::start("hot").await;
    let cold = FakeUpstream::start("cold").await;
    hot.set_default(rate_limited(2));
    let toml = format!(
        "{}{}{}",
        provider(&hot, ""),
        provider(&cold, ""),
        route("m", "", &[("hot", None), ("cold", None)])
    );
    let gws = start_same(3, &toml, &redis_section(&redis.url())).await;
    wait_redis_up(&gws).await;

    // Replica A meets the 429 (with Retry-After): it cools `hot` and
    // answers from `cold`.
    let r = gws[0].chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(served_by(&r), "cold");
    let cooled_at = Instant::now();
    assert_eq!(hot.request_count(), 1);
    assert!(cooling(&gws[0], "hot", "m"));

    // B and C skip it within a second, without having tried it.
    let seen = within(cooled_at, Duration::from_secs(1), || {
        cooling(&gws[1], "hot", "m") && cooling(&gws[2], "hot", "m")
    })
    .await;
    assert!(seen, "B and C did not see A's cooldown within 1 s");
    eprintln!(
        "A's cooldown seen by B and C after {:?}",
        cooled_at.elapsed()
    );
    for gw in &gws[1..] {
        let r = gw.chat(&chat_body("m", false)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(served_by(&r), "cold");
        assert_eq!(header(&r, "x-aigw-attempts"), "1", "hot was not tried");
    }
    assert_eq!(
        hot.request_count(),
        1,
        "no replica sent hot another request"
    );
    // The reason travels with it.
    let snap = gws[1]
        .handle
        .state()
        .health
        .snapshot(tokio::time::Instant::now());
    let (_, _, s) = snap.iter().find(|(p, _, _)| p == "hot").unwrap();
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cooled by another replica: ") && e.contains("429")),
        "{:?}",
        s.last_error
    );

    // The cooldown ends (Retry-After: 2 s) and hot answers again: B and C
    // send to it, and the shared key is gone.
    hot.set_default(Behavior::Ok);
    for gw in &gws[1..] {
        let mut back = false;
        for _ in 0..400 {
            let r = gw.chat(&chat_body("m", false)).await;
            assert_eq!(r.status(), 200);
            if served_by(&r) == "hot" {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(back, "the target never came back");
    }
    eventually("the shared cooldown key is gone", || {
        redis.command(&["EXISTS", "aigw:{cool}:t:hot:m"]) == ":0\r\n"
    })
    .await;
}

#[tokio::test]
async fn a_recovered_target_is_cleared_for_every_replica_before_its_cooldown_ends() {
    let redis = RedisServer::start().await;
    let solo = FakeUpstream::start("solo").await;
    // A minute of Retry-After: only a clear ends it within the test.
    solo.set_default(rate_limited(60));
    let toml = format!(
        "{}{}",
        provider(&solo, ""),
        route("m", "", &[("solo", None)])
    );
    let gws = start_same(3, &toml, &redis_section(&redis.url())).await;
    wait_redis_up(&gws).await;
    let r = gws[0].chat(&chat_body("m", false)).await;
    assert_ne!(r.status(), 200);
    eventually("B and C see the cooldown", || {
        cooling(&gws[1], "solo", "m") && cooling(&gws[2], "solo", "m")
    })
    .await;
    let ttl = redis.command(&["PTTL", "aigw:{cool}:t:solo:m"]);
    let ms: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!(ms > 30_000, "the key lives as long as the cooldown: {ttl}");

    // The upstream recovers; A's next request is the route's last resort
    // (every target cooling), succeeds, and clears the shared cooldown.
    solo.set_default(Behavior::Ok);
    let r = gws[0].chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    eventually("B and C no longer skip it", || {
        !cooling(&gws[1], "solo", "m") && !cooling(&gws[2], "solo", "m")
    })
    .await;
    assert_eq!(redis.command(&["EXISTS", "aigw:{cool}:t:solo:m"]), ":0\r\n");
    for gw in &gws[1..] {
        let r = gw.chat(&chat_body("m", false)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-aigw-attempts"), "1");
    }
}

async fn in_session(gw: &TestGateway, sid: &str) -> reqwest::Response {
    gw.chat_in_session("x-session-id", sid).await
}

#[tokio::test]
async fn a_sticky_session_started_on_one_replica_keeps_its_target_on_another() {
    let redis = RedisServer::start().await;
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route("m", "strategy = \"weighted\"", &[("a", None), ("b", None)])
    );
    let gws = start_same(3, &toml, &redis_section(&redis.url())).await;
    wait_redis_up(&gws).await;

    // On A, one request without a session moves its round robin on: the
    // sessions then alternate b, a, b, a — the opposite of what a fresh
    // replica's round robin would pick for them (a, b, a, b).
    assert_eq!(served_by(&gws[0].chat(&chat_body("m", false)).await), "a");
    let sessions = ["s-1", "s-2", "s-3", "s-4"];
    let mut on_a = Vec::new();
    for sid in sessions {
        let r = in_session(&gws[0], sid).await;
        assert_eq!(r.status(), 200);
        on_a.push(served_by(&r));
    }
    assert_eq!(on_a, ["b", "a", "b", "a"]);
    let writes = &shared(&gws[0]).counters.writes;
    eventually("A published the bindings", || {
        writes.load(Ordering::Relaxed) >= 4
    })
    .await;

    // Behind a load balancer the sessions' next requests land on B: each
    // keeps its target, and stays there.
    for (sid, want) in sessions.iter().zip(&on_a) {
        for _ in 0..2 {
            let r = in_session(&gws[1], sid).await;
            assert_eq!(r.status(), 200);
            assert_eq!(&served_by(&r), want, "session {sid} on B");
        }
    }
    let c = &shared(&gws[1]).counters;
    assert_eq!(
        c.sticky_hit.load(Ordering::Relaxed),
        4,
        "one Redis lookup per session (a local miss), none after"
    );
    // A session nobody bound is a miss in Redis, then local.
    let r = in_session(&gws[2], "s-new").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        shared(&gws[2]).counters.sticky_miss.load(Ordering::Relaxed),
        1
    );
}

fn cached_body(text: &str) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn an_answer_cached_on_one_replica_is_a_hit_on_another() {
    let redis = RedisServer::start().await;
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("m", "cache = { ttl_s = 300 }", &[("up", None)])
    );
    let gws = start_same(3, &toml, &redis_section(&redis.url())).await;
    wait_redis_up(&gws).await;

    let r1 = gws[0].chat(&cached_body("hi")).await;
    assert_eq!(r1.status(), 200);
    assert_eq!(header(&r1, "x-aigw-cache"), "miss");
    let a1: Value = r1.json().await.unwrap();
    let writes = &shared(&gws[0]).counters.writes;
    eventually("A shared the entry", || writes.load(Ordering::Relaxed) >= 1).await;

    let r2 = gws[2].chat(&cached_body("hi")).await;
    assert_eq!(r2.status(), 200);
    assert_eq!(header(&r2, "x-aigw-cache"), "hit");
    assert_eq!(header(&r2, "x-aigw-route-mode"), "cache");
    assert_eq!(header(&r2, "x-aigw-provider"), "up");
    assert!(header(&r2, "content-type").starts_with("application/json"));
    let a2: Value = r2.json().await.unwrap();
    assert_eq!(a1, a2);
    assert_eq!(up.request_count(), 1, "C's hit never reached the upstream");
    // Kept on C for the rest of its TTL: the next hit is local.
    let r3 = gws[2].chat(&cached_body("hi")).await;
    assert_eq!(header(&r3, "x-aigw-cache"), "hit");
    let c = &shared(&gws[2]).counters;
    assert_eq!(c.cache_hit.load(Ordering::Relaxed), 1);
    // Another prompt is a miss everywhere.
    assert_eq!(
        header(&gws[1].chat(&cached_body("other")).await, "x-aigw-cache"),
        "miss"
    );
    assert_eq!(up.request_count(), 2);
    // Stats and metrics count a shared hit as a hit.
    assert_eq!(gws[2].handle.state().cache.stats().hits, 2);
    let text = gws[2].metrics_text().await;
    assert!(
        text.contains("aigw_cluster_redis_lookups_total{kind=\"cache\",result=\"hit\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn with_redis_killed_every_replica_serves_from_its_own_state() {
    let mut redis = RedisServer::start().await;
    let hot = FakeUpstream::start("hot").await;
    let cold = FakeUpstream::start("cold").await;
    let toml = format!(
        "{}{}{}{}",
        provider(&hot, ""),
        provider(&cold, ""),
        route("m", "", &[("hot", None), ("cold", None)]),
        route("c", "cache = { ttl_s = 300 }", &[("cold", None)])
    );
    let gws = start_same(3, &toml, &redis_section(&redis.url())).await;
    wait_redis_up(&gws).await;
    redis.kill();
    wait_redis_down(&gws).await;

    // Every replica answers; a cooldown is this replica's own.
    hot.set_default(rate_limited(30));
    let mut failed = 0;
    for gw in &gws {
        for _ in 0..3 {
            let r = gw.chat(&chat_body("m", false)).await;
            if r.status() != 200 {
                failed += 1;
            }
            assert_eq!(served_by(&r), "cold");
        }
    }
    assert_eq!(failed, 0);
    assert_eq!(
        hot.request_count(),
        3,
        "each replica met the 429 once and then skipped hot on its own"
    );
    // The cache and sticky sessions work locally.
    for gw in &gws {
        let body = json!({"model": "c", "messages": [{"role": "user", "content": "x"}]});
        assert_eq!(header(&gw.chat(&body).await, "x-aigw-cache"), "miss");
        assert_eq!(header(&gw.chat(&body).await, "x-aigw-cache"), "hit");
    }
    for gw in &gws {
        let r = in_session(gw, "s-down").await;
        assert_eq!(r.status(), 200);
    }
    for gw in &gws {
        let c = &shared(gw).counters;
        assert_eq!(
            c.cache_error.load(Ordering::Relaxed) + c.sticky_error.load(Ordering::Relaxed),
            0,
            "no request waited on a Redis that is down"
        );
    }

    // Redis returns: sharing resumes (a new cooldown on A reaches B).
    redis.restart().await;
    wait_redis_up(&gws).await;
    cold.set_default(rate_limited(30));
    hot.set_default(Behavior::Ok);
    let r = gws[0]
        .chat(&json!({"model": "c", "messages": [{"role": "user", "content": "y"}]}))
        .await;
    assert_ne!(r.status(), 200);
    eventually("B sees A's new cooldown", || cooling(&gws[1], "cold", "c")).await;
}
