//! The audit log names people: named admin tokens as actors, the peer
//! address on every row, server-side sessions that `logout` ends, and a
//! hash chain that `aigw audit verify` walks (also after retention).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use std::process::Command;

use serde_json::{Value, json};

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");
const CONFIG: &str = "[server]\nlisten = \"127.0.0.1:0\"\n";

impl TestGateway {
    fn admin_url(&self, path: &str) -> String {
        format!("{}/admin/api{path}", self.url)
    }

    async fn login(&self, token: &str) -> String {
        let r = self
            .http
            .post(self.admin_url("/login"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        cookie.split(';').next().unwrap().to_string()
    }

    async fn session_status(&self, cookie: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.admin_url("/session"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn audit_rows(&self) -> Vec<Value> {
        let (_, a) = self.admin_get("/audit").await;
        a["entries"].as_array().unwrap().clone()
    }
}

fn aigw(data: &std::path::Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(AIGW)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[tokio::test]
async fn logout_revokes_a_captured_cookie() {
    let gw = TestGateway::start(CONFIG).await;
    let cookie = gw.login(gw.admin_token()).await;
    let captured = cookie.clone();
    assert_eq!(gw.session_status(&cookie).await.0, 200);
    let r = gw
        .http
        .post(gw.admin_url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // the browser dropped its cookie; whoever captured it is locked out too
    let (status, body) = gw.session_status(&captured).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "admin_auth_required", "{body}");
    let r = gw
        .http
        .post(gw.admin_url("/pause"))
        .header("cookie", &captured)
        .json(&json!({"paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // another session is unaffected, and the logout was audited
    let other = gw.login(gw.admin_token()).await;
    assert_eq!(gw.session_status(&other).await.0, 200);
    let rows = gw.audit_rows().await;
    assert!(
        rows.iter()
            .any(|r| r["action"] == "logout" && r["actor"] == "session:admin"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_named_tokens_name_and_the_peer_address_are_on_its_audit_rows() {
    let gw = TestGateway::start(CONFIG).await;
    let alice = gw.handle.state().admin_tokens.named.add_in_memory("alice");
    let r = gw
        .http
        .post(gw.admin_url("/pause"))
        .bearer_auth(alice.expose())
        .json(&json!({"paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // a session opened with alice's token acts as alice too
    let cookie = gw.login(alice.expose()).await;
    let (_, who) = gw.session_status(&cookie).await;
    assert_eq!(
        (who["role"].clone(), who["actor"].clone()),
        (json!("admin"), json!("alice"))
    );
    let r = gw
        .http
        .post(gw.admin_url("/config/publish"))
        .header("cookie", &cookie)
        .json(&json!({"toml": format!("{CONFIG}# by alice\n"), "message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let rows = gw.audit_rows().await;
    for action in ["pause", "login", "publish"] {
        let row = rows
            .iter()
            .find(|r| r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} row in {rows:?}"));
        assert_eq!(row["actor"], "alice", "{row}");
        assert_eq!(row["peer"], "127.0.0.1", "{row}");
        assert_eq!(row["hash"].as_str().unwrap().len(), 64, "{row}");
    }
    // a wrong token is still refused, and the failure carries the peer too
    let r = gw
        .http
        .post(gw.admin_url("/login"))
        .json(&json!({"token": "aigw_admin_nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let rows = gw.audit_rows().await;
    assert_eq!(rows[0]["action"], "login_failed");
    assert_eq!(rows[0]["peer"], "127.0.0.1");
}

#[tokio::test]
async fn a_changed_row_fails_aigw_audit_verify_naming_it() {
    let gw = TestGateway::builder(CONFIG).data_dir().start().await;
    for paused in [true, false, true] {
        let (s, _) = gw.admin_post("/pause", json!({ "paused": paused })).await;
        assert_eq!(s, 200);
    }
    let data = gw.data_dir().to_path_buf();
    let dir = gw.shutdown().await;
    let (ok, out) = aigw(&data, &["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("audit chain ok: 4 rows"), "{out}");
    let (ok, out) = aigw(&data, &["audit", "list"]);
    assert!(
        ok && out.contains("admin-token\t127.0.0.1\tresume"),
        "{out}"
    );
    // someone edits a row with an SQLite shell
    let db = rusqlite::Connection::open(data.join("config.db")).unwrap();
    db.execute(
        "UPDATE audit SET actor = 'nobody' WHERE action = 'resume'",
        [],
    )
    .unwrap();
    let id: i64 = db
        .query_row("SELECT id FROM audit WHERE action = 'resume'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let (ok, out) = aigw(&data, &["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("BROKEN at row {id}")) && out.contains("changed"),
        "{out}"
    );
    // put back, then delete one in the middle: the next row is named
    db.execute(
        "UPDATE audit SET actor = 'admin-token' WHERE action = 'resume'",
        [],
    )
    .unwrap();
    assert!(aigw(&data, &["audit", "verify"]).0);
    db.execute("DELETE FROM audit WHERE id = ?1", [id]).unwrap();
    let (ok, out) = aigw(&data, &["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("BROKEN at row {}", id + 1)), "{out}");
    drop(dir);
}

#[tokio::test]
async fn retention_prunes_old_rows_and_the_chain_still_verifies() {
    // a retention of 0 days is "keep all"; over 100 years is refused
    let e = gateway_core::config::Config::parse(
        &format!("{CONFIG}[audit]\nretention_days = 99999\n"),
        "t",
    )
    .unwrap_err();
    assert!(e.to_string().contains("audit.retention_days"), "{e}");
    let c = gateway_core::config::Config::parse(
        &format!("{CONFIG}[audit]\nretention_days = 30\n"),
        "t",
    )
    .unwrap();
    assert_eq!(c.audit_retention_days, 30);

    let gw = TestGateway::builder(CONFIG).data_dir().start().await;
    for paused in [true, false, true, false] {
        assert_eq!(
            gw.admin_post("/pause", json!({ "paused": paused })).await.0,
            200
        );
    }
    let store = gw.handle.state().lifecycle.store();
    // seen 31 days from now, every row but the newest is past 30 days
    let later = gateway_core::store::now_ms() + 31 * 86_400_000;
    assert_eq!(store.prune_audit(30, later).unwrap(), 4);
    let (s, _) = gw.admin_post("/pause", json!({ "paused": true })).await;
    assert_eq!(s, 200);
    let rows = gw.audit_rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let data = gw.data_dir().to_path_buf();
    let dir = gw.shutdown().await;
    let (ok, out) = aigw(&data, &["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("2 rows verified (from the anchor after pruned row 4)"),
        "{out}"
    );
    drop(dir);
}

#[tokio::test]
async fn aigw_admin_token_name_creates_a_token_a_running_gateway_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let aigw_ = crate::common::aigw::Aigw::serve_config(dir.path(), "", &[]);
    let data = dir.path().join("data");
    let (ok, out) = aigw(&data, &["admin-token", "--name", "alice"]);
    assert!(ok, "{out}");
    let alice = out.trim().to_string();
    assert!(alice.starts_with("aigw_admin_"), "{out}");
    // asked again: the same token, not a new one
    assert_eq!(
        aigw(&data, &["admin-token", "--name", "alice"]).1.trim(),
        alice
    );
    let (ok, out) = aigw(&data, &["admin-token", "--name", "viewer"]);
    assert!(!ok && out.contains("invalid token name"), "{out}");
    // the gateway started before alice existed and accepts her token now
    let r = aigw_
        .http
        .post(format!("{}/admin/api/pause", aigw_.url))
        .bearer_auth(&alice)
        .json(&json!({"paused": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ok, out) = aigw(&data, &["audit", "list", "--limit", "1"]);
    assert!(ok && out.contains("alice\t127.0.0.1\tresume"), "{out}");
    aigw_.sigterm();
}
