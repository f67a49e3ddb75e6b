//! Azure OpenAI (`base_url = "https://RESOURCE.openai.azure.com"`, or
//! `*.cognitiveservices.azure.com`). Its wire format is OpenAI's, so chat
//! completions, completions, embeddings and Responses pass through;
//! Anthropic Messages clients are served through chat completions.
//!
//! - `api_version` omitted or `"v1"`: `{base}/openai/v1/chat/completions`,
//!   the deployment as the body's `model` (`"preview"`: the same paths with
//!   `?api-version=preview`);
//! - a dated version: `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`
//!   (Responses: `{base}/openai/responses?api-version=…`, the deployment
//!   as `model`).
//!
//! `deployments` maps a model name to its deployment (without an entry the
//! model name is the deployment). The key goes in `api-key`, or with
//! `azure_auth = "entra"` as an `Authorization: Bearer` token.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::{AzureApi, AzureAuth, AzureSpec, ProviderSpec, ResponsesMode};
use crate::secrets::Secret;
use crate::vocab::Endpoint;

pub(crate) static API_KEY: HeaderName = HeaderName::from_static("api-key");

/// The endpoints Azure serves for a client.
const SERVED: [Endpoint; 4] = [
    Endpoint::ChatCompletions,
    Endpoint::Completions,
    Endpoint::Embeddings,
    Endpoint::Responses,
];

#[derive(Debug)]
pub struct AzureProvider {
    /// The resource URL without a trailing slash (nor `/openai[/v1]`).
    base: String,
    /// The key header (marked sensitive), then the configured headers.
    headers: Vec<(HeaderName, HeaderValue)>,
    azure: AzureSpec,
    responses: ResponsesMode,
    /// v1 endpoint URIs (and the dated Responses one), parsed once.
    urls: Vec<(Endpoint, Uri)>,
    models: Uri,
}

impl AzureProvider {
    pub fn new(
        spec: &ProviderSpec,
        key: Option<Secret>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let azure = spec.azure.clone().unwrap_or(AzureSpec {
            api: AzureApi::V1,
            deployments: Default::default(),
            auth: AzureAuth::ApiKey,
        });
        let auth = key.and_then(|k| match azure.auth {
            AzureAuth::ApiKey => super::secret_header(k.expose()).map(|v| (API_KEY.clone(), v)),
            AzureAuth::Entra => super::secret_header(&format!("Bearer {}", k.expose()))
                .map(|v| (header::AUTHORIZATION, v)),
        });
        let base = spec.base_url.as_str().trim_end_matches('/');
        let base = base
            .strip_suffix("/openai/v1")
            .or_else(|| base.strip_suffix("/openai"))
            .unwrap_or(base)
            .to_string();
        let (urls, models) = match &azure.api {
            AzureApi::V1 | AzureApi::Preview => {
                let q = if azure.api == AzureApi::Preview {
                    "?api-version=preview"
                } else {
                    ""
                };
                let urls = SERVED
                    .into_iter()
                    .map(|e| (e, uri(&base, &format!("/openai/v1{}{q}", e.path()))))
                    .collect();
                (urls, uri(&base, &format!("/openai/v1/models{q}")))
            }
            AzureApi::Dated(v) => (
                vec![(
                    Endpoint::Responses,
                    uri(&base, &format!("/openai/responses?api-version={v}")),
                )],
                uri(&base, &format!("/openai/models?api-version={v}")),
            ),
        };
        Self {
            headers: auth.into_iter().chain(configured.iter().cloned()).collect(),
            base,
            responses: spec.responses,
            azure,
            urls,
            models,
        }
    }

    /// The URL for `endpoint` and `deployment`: a v1 (or dated Responses)
    /// one as parsed, else the deployment's dated one. A deployment that
    /// is not a plain name gives `/`, which the client refuses.
    fn url(&self, endpoint: Endpoint, deployment: &str) -> Uri {
        if let Some((_, u)) = self.urls.iter().find(|(e, _)| *e == endpoint) {
            return u.clone();
        }
        let AzureApi::Dated(v) = &self.azure.api else {
            return Uri::default();
        };
        if deployment.is_empty()
            || !deployment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Uri::default();
        }
        uri(
            &self.base,
            &format!(
                "/openai/deployments/{deployment}{}?api-version={v}",
                endpoint.path()
            ),
        )
    }
}

