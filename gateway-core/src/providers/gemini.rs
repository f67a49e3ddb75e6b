//! Google's Gemini API (`base_url` default
//! `https://generativelanguage.googleapis.com/v1beta`). Every client
//! protocol is translated (`translate/chat_via_gemini.rs`): the model goes
//! in the path, `models/{model}:generateContent` (streams:
//! `:streamGenerateContent?alt=sse`). Authenticated with `x-goog-api-key`,
//! never a `?key=` in the URL (URLs end up in logs).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::{GeminiSchema, ProviderSpec};
use crate::secrets::Secret;
use crate::vocab::Endpoint;

pub(crate) static API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

#[derive(Debug)]
pub struct GeminiProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// The key, marked sensitive so it never shows in debug output.
    key: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `{base}/models?pageSize=1000`, parsed once.
    models: Uri,
    /// `gemini_schema`: `openapi` moves JSON Schemas to the classic fields.
    schema: GeminiSchema,
}

impl GeminiProvider {
    pub fn new(
        spec: &ProviderSpec,
        key: Option<Secret>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let key = key.and_then(|k| super::secret_header(k.expose()));
        let base = spec.base_url.as_str().trim_end_matches('/').to_string();
        Self {
            models: uri(&base, "/models?pageSize=1000"),
            base,
            key,
            headers: configured.to_vec(),
            schema: spec.gemini_schema,
        }
    }

    fn build(&self, method: Method, url: Uri, body: Bytes) -> Request<Bytes> {
        let headers = self
            .key
            .iter()
            .map(|k| (&API_KEY, k))
            .chain(self.headers.iter().map(|(k, v)| (k, v)));
        build_request(method, url, body, headers)
    }

    /// `{base}/models/{model}:generateContent` (or the SSE stream). A
    /// model that is not a plain id (`a-z 0-9 . _ -`, an optional
    /// `models/` prefix) gives `/`, which the client refuses.
    pub fn generate_uri(&self, model: &str, stream: bool) -> Uri {
        let method = if stream {
            ":streamGenerateContent?alt=sse"
        } else {
            ":generateContent"
        };
        self.model_uri(model, method)
    }

    /// `{base}/models/{model}{method}`, or `/` for a model that is not a
    /// plain id.
    fn model_uri(&self, model: &str, method: &str) -> Uri {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || !model
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Uri::default();
        }
        uri(&self.base, &format!("/models/{model}{method}"))
    }
}

