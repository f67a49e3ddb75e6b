//! Any OpenAI-compatible API: OpenAI, Groq, Together, DeepSeek, OpenRouter,
//! Mistral, vLLM, Ollama, LM Studio… Anthropic Messages clients are served
//! through chat completions; Responses clients natively or, with
//! `responses = "translate"`, through chat completions.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};

use super::{ClientHeaders, Endpoint, ProviderApi};
use crate::config::{ProviderSpec, ResponsesMode};
use crate::secrets::Secret;

#[derive(Debug)]
pub struct OpenAiProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// `Bearer …`, marked sensitive so it never shows in debug output.
    auth: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
    responses: ResponsesMode,
    /// Endpoint URLs parsed once: parsing a URL for every request costs more
    /// than everything else that goes into building it.
    urls: Vec<(Endpoint, reqwest::Url)>,
}

impl OpenAiProvider {
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Self {
        let auth = key.and_then(|k| {
            let mut v = HeaderValue::try_from(format!("Bearer {}", k.expose())).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        let base = spec.base_url.as_str().trim_end_matches('/').to_string();
        let urls = [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Responses,
            Endpoint::Messages,
        ]
        .into_iter()
        .filter_map(|e| Some((e, reqwest::Url::parse(&format!("{base}{}", e.path())).ok()?)))
        .collect();
        Self {
            base,
            auth,
            headers: spec.headers.clone(),
            responses: spec.responses,
            urls,
        }
    }

    fn with_headers(&self, mut rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(a) = &self.auth {
            rb = rb.header(header::AUTHORIZATION, a.clone());
        }
        for (k, v) in &self.headers {
            rb = rb.header(k.clone(), v.clone());
        }
        rb
    }
}

impl ProviderApi for OpenAiProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        Some(match client {
            Endpoint::Messages => Endpoint::ChatCompletions,
            Endpoint::Responses if self.responses == ResponsesMode::Translate => {
                Endpoint::ChatCompletions
            }
            e => e,
        })
    }

    fn request(
        &self,
        client: &reqwest::Client,
        endpoint: Endpoint,
        body: Bytes,
        _headers: &ClientHeaders,
    ) -> reqwest::RequestBuilder {
        let rb = match self.urls.iter().find(|(e, _)| *e == endpoint) {
            Some((_, url)) => client.post(url.clone()),
            None => client.post(format!("{}{}", self.base, endpoint.path())),
        };
        self.with_headers(rb)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    fn models_request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        self.with_headers(client.get(format!("{}/models", self.base)))
    }

    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        super::parse_model_list(body)
    }
}
