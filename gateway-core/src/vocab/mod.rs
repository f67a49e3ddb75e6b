//! The words every layer speaks, so that none has to import another for
//! them: what a client asked for ([`Endpoint`]), how it was served
//! ([`RouteMode`], [`Served`]), what each upstream attempt did
//! ([`AttemptEvent`]), what the answer used ([`Usage`]) and what that costs
//! ([`Price`]), and why something failed ([`ErrorClass`]); route patterns and
//! `{model}` templates ([`pattern`]). A leaf module: it imports nothing of the crate.

mod class;
pub mod pattern;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use class::ErrorClass;

/// The client-facing operations the gateway proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
    /// Anthropic Messages (`/v1/messages`).
    Messages,
    /// Gemini `models/{model}:generateContent` (and
    /// `:streamGenerateContent`): an upstream protocol, and the Gemini
    /// ingress (`/v1beta/models/{model}:…`); the model and whether it
    /// streams are part of the path, not the body.
    GenerateContent,
    /// Gemini `models/{model}:batchEmbedContents` (upstream only).
    BatchEmbedContents,
}

impl Endpoint {
    /// Path below the provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
            Self::Responses => "/responses",
            Self::Messages => "/messages",
            Self::GenerateContent | Self::BatchEmbedContents => "/models",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat_completions",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Responses => "responses",
            Self::Messages => "messages",
            Self::GenerateContent => "generate_content",
            Self::BatchEmbedContents => "batch_embed_contents",
        }
    }
}

/// How a request was served, reported in `x-aigw-route-mode`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMode {
    /// The route's preferred target for this request served it.
    Direct,
    /// Another target served it with the same forwarded model name.
    ProviderFallback,
    /// Another target served it with a different (rewritten) model.
    ModelFallback,
    /// The exact response cache answered (`[routes.cache]`); no upstream call.
    Cache,
}

impl RouteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::ProviderFallback => "provider_fallback",
            Self::ModelFallback => "model_fallback",
            Self::Cache => "cache",
        }
    }
}

/// Which target served.
#[derive(Debug, Clone)]
pub struct Served {
    pub provider: String,
    pub model: String,
    pub mode: RouteMode,
    /// The route that matched, as written (`claude-opus-4-8`, `claude-*`);
    /// `None` for an implicit route (`provider/model`, a listed model) or
    /// a call outside routing.
    pub route: Option<String>,
}

/// One upstream attempt of a request.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, ts(rename = "AttemptInfo"))]
pub struct AttemptEvent {
    pub provider: String,
    pub model: String,
    pub status: Option<u16>,
    /// `rate_limited`, `timeout`, `connect`, `upstream_5xx`, `stream_broken`,
    /// `key_missing`, … — `None` on success.
    pub error: Option<String>,
    pub latency_ms: f64,
    /// The pool key it was sent with, by its reference (`keyring:a`),
    /// never its value; absent for a keyless provider.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Token usage as reported by the upstream, field by field as it came: the
/// two protocols count cache tokens differently, and the accessors
/// ([`Usage::input`], [`Usage::cache_read`], [`Usage::cache_write`]) give
/// one meaning to both.
///
/// - OpenAI (chat, Responses): `prompt_tokens` / `input_tokens` count every
///   input token; `prompt_tokens_details.cached_tokens` /
///   `input_tokens_details.cached_tokens` are the part read from the cache.
/// - Anthropic: `input_tokens` EXCLUDES `cache_read_input_tokens` and
///   `cache_creation_input_tokens` ([`Usage::anthropic`] marks it so).
///
/// The cache fields read leniently: a value that is not a count is absent,
/// never a reason to refuse the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: Option<u64>,
    /// OpenAI chat `prompt_tokens_details.cached_tokens`.
    #[serde(default, deserialize_with = "cached_of", skip_serializing)]
    pub prompt_tokens_details: Option<u64>,
    /// OpenAI Responses `input_tokens_details.cached_tokens`.
    #[serde(default, deserialize_with = "cached_of", skip_serializing)]
    pub input_tokens_details: Option<u64>,
    /// Anthropic: tokens read from the prompt cache.
    #[serde(default, deserialize_with = "count", skip_serializing)]
    pub cache_read_input_tokens: Option<u64>,
    /// Anthropic: tokens written to the prompt cache.
    #[serde(default, deserialize_with = "count", skip_serializing)]
    pub cache_creation_input_tokens: Option<u64>,
    /// `prompt_tokens` excludes the cache fields (Anthropic's protocol).
    #[serde(skip)]
    pub excludes_cache: bool,
}

