//! Prompt caches survive the gateway (issue 17, part 3): Anthropic
//! `cache_control` breakpoints reach the upstream byte for byte, bridged
//! OpenAI traffic gets a stable per-session `prompt_cache_key`, cache reads
//! and writes land in the request log, cost and `/metrics` apart, and a
//! stream cut before its usage is logged as unknown, not as zero.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::wire;

use common::*;
use gateway_core::telemetry::Db;
use gateway_core::telemetry::query::{self, RequestDetail, RequestsQuery, Window};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::{Behavior, FakeUpstream};
use wire::anthropic_provider;

impl TestGateway {
    /// Shuts down (flushing the log) and opens the log.
    async fn close_log(self) -> (tempfile::TempDir, Db) {
        let path = self.data_dir().join("telemetry.db");
        let dir = self.shutdown().await.unwrap();
        (dir, Db::open(&path).unwrap())
    }

    async fn post_with(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (n, v) in headers {
            rb = rb.header(*n, *v);
        }
        rb.send().await.unwrap()
    }
}

fn rows(db: &Db) -> Vec<RequestDetail> {
    db.read(|c| {
        let page = query::requests(
            c,
            &RequestsQuery {
                limit: Some(500),
                ..Default::default()
            },
        )?;
        page.items
            .iter()
            .map(|r| Ok(query::request(c, &r.id)?.unwrap()))
            .collect()
    })
    .unwrap()
}

fn by_id<'a>(rows: &'a [RequestDetail], id: &str) -> &'a query::RequestRow {
    &rows.iter().find(|r| r.request.id == id).unwrap().request
}

/// What Claude Code sends: breakpoints on system blocks and on the last
/// user block, odd spacing and key order the gateway must not touch.
const CLAUDE_CODE_BODY: &str = r#"{"model": "claude-x",  "max_tokens":256,
 "system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},
           {"type":"text","text":"Tools: …","cache_control":{"type":"ephemeral","ttl":"1h"}}],
 "metadata":{"user_id":"user_abc_session_42"},
 "messages":[{"role":"user","content":[{"type":"text","text":"hi"},
   {"type":"tool_result","tool_use_id":"t1","content":"ok","cache_control":{"type":"ephemeral"}}]}],
 "temperature": 1.0}"#;

