//! Protocol translation, used only when the chosen target does not speak the
//! client's protocol; otherwise bodies and streams pass through untouched.
//!
//! A [`Translation`] names a (client protocol, upstream protocol) pair and
//! converts the request, the answer, error bodies and — event by event —
//! streams ([`StreamTranslator`]).
//!
//! # Layout
//! - `wire/`: the wire types of each protocol (Anthropic Messages, Chat
//!   Completions, Responses), apart from the conversions.
//! - `messages_via_chat*`: Anthropic clients, chat upstreams.
//! - `chat_via_messages*`: chat clients, Anthropic upstreams.
//! - `chat_via_gemini`: chat clients, Gemini upstreams (request, answer,
//!   errors, stream events); Messages and Responses clients reach Gemini
//!   through chat.
//! - `gemini_via_chat`: Gemini clients (the `/v1beta/models/…` ingress),
//!   chat upstreams (and, chained with `chat_via_messages*`, Anthropic
//!   upstreams); Gemini upstreams pass through.
//! - `chat_via_converse`: chat clients, Bedrock Converse upstreams
//!   (request, answer, errors, ConverseStream events); Messages and
//!   Responses clients reach Bedrock through chat; `embeddings_via_bedrock`
//!   for Titan and Cohere embeddings through `InvokeModel`.
//! - `responses_via_chat*`: Responses clients, chat upstreams (and, chained
//!   with `chat_via_messages*`, Anthropic upstreams).
//! - `streaming`: the per-event translator the stream relay drives.
//! - `frame`: upstream stream events read once, for both the translator and
//!   the relay's classification (`routing/frames.rs`).
//! - `gemini_schema`: JSON Schema → Gemini's OpenAPI subset (providers
//!   with `gemini_schema = "openapi"`).
//! - `errors`: error bodies in each protocol's shape.
//! - `tokens`: the local `count_tokens` estimate; `count_via_gemini`: the
//!   count asked of a Gemini upstream (`:countTokens`).

pub mod chat_via_converse;
pub mod chat_via_gemini;
mod chat_via_messages;
mod chat_via_messages_stream;
pub mod count_via_gemini;
pub mod embeddings_via_bedrock;
pub mod embeddings_via_gemini;
pub mod errors;
pub(crate) mod frame;
pub mod gemini_schema;
pub mod gemini_via_chat;
mod messages_via_chat;
mod messages_via_chat_stream;
mod responses_via_chat;
mod responses_via_chat_stream;
mod streaming;
pub mod tokens;
pub mod wire;

use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::vocab::Endpoint;
pub(crate) use streaming::Parsed;
#[cfg(test)]
pub(crate) use streaming::parse_anthropic;
pub use streaming::{ChatEvent, StreamTranslator};
use wire::{anthropic, chat, responses};

/// A client protocol served by an upstream speaking another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// Anthropic Messages client → Chat Completions upstream.
    MessagesViaChat,
    /// Chat Completions client → Anthropic Messages upstream.
    ChatViaMessages,
    /// Responses client → Chat Completions upstream.
    ResponsesViaChat,
    /// Responses client → Anthropic Messages upstream (through chat).
    ResponsesViaMessages,
    /// Chat Completions client → Gemini `generateContent` upstream.
    ChatViaGemini,
    /// Anthropic Messages client → Gemini upstream (through chat).
    MessagesViaGemini,
    /// Responses client → Gemini upstream (through chat).
    ResponsesViaGemini,
    /// Embeddings client → Gemini `batchEmbedContents`.
    EmbeddingsViaGemini,
    /// Gemini `generateContent` client → Chat Completions upstream.
    GeminiViaChat,
    /// Gemini `generateContent` client → Anthropic Messages upstream
    /// (through chat).
    GeminiViaMessages,
    /// Chat Completions client → Bedrock Converse upstream.
    ChatViaConverse,
    /// Anthropic Messages client → Bedrock Converse (through chat).
    MessagesViaConverse,
    /// Responses client → Bedrock Converse (through chat).
    ResponsesViaConverse,
    /// Embeddings client → Bedrock `InvokeModel` (Titan, Cohere).
    EmbeddingsViaBedrock,
    /// Gemini `generateContent` client → Bedrock Converse (through chat).
    GeminiViaConverse,
}

