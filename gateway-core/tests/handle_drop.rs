//! Dropping a `GatewayHandle` (without `shutdown().await`) stops the gateway
//! and, on a multi-threaded runtime, waits for it: the request log has the
//! last request's row as soon as the drop returns.

use crate::common;
use common::{chat_body, provider, route};
use gateway_core::GatewayOptions;
use gateway_core::config::Config;
use gateway_core::secrets::admin::AdminTokens;
use testkit::FakeUpstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_handle_waits_for_the_log_writer() {
    let up = FakeUpstream::start("a").await;
    let toml = format!("{}{}", provider(&up, ""), route("m", "", &[("a", None)]));
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GatewayOptions::new(Config::parse(&toml, "t.toml").unwrap());
    opts.listen = Some("127.0.0.1:0".parse().unwrap());
    opts.data_dir = Some(dir.path().to_path_buf());
    opts.admin_tokens = Some(AdminTokens::ephemeral());
    let handle = gateway_core::start(opts).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", handle.base_url()))
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(handle);
    // The writer batches for a moment before writing: only a drop that
    // waited for it finds the row here.
    let db = rusqlite::Connection::open(dir.path().join("telemetry.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}
