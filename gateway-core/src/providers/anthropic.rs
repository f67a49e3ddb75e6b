//! Anthropic's Messages API (`base_url` like `https://api.anthropic.com/v1`).
//! Messages clients pass through untouched; chat completions and Responses
//! clients are translated. Authenticated with `x-api-key`; the client's
//! `anthropic-version` (default [`DEFAULT_VERSION`]) and `anthropic-beta`
//! headers are forwarded.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};

use super::{ClientHeaders, Endpoint, ProviderApi};
use crate::config::ProviderSpec;
use crate::secrets::Secret;
use crate::translate::wire::anthropic::DEFAULT_VERSION;

const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const BETA: HeaderName = HeaderName::from_static("anthropic-beta");

#[derive(Debug)]
pub struct AnthropicProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// The key, marked sensitive so it never shows in debug output.
    key: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl AnthropicProvider {
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Self {
        let key = key.and_then(|k| {
            let mut v = HeaderValue::try_from(k.expose()).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        Self {
            base: spec.base_url.as_str().trim_end_matches('/').to_string(),
            key,
            headers: spec.headers.clone(),
        }
    }

    fn with_headers(
        &self,
        mut rb: reqwest::RequestBuilder,
        client: &ClientHeaders,
    ) -> reqwest::RequestBuilder {
        if let Some(k) = &self.key {
            rb = rb.header(API_KEY, k.clone());
        }
        let configured = |name: &HeaderName| self.headers.iter().any(|(k, _)| k == name);
        if !configured(&VERSION) {
            let v = client
                .anthropic_version
                .clone()
                .unwrap_or_else(|| HeaderValue::from_static(DEFAULT_VERSION));
            rb = rb.header(VERSION, v);
        }
        if let Some(b) = &client.anthropic_beta
            && !configured(&BETA)
        {
            rb = rb.header(BETA, b.clone());
        }
        for (k, v) in &self.headers {
            rb = rb.header(k.clone(), v.clone());
        }
        rb
    }
}

impl ProviderApi for AnthropicProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        match client {
            Endpoint::Messages | Endpoint::ChatCompletions | Endpoint::Responses => {
                Some(Endpoint::Messages)
            }
            Endpoint::Completions | Endpoint::Embeddings => None,
        }
    }

    fn request(
        &self,
        client: &reqwest::Client,
        endpoint: Endpoint,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base, endpoint.path());
        self.with_headers(client.post(url), headers)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    fn models_request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        self.with_headers(
            client.get(format!("{}/models", self.base)),
            &ClientHeaders::default(),
        )
    }

    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        super::parse_model_list(body)
    }
}