/// A token count, or absent for anything else.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<serde_json::Value>::deserialize(d)?.and_then(|v| v.as_u64()))
}

/// `{"cached_tokens": n}`, or absent for anything else.
pub fn cached_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<serde_json::Value>::deserialize(d)?
        .and_then(|v| v.get("cached_tokens").and_then(serde_json::Value::as_u64)))
}

impl Usage {
    /// The same counts, read as Anthropic's (input excludes cache tokens).
    pub fn anthropic(self) -> Usage {
        Usage {
            excludes_cache: true,
            ..self
        }
    }

    /// Every input token, cached or not; `None` when nothing was reported.
    pub fn input(&self) -> Option<u64> {
        if self.excludes_cache {
            let parts = [
                self.prompt_tokens,
                self.cache_read_input_tokens,
                self.cache_creation_input_tokens,
            ];
            parts
                .iter()
                .any(Option::is_some)
                .then(|| parts.iter().flatten().sum())
        } else {
            self.prompt_tokens
        }
    }

    pub fn output(&self) -> Option<u64> {
        self.completion_tokens
    }

    /// Input tokens read from the provider's prompt cache (part of
    /// [`Usage::input`]).
    pub fn cache_read(&self) -> Option<u64> {
        self.cache_read_input_tokens
            .or(self.prompt_tokens_details)
            .or(self.input_tokens_details)
    }

    /// Input tokens written to the prompt cache (Anthropic; part of
    /// [`Usage::input`]).
    pub fn cache_write(&self) -> Option<u64> {
        self.cache_creation_input_tokens
    }

    pub fn total(&self) -> u64 {
        self.input().unwrap_or(0) + self.completion_tokens.unwrap_or(0)
    }

    /// `newer` over `self`, field by field.
    pub fn merged(self, newer: Usage) -> Usage {
        Usage {
            prompt_tokens: newer.prompt_tokens.or(self.prompt_tokens),
            completion_tokens: newer.completion_tokens.or(self.completion_tokens),
            prompt_tokens_details: newer.prompt_tokens_details.or(self.prompt_tokens_details),
            input_tokens_details: newer.input_tokens_details.or(self.input_tokens_details),
            cache_read_input_tokens: newer
                .cache_read_input_tokens
                .or(self.cache_read_input_tokens),
            cache_creation_input_tokens: newer
                .cache_creation_input_tokens
                .or(self.cache_creation_input_tokens),
            excludes_cache: newer.excludes_cache || self.excludes_cache,
        }
    }
}

/// USD per million tokens. Cache reads and writes cost the input price
/// unless their own is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
}

impl Price {
    /// Input and output at their prices, no cache tokens.
    pub fn simple(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
        }
    }

    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        self.cost_cached(tokens_in, 0, 0, tokens_out)
    }

    /// `tokens_in` counts every input token; `cache_read` and `cache_write`
    /// are the parts of it read from / written to the prompt cache.
    pub fn cost_cached(
        &self,
        tokens_in: u64,
        cache_read: u64,
        cache_write: u64,
        tokens_out: u64,
    ) -> f64 {
        let cache_read = cache_read.min(tokens_in);
        let cache_write = cache_write.min(tokens_in - cache_read);
        let fresh = tokens_in - cache_read - cache_write;
        let read = self.cache_read_per_mtok.unwrap_or(self.input_per_mtok);
        let write = self.cache_write_per_mtok.unwrap_or(self.input_per_mtok);
        (fresh as f64 * self.input_per_mtok
            + cache_read as f64 * read
            + cache_write as f64 * write
            + tokens_out as f64 * self.output_per_mtok)
            / 1e6
    }
}

/// A duration in (fractional) milliseconds, as telemetry stores them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
