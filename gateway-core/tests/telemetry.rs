//! Issue 4 as an operator meets it: every request leaves one row (with its
//! attempts, tokens and cost) in the SQLite log, off the request path; the
//! chart queries read it; retention trims it; `/metrics` parses with a real
//! Prometheus text-format parser; a writer that falls behind drops and
//! counts events while every request still gets its answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::Router;
use common::{TestGateway, chat_body, header, provider, route};
use gateway_core::config::Config;
use gateway_core::telemetry::query::{self, RequestDetail, RequestsQuery, Window};
use gateway_core::telemetry::{AttemptEvent, Db, RequestEvent, Retention};
use openmetrics_parser::{PrometheusType, PrometheusValue};
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};
use tower::ServiceExt;

/// What these tests add to the shared gateway (which they start with a data
/// dir, so with a request log).
impl TestGateway {
    fn db_path(&self) -> std::path::PathBuf {
        self.data_dir().join("telemetry.db")
    }

    /// Shuts down (which flushes the queue) and opens the log.
    async fn finish(self) -> (tempfile::TempDir, Db) {
        let path = self.db_path();
        let dir = self.shutdown().await.unwrap();
        (dir, Db::open(&path).unwrap())
    }

    /// The telemetry routes as api/admin mounts them, without its auth.
    fn admin_api(&self) -> Router {
        Router::new()
            .nest("/admin/api", gateway_core::api::telemetry::routes())
            .with_state(self.handle.state().clone())
    }

