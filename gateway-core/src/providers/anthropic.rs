//! Anthropic's Messages API (`base_url` like `https://api.anthropic.com/v1`).
//! Messages clients pass through untouched; chat completions and Responses
//! clients are translated. Authenticated with `x-api-key`; the client's
//! `anthropic-version` (default [`DEFAULT_VERSION`]) and `anthropic-beta`
//! headers are forwarded.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::ProviderSpec;
use crate::secrets::Secret;
use crate::translate::wire::anthropic::DEFAULT_VERSION;
use crate::vocab::Endpoint;

static API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static VERSION: HeaderName = HeaderName::from_static("anthropic-version");
static BETA: HeaderName = HeaderName::from_static("anthropic-beta");

#[derive(Debug)]
pub struct AnthropicProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// The key, marked sensitive so it never shows in debug output.
    key: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `{base}/messages` and `{base}/models`, parsed once.
    messages: Uri,
    models: Uri,
}

impl AnthropicProvider {
    pub fn new(
        spec: &ProviderSpec,
        key: Option<Secret>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let key = key.and_then(|k| super::secret_header(k.expose()));
        let base = spec.base_url.as_str().trim_end_matches('/').to_string();
        Self {
            messages: uri(&base, Endpoint::Messages.path()),
            models: uri(&base, "/models"),
            base,
            key,
            headers: configured.to_vec(),
        }
    }

    /// A request with the key, the version and beta headers (the client's
    /// unless pinned in config) and the configured headers.
    fn build(
        &self,
        method: Method,
        url: Uri,
        body: Bytes,
        client: &ClientHeaders,
    ) -> Request<Bytes> {
        let configured = |name: &HeaderName| self.headers.iter().any(|(k, _)| k == name);
        let default_version = HeaderValue::from_static(DEFAULT_VERSION);
        let version =
            (!configured(&VERSION)).then(|| client.anthropic_version().unwrap_or(&default_version));
        let beta = client.anthropic_beta().filter(|_| !configured(&BETA));
        let headers = self
            .key
            .iter()
            .map(|k| (&API_KEY, k))
            .chain(version.map(|v| (&VERSION, v)))
            .chain(beta.map(|b| (&BETA, b)))
            .chain(self.headers.iter().map(|(k, v)| (k, v)));
        build_request(method, url, body, headers)
    }
}

impl ProviderApi for AnthropicProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        match client {
            Endpoint::Messages
            | Endpoint::ChatCompletions
            | Endpoint::Responses
            | Endpoint::GenerateContent => Some(Endpoint::Messages),
            Endpoint::Completions | Endpoint::Embeddings | Endpoint::BatchEmbedContents => None,
        }
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, headers: &ClientHeaders) -> Request<Bytes> {
        let url = if endpoint == Endpoint::Messages {
            self.messages.clone()
        } else {
            uri(&self.base, endpoint.path())
        };
        let mut req = self.build(Method::POST, url, body, headers);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        req
    }

    fn count_tokens_request(&self, body: Bytes, headers: &ClientHeaders) -> Option<Request<Bytes>> {
        let url = uri(&self.base, "/messages/count_tokens");
        let mut req = self.build(Method::POST, url, body, headers);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Some(req)
    }

    fn models_request(&self) -> Request<Bytes> {
        self.build(
            Method::GET,
            self.models.clone(),
            Bytes::new(),
            &ClientHeaders::default(),
        )
    }

    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        super::parse_model_list(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str) -> AnthropicProvider {
        let src = format!(
            "[[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"https://api.anthropic.com/v1/\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        let headers: Vec<_> = c.providers[0]
            .headers
            .iter()
            .filter_map(|(k, v)| match v {
                crate::config::HeaderSource::Literal(v) => Some((k.clone(), v.clone())),
                crate::config::HeaderSource::Secret(_) => None,
            })
            .collect();
        AnthropicProvider::new(&c.providers[0], Some(Secret::new("sk-ant-test")), &headers)
    }

    fn built(p: &AnthropicProvider, h: &ClientHeaders) -> Request<Bytes> {
        p.request(Endpoint::Messages, Bytes::from_static(b"{}"), h)
    }

    #[test]
    fn sends_the_key_and_version_headers() {
        let p = provider("");
        let r = built(&p, &ClientHeaders::default());
        assert_eq!(r.uri(), "https://api.anthropic.com/v1/messages");
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-api-key"], "sk-ant-test");
        assert!(r.headers()["x-api-key"].is_sensitive());
        assert_eq!(r.headers()["anthropic-version"], DEFAULT_VERSION);
        assert!(r.headers().get("authorization").is_none());
        assert!(r.headers().get("anthropic-beta").is_none());
        // the client's own version and beta flags are forwarded
        let mut m = http::HeaderMap::new();
        m.insert("anthropic-version", HeaderValue::from_static("2024-01-01"));
        m.insert(
            "anthropic-beta",
            HeaderValue::from_static("interleaved-thinking-2025-05-14"),
        );
        let h = ClientHeaders::from_headers(&m);
        let r = built(&p, &h);
        assert_eq!(r.headers()["anthropic-version"], "2024-01-01");
        assert_eq!(
            r.headers()["anthropic-beta"],
            "interleaved-thinking-2025-05-14"
        );
        // a version pinned in config wins, once
        let p = provider("headers = { \"anthropic-version\" = \"2023-01-01\" }");
        let r = built(&p, &h);
        let v: Vec<_> = r.headers().get_all("anthropic-version").iter().collect();
        assert_eq!(v, ["2023-01-01"]);
        // models listing carries the same auth
        let m = p.models_request();
        assert_eq!(m.uri(), "https://api.anthropic.com/v1/models");
        assert_eq!(m.method(), Method::GET);
        assert_eq!(m.headers()["x-api-key"], "sk-ant-test");
    }

    #[test]
    fn serves_messages_natively_and_translates_openai_clients() {
        let p = provider("");
        assert_eq!(
            p.upstream_endpoint(Endpoint::Messages),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            p.upstream_endpoint(Endpoint::ChatCompletions),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            p.upstream_endpoint(Endpoint::Responses),
            Some(Endpoint::Messages)
        );
        assert_eq!(p.upstream_endpoint(Endpoint::Embeddings), None);
    }
}
