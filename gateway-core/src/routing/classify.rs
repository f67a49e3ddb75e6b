//! What an upstream's 4xx body says went wrong, as an [`ErrorClass`] a
//! route's `fallback_on` can name: OpenAI's `error.code` / `error.type`
//! (also Groq, DeepSeek, Mistral, vLLM, Azure), Anthropic's
//! `{"type":"error","error":{"type","message"}}`, Gemini's
//! `{"error":{"status","message"}}`, and the messages of common servers
//! (vLLM, Ollama, llama.cpp, Bedrock). Only the first [`MAX_SCAN`] bytes
//! are read; the classes are matched on codes first, then on message
//! patterns (lowercased substrings).

use crate::vocab::ErrorClass;

/// Bytes of an error body scanned for codes and messages.
pub const MAX_SCAN: usize = 16 * 1024;

/// Codes (OpenAI `error.code`, `error.type`; Azure `innererror.code`) per class.
const CONTEXT_CODES: &[&str] = &["context_length_exceeded", "context_window_exceeded"];
const FILTER_CODES: &[&str] = &[
    "content_filter",
    "content_policy_violation",
    "responsibleaipolicyviolation",
    "content_filtered",
];

/// Message patterns (lowercase) per class.
const CONTEXT_MESSAGES: &[&str] = &[
    "maximum context length",                 // OpenAI, vLLM, DeepSeek
    "context length exceeded",                // generic
    "context_length_exceeded",                // in a message
    "prompt is too long",                     // Anthropic
    "exceed context limit",                   // Anthropic (input + max_tokens)
    "exceeds the context window",             // generic
    "exceeds the maximum number of tokens",   // Gemini
    "input is too long",                      // Bedrock
    "too many input tokens",                  // Bedrock
    "longer than the model's context length", // vLLM
    "exceeds the available context size",     // llama.cpp
    "input length exceeds",                   // Ollama, TGI
    "too large for model with",               // Mistral
    "reduce the length of the messages",      // OpenAI (older)
];
const FILTER_MESSAGES: &[&str] = &[
    "content management policy", // Azure OpenAI
    "content filter",            // generic
    "content_filter",
    "content policy",        // OpenAI images, generic
    "safety system",         // OpenAI
    "blocked due to safety", // Gemini
];

/// The class an upstream error body names, if it names one of
/// [`ErrorClass::FALLBACK_ON`].
pub fn classify(body: &[u8]) -> Option<ErrorClass> {
    let body = &body[..body.len().min(MAX_SCAN)];
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        // OpenAI / Azure / Gemini: {"error":{...}}; Anthropic: {"type":"error","error":{...}}.
        let err = v.get("error").unwrap_or(&v);
        let codes = [
            err.get("code"),
            err.get("type"),
            err.get("status"),
            err.pointer("/innererror/code"),
        ];
        for c in codes.iter().flatten().filter_map(|c| c.as_str()) {
            let c = c.to_ascii_lowercase();
            if CONTEXT_CODES.contains(&c.as_str()) {
                return Some(ErrorClass::ContextLengthExceeded);
            }
            if FILTER_CODES.contains(&c.as_str()) {
                return Some(ErrorClass::ContentFilter);
            }
        }
        let message = err
            .get("message")
            .or_else(|| v.get("message"))
            .or_else(|| err.as_str().map(|_| err))
            .and_then(|m| m.as_str());
        if let Some(m) = message {
            return by_message(m);
        }
        return None;
    }
    // Not JSON (a plain-text error from a local server).
    by_message(&String::from_utf8_lossy(body))
}

fn by_message(m: &str) -> Option<ErrorClass> {
    let m = m.to_lowercase();
    if CONTEXT_MESSAGES.iter().any(|p| m.contains(p)) {
        Some(ErrorClass::ContextLengthExceeded)
    } else if FILTER_MESSAGES.iter().any(|p| m.contains(p)) {
        Some(ErrorClass::ContentFilter)
    } else {
        None
    }
}

/// Whether a whole chat or completions answer was withheld by the
/// upstream's filter: it has choices and every one ended with
/// `finish_reason = "content_filter"` (Azure OpenAI answers a filtered
/// completion so, with 200).
pub fn filtered_answer(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        choices: Vec<Choice>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        finish_reason: Option<String>,
    }
    serde_json::from_slice::<Answer>(body).is_ok_and(|a| {
        !a.choices.is_empty()
            && a.choices
                .iter()
                .all(|c| c.finish_reason.as_deref() == Some("content_filter"))
    })
}

/// Whether `body` (its first [`MAX_SCAN`] bytes, case-insensitively)
/// contains one of `patterns` (already lowercase).
pub fn mentions(body: &[u8], patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_SCAN)]).to_lowercase();
    patterns.iter().any(|p| text.contains(p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::{ContentFilter as Filter, ContextLengthExceeded as Ctx};

    #[test]
    fn vendor_error_bodies_are_classified() {
        let cases: &[(&str, Option<ErrorClass>)] = &[
            // OpenAI
            (
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                Some(Ctx),
            ),
            // Anthropic
            (
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
                Some(Ctx),
            ),
            // Azure OpenAI content filter
            (
                r#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#,
                Some(Filter),
            ),
            // Gemini
            (
                r#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#,
                Some(Ctx),
            ),
            // vLLM (OpenAI shape, code is a number)
            (
                r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}"#,
                Some(Ctx),
            ),
            // Ollama
            (
                r#"{"error":"input length exceeds maximum context length"}"#,
                Some(Ctx),
            ),
            // Bedrock, plain text
            ("Input is too long for requested model.", Some(Ctx)),
            // OpenAI image safety
            (
                r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}}"#,
                Some(Filter),
            ),
            // Not one of ours
            (
                r#"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","code":"invalid_value"}}"#,
                None,
            ),
            (
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                None,
            ),
            ("", None),
            ("<html>Bad Request</html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(classify(body.as_bytes()), *want, "{body}");
        }
    }

    #[test]
    fn azure_filter_answers_are_classified() {
        // A jailbreak caught by Prompt Shields: only innererror names the policy.
        let shield = r#"{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"400","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"jailbreak":{"filtered":true,"detected":true}}}}}"#;
        assert_eq!(classify(shield.as_bytes()), Some(Filter));
        let filtered = br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"finish_reason":"content_filter","message":{"role":"assistant","content":null},"content_filter_results":{"hate":{"filtered":true,"severity":"high"}}}],"prompt_filter_results":[]}"#;
        assert!(filtered_answer(filtered));
        let fine = br#"{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]}"#;
        assert!(!filtered_answer(fine));
        let mixed = br#"{"choices":[{"finish_reason":"stop"},{"finish_reason":"content_filter"}]}"#;
        assert!(!filtered_answer(mixed));
        assert!(!filtered_answer(br#"{"choices":[]}"#));
        assert!(!filtered_answer(b"not json"));
    }

    #[test]
    fn messages_match_case_insensitively_within_the_scan_bound() {
        let pats = vec!["overloaded".to_string()];
        assert!(mentions(
            br#"{"error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            &pats
        ));
        assert!(!mentions(b"busy", &pats));
        assert!(!mentions(b"overloaded", &[]));
        let mut far = vec![b' '; MAX_SCAN];
        far.extend_from_slice(b"overloaded");
        assert!(!mentions(&far, &pats));
    }
}