/// What the answer's translation needs to know about the request.
#[derive(Debug, Clone, Default)]
pub struct RequestCtx {
    /// The forwarded model, reported when the upstream names none.
    pub model: String,
    /// The chat client asked for `stream_options.include_usage`.
    pub include_usage: bool,
}

/// A translated request body.
#[derive(Debug, Clone)]
pub struct Translated {
    pub body: Bytes,
    pub ctx: RequestCtx,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TranslateError {
    /// The client's request cannot be expressed upstream (a 400).
    #[error("{0}")]
    Invalid(String),
    /// The upstream's answer is not what its protocol promises (a 502).
    #[error("upstream answer could not be translated: {0}")]
    Upstream(String),
    /// The upstream refused to answer for safety (Gemini's
    /// `promptFeedback.blockReason`): the client's 400, code
    /// `content_filter` ([`Translation::blocked_body`]).
    #[error("{0}")]
    Blocked(String),
}

impl TranslateError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

fn parse_request<T: DeserializeOwned>(body: &[u8]) -> Result<T, TranslateError> {
    serde_json::from_slice(body)
        .map_err(|e| TranslateError::Invalid(format!("invalid request: {e}")))
}

fn parse_upstream<T: DeserializeOwned>(body: &[u8]) -> Result<T, TranslateError> {
    serde_json::from_slice(body).map_err(|e| TranslateError::Upstream(e.to_string()))
}

fn to_bytes(v: &impl serde::Serialize) -> Result<Bytes, TranslateError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| TranslateError::Upstream(e.to_string()))
}

impl Translation {
    /// The translation a client endpoint needs to reach an upstream one;
    /// `None` when they are the same protocol (passthrough).
    pub fn between(client: Endpoint, upstream: Endpoint) -> Option<Self> {
        match (client, upstream) {
            (Endpoint::Messages, Endpoint::ChatCompletions) => Some(Self::MessagesViaChat),
            (Endpoint::ChatCompletions, Endpoint::Messages) => Some(Self::ChatViaMessages),
            (Endpoint::Responses, Endpoint::ChatCompletions) => Some(Self::ResponsesViaChat),
            (Endpoint::Responses, Endpoint::Messages) => Some(Self::ResponsesViaMessages),
            (Endpoint::ChatCompletions, Endpoint::GenerateContent) => Some(Self::ChatViaGemini),
            (Endpoint::Messages, Endpoint::GenerateContent) => Some(Self::MessagesViaGemini),
            (Endpoint::Responses, Endpoint::GenerateContent) => Some(Self::ResponsesViaGemini),
            (Endpoint::Embeddings, Endpoint::BatchEmbedContents) => Some(Self::EmbeddingsViaGemini),
            (Endpoint::GenerateContent, Endpoint::ChatCompletions) => Some(Self::GeminiViaChat),
            (Endpoint::GenerateContent, Endpoint::Messages) => Some(Self::GeminiViaMessages),
            (Endpoint::ChatCompletions, Endpoint::Converse) => Some(Self::ChatViaConverse),
            (Endpoint::Messages, Endpoint::Converse) => Some(Self::MessagesViaConverse),
            (Endpoint::Responses, Endpoint::Converse) => Some(Self::ResponsesViaConverse),
            (Endpoint::Embeddings, Endpoint::InvokeModel) => Some(Self::EmbeddingsViaBedrock),
            (Endpoint::GenerateContent, Endpoint::Converse) => Some(Self::GeminiViaConverse),
            _ => None,
        }
    }

