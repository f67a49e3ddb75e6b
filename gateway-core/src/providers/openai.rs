//! Any OpenAI-compatible API: OpenAI, Groq, Together, DeepSeek, OpenRouter,
//! Mistral, vLLM, Ollama, LM Studio… Anthropic Messages clients are served
//! through chat completions; Responses clients natively or, with
//! `responses = "translate"`, through chat completions.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::{ProviderSpec, ResponsesMode};
use crate::secrets::Secret;
use crate::vocab::Endpoint;

#[derive(Debug)]
pub struct OpenAiProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// What every request carries: `authorization: Bearer …` (marked
    /// sensitive so it never shows in debug output), then the configured
    /// headers.
    headers: Vec<(HeaderName, HeaderValue)>,
    responses: ResponsesMode,
    /// Endpoint URIs parsed once: parsing a URL for every request costs more
    /// than everything else that goes into building it.
    urls: Vec<(Endpoint, Uri)>,
    models: Uri,
}

impl OpenAiProvider {
    pub fn new(
        spec: &ProviderSpec,
        key: Option<Secret>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let auth = key.and_then(|k| super::secret_header(&format!("Bearer {}", k.expose())));
        let base = spec.base_url.as_str().trim_end_matches('/').to_string();
        let urls = [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Responses,
            Endpoint::Messages,
        ]
        .into_iter()
        .map(|e| (e, uri(&base, e.path())))
        .collect();
        let headers = auth
            .map(|a| (header::AUTHORIZATION, a))
            .into_iter()
            .chain(configured.iter().cloned())
            .collect();
        Self {
            models: uri(&base, "/models"),
            base,
            headers,
            responses: spec.responses,
            urls,
        }
    }
}

impl ProviderApi for OpenAiProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        Some(match client {
            Endpoint::Messages | Endpoint::GenerateContent => Endpoint::ChatCompletions,
            Endpoint::Responses if self.responses == ResponsesMode::Translate => {
                Endpoint::ChatCompletions
            }
            e => e,
        })
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, _headers: &ClientHeaders) -> Request<Bytes> {
        let url = match self.urls.iter().find(|(e, _)| *e == endpoint) {
            Some((_, u)) => u.clone(),
            None => uri(&self.base, endpoint.path()),
        };
        let mut req = build_request(
            Method::POST,
            url,
            body,
            self.headers.iter().map(|(k, v)| (k, v)),
        );
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        req
    }

    fn models_request(&self) -> Request<Bytes> {
        let headers = self.headers.iter().map(|(k, v)| (k, v));
        build_request(Method::GET, self.models.clone(), Bytes::new(), headers)
    }

    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        super::parse_model_list(body)
    }
}
