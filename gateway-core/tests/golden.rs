//! Golden transcripts (`tests/golden/*.json`, see its README): each
//! protocol's requests, answers, streams and errors, written from the public
//! API references, run through the translations both ways.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::wire;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use gateway_core::sse::SseSplitter;
use gateway_core::translate::{RequestCtx, Translation};
use http::StatusCode;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn translation(name: &str) -> Translation {
    match name {
        "messages_via_chat" => Translation::MessagesViaChat,
        "chat_via_messages" => Translation::ChatViaMessages,
        "responses_via_chat" => Translation::ResponsesViaChat,
        "responses_via_messages" => Translation::ResponsesViaMessages,
        "chat_via_gemini" => Translation::ChatViaGemini,
        "messages_via_gemini" => Translation::MessagesViaGemini,
        "responses_via_gemini" => Translation::ResponsesViaGemini,
        "gemini_via_chat" => Translation::GeminiViaChat,
        "gemini_via_messages" => Translation::GeminiViaMessages,
        other => panic!("unknown translation {other}"),
    }
}

/// `expected` against `actual`: `"<any>"` matches anything, `"$name"` binds
/// on first use and must match the same value afterwards.
fn check(
    expected: &Value,
    actual: &Value,
    vars: &mut HashMap<String, Value>,
    path: &str,
) -> Result<(), String> {
    if let Value::String(s) = expected {
        if s == "<any>" {
            return Ok(());
        }
        if let Some(name) = s.strip_prefix('$') {
            return match vars.get(name) {
                None => {
                    vars.insert(name.to_string(), actual.clone());
                    Ok(())
                }
                Some(v) if v == actual => Ok(()),
                Some(v) => Err(format!("{path}: ${name} was {v}, now {actual}")),
            };
        }
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<_> = e.keys().collect();
            let mut ak: Vec<_> = a.keys().collect();
            ek.sort();
            ak.sort();
            if ek != ak {
                return Err(format!("{path}: keys {ek:?} != {ak:?}"));
            }
            for (k, v) in e {
                check(v, &a[k], vars, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: {} items != {}: {actual}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                check(x, y, vars, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

fn run_stream(t: Translation, ctx: &RequestCtx, input: &str) -> String {
    let mut splitter = SseSplitter::new();
    let mut tr = t.stream(ctx).expect("a streamed translation");
    let mut out = BytesMut::new();
    // feed in small chunks to exercise events split across reads
    for chunk in input.as_bytes().chunks(37) {
        for ev in splitter.push(chunk).unwrap().events {
            tr.event(&ev, &mut out);
        }
    }
    tr.finish(&mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

fn run_case(path: &Path) -> Result<(), String> {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let t = translation(m["translation"].as_str().unwrap());
    let ctx = RequestCtx {
        model: m["model"].as_str().unwrap_or("model").to_string(),
        include_usage: m["include_usage"].as_bool().unwrap_or(false),
    };
    let mut vars = HashMap::new();
    let input = m["input"].to_string();
    match m["kind"].as_str().unwrap() {
        "request" => {
            // Gemini clients say in the path whether they stream.
            let stream = m["stream"].as_bool().unwrap_or(false);
            let out = t
                .request_streamed(input.as_bytes(), &ctx.model, None, stream)
                .map_err(|e| e.to_string())?;
            let v: Value = serde_json::from_slice(&out.body).unwrap();
            check(&m["expected"], &v, &mut vars, "")
        }
        "response" => {
            let out = t
                .response(input.as_bytes(), &ctx)
                .map_err(|e| e.to_string())?;
            let v: Value = serde_json::from_slice(&out).unwrap();
            check(&m["expected"], &v, &mut vars, "")
        }
        "error" => {
            let status = StatusCode::from_u16(m["status"].as_u64().unwrap() as u16).unwrap();
            let v: Value = serde_json::from_slice(&t.error_body(status, input.as_bytes())).unwrap();
            check(&m["expected"], &v, &mut vars, "")
        }
        "stream" => {
            let read =
                |k: &str| std::fs::read_to_string(dir().join(m[k].as_str().unwrap())).unwrap();
            let raw = run_stream(t, &ctx, &read("input"));
            let expected = read("expected");
            // Gemini ends each event with CRLF CRLF: the output must too.
            if expected.contains("\r\n\r\n") && raw.split("\r\n\r\n").any(|e| e.contains("\n\n")) {
                return Err(format!("events not CRLF-terminated: {raw:?}"));
            }
            let got = wire::sse_events(&raw);
            let want = wire::sse_events(&expected);
            if got.len() != want.len() {
                let names: Vec<_> = got
                    .iter()
                    .map(|(n, d)| n.clone().unwrap_or_else(|| d.to_string()))
                    .collect();
                return Err(format!(
                    "{} events, expected {}: {names:?}",
                    got.len(),
                    want.len()
                ));
            }
            for (i, ((gn, gd), (wn, wd))) in got.iter().zip(&want).enumerate() {
                if gn != wn {
                    return Err(format!("event {i}: name {gn:?} != {wn:?}"));
                }
                check(wd, gd, &mut vars, &format!("event {i}"))?;
            }
            Ok(())
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn golden_transcripts() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "golden cases missing: {cases:?}");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run_case(c)
                .err()
                .map(|e| format!("{}: {e}", c.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_translation_has_request_response_and_stream_cases() {
    let names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for t in [
        "messages_via_chat",
        "chat_via_messages",
        "responses_via_chat",
        "chat_via_gemini",
        "gemini_via_chat",
    ] {
        for k in ["request", "response", "stream"] {
            let f = format!("{t}.{k}.json");
            assert!(names.contains(&f), "missing {f}");
        }
    }
}
