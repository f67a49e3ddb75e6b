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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str) -> AnthropicProvider {
        let src = format!(
            "[[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"https://api.anthropic.com/v1/\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        AnthropicProvider::new(&c.providers[0], Some(Secret::new("sk-ant-test")))
    }

    fn built(p: &AnthropicProvider, h: &ClientHeaders) -> reqwest::Request {
        p.request(
            &reqwest::Client::new(),
            Endpoint::Messages,
            Bytes::from_static(b"{}"),
            h,
        )
        .build()
        .unwrap()
    }

    #[test]
    fn sends_the_key_and_version_headers() {
        let p = provider("");
        let r = built(&p, &ClientHeaders::default());
        assert_eq!(r.url().as_str(), "https://api.anthropic.com/v1/messages");
        assert_eq!(r.headers()["x-api-key"], "sk-ant-test");
        assert!(r.headers()["x-api-key"].is_sensitive());
        assert_eq!(r.headers()["anthropic-version"], DEFAULT_VERSION);
        assert!(r.headers().get("authorization").is_none());
        assert!(r.headers().get("anthropic-beta").is_none());
        // the client's own version and beta flags are forwarded
        let h = ClientHeaders {
            anthropic_version: Some(HeaderValue::from_static("2024-01-01")),
            anthropic_beta: Some(HeaderValue::from_static("interleaved-thinking-2025-05-14")),
        };
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
        let m = p.models_request(&reqwest::Client::new()).build().unwrap();
        assert_eq!(m.url().as_str(), "https://api.anthropic.com/v1/models");
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
