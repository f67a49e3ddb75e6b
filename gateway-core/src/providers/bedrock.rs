//! AWS Bedrock Runtime (`base_url` default
//! `https://bedrock-runtime.{region}.amazonaws.com`). Every client protocol
//! is translated: chat, Messages and Responses through Converse
//! (`translate/chat_via_converse.rs`), `POST /model/{modelId}/converse`
//! (streams: `/converse-stream`, an AWS event stream), embeddings through
//! `POST /model/{modelId}/invoke`. The model id is percent-encoded into
//! one path segment (inference profile ids and ARNs carry `:` and `/`).
//!
//! Every request is signed with SigV4 (`aws-sigv4`, service `bedrock`,
//! the provider's `region`) over the host it is sent to, so a `base_url`
//! override (a VPC endpoint, a test server) still verifies; temporary
//! credentials add `x-amz-security-token`. The probe lists models with the
//! control plane's `GET /foundation-models` (`ListFoundationModels`): at
//! `bedrock.{region}.amazonaws.com` for the default endpoint, at the
//! `base_url` itself when it is overridden.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};

use super::{ClientHeaders, ProviderApi, build_request, uri};
use crate::config::ProviderSpec;
use crate::secrets::Secret;
use crate::vocab::Endpoint;

/// The SigV4 signing name of Bedrock (runtime and control plane alike).
pub const SIGNING_NAME: &str = "bedrock";

/// Longest model id / ARN put into a path (Bedrock's own limit is 2048).
pub const MAX_MODEL_ID: usize = 2048;

/// A Bedrock provider's resolved credentials.
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

pub struct BedrockProvider {
    /// Base URL without a trailing slash.
    base: String,
    /// Where `ListFoundationModels` goes (the probe).
    control: String,
    region: String,
    /// `None`: the credentials did not resolve (the provider fails over
    /// with that error before anything is sent).
    creds: Option<Credentials>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for BedrockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockProvider")
            .field("base", &self.base)
            .field("region", &self.region)
            .field("signed", &self.creds.is_some())
            .finish_non_exhaustive()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so a
/// model id is one path segment (`:` → `%3A`, `/` → `%2F`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl BedrockProvider {
    pub fn new(
        spec: &ProviderSpec,
        creds: Option<AwsCredentials>,
        configured: &[(HeaderName, HeaderValue)],
    ) -> Self {
        let base = spec.base_url.as_str().trim_end_matches('/').to_string();
        let region = spec.region.clone().unwrap_or_default();
        let runtime_host = format!("bedrock-runtime.{region}.amazonaws.com");
        let control = if spec.base_url.host_str() == Some(runtime_host.as_str()) {
            format!("https://bedrock.{region}.amazonaws.com")
        } else {
            base.clone()
        };
        let creds = creds.map(|c| {
            Credentials::new(
                c.access_key_id.expose(),
                c.secret_access_key.expose(),
                c.session_token.map(|t| t.expose().to_string()),
                None,
                "aigw-config",
            )
        });
        Self {
            base,
            control,
            region,
            creds,
            headers: configured.to_vec(),
        }
    }

    /// `{base}/model/{modelId}/{action}`; `/` (refused by the client) for
    /// an empty or over-long id.
    pub fn model_uri(&self, model: &str, action: &str) -> Uri {
        if model.is_empty() || model.len() > MAX_MODEL_ID {
            return Uri::default();
        }
        uri(
            &self.base,
            &format!("/model/{}/{action}", encode_segment(model)),
        )
    }