    pub fn client(self) -> Endpoint {
        match self {
            Self::MessagesViaChat | Self::MessagesViaGemini | Self::MessagesViaConverse => {
                Endpoint::Messages
            }
            Self::ChatViaMessages | Self::ChatViaGemini | Self::ChatViaConverse => {
                Endpoint::ChatCompletions
            }
            Self::ResponsesViaChat
            | Self::ResponsesViaMessages
            | Self::ResponsesViaGemini
            | Self::ResponsesViaConverse => Endpoint::Responses,
            Self::EmbeddingsViaGemini | Self::EmbeddingsViaBedrock => Endpoint::Embeddings,
            Self::GeminiViaChat | Self::GeminiViaMessages | Self::GeminiViaConverse => {
                Endpoint::GenerateContent
            }
        }
    }

    fn upstream_is_anthropic(self) -> bool {
        matches!(
            self,
            Self::ChatViaMessages | Self::ResponsesViaMessages | Self::GeminiViaMessages
        )
    }

    fn upstream_is_gemini(self) -> bool {
        matches!(
            self,
            Self::ChatViaGemini
                | Self::MessagesViaGemini
                | Self::ResponsesViaGemini
                | Self::EmbeddingsViaGemini
        )
    }

    fn upstream_is_bedrock(self) -> bool {
        matches!(
            self,
            Self::ChatViaConverse
                | Self::MessagesViaConverse
                | Self::ResponsesViaConverse
                | Self::EmbeddingsViaBedrock
                | Self::GeminiViaConverse
        )
    }

    /// The client's body in the upstream's protocol, for `model`.
    /// `cache_key` (the session's stable id, see
    /// `routing::sticky::SessionKey::id`) becomes the `prompt_cache_key` of
    /// a chat upstream when the client sent none, so OpenAI-side prompt
    /// caching keys per session on bridged traffic too.
    pub fn request(
        self,
        body: &[u8],
        model: &str,
        cache_key: Option<&str>,
    ) -> Result<Translated, TranslateError> {
        self.request_streamed(body, model, cache_key, false)
    }