    async fn api(&self, path: &str) -> (u16, Value) {
        let req = http::Request::get(format!("/admin/api{path}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = self.admin_api().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Waits until the log holds `n` rows (the writer is asynchronous).
    async fn wait_rows(&self, n: i64) {
        let db = self.handle.state().telemetry_hub.db().unwrap().clone();
        for _ in 0..500 {
            let got: i64 = db
                .read(|c| Ok(c.query_row("SELECT count(*) FROM requests", [], |r| r.get(0))?))
                .unwrap();
            if got >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the log never reached {n} rows");
    }

    async fn metrics(&self, accept: Option<&str>) -> (String, String) {
        let mut req = self.http.get(format!("{}/metrics", self.url));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = header(&resp, "content-type");
        (ct, resp.text().await.unwrap())
    }
}

/// Every row, oldest first, with attempts and bodies.
fn all_rows(db: &Db) -> Vec<RequestDetail> {
    db.read(|c| {
        let page = query::requests(
            c,
            &RequestsQuery {
                limit: Some(500),
                ..Default::default()
            },
        )?;
        let mut out = Vec::new();
        for r in page.items.iter().rev() {
            out.push(query::request(c, &r.id)?.unwrap());
        }
        Ok(out)
    })
    .unwrap()
}

fn row<'a>(rows: &'a [RequestDetail], id: &str) -> &'a RequestDetail {
    rows.iter()
        .find(|r| r.request.id == id)
        .unwrap_or_else(|| panic!("no row {id} in {rows:#?}"))
}

/// Two upstreams: `gpt-4o-mini` to primary, then backup as
/// `llama-3.1-8b-instant` (both in the embedded price table).
async fn pair(extra: &str) -> (FakeUpstream, FakeUpstream, TestGateway) {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let toml = format!(
        "{extra}\n{}{}{}",
        provider(&primary, "timeout_s = 5"),
        provider(&backup, "timeout_s = 5"),
        route(
            "gpt-4o-mini",
            "failure_threshold = 100\nrate_limit_threshold = 100",
            &[("primary", None), ("backup", Some("llama-3.1-8b-instant"))]
        )
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    (primary, backup, gw)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[tokio::test]
async fn direct_fallback_and_failed_requests_leave_one_row_each() {
    let (primary, backup, gw) = pair("").await;
    let direct = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(direct.status(), 200);
    let direct_id = header(&direct, "x-aigw-request-id");

    primary.push(Behavior::status(500));
    let fb = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&fb, "x-aigw-route-mode"), "model_fallback");
    let fb_id = header(&fb, "x-aigw-request-id");

    primary.push(Behavior::Status {
        status: 429,
        retry_after: None,
        body: None,
    });
    backup.push(Behavior::status(503));
    let failed = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(failed.status(), 503);
    let failed_id = header(&failed, "x-aigw-request-id");

    let (_dir, db) = gw.finish().await;
    let rows = all_rows(&db);
    assert_eq!(rows.len(), 3, "{rows:#?}");

    let d = row(&rows, &direct_id);
    let r = &d.request;
    assert_eq!(r.requested_model, "gpt-4o-mini");
    assert_eq!(r.provider.as_deref(), Some("primary"));
    assert_eq!(r.forwarded_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.route_mode.as_deref(), Some("direct"));
    assert_eq!((r.status, r.attempts, r.stream), (200, 1, false));
    assert_eq!(r.client, "127.0.0.1");
    assert_eq!(r.endpoint, "chat_completions");
    assert_eq!((r.tokens_in, r.tokens_out), (Some(10), Some(3)));
    assert!(!r.tokens_estimated && !r.cancelled && r.error.is_none());
    // gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    assert!(
        close(r.cost_usd.unwrap(), (10.0 * 0.15 + 3.0 * 0.60) / 1e6),
        "{r:?}"
    );
    assert!(r.ttft_ms.is_some() && r.latency_ms >= r.overhead_ms);
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].status, Some(200));
    assert!(d.request_body.is_none() && d.response_body.is_none());

    let d = row(&rows, &fb_id);
    assert_eq!(d.request.provider.as_deref(), Some("backup"));
    assert_eq!(
        d.request.forwarded_model.as_deref(),
        Some("llama-3.1-8b-instant")
    );
    assert_eq!(d.request.route_mode.as_deref(), Some("model_fallback"));
    assert_eq!(d.request.attempts, 2);
    let a: Vec<_> = d
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.status, a.error.as_deref()))
        .collect();
    assert_eq!(
        a,
        vec![
            ("primary", Some(500), Some("upstream_5xx")),
            ("backup", Some(200), None)
        ]
    );
    // priced as the model that served: Groq llama-3.1-8b-instant
    assert!(close(
        d.request.cost_usd.unwrap(),
        (10.0 * 0.05 + 3.0 * 0.08) / 1e6
    ));

    let d = row(&rows, &failed_id);
    assert_eq!(d.request.status, 503);
    assert_eq!(d.request.error.as_deref(), Some("upstream_5xx"));
    assert_eq!(d.request.provider.as_deref(), Some("backup"));
    assert_eq!((d.request.tokens_in, d.request.cost_usd), (None, None));
    let a: Vec<_> = d
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.status, a.error.as_deref()))
        .collect();
    assert_eq!(
        a,
        vec![
            ("primary", Some(429), Some("rate_limited")),
            ("backup", Some(503), Some("upstream_5xx"))
        ]
    );
}

#[tokio::test]
async fn streams_log_reported_or_estimated_tokens() {
    let (_p, _b, gw) = pair("").await;
    // no usage reported: tokens estimated from bytes, and flagged
    let body = chat_body("gpt-4o-mini", true);
    let plain = gw.chat(&body).await;
    let plain_id = header(&plain, "x-aigw-request-id");
    assert_eq!(
        common::streamed_text(&plain.text().await.unwrap()),
        "Hello from primary"
    );
    let mut with_usage = chat_body("gpt-4o-mini", true);
    with_usage["stream_options"] = json!({"include_usage": true});
    let reported = gw.chat(&with_usage).await;
    let reported_id = header(&reported, "x-aigw-request-id");
    reported.text().await.unwrap();

    let (_dir, db) = gw.finish().await;
    let rows = all_rows(&db);
    let r = &row(&rows, &plain_id).request;
    assert!(r.stream && r.tokens_estimated && r.error.is_none(), "{r:?}");
    let sent = serde_json::to_vec(&body).unwrap().len() as u64;
    assert_eq!(r.tokens_in, Some(sent.div_ceil(4)));
    // "Hello" + " from " + "primary" = 18 bytes of text → 5 tokens
    assert_eq!(r.tokens_out, Some(5));
    assert!(r.cost_usd.unwrap() > 0.0);
    assert!(r.ttft_ms.unwrap() <= r.latency_ms);

    let r = &row(&rows, &reported_id).request;
    assert!(!r.tokens_estimated);
    assert_eq!((r.tokens_in, r.tokens_out), (Some(10), Some(3)));
}

