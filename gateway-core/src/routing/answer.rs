//! What an upstream's answer must be before the gateway relays it. One rule
//! for every protocol pair, passthrough or translated: a 2xx whose body is
//! not a valid answer of the endpoint — not JSON, truncated, an error object
//! (`{"error":…}`, Anthropic's `{"type":"error",…}`), or missing the field
//! every answer of that endpoint has — is an upstream failure
//! (`bad_upstream_body`), never the client's success. The upstream's
//! headers give `Retry-After` within `routing.max_cooldown_s`.

use std::time::{Duration, SystemTime};

use crate::vocab::{Endpoint, Usage};
use http::{HeaderMap, header};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The fields that tell an answer from something else, read in one pass
/// that also checks the whole body is JSON.
/// `type` and `usage` are kept raw: an odd value there (a number, float
/// token counts) does not make an answer invalid.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    error: Option<IgnoredAny>,
    choices: Option<Vec<IgnoredAny>>,
    data: Option<Vec<IgnoredAny>>,
    /// Responses: a list; Bedrock Converse: an object (`output.message`).
    #[serde(borrow)]
    output: Option<&'a RawValue>,
    content: Option<Vec<IgnoredAny>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    /// Gemini.
    candidates: Option<Vec<IgnoredAny>>,
    embeddings: Option<Vec<IgnoredAny>>,
    #[serde(rename = "promptFeedback")]
    prompt_feedback: Option<IgnoredAny>,
    #[serde(rename = "usageMetadata", borrow)]
    usage_metadata: Option<&'a RawValue>,
    /// Bedrock InvokeModel embeddings (Titan's `embedding`, Cohere's
    /// `embeddings`).
    embedding: Option<Vec<IgnoredAny>>,
}

/// Checks a 2xx body is an answer of `endpoint` (the upstream's protocol);
/// gives its usage. The error says what is wrong, never the body.
pub(crate) fn check(endpoint: Endpoint, body: &[u8]) -> Result<Option<Usage>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("a 2xx answer with an empty body".into());
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("a 2xx answer that is not a JSON object".into());
    }
    let a: Answer<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            "a 2xx answer with truncated JSON".to_string()
        } else {
            format!("a 2xx answer that is not valid JSON ({e})")
        }
    })?;
    let kind = a.kind.map(RawValue::get);
    if a.error.is_some() || kind == Some(r#""error""#) {
        return Err("a 2xx answer carrying an error object".into());
    }
    let (field, ok) = match endpoint {
        Endpoint::ChatCompletions | Endpoint::Completions => ("choices", a.choices.is_some()),
        Endpoint::Embeddings => ("data", a.data.is_some()),
        Endpoint::Responses => ("output", a.output.is_some_and(|o| o.get().starts_with('['))),
        Endpoint::Messages => (
            "content",
            a.content.is_some() && kind.is_none_or(|k| k == r#""message""#),
        ),
        Endpoint::BatchEmbedContents => ("embeddings", a.embeddings.is_some()),
        Endpoint::Converse => ("output", a.output.is_some_and(|o| o.get().starts_with('{'))),
        Endpoint::InvokeModel => ("embedding", a.embedding.is_some() || a.embeddings.is_some()),
        // A refused prompt has no candidates, only promptFeedback.
        Endpoint::GenerateContent => (
            "candidates",
            a.candidates.is_some() || a.prompt_feedback.is_some(),
        ),
    };
    if !ok {
        return Err(format!("a 2xx answer without {field:?}"));
    }
    let usage = a
        .usage
        .and_then(|u| serde_json::from_str::<Usage>(u.get()).ok());
    Ok(match endpoint {
        Endpoint::Messages => usage.map(Usage::anthropic),
        Endpoint::GenerateContent => a
            .usage_metadata
            .and_then(|u| serde_json::from_str(u.get()).ok())
            .map(|u| gemini_usage(&u)),
        Endpoint::Converse => a
            .usage
            .and_then(|u| serde_json::from_str(u.get()).ok())
            .map(|u| crate::translate::chat_via_converse::routing_usage(&u)),
        _ => usage,
    })
}

/// Gemini's `usageMetadata` as routing counts it: thinking tokens are
/// output tokens, `cachedContentTokenCount` the cached part of the prompt.
pub(crate) fn gemini_usage(u: &crate::translate::wire::gemini::UsageMetadata) -> Usage {
    Usage {
        prompt_tokens: Some(u.prompt_token_count),
        completion_tokens: Some(u.candidates_token_count + u.thoughts_token_count.unwrap_or(0)),
        prompt_tokens_details: u.cached_content_token_count,
        ..Usage::default()
    }
}

