//! Client request bodies are forwarded byte for byte: the gateway reads only
//! what it needs (`model`, `stream`, token budget) and, when a target rewrites
//! the model, splices the new name into the original bytes. Nothing is
//! re-serialised, so unknown fields, key order and number formatting survive.
//! The same one parse reads the body's session fields (`prompt_cache_key`,
//! Anthropic `metadata.user_id`, `user`) for sticky sessions.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

/// What the gateway reads from a request body.
#[derive(Debug, Clone)]
pub struct RequestPeek {
    pub model: String,
    pub stream: bool,
    pub max_tokens: Option<u64>,
    /// Where the top-level `"model"` value is, found when first needed.
    pub model_span: ModelSpan,
    /// The client's own `prompt_cache_key` (OpenAI chat / Responses).
    pub prompt_cache_key: Option<String>,
    /// The body's session key: `prompt_cache_key`, else Anthropic
    /// `metadata.user_id`, else `user` (headers come first, see
    /// [`super::sticky::SessionKey::from_request`]).
    pub session: Option<String>,
}

/// Byte range of the top-level `"model"` value, quotes included. Looked up
/// on first use: only a target that rewrites the model needs it, and
/// finding it means walking the whole body once more.
#[derive(Debug, Clone, Default)]
pub struct ModelSpan(std::sync::OnceLock<Option<Range<usize>>>);

impl ModelSpan {
    pub fn get(&self, body: &[u8]) -> Option<Range<usize>> {
        self.0
            .get_or_init(|| top_level_value_span(body, "model"))
            .clone()
    }
}

#[derive(Deserialize)]
struct Peek {
    model: Option<serde_json::Value>,
    #[serde(default)]
    stream: Option<serde_json::Value>,
    max_tokens: Option<serde_json::Value>,
    max_completion_tokens: Option<serde_json::Value>,
    max_output_tokens: Option<serde_json::Value>,
    prompt_cache_key: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "user_id_of")]
    metadata: Option<String>,
    user: Option<serde_json::Value>,
}

/// `metadata.user_id` when `metadata` is an object holding a string there;
/// anything else is no session key (and no error: the field is not ours).
fn user_id_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Meta {
        Obj {
            #[serde(default)]
            user_id: Option<serde_json::Value>,
        },
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Meta>::deserialize(d)? {
        Some(Meta::Obj {
            user_id: Some(serde_json::Value::String(s)),
        }) => Some(s),
        _ => None,
    })
}

fn string(v: Option<serde_json::Value>) -> Option<String> {
    match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeekError {
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    #[error("request body must be a JSON object")]
    NotObject,
    #[error("missing required parameter: 'model'")]
    MissingModel,
    #[error("'model' must be a non-empty string")]
    BadModel,
    #[error("'stream' must be a boolean")]
    BadStream,
}

/// Validates the whole body as JSON and reads the routing-relevant fields.
pub fn peek(body: &[u8]) -> Result<RequestPeek, PeekError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Distinguish "not JSON at all" from "JSON but not an object".
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Err(PeekError::NotObject),
            Err(e) => Err(PeekError::Json(e.to_string())),
        };
    }
    let p: Peek = serde_json::from_slice(body).map_err(|e| PeekError::Json(e.to_string()))?;
    let model = match p.model {
        None | Some(serde_json::Value::Null) => return Err(PeekError::MissingModel),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => return Err(PeekError::BadModel),
    };
    let stream = match p.stream {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => return Err(PeekError::BadStream),
    };
    let max_tokens = [p.max_tokens, p.max_completion_tokens, p.max_output_tokens]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_u64());
    let prompt_cache_key = string(p.prompt_cache_key);
    let session = prompt_cache_key
        .clone()
        .or_else(|| p.metadata.filter(|s| !s.trim().is_empty()))
        .or_else(|| string(p.user));
    Ok(RequestPeek {
        model,
        stream,
        max_tokens,
        model_span: ModelSpan::default(),
        prompt_cache_key,
        session,
    })
}

/// [`peek`] for a protocol that names the model and whether it streams in
/// the path (Gemini's `models/{model}:streamGenerateContent`): the body
/// must still be a JSON object; its budget is
/// `generationConfig.maxOutputTokens`.
pub fn peek_with_model(body: &[u8], model: &str, stream: bool) -> Result<RequestPeek, PeekError> {
    #[derive(Deserialize)]
    struct GeminiPeek {
        #[serde(default, rename = "generationConfig")]
        generation_config: Option<serde_json::Value>,
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Err(PeekError::NotObject),
            Err(e) => Err(PeekError::Json(e.to_string())),
        };
    }
    let p: GeminiPeek = serde_json::from_slice(body).map_err(|e| PeekError::Json(e.to_string()))?;
    if model.trim().is_empty() {
        return Err(PeekError::BadModel);
    }
    let max_tokens = p
        .generation_config
        .as_ref()
        .and_then(|g| g.get("maxOutputTokens"))
        .and_then(serde_json::Value::as_u64);
    Ok(RequestPeek {
        model: model.to_string(),
        stream,
        max_tokens,
        model_span: ModelSpan::default(),
        prompt_cache_key: None,
        session: None,
    })
}

