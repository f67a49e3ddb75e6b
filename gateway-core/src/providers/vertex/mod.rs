//! Google Cloud's Vertex AI (`base_url` default
//! `https://{region}-aiplatform.googleapis.com/v1`, for `region = "global"`
//! `https://aiplatform.googleapis.com/v1`): Gemini and Claude models of one
//! `project` and `region`, authenticated with an OAuth token from a service
//! account ([`token`]). The publisher comes from the model name: `claude*`
//! is Anthropic's, anything else Google's.
//!
//! - Google's models: `…/projects/{p}/locations/{r}/publishers/google/models/
//!   {m}:generateContent` (streams `:streamGenerateContent?alt=sse`), the
//!   Gemini API's body, so chat, Messages and Responses clients go through
//!   the Gemini translations and Gemini clients pass through.
//! - Anthropic's: `…/publishers/anthropic/models/{m}:rawPredict` (streams
//!   `:streamRawPredict`), the Messages body without `model` and with
//!   `"anthropic_version": "vertex-2023-10-16"`: Messages clients pass
//!   through with that one change, chat and Responses clients through the
//!   Messages translations.

pub mod token;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::ProviderSpec;
use crate::secrets::Secret;
use crate::vocab::Endpoint;
pub use token::{ServiceAccount, TokenCache};

/// The `anthropic_version` Vertex wants in a Claude request's body.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// The model `GET`'s probe asks about when the provider lists none.
const PROBE_MODEL: &str = "gemini-2.5-flash";
static BETA: HeaderName = HeaderName::from_static("anthropic-beta");

/// Which publisher serves a model on Vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    Google,
    Anthropic,
}

impl Publisher {
    pub fn of(model: &str) -> Self {
        if model.starts_with("claude") {
            Self::Anthropic
        } else {
            Self::Google
        }
    }
}

#[derive(Debug)]
pub struct VertexProvider {
    /// `{base_url}/projects/{project}/locations/{region}`.
    base: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `None` when the service account did not parse (the key error the
    /// runtime recorded keeps attempts away).
    token: Option<TokenCache>,
    /// `{base_url}/publishers/google/models/{first model}`: the probe's call.
    models: Uri,
}

impl VertexProvider {
    pub fn new(
        spec: &ProviderSpec,
        account: Option<Secret>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let root = spec.base_url.as_str().trim_end_matches('/').to_string();
        let base = match &spec.vertex {
            Some(v) => format!("{root}/projects/{}/locations/{}", v.project, v.region),
            None => root.clone(),
        };
        let probe_model = spec
            .models
            .iter()
            .find(|m| Publisher::of(m) == Publisher::Google && plain_id(m))
            .map_or(PROBE_MODEL, String::as_str);
        Self {
            models: uri(&root, &format!("/publishers/google/models/{probe_model}")),
            base,
            headers: configured.to_vec(),
            token: account
                .and_then(|a| ServiceAccount::parse(a.expose()).ok())
                .map(TokenCache::new),
        }
    }

    /// `{base}/publishers/{publisher}/models/{model}:{method}`, or `/` (which
    /// the client refuses) for a model that is not a plain id.
    fn model_uri(&self, publisher: Publisher, model: &str, method: &str) -> Uri {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if !plain_id(model) {
            return Uri::default();
        }
        let p = match publisher {
            Publisher::Google => "google",
            Publisher::Anthropic => "anthropic",
        };
        uri(
            &self.base,
            &format!("/publishers/{p}/models/{model}:{method}"),
        )
    }

