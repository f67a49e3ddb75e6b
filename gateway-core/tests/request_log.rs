//! The request log from a terminal and a spreadsheet: CSV / JSON Lines
//! export of the filtered list (admin API and `aigw logs export`), search
//! by request id and text, and `aigw logs -f` following new requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::FakeUpstream;

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

/// Two providers: `gpt-a` goes to `alpha`, `gpt-b` to `beta`; bodies stored.
async fn gateway() -> (FakeUpstream, FakeUpstream, TestGateway) {
    let a = FakeUpstream::start("alpha").await;
    let b = FakeUpstream::start("beta").await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[telemetry]\nstore_bodies = true\n{}{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route("gpt-a", "", &[("alpha", None)]),
        route("gpt-b", "", &[("beta", None)]),
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    (a, b, gw)
}

impl TestGateway {
    async fn ask(&self, model: &str, text: &str) -> String {
        let mut body = chat_body(model, false);
        body["messages"][0]["content"] = json!(text);
        let r = self.chat(&body).await;
        assert_eq!(r.status(), 200);
        let id = header(&r, "x-aigw-request-id");
        r.text().await.unwrap();
        id
    }

    async fn logged(&self, n: usize) {
        for _ in 0..1000 {
            let (_, p) = self.admin_get("/telemetry/requests?limit=500").await;
            if p["items"].as_array().map_or(0, Vec::len) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the log never reached {n} rows");
    }

    async fn export(&self, query: &str) -> (u16, String, String) {
        let r = self
            .http
            .get(format!("{}/admin/api/telemetry/export?{query}", self.url))
            .bearer_auth(self.admin_token())
            .send()
            .await
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), ct, r.text().await.unwrap())
    }

    async fn ids(&self, query: &str) -> Vec<String> {
        let (s, p) = self
            .admin_get(&format!("/telemetry/requests?{query}"))
            .await;
        assert_eq!(s, 200, "{p}");
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test]
async fn export_honours_filters_and_search_finds_ids_and_text() {
    let (_a, _b, gw) = gateway().await;
    let a1 = gw.ask("gpt-a", "first question").await;
    let a2 = gw.ask("gpt-a", "about the zebra-crossing, please").await;
    let b1 = gw.ask("gpt-b", "third question").await;
    gw.logged(3).await;

    // CSV of provider alpha only: a header and its two rows, newest first
    let (s, ct, csv) = gw.export("format=csv&provider=alpha").await;
    assert_eq!(s, 200, "{csv}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,time_ms,client,"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with(&format!("{a2},")), "{csv}");
    assert!(lines[2].starts_with(&format!("{a1},")), "{csv}");
    assert!(lines[1..].iter().all(|l| l.contains(",alpha,")), "{csv}");

    // JSON Lines of model gpt-b: one object
    let (s, ct, jsonl) = gw.export("format=jsonl&model=gpt-b").await;
    assert_eq!((s, ct.as_str()), (200, "application/x-ndjson"));
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{jsonl}");
    assert_eq!(rows[0]["id"], b1.as_str());
    assert_eq!(rows[0]["provider"], "beta");

    // limit bounds the rows; a bad format or limit is a clear 400
    let (_, _, one) = gw.export("format=jsonl&limit=1").await;
    assert_eq!(one.lines().count(), 1);
    let (s, _, e) = gw.export("format=xml").await;
    assert_eq!(s, 400, "{e}");
    let (s, _, e) = gw.export("format=csv&limit=100001").await;
    assert_eq!(s, 400, "{e}");
    assert!(e.contains("invalid_query"), "{e}");

    // search: a request id, a provider, a stored body's text
    assert_eq!(gw.ids(&format!("q={b1}")).await, vec![b1.clone()]);
    assert_eq!(gw.ids("q=BETA").await, vec![b1.clone()]);
    assert_eq!(gw.ids("q=zebra-crossing").await, vec![a2.clone()]);
    assert!(gw.ids("q=no-such-thing").await.is_empty());
    // LIKE wildcards are literal
    assert!(gw.ids("q=%25").await.is_empty());
    // search and filters combine, in the export too
    let (_, _, csv) = gw.export("format=csv&q=question&provider=beta").await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let (s, _, e) = gw
        .export(&format!("format=csv&q={}", "x".repeat(201)))
        .await;
    assert_eq!(s, 400, "{e}");

    // the CLI export reads the same log with the same filters
    let data = gw.data_dir().to_path_buf();
    let o = Command::new(AIGW)
        .arg("--data-dir")
        .arg(&data)
        .args(["logs", "export", "--format", "csv", "--provider", "alpha"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with(&a2), "{out}");
    let o = Command::new(AIGW)
        .arg("--data-dir")
        .arg(&data)
        .args(["logs", "-q", "zebra"])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains(&a2) && out.contains("gpt-a") && out.contains("alpha  200"),
        "{out}"
    );
}

#[tokio::test]
async fn logs_follow_prints_a_request_made_after_it_started() {
    let (_a, _b, gw) = gateway().await;
    let before = gw.ask("gpt-a", "before").await;
    gw.logged(1).await;
    let mut child = Command::new(AIGW)
        .arg("--data-dir")
        .arg(gw.data_dir())
        .args(["logs", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // it says it follows once it has read where the log ends
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("following"), "{first}");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let after = gw.ask("gpt-b", "after").await;
    // (the gateway runs on this test's thread: wait without blocking it)
    let line = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("aigw logs -f printed nothing");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains(&after), "{line}");
    assert!(!line.contains(&before), "{line}");
    assert!(
        line.contains("gpt-b") && line.contains("beta  200"),
        "{line}"
    );
}