/// Replaces the top-level `model` value (at `span`) with `model` as a JSON
/// string, leaving every other byte as it was.
pub fn rewrite_model(body: &Bytes, span: &ModelSpan, model: &str) -> Bytes {
    let quoted = serde_json::Value::String(model.to_string()).to_string();
    let Some(span) = span.get(body) else {
        // Not reached for a body `peek` accepted; re-serialise rather than
        // forward the wrong model.
        return reserialized_with_model(body, model);
    };
    let mut out = BytesMut::with_capacity(body.len() + quoted.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(quoted.as_bytes());
    out.extend_from_slice(&body[span.end..]);
    out.freeze()
}

fn reserialized_with_model(body: &Bytes, model: &str) -> Bytes {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body) {
        Ok(mut map) => {
            map.insert("model".into(), serde_json::Value::String(model.into()));
            serde_json::to_vec(&map).map_or_else(|_| body.clone(), Bytes::from)
        }
        Err(_) => body.clone(),
    }
}

/// Finds the value of a top-level key in a JSON object already known to be
/// valid. Returns the byte range of the value.
fn top_level_value_span(b: &[u8], key: &str) -> Option<Range<usize>> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(b, i)?;
        let raw = &b[i + 1..key_end - 1];
        // Most keys have no escapes: compare bytes, decode only the rest.
        let is_key = if raw.contains(&b'\\') {
            serde_json::from_slice::<String>(&b[i..key_end]).ok()? == key
        } else {
            raw == key.as_bytes()
        };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let end = skip_value(b, i)?;
        if is_key {
            return Some(i..end);
        }
        i = end;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `b[i]` is the opening quote; returns the index after the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_and_rewrites_only_the_model() {
        let body = Bytes::from_static(
            br#"{ "messages":[{"role":"user","content":"say \"model\": {x}"}], "x_custom": {"model":"inner"},
  "model" : "gpt-4o-mini", "stream":true, "temperature": 0.70, "max_tokens": 12 }"#,
        );
        let p = peek(&body).unwrap();
        assert_eq!(p.model, "gpt-4o-mini");
        assert!(p.stream);
        assert_eq!(p.max_tokens, Some(12));
        let span = p.model_span.get(&body).unwrap();
        assert_eq!(&body[span], br#""gpt-4o-mini""#);
        let out = rewrite_model(&body, &p.model_span, "llama \"3\"");
        let expected = String::from_utf8(body.to_vec())
            .unwrap()
            .replace(r#""model" : "gpt-4o-mini""#, r#""model" : "llama \"3\"""#);
        assert_eq!(String::from_utf8(out.to_vec()).unwrap(), expected);
        // the number keeps its formatting, the inner "model" is untouched
        assert!(expected.contains("0.70") && expected.contains(r#"{"model":"inner"}"#));
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(peek(b"{\"model\": "), Err(PeekError::Json(_))));
        assert!(matches!(peek(b"not json"), Err(PeekError::Json(_))));
        assert_eq!(peek(b"[1,2]").unwrap_err(), PeekError::NotObject);
        assert_eq!(
            peek(b"{\"messages\":[]}").unwrap_err(),
            PeekError::MissingModel
        );
        assert_eq!(peek(b"{\"model\":5}").unwrap_err(), PeekError::BadModel);
        assert_eq!(
            peek(b"{\"model\":\"m\",\"stream\":\"yes\"}").unwrap_err(),
            PeekError::BadStream
        );
        assert!(matches!(
            peek(br#"{"model":"a","model":"b"}"#),
            Err(PeekError::Json(m)) if m.contains("duplicate")
        ));
    }

    #[test]
    fn session_fields_in_order_of_precedence() {
        let s = |b: &str| peek(b.as_bytes()).unwrap().session;
        let all =
            r#"{"model":"m","user":"u","metadata":{"user_id":"meta"},"prompt_cache_key":"pck"}"#;
        assert_eq!(s(all).as_deref(), Some("pck"));
        assert_eq!(
            peek(all.as_bytes()).unwrap().prompt_cache_key.as_deref(),
            Some("pck")
        );
        assert_eq!(
            s(r#"{"model":"m","user":"u","metadata":{"user_id":"meta"}}"#).as_deref(),
            Some("meta")
        );
        assert_eq!(s(r#"{"model":"m","user":"u"}"#).as_deref(), Some("u"));
        assert_eq!(s(r#"{"model":"m"}"#), None);
        // fields of another shape are no session key, and no error
        assert_eq!(
            s(r#"{"model":"m","metadata":"x","user":{"id":1},"prompt_cache_key":7}"#),
            None
        );
        assert_eq!(
            s(r#"{"model":"m","metadata":{"user_id":5},"user":"u"}"#).as_deref(),
            Some("u")
        );
        assert_eq!(s(r#"{"model":"m","metadata":null,"user":""}"#), None);
    }

    #[test]
    fn escaped_keys_and_unicode() {
        let body = Bytes::from(r#"{"mo\u0064el2":1,"prompt":"é\\","model":"m\u00e9"}"#);
        let p = peek(&body).unwrap();
        assert_eq!(p.model, "mé");
        let out = rewrite_model(&body, &p.model_span, "x");
        assert_eq!(
            &out[..],
            r#"{"mo\u0064el2":1,"prompt":"é\\","model":"x"}"#.as_bytes()
        );
    }
}