#[tokio::test]
async fn cache_control_passes_through_byte_for_byte() {
    let up = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}{}",
        anthropic_provider(&up, ""),
        route("claude-x", "", &[("claude", None)]),
        route("claude-y", "", &[("claude", Some("claude-sonnet-4-5"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw
        .post_with(
            "/v1/messages",
            CLAUDE_CODE_BODY.as_bytes(),
            &[("x-claude-code-session-id", "s-1")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(&up.requests()[0].body[..], CLAUDE_CODE_BODY.as_bytes());
    // with the model rewritten, only the model's bytes change
    let y = CLAUDE_CODE_BODY.replace("\"claude-x\"", "\"claude-y\"");
    assert_eq!(
        gw.post_with("/v1/messages", y.as_bytes(), &[])
            .await
            .status(),
        200
    );
    let want = CLAUDE_CODE_BODY.replace("\"claude-x\"", "\"claude-sonnet-4-5\"");
    assert_eq!(&up.requests()[1].body[..], want.as_bytes());
}

fn derived_key(session: &str) -> String {
    hex::encode(&Sha256::digest(format!("aigw:{session}").as_bytes())[..16])
}

#[tokio::test]
async fn bridged_requests_get_a_stable_prompt_cache_key_per_session() {
    let up = FakeUpstream::start("oai").await;
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("claude-x", "", &[("oai", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;
    for _ in 0..2 {
        let r = gw
            .post_with(
                "/v1/messages",
                CLAUDE_CODE_BODY.as_bytes(),
                &[("x-claude-code-session-id", "cc-7")],
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    // no header: metadata.user_id names the session
    assert_eq!(
        gw.post_with("/v1/messages", CLAUDE_CODE_BODY.as_bytes(), &[])
            .await
            .status(),
        200
    );
    let sent: Vec<Value> = up.requests().iter().map(|r| r.json()).collect();
    assert_eq!(sent[0]["prompt_cache_key"], derived_key("cc-7"));
    assert_eq!(sent[1]["prompt_cache_key"], sent[0]["prompt_cache_key"]);
    assert_eq!(
        sent[2]["prompt_cache_key"],
        derived_key("user_abc_session_42")
    );
    // the session key itself never reaches the upstream
    for r in up.requests() {
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(!body.contains("cc-7"), "{body}");
    }
    // a request naming no session gets no key
    let plain =
        br#"{"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(gw.post_with("/v1/messages", plain, &[]).await.status(), 200);
    assert!(up.requests()[3].json().get("prompt_cache_key").is_none());
}

const ANTHROPIC_CACHED_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":2000,\"cache_read_input_tokens\":30000,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

const OPENAI_CACHED_STREAM: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,\"prompt_tokens_details\":{\"cached_tokens\":1920}}}\n\n\
data: [DONE]\n\n";

#[tokio::test]
async fn cache_reads_and_writes_are_logged_priced_and_counted() {
    let claude = FakeUpstream::start("claude").await;
    let oai = FakeUpstream::start("oai").await;
    let toml = format!(
        "{}{}{}{}{}",
        anthropic_provider(&claude, ""),
        provider(&oai, ""),
        route("claude-x", "", &[("claude", Some("claude-sonnet-4-5"))]),
        route("gpt-x", "", &[("oai", Some("gpt-4o-mini"))]),
        route("bridged", "", &[("claude", Some("claude-sonnet-4-5"))]),
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;

    // Anthropic, whole answer
    claude.push(Behavior::Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 5}
    })));
    let whole = gw
        .post_with("/v1/messages", CLAUDE_CODE_BODY.as_bytes(), &[])
        .await;
    let whole_id = header(&whole, "x-aigw-request-id");
    whole.text().await.unwrap();

    // Anthropic, streamed
    claude.push(Behavior::raw(
        200,
        "text/event-stream",
        ANTHROPIC_CACHED_STREAM,
    ));
    let mut b: Value = serde_json::from_str(CLAUDE_CODE_BODY).unwrap();
    b["stream"] = json!(true);
    let streamed = gw.post("/v1/messages", &b).await;
    let streamed_id = header(&streamed, "x-aigw-request-id");
    assert!(streamed.text().await.unwrap().contains("message_stop"));

    // OpenAI, streamed with usage
    oai.push(Behavior::raw(
        200,
        "text/event-stream",
        OPENAI_CACHED_STREAM,
    ));
    let mut c = chat_body("gpt-x", true);
    c["stream_options"] = json!({"include_usage": true});
    let chat = gw.chat(&c).await;
    let chat_id = header(&chat, "x-aigw-request-id");
    chat.text().await.unwrap();

    // A chat client on an Anthropic upstream (translated): cache usage too
    claude.push(Behavior::raw(
        200,
        "text/event-stream",
        ANTHROPIC_CACHED_STREAM,
    ));
    let mut t = chat_body("bridged", true);
    t["stream_options"] = json!({"include_usage": true});
    let bridged = gw.chat(&t).await;
    let bridged_id = header(&bridged, "x-aigw-request-id");
    let text = bridged.text().await.unwrap();
    // the chat client sees every prompt token, the cached ones among them
    assert!(
        text.contains("\"prompt_tokens\":32012") && text.contains("\"cached_tokens\":30000"),
        "{text}"
    );

    // A stream cut after content, before its usage
    oai.push(Behavior::StreamDieAfterContent { after: 2 });
    let cut = gw.chat(&c).await;
    let cut_id = header(&cut, "x-aigw-request-id");
    let _ = cut.text().await;

    let (_, metrics) = {
        let r = gw
            .http
            .get(format!("{}/metrics", gw.url))
            .send()
            .await
            .unwrap();
        ((), r.text().await.unwrap())
    };
    let (_dir, db) = gw.close_log().await;
    let rows = rows(&db);

    let r = by_id(&rows, &whole_id);
    assert_eq!((r.tokens_in, r.tokens_out), (Some(1010), Some(5)));
    assert_eq!(
        (r.cache_read_tokens, r.cache_write_tokens),
        (Some(900), Some(100))
    );
    let want = (10.0 * 3.0 + 900.0 * 0.30 + 100.0 * 3.75 + 5.0 * 15.0) / 1e6;
    assert!((r.cost_usd.unwrap() - want).abs() < 1e-12, "{r:?}");
    assert!(!r.tokens_estimated);

    let r = by_id(&rows, &streamed_id);
    assert_eq!((r.tokens_in, r.tokens_out), (Some(32_012), Some(42)));
    assert_eq!(
        (r.cache_read_tokens, r.cache_write_tokens),
        (Some(30_000), Some(2000))
    );

    let r = by_id(&rows, &chat_id);
    assert_eq!((r.tokens_in, r.tokens_out), (Some(2006), Some(300)));
    assert_eq!(
        (r.cache_read_tokens, r.cache_write_tokens),
        (Some(1920), None)
    );
    let want = (86.0 * 0.15 + 1920.0 * 0.075 + 300.0 * 0.60) / 1e6;
    assert!((r.cost_usd.unwrap() - want).abs() < 1e-12, "{r:?}");

    let r = by_id(&rows, &bridged_id);
    assert_eq!(
        (r.tokens_in, r.cache_read_tokens, r.cache_write_tokens),
        (Some(32_012), Some(30_000), Some(2000))
    );

    let r = by_id(&rows, &cut_id);
    assert_eq!(r.error.as_deref(), Some("stream_broken"), "{r:?}");
    assert_eq!(
        (r.tokens_in, r.tokens_out, r.cost_usd),
        (None, None, None),
        "{r:?}"
    );
    assert!(!r.tokens_estimated);

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let w = Window::last_minutes(now_ms + 60_000, 60);
    let s = db
        .read(|c| query::summary(c, w, &Default::default()))
        .unwrap();
    assert_eq!(s.cache_read_tokens, 900 + 30_000 + 1920 + 30_000);
    assert_eq!(s.cache_write_tokens, 100 + 2000 + 2000);
    assert_eq!(s.usage_unknown, 1);

    let line = |m: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(m))
            .map(str::to_string)
    };
    let read = line(
        "aigw_prompt_cache_tokens_total{provider=\"oai\",model=\"gpt-4o-mini\",kind=\"read\"}",
    );
    assert_eq!(
        read.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("1920"),
        "{metrics}"
    );
    let write = line(
        "aigw_prompt_cache_tokens_total{provider=\"claude\",model=\"claude-sonnet-4-5\",kind=\"write\"}",
    );
    assert_eq!(
        write.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("4100"),
        "{metrics}"
    );
    let unknown = line("aigw_usage_unknown_total{provider=\"oai\",model=\"gpt-4o-mini\"}");
    assert_eq!(
        unknown.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("1"),
        "{metrics}"
    );
}