#[tokio::test]
async fn a_cancelled_stream_is_logged_with_what_was_relayed() {
    let (primary, _b, gw) = pair("").await;
    primary.push(Behavior::Stream {
        deltas: (0..100).map(|i| format!("t{i} ")).collect(),
        interval: Duration::from_millis(50),
    });
    let mut resp = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    let id = header(&resp, "x-aigw-request-id");
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(resp);
    assert!(primary.wait_cancelled(1, Duration::from_secs(5)).await);

    let (_dir, db) = gw.finish().await;
    let rows = all_rows(&db);
    let r = &row(&rows, &id).request;
    assert!(r.cancelled, "{r:?}");
    assert_eq!(r.error.as_deref(), Some("client_cancelled"));
    assert_eq!(r.status, 200);
    // cut before its usage arrived: unknown, not estimated, not free
    assert!(!r.tokens_estimated);
    assert_eq!(
        (r.tokens_in, r.tokens_out, r.cost_usd),
        (None, None, None),
        "{r:?}"
    );
}

#[tokio::test]
async fn rate_limited_requests_are_logged_with_their_limit() {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[limits]\ningress_rpm = 2\n{}{}",
        provider(&up, "rpm = 1"),
        route("m", "", &[("up", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    let local = gw.chat(&chat_body("m", false)).await;
    assert_eq!(local.status(), 429);
    let provider_id = header(&local, "x-aigw-request-id");
    let ingress = gw.chat(&chat_body("m", false)).await;
    assert_eq!(ingress.status(), 429);
    let ingress_id = header(&ingress, "x-aigw-request-id");

    let (_, text) = gw.metrics(None).await;
    assert!(
        text.contains("aigw_limiter_rejections_total{limiter=\"ingress\"} 1"),
        "{text}"
    );
    assert!(text.contains("aigw_limiter_rejections_total{limiter=\"provider\"} 1"));

    let (_dir, db) = gw.finish().await;
    let rows = all_rows(&db);
    assert_eq!(rows.len(), 3);
    let r = row(&rows, &provider_id);
    assert_eq!(r.request.status, 429);
    assert_eq!(r.request.error.as_deref(), Some("provider_rate_limited"));
    assert!(r.attempts.is_empty() && r.request.provider.is_none());
    let r = row(&rows, &ingress_id);
    assert_eq!(r.request.error.as_deref(), Some("ingress_rate_limited"));
    assert_eq!(
        r.request.requested_model, "",
        "refused before the body was read"
    );
    assert_eq!(up.request_count(), 1);
}

#[tokio::test]
async fn bodies_are_stored_redacted_and_capped_only_when_asked() {
    let (_p, _b, gw) = pair("[telemetry]\nstore_bodies = true\nmax_body_bytes = 4096").await;
    let mut body = chat_body("gpt-4o-mini", false);
    body["messages"][0]["content"] = json!("use sk-proj-AbCdEf0123456789xyzXYZ for me");
    let r = gw.chat(&body).await;
    let id = header(&r, "x-aigw-request-id");
    r.text().await.unwrap();
    let s = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    let sid = header(&s, "x-aigw-request-id");
    s.text().await.unwrap();
    let mut big = chat_body("gpt-4o-mini", false);
    big["messages"][0]["content"] = json!("x".repeat(10_000));
    let b = gw.chat(&big).await;
    let bid = header(&b, "x-aigw-request-id");
    b.text().await.unwrap();

    let (_dir, db) = gw.finish().await;
    let rows = all_rows(&db);
    let d = row(&rows, &id);
    let req = d.request_body.as_deref().unwrap();
    assert!(!req.contains("sk-proj"), "{req}");
    assert!(req.contains("use [REDACTED] for me"), "{req}");
    assert!(
        d.response_body
            .as_deref()
            .unwrap()
            .contains("Hello from primary")
    );
    let d = row(&rows, &sid);
    let sse = d.response_body.as_deref().unwrap();
    assert!(
        sse.contains("data: [DONE]") && sse.contains("primary"),
        "{sse}"
    );
    let d = row(&rows, &bid);
    let req = d.request_body.as_deref().unwrap();
    assert!(
        req.len() < 4200 && req.contains("[truncated"),
        "{}",
        req.len()
    );
}

fn event(id: &str, time: SystemTime, body: Option<&str>) -> RequestEvent {
    RequestEvent {
        request_id: id.into(),
        time,
        client: "127.0.0.1".into(),
        endpoint: "chat/completions",
        requested_model: "m".into(),
        provider: Some("p".into()),
        forwarded_model: Some("m".into()),
        route_mode: None,
        route: None,
        stream: false,
        attempts: vec![AttemptEvent {
            key: None,
            provider: "p".into(),
            model: "m".into(),
            status: Some(200),
            error: None,
            latency_ms: 5.0,
        }],
        status: 200,
        error: None,
        latency_ms: 6.0,
        ttft_ms: Some(5.0),
        overhead_ms: 1.0,
        tokens_in: Some(1),
        tokens_out: Some(1),
        cache_read_tokens: None,
        cache_write_tokens: None,
        tokens_estimated: false,
        cost_usd: None,
        cancelled: false,
        origin: Default::default(),
        virtual_key: None,
        team: None,
        request_body: body.map(|b| bytes::Bytes::from(b.to_string())),
        response_body: None,
    }
}

fn count(db: &Db, table: &str) -> i64 {
    db.read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn retention_deletes_by_age_then_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let old: Vec<_> = (0..50)
        .map(|i| event(&format!("old{i}"), now - 40 * day, None))
        .collect();
    let new: Vec<_> = (0..20)
        .map(|i| event(&format!("new{i}"), now - day, None))
        .collect();
    db.insert(&old, 1024).unwrap();
    db.insert(&new, 1024).unwrap();
    let policy = Retention {
        max_age: Some(30 * day),
        max_bytes: 500 << 20,
    };
    let report = db.enforce_retention(now, policy).unwrap();
    assert_eq!((report.expired, report.over_size), (50, 0));
    assert_eq!(count(&db, "requests"), 20);
    assert_eq!(count(&db, "attempts"), 20, "attempts go with their request");

    // ~6 MB of stored bodies against a 1 MB cap: the oldest go first.
    let body = "y".repeat(2000);
    for chunk in 0..6 {
        let batch: Vec<_> = (0..500)
            .map(|i| {
                let t = now - Duration::from_secs(3600 - (chunk * 500 + i) as u64 / 2);
                event(&format!("big{chunk}_{i}"), t, Some(&body))
            })
            .collect();
        db.insert(&batch, 4096).unwrap();
    }
    assert!(db.used_bytes().unwrap() > 5 << 20);
    let report = db
        .enforce_retention(
            now,
            Retention {
                max_age: Some(30 * day),
                max_bytes: 1 << 20,
            },
        )
        .unwrap();
    assert!(report.over_size > 0, "{report:?}");
    assert!(report.used_bytes <= 1 << 20, "{report:?}");
    assert!(db.used_bytes().unwrap() <= 1 << 20);
    let ids: Vec<String> = db
        .read(|c| {
            let mut s = c.prepare("SELECT request_id FROM requests ORDER BY ts_ms")?;
            let v = s
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(v)
        })
        .unwrap();
    assert!(!ids.is_empty());
    assert_eq!(
        ids.last().map(String::as_str),
        Some("big5_499"),
        "newest kept"
    );
    assert!(
        !ids.iter().any(|i| i.starts_with("new")),
        "older rows went first"
    );
    assert_eq!(count(&db, "bodies"), ids.len() as i64);
    // the file itself shrank too
    let file = std::fs::metadata(dir.path().join("t.db")).unwrap().len();
    assert!(file <= 2 << 20, "{file}");
}

/// The value of the sample of `family` whose labels include `want`.
fn value(
    exp: &openmetrics_parser::MetricsExposition<PrometheusType, PrometheusValue>,
    family: &str,
    want: &[(&str, &str)],
) -> Option<f64> {
    let fam = exp.families.get(family)?;
    fam.iter_samples().find_map(|s| {
        let labels: HashMap<String, String> = s
            .get_labelset()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !want
            .iter()
            .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        {
            return None;
        }
        Some(match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(g) | PrometheusValue::Unknown(g) => g.as_f64(),
            PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            PrometheusValue::Summary(s) => s.count.unwrap_or(0) as f64,
        })
    })
}

#[tokio::test]
async fn metrics_parse_with_a_prometheus_text_parser() {
    let (primary, _backup, gw) = pair("").await;
    assert_eq!(
        gw.chat(&chat_body("gpt-4o-mini", false)).await.status(),
        200
    );
    primary.push(Behavior::status(500));
    assert_eq!(
        gw.chat(&chat_body("gpt-4o-mini", false)).await.status(),
        200
    );
    let s = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    s.text().await.unwrap();
    // the stream's event is recorded when its body ends
    gw.wait_rows(3).await;

    let (ct, text) = gw.metrics(None).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let fam = &exp.families["aigw_requests_total"];
    assert_eq!(fam.family_type, PrometheusType::Counter);
    let direct = [
        ("provider", "primary"),
        ("model", "gpt-4o-mini"),
        ("route_mode", "direct"),
        ("status_class", "2xx"),
    ];
    assert_eq!(
        value(&exp, "aigw_requests_total", &direct),
        Some(2.0),
        "{text}"
    );
    let fallback = [("provider", "backup"), ("route_mode", "model_fallback")];
    assert_eq!(value(&exp, "aigw_requests_total", &fallback), Some(1.0));
    assert_eq!(
        value(
            &exp,
            "aigw_upstream_attempts_total",
            &[("provider", "primary"), ("class", "upstream_5xx")]
        ),
        Some(1.0)
    );
    let target = [("provider", "primary"), ("model", "gpt-4o-mini")];
    assert_eq!(
        exp.families["aigw_request_duration_seconds"].family_type,
        PrometheusType::Histogram
    );
    assert_eq!(
        value(&exp, "aigw_request_duration_seconds", &target),
        Some(2.0)
    );
    assert_eq!(
        value(&exp, "aigw_time_to_first_token_seconds", &target),
        Some(2.0)
    );
    assert_eq!(value(&exp, "aigw_gateway_overhead_seconds", &[]), Some(3.0));
    assert_eq!(
        value(
            &exp,
            "aigw_tokens_total",
            &[("provider", "backup"), ("direction", "input")]
        ),
        Some(10.0)
    );
    assert!(value(&exp, "aigw_cost_usd_total", &target).unwrap() > 0.0);
    assert_eq!(value(&exp, "aigw_target_breaker_open", &target), Some(0.0));
    assert_eq!(
        value(
            &exp,
            "aigw_telemetry_events_dropped_total",
            &[("reason", "queue_full")]
        ),
        Some(0.0)
    );
    assert!(value(&exp, "aigw_build_info", &[]).is_some());

    // OpenMetrics for scrapers that ask for it
    let (ct, om) = gw
        .metrics(Some("application/openmetrics-text; version=1.0.0"))
        .await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let exp = openmetrics_parser::openmetrics::parse_openmetrics(&om)
        .unwrap_or_else(|e| panic!("{e:?}\n{om}"));
    assert!(exp.families.contains_key("aigw_requests"));
}

#[tokio::test]
async fn an_open_breaker_shows_in_metrics() {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("m", "cooldown_s = 600", &[("up", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    up.push(Behavior::Status {
        status: 429,
        retry_after: Some(600),
        body: None,
    });
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 429);
    let (_, text) = gw.metrics(None).await;
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
    let target = [("provider", "up"), ("model", "m")];
    assert_eq!(
        value(&exp, "aigw_target_breaker_open", &target),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_writer_that_falls_behind_drops_and_counts_without_failing_requests() {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[telemetry]\nqueue_capacity = 2\n{}{}",
        provider(&up, ""),
        route("m", "", &[("up", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    // Another process holds the log's write lock: the writer stalls.
    let blocker = rusqlite::Connection::open(gw.db_path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    const N: usize = 30;
    let body = chat_body("m", false);
    let (gw_ref, body_ref) = (&gw, &body);
    let sends = (0..N).map(|_| gw_ref.chat(body_ref));
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses, vec![200; N], "no request waits for the log");
    let dropped = gw.handle.state().telemetry_hub.dropped_events();
    assert!(dropped > 0, "a queue of 2 cannot hold {N} events");

    let (_, text) = gw.metrics(None).await;
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
    let full = value(
        &exp,
        "aigw_telemetry_events_dropped_total",
        &[("reason", "queue_full")],
    )
    .unwrap();
    assert!(full >= 1.0);
    let (status, summary) = gw.api("/telemetry/summary").await;
    assert_eq!(status, 200);
    assert!(
        summary["dropped_events"].as_u64().unwrap() >= 1,
        "{summary}"
    );

    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);
    let hub_dropped = {
        let path = gw.db_path();
        let state = gw.handle.state().clone();
        gw.handle.shutdown().await;
        let d = state.telemetry_hub.dropped_events();
        (d, Db::open(&path).unwrap())
    };
    let (dropped, db) = hub_dropped;
    // every event is either in the log or counted as dropped
    assert_eq!(count(&db, "requests") as u64 + dropped, N as u64);
}

#[tokio::test]
async fn chart_queries_answer_over_http() {
    let (primary, backup, gw) = pair("").await;
    for _ in 0..3 {
        assert_eq!(
            gw.chat(&chat_body("gpt-4o-mini", false)).await.status(),
            200
        );
    }
    primary.push(Behavior::status(500));
    let fb = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&fb, "x-aigw-route-mode"), "model_fallback");
    primary.push(Behavior::status(500));
    backup.push(Behavior::status(500));
    let failed = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    let failed_id = header(&failed, "x-aigw-request-id");
    gw.wait_rows(5).await;

    let (s, v) = gw.api("/telemetry/series?minutes=10&bucket_s=60").await;
    assert_eq!(s, 200, "{v}");
    let buckets = v["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 10);
    let sum = |k: &str| buckets.iter().map(|b| b[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("requests"), 5);
    assert_eq!(sum("errors"), 1);
    assert_eq!(sum("tokens_in"), 40);
    let sum_of = |f: &dyn Fn(&Value) -> u64| buckets.iter().map(f).sum::<u64>();
    assert_eq!(
        sum_of(&|b| b["errors_by_class"]["upstream_5xx"].as_u64().unwrap_or(0)),
        1
    );
    assert_eq!(
        sum_of(&|b| b["route_modes"]["model_fallback"].as_u64().unwrap()),
        1
    );
    assert_eq!(sum_of(&|b| b["route_modes"]["direct"].as_u64().unwrap()), 3);
    for b in buckets.iter().filter(|b| b["requests"] != 0) {
        let q = &b["latency_ms"];
        assert!(q["p50"].as_f64().unwrap() > 0.0, "{b}");
        assert!(
            q["p95"].as_f64().unwrap() >= q["p50"].as_f64().unwrap(),
            "{b}"
        );
        assert!(
            q["p99"].as_f64().unwrap() >= q["p95"].as_f64().unwrap(),
            "{b}"
        );
    }
    let cost: f64 = buckets
        .iter()
        .map(|b| b["cost_usd"].as_f64().unwrap())
        .sum();
    assert!(cost > 0.0);
    for b in buckets.iter().filter(|b| b["requests"] == 0) {
        assert!(
            b["latency_ms"].is_null(),
            "empty buckets have no percentiles: {b}"
        );
    }

    let (_, v) = gw.api("/telemetry/series?minutes=10&provider=backup").await;
    let n: u64 = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(n, 2, "the fallback and the failure ended at backup");
    let (_, v) = gw
        .api("/telemetry/series?minutes=10&route=other-model")
        .await;
    assert!(
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["requests"] == 0)
    );

    // the list, newest first, two at a time
    let (s, p1) = gw.api("/telemetry/requests?limit=2").await;
    assert_eq!(s, 200);
    assert_eq!(p1["items"][0]["id"], failed_id.as_str());
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = gw
        .api(&format!("/telemetry/requests?limit=2&cursor={cursor}"))
        .await;
    let cursor = p2["next_cursor"].as_str().unwrap();
    let (_, p3) = gw
        .api(&format!("/telemetry/requests?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
    assert!(p3["next_cursor"].is_null());
    let mut ids: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let (_, errs) = gw.api("/telemetry/requests?outcome=error&minutes=5").await;
    assert_eq!(errs["items"].as_array().unwrap().len(), 1);
    let (_, fbs) = gw.api("/telemetry/requests?outcome=fallback").await;
    assert_eq!(fbs["items"][0]["route_mode"], "model_fallback");

    let (s, d) = gw.api(&format!("/telemetry/requests/{failed_id}")).await;
    assert_eq!(s, 200);
    assert_eq!(d["request"]["status"], 500);
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(d["attempts"][1]["provider"], "backup");

    let (s, sum) = gw.api("/telemetry/summary?minutes=60").await;
    assert_eq!(s, 200);
    assert_eq!(sum["requests"], 5);
    assert_eq!(sum["fallbacks"], 1);
    assert!((sum["error_rate"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    assert!(sum["latency_p95_ms"].as_f64().is_some());
    assert_eq!(sum["dropped_events"], 0);

    // bad queries get 400 in the error shape, unknown ids 404
    for bad in [
        "/telemetry/series?minutes=10&bucket_s=0",
        "/telemetry/series?minutess=10",
        "/telemetry/series?from=10&to=5",
        "/telemetry/requests?cursor=nope",
        "/telemetry/requests?outcome=maybe",
    ] {
        let (s, v) = gw.api(bad).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_query", "{bad}: {v}");
    }
    let (s, _) = gw.api("/telemetry/requests/req_nope").await;
    assert_eq!(s, 404);
    gw.handle.shutdown().await;
}

#[tokio::test]
async fn without_a_data_dir_metrics_work_and_queries_say_why_not() {
    let up = FakeUpstream::start("up").await;
    let toml = format!("{}{}", provider(&up, ""), route("m", "", &[("up", None)]));
    let gw = TestGateway::start(&toml).await;
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    let text = gw
        .http
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("aigw_requests_total{provider=\"up\""),
        "{text}"
    );
    let app = Router::new()
        .nest("/admin/api", gateway_core::api::telemetry::routes())
        .with_state(gw.handle.state().clone());
    let resp = app
        .oneshot(
            http::Request::get("/admin/api/telemetry/summary")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    // the host's own sink still gets every event, now with cost
    let ev = gw.capture.wait(1).await;
    assert!(ev[0].tokens_in.is_some() && !ev[0].tokens_estimated);
}

#[test]
fn telemetry_config_is_validated() {
    let c = Config::parse("", "t").unwrap();
    assert_eq!(
        c.telemetry.retention,
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(c.telemetry.max_db_bytes, 500 << 20);
    assert!(!c.telemetry.store_bodies);

    let ok = r#"
[[providers]]
name = "ollama"
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"

[telemetry]
retention_days = 7
max_db_mb = 50
store_bodies = true
max_body_bytes = 1000
[[telemetry.prices]]
provider = "ollama"
input_per_mtok = 0
output_per_mtok = 0
[[telemetry.prices]]
model = "my-finetune"
input_per_mtok = 1.5
output_per_mtok = 2
"#;
    let c = Config::parse(ok, "t").unwrap();
    assert_eq!(c.telemetry.retention, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(c.telemetry.prices.len(), 2);
    assert_eq!(c.telemetry.max_body_bytes, 1000);

    let bad = r#"
[telemetry]
max_db_mb = 0
retension_days = 3
"#;
    let e = Config::parse(bad, "cfg.toml").unwrap_err().to_string();
    assert!(e.contains("retension_days"), "{e}");
    let bad = r#"
[telemetry]
max_db_mb = 0
otlp_endpoint = "ftp://127.0.0.1:4318"
[[telemetry.prices]]
provider = "nope"
input_per_mtok = -1
output_per_mtok = 1
[[telemetry.prices]]
input_per_mtok = 1
output_per_mtok = 1
"#;
    let e = Config::parse(bad, "cfg.toml").unwrap_err();
    let paths: Vec<&str> = e.issues.iter().map(|i| i.path.as_str()).collect();
    for want in [
        "telemetry.max_db_mb",
        "telemetry.otlp_endpoint",
        "telemetry.prices[0].provider",
        "telemetry.prices[0].input_per_mtok",
        "telemetry.prices[1]",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
}

#[test]
fn queries_work_on_a_log_written_directly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).unwrap();
    let now = SystemTime::now();
    let evs: Vec<_> = (0..10u64)
        .map(|i| {
            let mut e = event(&format!("r{i}"), now - Duration::from_secs(60 * i), None);
            e.latency_ms = (i + 1) as f64 * 100.0;
            e
        })
        .collect();
    db.insert(&evs, 1024).unwrap();
    let now_ms = gateway_core::telemetry::unix_ms(now) + 1;
    let w = Window::last_minutes(now_ms, 30);
    let s = db
        .read(|c| query::summary(c, w, &Default::default()))
        .unwrap();
    assert_eq!(s.requests, 10);
    assert_eq!(s.latency_p50_ms, Some(500.0));
    assert_eq!(s.latency_p95_ms, Some(1000.0));
    let series = db
        .read(|c| query::series(c, w, 600_000, &Default::default()))
        .unwrap();
    assert_eq!(series.buckets.len(), 3);
    assert_eq!(series.buckets.iter().map(|b| b.requests).sum::<u64>(), 10);
}

#[test]
fn a_pattern_route_filter_finds_every_name_it_took_and_old_logs_gain_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    // A log written by the previous schema (v2: no `route` column).
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE requests (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE,
                ts_ms INTEGER NOT NULL, client TEXT NOT NULL, endpoint TEXT NOT NULL,
                requested_model TEXT NOT NULL, provider TEXT, forwarded_model TEXT,
                route_mode TEXT, stream INTEGER NOT NULL, attempts INTEGER NOT NULL,
                status INTEGER NOT NULL, error TEXT, latency_ms REAL NOT NULL, ttft_ms REAL,
                overhead_ms REAL NOT NULL, tokens_in INTEGER, tokens_out INTEGER,
                tokens_estimated INTEGER NOT NULL, cost_usd REAL, cancelled INTEGER NOT NULL,
                origin TEXT NOT NULL DEFAULT 'client');
             INSERT INTO requests (request_id, ts_ms, client, endpoint, requested_model,
                stream, attempts, status, latency_ms, overhead_ms, tokens_estimated, cancelled)
             VALUES ('old', 1, 'c', 'messages', 'claude-x', 0, 1, 200, 1.0, 0.1, 0, 0);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let db = Db::open(&path).unwrap();
    let now = SystemTime::now();
    let evs: Vec<_> = [
        ("claude-opus-4-8", Some("claude-*")),
        ("claude-sonnet-5", Some("claude-*")),
        ("claude-opus-4-8", Some("claude-*")),
        ("gpt-4o-mini", Some("gpt-4o-mini")),
        ("ollama/qwen", None),
    ]
    .iter()
    .enumerate()
    .map(|(i, (model, route))| {
        let mut e = event(&format!("r{i}"), now, None);
        e.requested_model = (*model).into();
        e.route = route.map(Into::into);
        e
    })
    .collect();
    db.insert(&evs, 1024).unwrap();
    let page = |route: &str| {
        let q = RequestsQuery {
            filter: query::Filter {
                route: Some(route.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = db.read(|c| query::requests(c, &q)).unwrap();
        p.items
            .iter()
            .map(|r| (r.requested_model.clone(), r.route.clone()))
            .collect::<Vec<_>>()
    };
    let claude = page("claude-*");
    assert_eq!(claude.len(), 3, "{claude:?}");
    assert!(claude.iter().all(|(_, r)| r.as_deref() == Some("claude-*")));
    // A concrete name filters by the name asked for, as before.
    assert_eq!(
        page("claude-sonnet-5"),
        [("claude-sonnet-5".into(), Some("claude-*".into()))]
    );
    assert_eq!(page("gpt-4o-mini").len(), 1);
    // The row from before the migration reads with no route.
    assert_eq!(page("claude-x"), [("claude-x".into(), None)]);
}