    /// [`Self::request`] for a client whose request says in its path, not
    /// its body, whether it streams (Gemini's `:streamGenerateContent`).
    pub fn request_streamed(
        self,
        body: &[u8],
        model: &str,
        cache_key: Option<&str>,
        stream: bool,
    ) -> Result<Translated, TranslateError> {
        let keyed = |mut chat: chat::ChatRequest| {
            if chat.prompt_cache_key.is_none() {
                chat.prompt_cache_key = cache_key.map(str::to_string);
            }
            chat
        };
        let mut ctx = RequestCtx {
            model: model.to_string(),
            include_usage: false,
        };
        let body = match self {
            Self::MessagesViaChat => {
                let req: anthropic::MessagesRequest = parse_request(body)?;
                to_bytes(&keyed(messages_via_chat::request(req, model)?))?
            }
            Self::ChatViaMessages => {
                let req: chat::ChatRequest = parse_request(body)?;
                ctx.include_usage = req
                    .stream_options
                    .as_ref()
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false);
                to_bytes(&chat_via_messages::request(req, model)?)?
            }
            Self::ResponsesViaChat => {
                let req: responses::ResponsesRequest = parse_request(body)?;
                to_bytes(&keyed(responses_via_chat::request(req, model)?))?
            }
            Self::ResponsesViaMessages => {
                let req: responses::ResponsesRequest = parse_request(body)?;
                let chat = responses_via_chat::request(req, model)?;
                to_bytes(&chat_via_messages::request(chat, model)?)?
            }
            Self::ChatViaGemini => {
                let req: chat::ChatRequest = parse_request(body)?;
                ctx.include_usage = req
                    .stream_options
                    .as_ref()
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false);
                to_bytes(&chat_via_gemini::request(req)?)?
            }
            Self::MessagesViaGemini => {
                let req: anthropic::MessagesRequest = parse_request(body)?;
                let thinking = req.thinking.clone();
                let chat = messages_via_chat::request(req, model)?;
                let mut g = chat_via_gemini::request(chat)?;
                chat_via_gemini::anthropic_thinking(&mut g, thinking.as_ref());
                to_bytes(&g)?
            }
            Self::ResponsesViaGemini => {
                let req: responses::ResponsesRequest = parse_request(body)?;
                let chat = responses_via_chat::request(req, model)?;
                to_bytes(&chat_via_gemini::request(chat)?)?
            }
            Self::EmbeddingsViaGemini => {
                let req: embeddings_via_gemini::EmbeddingsRequest = parse_request(body)?;
                to_bytes(&embeddings_via_gemini::request(req, model)?)?
            }
            Self::GeminiViaChat => {
                let req: wire::gemini::GenerateRequest = parse_request(body)?;
                to_bytes(&keyed(gemini_via_chat::request(req, model, stream)?))?
            }
            Self::GeminiViaMessages => {
                let req: wire::gemini::GenerateRequest = parse_request(body)?;
                let chat = gemini_via_chat::request(req, model, stream)?;
                to_bytes(&chat_via_messages::request(chat, model)?)?
            }
            Self::ChatViaConverse => {
                let req: chat::ChatRequest = parse_request(body)?;
                ctx.include_usage = req
                    .stream_options
                    .as_ref()
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false);
                to_bytes(&chat_via_converse::request(req, model)?)?
            }
            Self::MessagesViaConverse => {
                let req: anthropic::MessagesRequest = parse_request(body)?;
                let thinking = req.thinking.clone();
                let chat = messages_via_chat::request(req, model)?;
                let mut converse = chat_via_converse::request(chat, model)?;
                chat_via_converse::anthropic_cache_points(body, &mut converse);
                chat_via_converse::anthropic_thinking(thinking, model, &mut converse);
                to_bytes(&converse)?
            }
            Self::ResponsesViaConverse => {
                let req: responses::ResponsesRequest = parse_request(body)?;
                let chat = responses_via_chat::request(req, model)?;
                to_bytes(&chat_via_converse::request(chat, model)?)?
            }
            Self::EmbeddingsViaBedrock => {
                let req: embeddings_via_gemini::EmbeddingsRequest = parse_request(body)?;
                to_bytes(&embeddings_via_bedrock::request(req, model)?)?
            }
            Self::GeminiViaConverse => {
                let req: wire::gemini::GenerateRequest = parse_request(body)?;
                let chat = gemini_via_chat::request(req, model, stream)?;
                to_bytes(&chat_via_converse::request(chat, model)?)?
            }
        };
        Ok(Translated { body, ctx })
    }

    /// A successful (non-streamed) upstream answer in the client's protocol.
    pub fn response(self, body: &[u8], ctx: &RequestCtx) -> Result<Bytes, TranslateError> {
        let m = &ctx.model;
        match self {
            Self::MessagesViaChat => {
                let r: chat::ChatResponse = parse_upstream(body)?;
                to_bytes(&messages_via_chat::response(r, m))
            }
            Self::ChatViaMessages => {
                let r: anthropic::MessagesResponse = parse_upstream(body)?;
                to_bytes(&chat_via_messages::response(r, m))
            }
            Self::ResponsesViaChat => {
                let r: chat::ChatResponse = parse_upstream(body)?;
                to_bytes(&responses_via_chat::response(r, m))
            }
            Self::ResponsesViaMessages => {
                let r: anthropic::MessagesResponse = parse_upstream(body)?;
                let chat = chat_via_messages::response(r, m);
                to_bytes(&responses_via_chat::response(chat, m))
            }
            Self::ChatViaGemini | Self::MessagesViaGemini | Self::ResponsesViaGemini => {
                let r: wire::gemini::GenerateResponse = parse_upstream(body)?;
                if let Some(why) = chat_via_gemini::blocked(&r) {
                    return Err(TranslateError::Blocked(why));
                }
                let chat = chat_via_gemini::response(r, m);
                match self {
                    Self::MessagesViaGemini => to_bytes(&messages_via_chat::response(chat, m)),
                    Self::ResponsesViaGemini => to_bytes(&responses_via_chat::response(chat, m)),
                    _ => to_bytes(&chat),
                }
            }
            Self::EmbeddingsViaGemini => {
                let r: embeddings_via_gemini::BatchEmbedResponse = parse_upstream(body)?;
                to_bytes(&embeddings_via_gemini::response(r, m))
            }
            Self::GeminiViaChat => {
                let r: chat::ChatResponse = parse_upstream(body)?;
                to_bytes(&gemini_via_chat::response(r, m))
            }
            Self::GeminiViaMessages => {
                let r: anthropic::MessagesResponse = parse_upstream(body)?;
                let chat = chat_via_messages::response(r, m);
                to_bytes(&gemini_via_chat::response(chat, m))
            }
            Self::ChatViaConverse | Self::MessagesViaConverse | Self::ResponsesViaConverse => {
                let r: wire::bedrock::ConverseResponse = parse_upstream(body)?;
                let chat = chat_via_converse::response(r, m);
                match self {
                    Self::MessagesViaConverse => to_bytes(&messages_via_chat::response(chat, m)),
                    Self::ResponsesViaConverse => to_bytes(&responses_via_chat::response(chat, m)),
                    _ => to_bytes(&chat),
                }
            }
            Self::EmbeddingsViaBedrock => {
                let r: embeddings_via_bedrock::InvokeResponse = parse_upstream(body)?;
                to_bytes(&embeddings_via_bedrock::response(r, m))
            }
            Self::GeminiViaConverse => {
                let r: wire::bedrock::ConverseResponse = parse_upstream(body)?;
                let chat = chat_via_converse::response(r, m);
                to_bytes(&gemini_via_chat::response(chat, m))
            }
        }
    }

    /// The client's error for an answer the upstream refused
    /// ([`TranslateError::Blocked`]): a 400 with code `content_filter`, in
    /// the client's shape.
    pub fn blocked_body(self, message: &str) -> (StatusCode, Bytes) {
        let (status, body) = chat_via_gemini::blocked_body(message);
        match self.client() {
            Endpoint::Messages => (status, errors::openai_to_anthropic(status, &body)),
            Endpoint::GenerateContent => (status, errors::gemini_body(status, message)),
            _ => (status, body),
        }
    }

    /// An upstream error body in the client's error shape.
    pub fn error_body(self, status: StatusCode, body: &[u8]) -> Bytes {
        if self.upstream_is_gemini() || self.upstream_is_bedrock() {
            let openai = if self.upstream_is_gemini() {
                chat_via_gemini::error_to_openai(status, body)
            } else {
                chat_via_converse::error_to_openai(status, body)
            };
            return match self.client() {
                Endpoint::Messages => errors::openai_to_anthropic(status, &openai),
                Endpoint::GenerateContent => errors::openai_to_gemini(status, &openai),
                _ => openai,
            };
        }
        match (self.client(), self.upstream_is_anthropic()) {
            (Endpoint::GenerateContent, true) => {
                errors::openai_to_gemini(status, &errors::anthropic_to_openai(status, body))
            }
            (Endpoint::GenerateContent, false) => errors::openai_to_gemini(status, body),
            (Endpoint::Messages, _) => errors::openai_to_anthropic(status, body),
            (_, true) => errors::anthropic_to_openai(status, body),
            // Responses and chat share OpenAI's error shape.
            _ => Bytes::copy_from_slice(body),
        }
    }

    pub fn stream(self, ctx: &RequestCtx) -> Option<StreamTranslator> {
        StreamTranslator::new(self, ctx)
    }
}

