//! Upstream providers: a trait for behaviour ([`ProviderApi`]), one
//! implementation per `kind` in config. A provider says which of its own
//! endpoints serves a client endpoint (the same one: passthrough; another
//! one: the routing layer translates) and builds upstream requests; the
//! routing layer owns timeouts, health and fallback.

mod anthropic;
mod openai;

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};

pub use anthropic::AnthropicProvider;
pub use openai::OpenAiProvider;

use crate::config::{ProviderKind, ProviderSpec};
use crate::secrets::Secret;
pub use crate::vocab::Endpoint;

/// Client request headers a provider may forward upstream.
#[derive(Debug, Clone, Default)]
pub struct ClientHeaders {
    /// `anthropic-version`, forwarded to Anthropic upstreams.
    pub anthropic_version: Option<HeaderValue>,
    /// `anthropic-beta`, forwarded to Anthropic upstreams.
    pub anthropic_beta: Option<HeaderValue>,
}

impl ClientHeaders {
    pub fn from_headers(h: &HeaderMap) -> Self {
        Self {
            anthropic_version: h.get("anthropic-version").cloned(),
            anthropic_beta: h.get("anthropic-beta").cloned(),
        }
    }
}

/// What a provider kind knows how to do.
pub trait ProviderApi: Send + Sync + fmt::Debug {
    /// The upstream endpoint that serves `client`: the same one when this
    /// provider speaks the client's protocol (the body passes through),
    /// another when the gateway must translate, `None` when it cannot be
    /// served here (the target is skipped).
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint>;

    /// The upstream request for a body already in this provider's protocol
    /// (model already rewritten).
    fn request(&self, endpoint: Endpoint, body: Bytes, headers: &ClientHeaders) -> Request<Bytes>;

    /// `GET /models` (listing and health probes).
    fn models_request(&self) -> Request<Bytes>;

    /// Model ids from a `/models` response body.
    fn parse_models(&self, body: &[u8]) -> Vec<String>;
}

/// Builds the behaviour for a provider's `kind`.
pub fn build(spec: &ProviderSpec, key: Option<Secret>) -> Box<dyn ProviderApi> {
    match spec.kind {
        ProviderKind::Openai => Box::new(OpenAiProvider::new(spec, key)),
        ProviderKind::Anthropic => Box::new(AnthropicProvider::new(spec, key)),
    }
}

/// `base` + `path` as a URI, parsed once per provider (config validation
/// has checked the base URL; a URI that still does not parse is sent as
/// `/`, which the client refuses as a network error).
pub(crate) fn uri(base: &str, path: &str) -> Uri {
    format!("{base}{path}").parse().unwrap_or_default()
}

/// A `method` request to `uri` with `body`; `headers` are appended in order.
pub(crate) fn build_request<'a>(
    method: Method,
    uri: Uri,
    body: Bytes,
    headers: impl IntoIterator<Item = (&'a header::HeaderName, &'a HeaderValue)>,
) -> Request<Bytes> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    for (k, v) in headers {
        h.append(k.clone(), v.clone());
    }
    req
}

/// Model ids from an OpenAI- or Anthropic-style `{"data":[{"id":…}]}` list.
pub(crate) fn parse_model_list(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct List {
        data: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        id: String,
    }
    serde_json::from_slice::<List>(body)
        .map(|l| l.data.into_iter().map(|i| i.id).collect())
        .unwrap_or_default()
}
