//! Upstream providers: a trait for behaviour ([`ProviderApi`]), one
//! implementation per `kind` in config. A provider says which of its own
//! endpoints serves a client endpoint (the same one: passthrough; another
//! one: the routing layer translates) and builds upstream requests; the
//! routing layer owns timeouts, health and fallback.

mod anthropic;
mod azure;
pub mod bedrock;
mod gemini;
mod openai;
pub mod vertex;

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, header};

pub use anthropic::AnthropicProvider;
pub use azure::AzureProvider;
pub use bedrock::{AwsCredentials, BedrockProvider};
pub use gemini::GeminiProvider;
pub use openai::OpenAiProvider;
pub use vertex::VertexProvider;

use crate::config::{ProviderKind, ProviderSpec};
use crate::secrets::Secret;
use crate::upstream::USER_AGENT;
pub use crate::vocab::Endpoint;

/// What of the client's request head goes upstream: its headers (as
/// received), its query string, and whether its `authorization` /
/// `x-api-key` are its own upstream credential rather than the gateway's
/// client key.
#[derive(Debug, Clone, Default)]
pub struct ClientHeaders {
    map: HeaderMap,
    query: Option<String>,
    own_credential: bool,
}

static H_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
static H_BETA: HeaderName = HeaderName::from_static("anthropic-beta");
static H_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

impl ClientHeaders {
    /// `own_credential`: the client's credential headers are not the
    /// gateway's key (no client keys are configured, or the gateway key
    /// came in `x-aigw-key`), so a provider with `api_key = "client"` may
    /// forward them.
    pub fn new(map: HeaderMap, query: Option<&str>, own_credential: bool) -> Self {
        Self {
            map,
            query: query.filter(|q| !q.is_empty()).map(str::to_string),
            own_credential,
        }
    }

    /// Only the Anthropic version and beta headers (tests, replays).
    pub fn from_headers(h: &HeaderMap) -> Self {
        let mut map = HeaderMap::new();
        for name in [&H_VERSION, &H_BETA] {
            if let Some(v) = h.get(name) {
                map.insert(name.clone(), v.clone());
            }
        }
        Self::new(map, None, false)
    }

    pub fn anthropic_version(&self) -> Option<&HeaderValue> {
        self.map.get(&H_VERSION)
    }

    pub fn anthropic_beta(&self) -> Option<&HeaderValue> {
        self.map.get(&H_BETA)
    }

    /// The client's headers as received.
    pub fn map(&self) -> &HeaderMap {
        &self.map
    }

    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.map.get(name)
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn has_credential(&self) -> bool {
        self.own_credential
            && (self.map.contains_key(header::AUTHORIZATION)
                || self.map.contains_key(&H_API_KEY)
                || self.map.contains_key(&gemini::API_KEY))
    }

    /// The client's own credential for a provider with `api_key =
    /// "client"`: `(authorization, x-api-key)` as sent, marked sensitive.
    /// `None` when the client sent only the gateway's key.
    pub fn credential(&self) -> Option<(Option<HeaderValue>, Option<HeaderValue>)> {
        if !self.own_credential {
            return None;
        }
        let sensitive = |v: &HeaderValue| {
            let mut v = v.clone();
            v.set_sensitive(true);
            v
        };
        let auth = self.map.get(header::AUTHORIZATION).map(sensitive);
        // A Gemini client's key comes in `x-goog-api-key`.
        let key = self
            .map
            .get(&H_API_KEY)
            .or_else(|| self.map.get(&gemini::API_KEY))
            .map(sensitive);
        (auth.is_some() || key.is_some()).then_some((auth, key))
    }
}

/// Client headers never forwarded: hop-by-hop, framing and encoding (the
/// gateway reads upstream bodies, so they come unencoded), credentials
/// (a provider's own, or the client's only for `api_key = "client"`),
/// browser context, and the gateway's own.
fn never_forwarded(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "content-type"
            | "content-encoding"
            | "accept-encoding"
            | "expect"
            | "authorization"
            | "x-api-key"
            | "api-key"
            | "x-goog-api-key"
            | "cookie"
            | "origin"
            | "referer"
            | "forwarded"
            | "user-agent"
            | "anthropic-version"
            | "anthropic-beta"
    ) || name.as_str().starts_with("x-aigw-")
        || name.as_str().starts_with("x-forwarded-")
        || name.as_str().starts_with("sec-")
}

/// Client headers that scope the client's own credential (its OpenAI
/// organization or project, its ChatGPT account): with the provider's key
/// they would be wrong ("mismatched organization"), so they go only where
/// the client's credential goes (`api_key = "client"`).
fn scopes_credential(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "openai-organization" | "openai-project" | "chatgpt-account-id"
    )
}