    /// A request with the configured headers and `accept`, signed.
    fn signed(
        &self,
        method: Method,
        url: Uri,
        body: Bytes,
        accept: &'static str,
    ) -> Request<Bytes> {
        let mut req = build_request(method, url, body, self.headers.iter().map(|(k, v)| (k, v)));
        let h = req.headers_mut();
        h.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if !req.body().is_empty() {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        self.sign(&mut req);
        req
    }

    /// Adds `x-amz-date`, `authorization` (and `x-amz-security-token`) for
    /// the request as it stands. Without credentials, or when signing
    /// fails, the request goes unsigned and AWS refuses it (403).
    fn sign(&self, req: &mut Request<Bytes>) {
        let Some(creds) = &self.creds else { return };
        let identity = creds.clone().into();
        let params = match v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
        {
            Ok(p) => p.into(),
            Err(e) => {
                tracing::warn!("bedrock: cannot sign: {e}");
                return;
            }
        };
        let uri = req.uri().to_string();
        let headers: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            uri.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(req.body()),
        );
        let out = signable.and_then(|s| sign(s, &params));
        match out {
            Ok(out) => {
                let (instructions, _) = out.into_parts();
                let (headers, _) = instructions.into_parts();
                for h in headers {
                    let Ok(mut v) = HeaderValue::from_str(h.value()) else {
                        tracing::warn!("bedrock: a signing header is not a valid value");
                        return;
                    };
                    v.set_sensitive(
                        h.sensitive()
                            || matches!(h.name(), "authorization" | "x-amz-security-token"),
                    );
                    req.headers_mut().insert(h.name(), v);
                }
            }
            Err(e) => tracing::warn!("bedrock: cannot sign: {e}"),
        }
    }
}

impl ProviderApi for BedrockProvider {
    fn upstream_endpoint(&self, client: Endpoint) -> Option<Endpoint> {
        match client {
            Endpoint::ChatCompletions
            | Endpoint::Messages
            | Endpoint::Responses
            | Endpoint::GenerateContent => Some(Endpoint::Converse),
            Endpoint::Embeddings => Some(Endpoint::InvokeModel),
            _ => None,
        }
    }

    fn request(&self, endpoint: Endpoint, body: Bytes, _headers: &ClientHeaders) -> Request<Bytes> {
        // Only reached without a model (see `model_request`).
        self.signed(
            Method::POST,
            uri(&self.base, endpoint.path()),
            body,
            "application/json",
        )
    }