impl ProviderApi for AzureProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        match client {
            Endpoint::Messages | Endpoint::GenerateContent => Some(Endpoint::ChatCompletions),
            Endpoint::Responses if self.responses == ResponsesMode::Translate => {
                Some(Endpoint::ChatCompletions)
            }
            e if SERVED.contains(&e) => Some(e),
            _ => None,
        }
    }

    fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.azure.deployment(model)
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, headers: &ClientHeaders) -> Request<Bytes> {
        self.model_request(endpoint, "", false, body, headers)
    }

    fn model_request(
        &self,
        endpoint: Endpoint,
        model: &str,
        _stream: bool,
        body: Bytes,
        _headers: &ClientHeaders,
    ) -> Request<Bytes> {
        let url = self.url(endpoint, model);
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

    /// The configured deployments' model names when there are any (Azure
    /// lists the models its resource could deploy, not the deployments),
    /// else the listed ids.
    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        if self.azure.deployments.is_empty() {
            super::parse_model_list(body)
        } else {
            self.azure.deployments.keys().cloned().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str) -> AzureProvider {
        let src = format!(
            "[[providers]]\nname = \"az\"\nkind = \"azure\"\napi_key = \"env:AZURE_OPENAI_API_KEY\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        AzureProvider::new(&c.providers[0], Some(Secret::new("az-secret")), &[])
    }

    fn chat(p: &AzureProvider, model: &str) -> Request<Bytes> {
        p.model_request(
            Endpoint::ChatCompletions,
            p.upstream_model(model),
            false,
            Bytes::from_static(b"{}"),
            &ClientHeaders::default(),
        )
    }

    #[test]
    fn v1_puts_the_deployment_in_the_body_and_the_key_in_api_key() {
        let p = provider(
            "base_url = \"https://res.openai.azure.com/\"\ndeployments = { \"gpt-4o\" = \"prod-gpt4o\" }",
        );
        assert_eq!(p.upstream_model("gpt-4o"), "prod-gpt4o");
        assert_eq!(p.upstream_model("gpt-4.1"), "gpt-4.1");
        let r = chat(&p, "gpt-4o");
        assert_eq!(
            r.uri(),
            "https://res.openai.azure.com/openai/v1/chat/completions"
        );
        assert_eq!(r.headers()["api-key"], "az-secret");
        assert!(r.headers()["api-key"].is_sensitive());
        assert!(r.headers().get("authorization").is_none());
        assert_eq!(r.headers()["content-type"], "application/json");
        let e = p.model_request(
            Endpoint::Responses,
            "prod-gpt4o",
            true,
            Bytes::new(),
            &ClientHeaders::default(),
        );
        assert_eq!(e.uri(), "https://res.openai.azure.com/openai/v1/responses");
        assert_eq!(
            p.models_request().uri(),
            "https://res.openai.azure.com/openai/v1/models"
        );
        assert_eq!(
            p.parse_models(br#"{"data":[{"id":"gpt-4o-2024-08-06"}]}"#),
            ["gpt-4o"]
        );
        // A base URL written with /openai/v1 means the same resource.
        let p = provider(
            "base_url = \"https://res.cognitiveservices.azure.com/openai/v1\"\napi_version = \"preview\"",
        );
        assert_eq!(
            chat(&p, "m").uri(),
            "https://res.cognitiveservices.azure.com/openai/v1/chat/completions?api-version=preview"
        );
        assert_eq!(
            p.parse_models(br#"{"data":[{"id":"gpt-4o-2024-08-06"}]}"#),
            ["gpt-4o-2024-08-06"]
        );
    }

    #[test]
    fn a_dated_version_puts_the_deployment_in_the_path() {
        let p = provider(
            "base_url = \"https://res.openai.azure.com\"\napi_version = \"2024-10-21\"\nazure_auth = \"entra\"\ndeployments = { \"gpt-4o\" = \"prod-gpt4o\" }",
        );
        assert_eq!(
            chat(&p, "gpt-4o").uri(),
            "https://res.openai.azure.com/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
        );
        let r = chat(&p, "text-embedding-3-small");
        assert_eq!(r.headers()["authorization"], "Bearer az-secret");
        assert!(r.headers()["authorization"].is_sensitive());
        assert!(r.headers().get("api-key").is_none());
        let e = p.model_request(
            Endpoint::Embeddings,
            "emb",
            false,
            Bytes::new(),
            &ClientHeaders::default(),
        );
        assert_eq!(
            e.uri(),
            "https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21"
        );
        let e = p.model_request(
            Endpoint::Responses,
            "prod-gpt4o",
            false,
            Bytes::new(),
            &ClientHeaders::default(),
        );
        assert_eq!(
            e.uri(),
            "https://res.openai.azure.com/openai/responses?api-version=2024-10-21"
        );
        assert_eq!(
            p.models_request().uri(),
            "https://res.openai.azure.com/openai/models?api-version=2024-10-21"
        );
        // Nothing but a plain name goes into the path.
        assert_eq!(chat(&p, "../x?api-key=1").uri(), &Uri::default());
        assert_eq!(chat(&p, "").uri(), &Uri::default());
    }

    #[test]
    fn serves_openai_endpoints_and_messages_through_chat() {
        let p = provider("base_url = \"https://res.openai.azure.com\"");
        assert_eq!(
            p.upstream_endpoint(Endpoint::Messages),
            Some(Endpoint::ChatCompletions)
        );
        for e in SERVED {
            assert_eq!(p.upstream_endpoint(e), Some(e));
        }
        // A Gemini client reaches Azure through chat.
        assert_eq!(
            p.upstream_endpoint(Endpoint::GenerateContent),
            Some(Endpoint::ChatCompletions)
        );
        let p = provider("base_url = \"https://res.openai.azure.com\"\nresponses = \"translate\"");
        assert_eq!(
            p.upstream_endpoint(Endpoint::Responses),
            Some(Endpoint::ChatCompletions)
        );
    }
}