/// What of the client's head goes with an upstream request, after the
/// provider built it (its key, version and configured headers win over
/// the client's):
/// - `user-agent`: the client's with the gateway's product token appended
///   (or the token alone);
/// - passthrough to the same protocol: every client header but those
///   `never_forwarded` (and those that `scopes_credential`, unless the
///   client's credential goes too), and the query string (`?beta=true`);
/// - `api_key = "client"`: the client's own `authorization` / `x-api-key`
///   (an OpenAI-compatible upstream gets `x-api-key` as a bearer token);
///   the caller has checked that there is one ([`ClientHeaders::credential`]).
pub fn forward_client_head(
    req: &mut Request<Bytes>,
    client: &ClientHeaders,
    passthrough: bool,
    client_auth: Option<ProviderKind>,
) {
    let headers = req.headers_mut();
    // Without one, the upstream client sends the product token alone.
    if !headers.contains_key(header::USER_AGENT)
        && let Some(ua) = client
            .map
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .and_then(|v| HeaderValue::try_from(format!("{v} {USER_AGENT}")).ok())
    {
        headers.insert(header::USER_AGENT, ua);
    }
    if passthrough {
        let own_credential = client_auth.is_some();
        let mut last: Option<&HeaderName> = None;
        for (name, value) in &client.map {
            // A name the provider set is skipped in all its values; a
            // repeated client header keeps all of its own.
            if last != Some(name)
                && (never_forwarded(name)
                    || (!own_credential && scopes_credential(name))
                    || headers.contains_key(name))
            {
                continue;
            }
            last = Some(name);
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(kind) = client_auth
        && let Some((auth, key)) = client.credential()
    {
        match kind {
            ProviderKind::Anthropic => {
                if let Some(a) = auth {
                    headers.insert(header::AUTHORIZATION, a);
                }
                if let Some(k) = key {
                    headers.insert(H_API_KEY.clone(), k);
                }
            }
            ProviderKind::Gemini => {
                // The client's Gemini key: its x-api-key, or its bearer token.
                let key = key.or_else(|| {
                    let a = auth?;
                    secret_header(a.to_str().ok()?.strip_prefix("Bearer ")?.trim())
                });
                if let Some(k) = key {
                    headers.insert(gemini::API_KEY.clone(), k);
                }
            }
            // Validation refuses `api_key` for Vertex: never reached.
            ProviderKind::Vertex => {}
            // Validation refuses `api_key = "client"` for Bedrock (it signs).
            ProviderKind::Bedrock => {}
            ProviderKind::Azure => {
                // An Azure key in x-api-key goes as api-key; an Entra token
                // in authorization as it came.
                if let Some(k) = key {
                    headers.insert(azure::API_KEY.clone(), k);
                } else if let Some(a) = auth {
                    headers.insert(header::AUTHORIZATION, a);
                }
            }
            ProviderKind::Openai => {
                let bearer =
                    auth.or_else(|| secret_header(&format!("Bearer {}", key?.to_str().ok()?)));
                if let Some(b) = bearer {
                    headers.insert(header::AUTHORIZATION, b);
                }
            }
        }
    }
    if passthrough && let Some(q) = client.query() {
        let uri = req.uri();
        let joined = match uri.query() {
            Some(own) => format!("{}?{own}&{q}", uri.path()),
            None => format!("{}?{q}", uri.path()),
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = http::uri::PathAndQuery::try_from(joined) {
            parts.path_and_query = Some(pq);
            if let Ok(u) = Uri::from_parts(parts) {
                *req.uri_mut() = u;
            }
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

    /// The same for a request to `model` (the name forwarded): Vertex picks
    /// Google's or Anthropic's protocol by the model; the others ignore it.
    fn upstream_endpoint_for(&self, client: Endpoint, _model: &str) -> Option<Endpoint> {
        self.upstream_endpoint(client)
    }

    /// A provider whose credential is a short-lived token it fetches
    /// (Vertex's OAuth token): its cache, which [`authorize`] asks.
    fn token_cache(&self) -> Option<&vertex::TokenCache> {
        None
    }

    /// The upstream request for a body already in this provider's protocol
    /// (model already rewritten).
    fn request(&self, endpoint: Endpoint, body: Bytes, headers: &ClientHeaders) -> Request<Bytes>;

    /// The upstream request for `model` (already rewritten), streamed or
    /// not: Gemini puts both in the path; the others send [`Self::request`].
    fn model_request(
        &self,
        endpoint: Endpoint,
        _model: &str,
        _stream: bool,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> Request<Bytes> {
        self.request(endpoint, body, headers)
    }

    /// The name the upstream knows `model` by, in the body and the path
    /// (Azure: its deployment).
    fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        model
    }

    /// `POST /messages/count_tokens` with the client's body, for providers
    /// that count tokens themselves (Anthropic); `None`: counted locally.
    fn count_tokens_request(
        &self,
        _body: Bytes,
        _headers: &ClientHeaders,
    ) -> Option<Request<Bytes>> {
        None
    }

    /// The token-count request for `model` (already rewritten) with a body
    /// in this provider's count protocol: Gemini puts the model in the path
    /// (`models/{m}:countTokens`); the others send
    /// [`Self::count_tokens_request`].
    fn count_tokens_for(
        &self,
        _model: &str,
        body: Bytes,
        headers: &ClientHeaders,
    ) -> Option<Request<Bytes>> {
        self.count_tokens_request(body, headers)
    }

    /// `POST /models/{model}:countTokens` with a Gemini client's body, for
    /// providers that speak Gemini (the Gemini ingress's `:countTokens`);
    /// `None`: counted locally.
    fn gemini_count_request(&self, _model: &str, _body: Bytes) -> Option<Request<Bytes>> {
        None
    }

    /// `GET /models` (listing and health probes).
    fn models_request(&self) -> Request<Bytes>;

    /// Model ids from a `/models` response body.
    fn parse_models(&self, body: &[u8]) -> Vec<String>;

    /// Whether a `/models` answer says the key was refused (401 and 403;
    /// Gemini also answers a bad key with 400 `API_KEY_INVALID`).
    fn refuses_key(&self, status: http::StatusCode, _body: &[u8]) -> bool {
        matches!(status.as_u16(), 401 | 403)
    }

    /// Whether an error answer on live traffic says the provider's key was
    /// refused, for kinds whose refusal is not a plain 401/403 the client
    /// could read as its own (Gemini's 400 `API_KEY_INVALID`, its 403
    /// `PERMISSION_DENIED`): then the key cools, the next target is tried,
    /// and the client gets a 401 when none is left. `false`: 401/403 keep
    /// the usual handling (a pool key cools, the answer is relayed).
    fn rejects_key_live(&self, _status: http::StatusCode, _body: &[u8]) -> bool {
        false
    }
}

/// Builds the behaviour for a provider's `kind` with one key and the
/// configured headers (references already resolved).
pub fn build(
    spec: &ProviderSpec,
    key: Option<Secret>,
    headers: &[(HeaderName, HeaderValue)],
) -> Box<dyn ProviderApi> {
    match spec.kind {
        ProviderKind::Openai => Box::new(OpenAiProvider::new(spec, key, headers)),
        ProviderKind::Anthropic => Box::new(AnthropicProvider::new(spec, key, headers)),
        ProviderKind::Gemini => Box::new(GeminiProvider::new(spec, key, headers)),
        ProviderKind::Vertex => Box::new(VertexProvider::new(spec, key, headers)),
        // Signs with the credentials `build_bedrock` is given; built here
        // only when they did not resolve (nothing is sent then).
        ProviderKind::Bedrock => Box::new(BedrockProvider::new(spec, None, headers)),
        ProviderKind::Azure => Box::new(AzureProvider::new(spec, key, headers)),
    }
}

/// Puts the provider's fetched token on `req` when it has one ([`ProviderApi::
/// token_cache`]): `Ok(Some(value sent))`, `Ok(None)` for providers whose
/// credential is already on the request, `Err(why)` (never quoting a
/// secret) when no token could be had.
pub async fn authorize(
    api: &dyn ProviderApi,
    client: &crate::upstream::UpstreamClient,
    req: &mut Request<Bytes>,
) -> Result<Option<HeaderValue>, String> {
    let Some(cache) = api.token_cache() else {
        return Ok(None);
    };
    let bearer = cache.bearer(client).await?;
    req.headers_mut()
        .insert(header::AUTHORIZATION, bearer.clone());
    Ok(Some(bearer))
}

/// A `kind = "bedrock"` provider signing with `creds`.
pub fn build_bedrock(
    spec: &ProviderSpec,
    creds: AwsCredentials,
    headers: &[(HeaderName, HeaderValue)],
) -> Box<dyn ProviderApi> {
    Box::new(BedrockProvider::new(spec, Some(creds), headers))
}

/// `base` + `path` as a URI, parsed once per provider (config validation
/// has checked the base URL; a URI that still does not parse is sent as
/// `/`, which the client refuses as a network error).
/// A credential as a header value marked sensitive (never shown in debug
/// output, kept out of HPACK tables); `None` when it is not a valid value.
pub(crate) fn secret_header(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

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
