//! The demo as a test: what the `x-aigw-*` headers claim must match what the
//! fake upstreams really received.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use provider_fallback::{BACKUP_MODEL, REQUESTED_MODEL, Setup, run};

#[tokio::test]
async fn headers_match_what_the_upstreams_received() -> anyhow::Result<()> {
    let r = run(false).await?;

    // 1. Plain request: primary tried once with the requested model (429),
    //    backup served it with the rewritten model.
    assert_eq!(r.after_first.primary, vec![REQUESTED_MODEL.to_owned()]);
    assert_eq!(r.after_first.backup, vec![BACKUP_MODEL.to_owned()]);
    assert_eq!(r.first.status, 200);
    let h = &r.first.headers;
    assert_eq!(h.provider.as_deref(), Some("backup"));
    assert_eq!(h.model.as_deref(), Some(BACKUP_MODEL));
    assert_eq!(h.route_mode.as_deref(), Some("model_fallback"));
    assert_eq!(h.attempts.as_deref(), Some("2"), "primary (429) + backup");
    let first_id = h.request_id.clone().unwrap_or_default();
    assert!(!first_id.is_empty(), "x-aigw-request-id missing: {h:?}");
    assert_eq!(r.first.text, "Hello from backup");
    // The primary's Retry-After (30 s) opened its cooldown.
    let cooldown = r.primary_cooldown_s.unwrap_or(0.0);
    assert!(
        cooldown > 20.0 && cooldown <= 30.0,
        "primary cooldown after its 429: {:?}",
        r.primary_cooldown_s
    );

    // 2. Streaming request: the primary is cooling down and is not called.
    assert_eq!(r.stream.status, 200);
    let h = &r.stream.headers;
    assert_eq!(h.provider.as_deref(), Some("backup"));
    assert_eq!(h.model.as_deref(), Some(BACKUP_MODEL));
    assert_eq!(h.route_mode.as_deref(), Some("model_fallback"));
    assert_eq!(
        h.attempts.as_deref(),
        Some("1"),
        "primary skipped, not tried"
    );
    let stream_id = h.request_id.clone().unwrap_or_default();
    assert!(!stream_id.is_empty(), "x-aigw-request-id missing: {h:?}");
    assert_ne!(first_id, stream_id, "request ids must be unique");
    assert_eq!(r.stream.text, "Hello from backup");
    assert_eq!(
        r.stream.frames.last().map(String::as_str),
        Some("[DONE]"),
        "frames: {:?}",
        r.stream.frames
    );
    assert_eq!(
        r.stream.frames.iter().filter(|f| *f == "[DONE]").count(),
        1,
        "frames: {:?}",
        r.stream.frames
    );
    assert_eq!(r.after_stream.primary, vec![REQUESTED_MODEL.to_owned()]);
    assert_eq!(
        r.after_stream.backup,
        vec![BACKUP_MODEL.to_owned(), BACKUP_MODEL.to_owned()]
    );
    assert!(r.showed_model_fallback());
    Ok(())
}

#[tokio::test]
async fn unknown_fields_pass_through_byte_for_byte() -> anyhow::Result<()> {
    let setup = Setup::start().await?;
    // Odd spacing and `2.50` would not survive a parse/re-serialise round trip.
    let sent = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "x_custom": {"keep": [1, 2.50]}}"#;
    let resp = setup
        .client
        .post(setup.chat_url())
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let mode = resp
        .headers()
        .get("x-aigw-route-mode")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = resp.bytes().await?;
    let primary = setup.primary.proxied_requests();
    let backup = setup.backup.proxied_requests();
    setup.shutdown().await;

    assert_eq!(status, 200);
    assert_eq!(mode.as_deref(), Some("model_fallback"));
    // The primary got the client's bytes untouched (no rewrite for it).
    assert_eq!(primary.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&primary[0].body),
        sent,
        "body received by primary"
    );
    // The backup got the same bytes with only the model value replaced.
    let expected = sent.replacen(
        &format!("\"{REQUESTED_MODEL}\""),
        &format!("\"{BACKUP_MODEL}\""),
        1,
    );
    assert_eq!(backup.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&backup[0].body),
        expected,
        "body received by backup"
    );
    assert_eq!(backup[0].body.as_ref(), expected.as_bytes());
    Ok(())
}