    fn build(&self, method: Method, url: Uri, body: Bytes) -> Request<Bytes> {
        let json = HeaderValue::from_static("application/json");
        let ct = (method == Method::POST).then_some((&header::CONTENT_TYPE, &json));
        let headers = ct
            .into_iter()
            .chain(self.headers.iter().map(|(k, v)| (k, v)));
        build_request(method, url, body, headers)
    }
}

/// A model id as it may go into a path: `a-z A-Z 0-9 . _ - @` (Vertex
/// versions Claude models as `claude-sonnet-4-5@20250929`).
fn plain_id(model: &str) -> bool {
    !model.is_empty()
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// A Messages body as Vertex takes it: no `model` (it is in the path),
/// `anthropic_version` set unless the client set one. A body that is not a
/// JSON object goes as it is (Vertex answers 400).
pub fn messages_body(body: &Bytes) -> Bytes {
    let Ok(mut v) =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body.as_ref())
    else {
        return body.clone();
    };
    v.remove("model");
    v.entry("anthropic_version")
        .or_insert_with(|| ANTHROPIC_VERSION.into());
    serde_json::to_vec(&v).map_or_else(|_| body.clone(), Bytes::from)
}

impl ProviderApi for VertexProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        self.upstream_endpoint_for(client, "")
    }

    fn upstream_endpoint_for(&self, client: Endpoint, model: &str) -> Option<Endpoint> {
        match (Publisher::of(model), client) {
            (
                Publisher::Anthropic,
                Endpoint::Messages
                | Endpoint::ChatCompletions
                | Endpoint::Responses
                | Endpoint::GenerateContent,
            ) => Some(Endpoint::Messages),
            (
                Publisher::Google,
                Endpoint::ChatCompletions
                | Endpoint::Messages
                | Endpoint::Responses
                | Endpoint::GenerateContent,
            ) => Some(Endpoint::GenerateContent),
            _ => None,
        }
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, _headers: &ClientHeaders) -> Request<Bytes> {
        // Only reached without a model (see `model_request`).
        self.build(Method::POST, uri(&self.base, endpoint.path()), body)
    }

    fn model_request(
        &self,
        endpoint: Endpoint,
        model: &str,
        stream: bool,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> Request<Bytes> {
        match endpoint {
            Endpoint::GenerateContent => {
                let method = if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                };
                let url = self.model_uri(Publisher::Google, model, method);
                self.build(Method::POST, url, body)
            }
            Endpoint::Messages => {
                let method = if stream {
                    "streamRawPredict"
                } else {
                    "rawPredict"
                };
                let url = self.model_uri(Publisher::Anthropic, model, method);
                let mut req = self.build(Method::POST, url, messages_body(&body));
                // Vertex takes Anthropic's beta flags as the API does.
                if let Some(b) = headers.anthropic_beta()
                    && !req.headers().contains_key(&BETA)
                {
                    req.headers_mut().insert(BETA.clone(), b.clone());
                }
                req
            }
            _ => self.request(endpoint, body, headers),
        }
    }

    fn token_cache(&self) -> Option<&TokenCache> {
        self.token.as_ref()
    }

    fn models_request(&self) -> Request<Bytes> {
        self.build(Method::GET, self.models.clone(), Bytes::new())
    }

    /// `{"name":"publishers/google/models/gemini-2.5-flash",…}` → its id.
    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Model {
            name: String,
        }
        serde_json::from_slice::<Model>(body)
            .ok()
            .and_then(|m| m.name.rsplit('/').next().map(str::to_string))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str) -> VertexProvider {
        let src = format!(
            "[[providers]]\nname = \"vx\"\nkind = \"vertex\"\nproject = \"my-project\"\n\
             service_account = \"keyring:vertex-sa\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        VertexProvider::new(&c.providers[0], None, &[])
    }

    #[test]
    fn paths_by_publisher_region_and_project() {
        let p = provider("region = \"us-central1\"");
        let h = ClientHeaders::default();
        let r = p.model_request(
            Endpoint::GenerateContent,
            "gemini-2.5-flash",
            false,
            Bytes::from_static(b"{}"),
            &h,
        );
        assert_eq!(
            r.uri(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(r.headers()["content-type"], "application/json");
        let r = p.model_request(
            Endpoint::GenerateContent,
            "gemini-2.5-pro",
            true,
            Bytes::new(),
            &h,
        );
        assert!(
            r.uri().to_string().ends_with(
                "/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
            )
        );
        let body = Bytes::from_static(
            br#"{"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[]}"#,
        );
        let r = p.model_request(
            Endpoint::Messages,
            "claude-sonnet-4-5@20250929",
            true,
            body,
            &h,
        );
        assert!(
            r.uri().to_string().ends_with(
                "/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
            ),
            "{}",
            r.uri()
        );
        let sent: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert!(sent.get("model").is_none());
        assert_eq!(sent["anthropic_version"], ANTHROPIC_VERSION);
        assert_eq!(sent["max_tokens"], 5);
        assert_eq!(sent["stream"], true);
        // Nothing but a plain id goes into the path.
        let r = p.model_request(Endpoint::GenerateContent, "../x?y", false, Bytes::new(), &h);
        assert_eq!(r.uri(), &Uri::default());
        // `global` has no region in the host.
        let p = provider("region = \"global\"");
        let r = p.model_request(
            Endpoint::Messages,
            "claude-opus-4-1",
            false,
            Bytes::new(),
            &h,
        );
        assert_eq!(
            r.uri(),
            "https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/publishers/anthropic/models/claude-opus-4-1:rawPredict"
        );
        assert_eq!(
            p.models_request().uri(),
            "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash"
        );
    }

    #[test]
    fn the_publisher_follows_the_model() {
        let p = provider("region = \"europe-west4\"");
        for e in [
            Endpoint::ChatCompletions,
            Endpoint::Messages,
            Endpoint::Responses,
        ] {
            assert_eq!(
                p.upstream_endpoint_for(e, "claude-sonnet-4-5"),
                Some(Endpoint::Messages)
            );
            assert_eq!(
                p.upstream_endpoint_for(e, "gemini-2.5-flash"),
                Some(Endpoint::GenerateContent)
            );
        }
        // A Gemini client reaches Claude through Messages.
        assert_eq!(
            p.upstream_endpoint_for(Endpoint::GenerateContent, "claude-sonnet-4-5"),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            p.upstream_endpoint_for(Endpoint::Embeddings, "gemini-2.5-flash"),
            None
        );
    }

    #[test]
    fn config_needs_project_region_and_a_service_account() {
        let base = "[[providers]]\nname = \"vx\"\nkind = \"vertex\"\n";
        for (extra, path, says) in [
            (
                "region = \"us-central1\"\nservice_account = \"keyring:sa\"",
                "providers[0].project",
                "needs project",
            ),
            (
                "project = \"p\"\nservice_account = \"keyring:sa\"",
                "providers[0].region",
                "needs region",
            ),
            (
                "project = \"p\"\nregion = \"us-central1\"",
                "providers[0].service_account",
                "needs service_account",
            ),
            (
                "project = \"p\"\nregion = \"us-central1\"\nservice_account = \"sa.json\"",
                "providers[0].service_account",
                "",
            ),
            (
                "project = \"p\"\nregion = \"us-central1\"\nservice_account = \"keyring:sa\"\napi_key = \"keyring:k\"",
                "providers[0].api_key",
                "not api_key",
            ),
            (
                "project = \"p/../q\"\nregion = \"us-central1\"\nservice_account = \"keyring:sa\"",
                "providers[0].project",
                "not a valid project",
            ),
            (
                "project = \"p\"\nregion = \"US?x\"\nservice_account = \"keyring:sa\"",
                "providers[0].region",
                "not a valid region",
            ),
            (
                "project = \"p\"\nregion = \"global\"\nservice_account = \"keyring:sa\"\nresponses = \"native\"",
                "providers[0].responses",
                "no Responses API",
            ),
        ] {
            let e = Config::parse(&format!("{base}{extra}\n"), "t").unwrap_err();
            let i = e.issues.iter().find(|i| i.path == path);
            assert!(i.is_some_and(|i| i.message.contains(says)), "{extra}: {e}");
        }
        let e = Config::parse(
            "[[providers]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nproject = \"p\"\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("only for kind = \"vertex\""), "{e}");
        let c = Config::parse(
            &format!("{base}project = \"p\"\nregion = \"us-east5\"\nservice_account = \"keyring:sa\"\nbase_url = \"http://127.0.0.1:9/v1/\"\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.providers[0].base_url.as_str(), "http://127.0.0.1:9/v1");
        assert_eq!(c.providers[0].api_keys.len(), 1);
        assert_eq!(c.providers[0].api_keys[0].to_string(), "keyring:sa");
    }
}