impl ProviderApi for GeminiProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        match client {
            Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses => {
                Some(Endpoint::GenerateContent)
            }
            // A Gemini client: passthrough.
            Endpoint::GenerateContent => Some(Endpoint::GenerateContent),
            Endpoint::Embeddings => Some(Endpoint::BatchEmbedContents),
            Endpoint::Completions
            | Endpoint::BatchEmbedContents
            | Endpoint::Converse
            | Endpoint::InvokeModel => None,
        }
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, _headers: &ClientHeaders) -> Request<Bytes> {
        // Only reached without a model (see `model_request`).
        let mut req = self.build(Method::POST, uri(&self.base, endpoint.path()), body);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        req
    }

    fn model_request(
        &self,
        endpoint: Endpoint,
        model: &str,
        stream: bool,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> Request<Bytes> {
        let body = match (endpoint, self.schema) {
            (Endpoint::GenerateContent, GeminiSchema::Openapi) => {
                crate::translate::gemini_schema::body_to_openapi(&body).unwrap_or(body)
            }
            _ => body,
        };
        let url = match endpoint {
            Endpoint::GenerateContent => self.generate_uri(model, stream),
            Endpoint::BatchEmbedContents => self.model_uri(model, ":batchEmbedContents"),
            _ => return self.request(endpoint, body, headers),
        };
        let mut req = self.build(Method::POST, url, body);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        req
    }

    /// `models/{model}:countTokens` with a body from
    /// `translate::count_via_gemini`.
    fn count_tokens_for(
        &self,
        model: &str,
        body: Bytes,
        _headers: &ClientHeaders,
    ) -> Option<Request<Bytes>> {
        let body = match self.schema {
            GeminiSchema::Openapi => {
                crate::translate::gemini_schema::body_to_openapi(&body).unwrap_or(body)
            }
            GeminiSchema::Json => body,
        };
        let mut req = self.build(Method::POST, self.model_uri(model, ":countTokens"), body);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Some(req)
    }

    fn gemini_count_request(&self, model: &str, body: Bytes) -> Option<Request<Bytes>> {
        let url = self.model_uri(model, ":countTokens");
        if url == Uri::default() {
            return None;
        }
        let mut req = self.build(Method::POST, url, body);
        req.headers_mut().append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Some(req)
    }

    fn models_request(&self) -> Request<Bytes> {
        self.build(Method::GET, self.models.clone(), Bytes::new())
    }

    /// 401/403, or the 400 Gemini gives a key it does not know
    /// (`INVALID_ARGUMENT`, reason `API_KEY_INVALID`, "API key not valid").
    fn refuses_key(&self, status: http::StatusCode, body: &[u8]) -> bool {
        let text = String::from_utf8_lossy(body);
        matches!(status.as_u16(), 401 | 403)
            || (status.as_u16() == 400
                && (text.contains("API_KEY_INVALID") || text.contains("API key not valid")))
    }

    /// Every refusal of the key (400 `API_KEY_INVALID`, 401
    /// `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`: a key without access to
    /// the API or the model) is the provider's key failing, never the
    /// client's request.
    fn rejects_key_live(&self, status: http::StatusCode, body: &[u8]) -> bool {
        self.refuses_key(status, body)
    }

    /// `{"models":[{"name":"models/gemini-2.5-flash",…}]}` → the ids
    /// without their `models/` prefix.
    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            models: Vec<Item>,
        }
        #[derive(serde::Deserialize)]
        struct Item {
            name: String,
        }
        serde_json::from_slice::<List>(body)
            .map(|l| {
                l.models
                    .into_iter()
                    .map(|i| {
                        i.name
                            .strip_prefix("models/")
                            .unwrap_or(&i.name)
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str) -> GeminiProvider {
        let src = format!(
            "[[providers]]\nname = \"gemini\"\nkind = \"gemini\"\napi_key = \"env:GEMINI_API_KEY\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        GeminiProvider::new(&c.providers[0], Some(Secret::new("AIza-test")), &[])
    }

    #[test]
    fn key_goes_in_a_header_and_the_model_in_the_path() {
        let p = provider("");
        let r = p.model_request(
            Endpoint::GenerateContent,
            "gemini-2.5-flash",
            false,
            Bytes::from_static(b"{}"),
            &ClientHeaders::default(),
        );
        assert_eq!(
            r.uri(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.headers()["x-goog-api-key"], "AIza-test");
        assert!(r.headers()["x-goog-api-key"].is_sensitive());
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().get("authorization").is_none());
        assert!(!r.uri().to_string().contains("key="));
        let s = p.generate_uri("models/gemini-2.5-pro", true);
        assert_eq!(
            s,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        // Nothing but a plain id goes into the path.
        assert_eq!(p.generate_uri("../x?key=1", false), Uri::default());
        assert_eq!(p.generate_uri("", false), Uri::default());
        let m = p.models_request();
        assert_eq!(
            m.uri(),
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
        );
        assert_eq!(m.headers()["x-goog-api-key"], "AIza-test");
        assert_eq!(
            p.parse_models(br#"{"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash"}],"nextPageToken":"x"}"#),
            ["gemini-2.5-flash"]
        );
        // A configured base URL wins over the default.
        let p = provider("base_url = \"http://127.0.0.1:9/v1beta/\"");
        assert_eq!(
            p.generate_uri("g", false),
            "http://127.0.0.1:9/v1beta/models/g:generateContent"
        );
    }

    #[test]
    fn translates_every_client_protocol() {
        let p = provider("");
        for e in [
            Endpoint::ChatCompletions,
            Endpoint::Messages,
            Endpoint::Responses,
        ] {
            assert_eq!(p.upstream_endpoint(e), Some(Endpoint::GenerateContent));
        }
        assert_eq!(
            p.upstream_endpoint(Endpoint::Embeddings),
            Some(Endpoint::BatchEmbedContents)
        );
        assert_eq!(p.upstream_endpoint(Endpoint::Completions), None);
    }

    #[test]
    fn openapi_schemas_go_in_the_classic_field() {
        let body = Bytes::from_static(
            br#"{"contents":[],"tools":[{"functionDeclarations":[{"name":"f","parametersJsonSchema":{"type":"object","additionalProperties":false,"properties":{"q":{"type":"string"}}}}]}]}"#,
        );
        let sent = |p: &GeminiProvider| {
            let r = p.model_request(
                Endpoint::GenerateContent,
                "g",
                false,
                body.clone(),
                &ClientHeaders::default(),
            );
            serde_json::from_slice::<serde_json::Value>(r.body()).unwrap()["tools"][0]
                ["functionDeclarations"][0]
                .clone()
        };
        let json = sent(&provider(""));
        assert_eq!(json["parametersJsonSchema"]["additionalProperties"], false);
        let openapi = sent(&provider("gemini_schema = \"openapi\""));
        assert_eq!(
            openapi,
            serde_json::json!({"name": "f", "parameters": {"type": "OBJECT",
                "properties": {"q": {"type": "STRING"}}}})
        );
        let e = Config::parse(
            "[[providers]]\nname = \"x\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\ngemini_schema = \"openapi\"\n",
            "t",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("gemini_schema applies to kind"),
            "{e}"
        );
    }

    #[test]
    fn other_kinds_still_need_a_base_url() {
        let e = Config::parse("[[providers]]\nname = \"x\"\nkind = \"openai\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("base_url is required"), "{e}");
        let e = Config::parse(
            "[[providers]]\nname = \"g\"\nkind = \"gemini\"\nresponses = \"native\"\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Gemini has no Responses API"), "{e}");
    }
}