    fn model_request(
        &self,
        endpoint: Endpoint,
        model: &str,
        stream: bool,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> Request<Bytes> {
        let (url, accept) = match endpoint {
            Endpoint::Converse if stream => (
                self.model_uri(model, "converse-stream"),
                "application/vnd.amazon.eventstream",
            ),
            Endpoint::Converse => (self.model_uri(model, "converse"), "application/json"),
            Endpoint::InvokeModel => (self.model_uri(model, "invoke"), "application/json"),
            _ => return self.request(endpoint, body, headers),
        };
        self.signed(Method::POST, url, body, accept)
    }

    fn models_request(&self) -> Request<Bytes> {
        self.signed(
            Method::GET,
            uri(&self.control, "/foundation-models"),
            Bytes::new(),
            "application/json",
        )
    }

    /// 401/403: `UnrecognizedClientException` (an unknown key id),
    /// `InvalidSignatureException` / `SignatureDoesNotMatch` (a wrong
    /// secret), `AccessDeniedException`, `ExpiredTokenException`.
    fn refuses_key(&self, status: http::StatusCode, _body: &[u8]) -> bool {
        matches!(status.as_u16(), 401 | 403)
    }

    /// `ListFoundationModels`: `{"modelSummaries":[{"modelId":…},…]}`.
    fn parse_models(&self, body: &[u8]) -> Vec<String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct List {
            #[serde(default)]
            model_summaries: Vec<Item>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Item {
            model_id: String,
        }
        serde_json::from_slice::<List>(body)
            .map(|l| l.model_summaries.into_iter().map(|i| i.model_id).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(extra: &str, token: bool) -> BedrockProvider {
        let src = format!(
            "[[providers]]\nname = \"aws\"\nkind = \"bedrock\"\nregion = \"us-west-2\"\n\
             access_key_id = \"env:AWS_ACCESS_KEY_ID\"\nsecret_access_key = \"env:AWS_SECRET_ACCESS_KEY\"\n{extra}"
        );
        let c = Config::parse(&src, "t").unwrap();
        let creds = AwsCredentials {
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.then(|| Secret::new("FwoGZXIvYXdzEXAMPLETOKEN")),
        };
        BedrockProvider::new(&c.providers[0], Some(creds), &[])
    }

    #[test]
    fn model_ids_are_one_encoded_segment_and_requests_are_signed() {
        let p = provider("", true);
        let r = p.model_request(
            Endpoint::Converse,
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            false,
            Bytes::from_static(b"{}"),
            &ClientHeaders::default(),
        );
        assert_eq!(
            r.uri(),
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
        );
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-west-2/bedrock/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders="), "{auth}");
        assert!(r.headers()["authorization"].is_sensitive());
        assert!(r.headers().contains_key("x-amz-date"));
        assert_eq!(
            r.headers()["x-amz-security-token"],
            "FwoGZXIvYXdzEXAMPLETOKEN"
        );
        assert!(!auth.contains("wJalrXUtnFEMI"));
        assert!(!format!("{p:?}").contains("wJalr"));
        let arn = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0";
        let s = p.model_request(
            Endpoint::Converse,
            arn,
            true,
            Bytes::from_static(b"{}"),
            &ClientHeaders::default(),
        );
        assert!(
            s.uri().path().ends_with(
                "inference-profile%2Fus.meta.llama3-2-1b-instruct-v1%3A0/converse-stream"
            ),
            "{}",
            s.uri()
        );
        assert_eq!(s.headers()["accept"], "application/vnd.amazon.eventstream");
        assert_eq!(p.model_uri("", "converse"), Uri::default());
        assert_eq!(
            p.models_request().uri(),
            "https://bedrock.us-west-2.amazonaws.com/foundation-models"
        );
        // Without a session token there is no token header.
        let p = provider("base_url = \"http://127.0.0.1:9/\"", false);
        let r = p.model_request(
            Endpoint::InvokeModel,
            "amazon.titan-embed-text-v2:0",
            false,
            Bytes::from_static(b"{}"),
            &ClientHeaders::default(),
        );
        assert_eq!(
            r.uri(),
            "http://127.0.0.1:9/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert!(r.headers().get("x-amz-security-token").is_none());
        assert_eq!(
            p.models_request().uri(),
            "http://127.0.0.1:9/foundation-models"
        );
        assert_eq!(
            p.parse_models(br#"{"modelSummaries":[{"modelId":"amazon.titan-embed-text-v2:0","modelArn":"arn:x"}]}"#),
            ["amazon.titan-embed-text-v2:0"]
        );
    }

    #[test]
    fn config_needs_a_region_and_credential_references() {
        let bad = |body: &str| {
            Config::parse(
                &format!("[[providers]]\nname = \"aws\"\nkind = \"bedrock\"\n{body}"),
                "t",
            )
            .unwrap_err()
            .to_string()
        };
        let refs = "access_key_id = \"env:A\"\nsecret_access_key = \"keyring:s\"\n";
        assert!(bad(refs).contains("needs region"));
        assert!(bad(&format!("region = \"US_EAST\"\n{refs}")).contains("not an AWS region"));
        assert!(bad("region = \"us-east-1\"\n").contains("needs access_key_id"));
        let e = bad(
            "region = \"us-east-1\"\naccess_key_id = \"AKIAIOSFODNN7EXAMPLE\"\nsecret_access_key = \"keyring:s\"\n",
        );
        assert!(e.contains("never values in config"), "{e}");
        assert!(
            bad(&format!(
                "region = \"us-east-1\"\napi_key = \"env:K\"\n{refs}"
            ))
            .contains("not api_key")
        );
        assert!(
            bad(&format!(
                "region = \"us-east-1\"\nresponses = \"native\"\n{refs}"
            ))
            .contains("no Responses API")
        );
        let e = Config::parse(
            "[[providers]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\naccess_key_id = \"env:A\"\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("for kind = \"bedrock\" only"), "{e}");
        let c = Config::parse(
            &format!("[[providers]]\nname = \"aws\"\nkind = \"bedrock\"\nregion = \"eu-central-1\"\n{refs}session_token = \"env:T\"\n"),
            "t",
        )
        .unwrap();
        let p = &c.providers[0];
        assert_eq!(
            p.base_url.as_str(),
            "https://bedrock-runtime.eu-central-1.amazonaws.com/"
        );
        assert!(p.aws.as_ref().unwrap().session_token.is_some());
    }
}
