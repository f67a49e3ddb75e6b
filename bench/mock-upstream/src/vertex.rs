//! The Vertex AI arm: `POST /token` grants any JWT a bench token (no
//! signature check: the gateway's signing is what is measured), and
//! `POST …/publishers/google/models/{m}:generateContent` /
//! `…/publishers/anthropic/models/{m}:rawPredict` answer as Vertex does
//! (non-streaming), after the model name's `l<ms>` latency.

use bytes::Bytes;

/// The answer for a Vertex path, or `None` when `path` is not one.
pub fn answer(path: &str) -> Option<(crate::Plan, Bytes)> {
    if path == "/token" {
        return Some((
            crate::Plan::from_model(""),
            Bytes::from_static(
                br#"{"access_token":"ya29.bench","token_type":"Bearer","expires_in":3600}"#,
            ),
        ));
    }
    let (publisher, rest) = path
        .split_once("/publishers/")
        .and_then(|(_, r)| r.split_once("/models/"))?;
    let (model, method) = rest.split_once(':')?;
    let model = crate::safe(model);
    let body = match (publisher, method) {
        ("google", "generateContent") => format!(
            r#"{{"candidates":[{{"content":{{"role":"model","parts":[{{"text":"Hello from the mock upstream."}}]}},"finishReason":"STOP"}}],"usageMetadata":{{"promptTokenCount":12,"candidatesTokenCount":7,"totalTokenCount":19}},"modelVersion":"{model}"}}"#
        ),
        ("anthropic", "rawPredict") => format!(
            r#"{{"id":"msg_mock","type":"message","role":"assistant","model":"{model}","content":[{{"type":"text","text":"Hello from the mock upstream."}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":12,"output_tokens":7}}}}"#
        ),
        _ => return None,
    };
    Some((crate::Plan::from_model(model), Bytes::from(body)))
}
