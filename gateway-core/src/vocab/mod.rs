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
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat_completions",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Responses => "responses",
            Self::Messages => "messages",
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
}

impl RouteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::ProviderFallback => "provider_fallback",
            Self::ModelFallback => "model_fallback",
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
}

/// Token usage as reported by the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: Option<u64>,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens.unwrap_or(0) + self.completion_tokens.unwrap_or(0)
    }

    /// `newer` over `self`, field by field.
    pub fn merged(self, newer: Usage) -> Usage {
        Usage {
            prompt_tokens: newer.prompt_tokens.or(self.prompt_tokens),
            completion_tokens: newer.completion_tokens.or(self.completion_tokens),
        }
    }
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input_per_mtok + tokens_out as f64 * self.output_per_mtok) / 1e6
    }
}

/// A duration in (fractional) milliseconds, as telemetry stores them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
