//! Upstream providers: a trait for behaviour ([`ProviderApi`]), one
//! implementation per `kind` in config. A provider builds upstream requests
//! for an [`Endpoint`]; the routing layer owns timeouts, health and fallback.

mod openai;

use std::fmt;

use bytes::Bytes;

pub use openai::OpenAiProvider;

use crate::config::{ProviderKind, ProviderSpec};
use crate::secrets::Secret;

/// The client-facing operations the gateway proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
}

impl Endpoint {
    /// Path below the provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
            Self::Responses => "/responses",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat_completions",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Responses => "responses",
        }
    }
}

/// What a provider kind knows how to do.
pub trait ProviderApi: Send + Sync + fmt::Debug {
    /// The upstream request for a client body (already in this provider's
    /// protocol, model already rewritten).
    fn request(
        &self,
        client: &reqwest::Client,
        endpoint: Endpoint,
        body: Bytes,
    ) -> reqwest::RequestBuilder;

    /// `GET /models` (listing and health probes).
    fn models_request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder;

    /// Model ids from a `/models` response body.
    fn parse_models(&self, body: &[u8]) -> Vec<String>;
}

/// Builds the behaviour for a provider's `kind`.
pub fn build(spec: &ProviderSpec, key: Option<Secret>) -> Box<dyn ProviderApi> {
    match spec.kind {
        // Anthropic is refused by validation until its translator lands.
        ProviderKind::Openai | ProviderKind::Anthropic => Box::new(OpenAiProvider::new(spec, key)),
    }
}