/// A fresh id with a protocol's prefix (`msg_`, `toolu_`, `resp_`…).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tool call arguments (JSON text) as an input object. Models sometimes
/// emit nothing or broken JSON; Anthropic needs an object either way.
pub(crate) fn parse_arguments(args: &str) -> Value {
    if args.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => serde_json::json!({ "value": other }),
        Err(_) => {
            tracing::debug!("tool call arguments are not valid JSON; sending an empty input");
            Value::Object(serde_json::Map::new())
        }
    }
}

/// `data:<media type>;base64,<data>` → `(media type, data)`.
pub(crate) fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// OpenAI's reasoning models refuse `max_tokens` and want
/// `max_completion_tokens`; every other server takes `max_tokens`.
pub(crate) fn uses_max_completion_tokens(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| m.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn chat_cache_breakpoints_reach_an_anthropic_upstream() {
        let req = serde_json::json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": [
                    {"type": "text", "text": "You are Claude Code."},
                    {"type": "text", "text": "Long tools prompt", "cache_control": {"type": "ephemeral"}}
                ]},
                {"role": "user", "content": [
                    {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "t1", "content": [
                    {"type": "text", "text": "result", "cache_control": {"type": "ephemeral"}}
                ]}
            ]
        });
        let out = Translation::ChatViaMessages
            .request(req.to_string().as_bytes(), "claude", Some("abc"))
            .unwrap();
        let v = json(&out.body);
        assert_eq!(
            v["system"],
            serde_json::json!([
                {"type": "text", "text": "You are Claude Code."},
                {"type": "text", "text": "Long tools prompt", "cache_control": {"type": "ephemeral"}}
            ])
        );
        assert_eq!(
            v["messages"][0]["content"][0]["cache_control"],
            serde_json::json!({"type": "ephemeral", "ttl": "1h"})
        );
        let result = &v["messages"][2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert_eq!(
            result["cache_control"],
            serde_json::json!({"type": "ephemeral"})
        );
        // Anthropic has no prompt_cache_key
        assert!(v.get("prompt_cache_key").is_none());

        // Without breakpoints, system stays one string as before.
        let plain = serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "system", "content": "c"},
            {"role": "user", "content": "hi"}
        ]});
        let v = json(
            &Translation::ChatViaMessages
                .request(plain.to_string().as_bytes(), "claude", None)
                .unwrap()
                .body,
        );
        assert_eq!(v["system"], "ab\n\nc");
        assert!(!v.to_string().contains("cache_control"));
    }

    #[test]
    fn bridged_openai_requests_get_the_session_s_prompt_cache_key() {
        let msgs =
            br#"{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
        let v = json(
            &Translation::MessagesViaChat
                .request(msgs, "gpt", Some("0123abcd"))
                .unwrap()
                .body,
        );
        assert_eq!(v["prompt_cache_key"], "0123abcd");
        let v = json(
            &Translation::MessagesViaChat
                .request(msgs, "gpt", None)
                .unwrap()
                .body,
        );
        assert!(v.get("prompt_cache_key").is_none());
        // A Responses client's own key wins over the derived one.
        let resp = br#"{"model":"x","input":"hi","prompt_cache_key":"mine"}"#;
        let v = json(
            &Translation::ResponsesViaChat
                .request(resp, "gpt", Some("0123abcd"))
                .unwrap()
                .body,
        );
        assert_eq!(v["prompt_cache_key"], "mine");
        let v = json(
            &Translation::ResponsesViaChat
                .request(br#"{"model":"x","input":"hi"}"#, "gpt", Some("0123abcd"))
                .unwrap()
                .body,
        );
        assert_eq!(v["prompt_cache_key"], "0123abcd");
    }

    #[test]
    fn helpers() {
        assert_eq!(
            data_url("data:image/png;base64,iVBO"),
            Some(("image/png", "iVBO"))
        );
        assert_eq!(data_url("https://x/y.png"), None);
        assert_eq!(parse_arguments(""), serde_json::json!({}));
        assert_eq!(parse_arguments("{\"a\":1}"), serde_json::json!({"a": 1}));
        assert_eq!(parse_arguments("[1]"), serde_json::json!({"value": [1]}));
        assert!(uses_max_completion_tokens("openai/gpt-5-mini"));
        assert!(uses_max_completion_tokens("o3"));
        assert!(!uses_max_completion_tokens("gpt-4o-mini"));
        assert_eq!(
            Translation::between(Endpoint::Messages, Endpoint::ChatCompletions),
            Some(Translation::MessagesViaChat)
        );
        assert_eq!(
            Translation::between(Endpoint::ChatCompletions, Endpoint::ChatCompletions),
            None
        );
    }
}