/// The cooldown an upstream asks for: `retry-after-ms` (float milliseconds,
/// OpenAI's) over `Retry-After` (seconds or an HTTP date), cut to `max`.
/// A value that is not a finite, non-negative number or a date counts as
/// absent (the route's own cooldown applies).
pub(crate) fn retry_after(h: &HeaderMap, max: Duration) -> Option<Duration> {
    let text = |name| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        let secs = ms / 1000.0;
        return Some(if secs >= max.as_secs_f64() {
            max
        } else {
            Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
        });
    }
    let v = text(header::RETRY_AFTER.as_str())?;
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s).min(max));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn whole_answer_usage_of_both_providers() {
        let a = check(
            Endpoint::Messages,
            br#"{"type":"message","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":900,"output_tokens":5}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.input(), Some(1010));
        assert_eq!(
            (a.cache_read(), a.cache_write(), a.output()),
            (Some(900), Some(100), Some(5))
        );
        let c = check(
            Endpoint::ChatCompletions,
            br#"{"choices":[],"usage":{"prompt_tokens":1010,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":900}}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.input(), c.cache_read(), c.cache_write()),
            (Some(1010), Some(900), None)
        );
        let r = check(
            Endpoint::Responses,
            br#"{"output":[],"usage":{"input_tokens":1010,"output_tokens":5,"input_tokens_details":{"cached_tokens":900}}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.input(), r.cache_read()), (Some(1010), Some(900)));
        // an Anthropic answer without cache fields: input as it came
        let plain = check(
            Endpoint::Messages,
            br#"{"type":"message","content":[],"usage":{"input_tokens":10,"output_tokens":5}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((plain.input(), plain.cache_read()), (Some(10), None));
    }

    #[test]
    fn answers_and_non_answers() {
        let chat = br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let u = check(Endpoint::ChatCompletions, chat).unwrap().unwrap();
        assert_eq!(u.total(), 4);
        assert!(check(Endpoint::ChatCompletions, br#"{"error":{"message":"no"}}"#).is_err());
        assert!(check(Endpoint::ChatCompletions, br#"{"choices":[],"error":null}"#).is_ok());
        assert!(check(Endpoint::ChatCompletions, br#"{"choices":[{"mess"#).is_err());
        assert!(check(Endpoint::ChatCompletions, b"<html>oops</html>").is_err());
        assert!(check(Endpoint::ChatCompletions, b"").is_err());
        assert!(check(Endpoint::ChatCompletions, b"[1,2]").is_err());
        assert!(check(Endpoint::ChatCompletions, br#"{"id":"x"}"#).is_err());
        assert!(check(Endpoint::Embeddings, br#"{"data":[{"embedding":[0.1]}]}"#).is_ok());
        assert!(check(Endpoint::Responses, br#"{"id":"r","output":[]}"#).is_ok());
        let msg = br#"{"type":"message","content":[{"type":"text","text":"hi"}]}"#;
        assert!(check(Endpoint::Messages, msg).is_ok());
        let err = br#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#;
        assert!(check(Endpoint::Messages, err).is_err());
        let e = check(Endpoint::ChatCompletions, br#"{"choices":[{"mess"#).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    fn h(name: &'static str, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn retry_after_never_panics_and_is_capped() {
        let max = Duration::from_secs(300);
        for bad in ["inf", "-inf", "NaN", "-5", "1e30", "1e400", "abc", ""] {
            let got = retry_after(&h("retry-after-ms", bad), max);
            assert!(got.is_none_or(|d| d <= max), "{bad}: {got:?}");
        }
        assert_eq!(retry_after(&h("retry-after-ms", "1e30"), max), Some(max));
        assert_eq!(retry_after(&h("retry-after-ms", "inf"), max), None);
        assert_eq!(retry_after(&h("retry-after-ms", "NaN"), max), None);
        assert_eq!(retry_after(&h("retry-after-ms", "-5"), max), None);
        assert_eq!(
            retry_after(&h("retry-after-ms", "1500"), max),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&h("retry-after", "18446744073709551615"), max),
            Some(max)
        );
        assert_eq!(retry_after(&h("retry-after", "-1"), max), None);
        assert_eq!(
            retry_after(&h("retry-after", "7"), max),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&h("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"), max),
            Some(Duration::ZERO)
        );
        // garbage in retry-after-ms: Retry-After still counts
        let mut both = h("retry-after-ms", "inf");
        both.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&both, max), Some(Duration::from_secs(2)));
    }
}
