//! `[[providers]]`: names, kinds, base URLs (SSRF-checked when an IP
//! literal), key references, timeouts, headers.

use std::collections::HashSet;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use reqwest::Url;

use super::super::raw::{
    GEMINI_BASE_URL, GeminiSchema, KeyRotation, ProviderKind, RawProvider, ResponsesMode,
};
use super::{MAX_SECS, Severity, Validator, trim_slash, valid_name};
use crate::secrets::SecretRef;
use crate::ssrf::{self, SsrfPolicy};

#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash; endpoint paths are appended (`/chat/completions`).
    pub base_url: Url,
    /// The key pool: `api_key` is a pool of one, `api_keys` many (in
    /// order); empty for a keyless provider.
    pub api_keys: Vec<SecretRef>,
    pub key_rotation: KeyRotation,
    /// `enabled = false`: skipped by routing, `provider/model` refused.
    pub enabled: bool,
    /// `api_key = "client"`: no stored key; the client's own credential
    /// (`authorization` / `x-api-key`, e.g. a Claude subscription's OAuth
    /// token) is forwarded instead.
    pub client_auth: bool,
    pub timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub rpm: u32,
    pub tpm: u32,
    pub queue_timeout: Duration,
    /// `share_limits = true`: the normalised base URL ([`limit_group`]);
    /// providers with the same one share one `rpm`/`tpm` budget.
    pub limit_group: Option<String>,
    pub health_check_interval: Option<Duration>,
    pub models: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderSource)>,
    /// How `/v1/responses` reaches this provider.
    pub responses: ResponsesMode,
    /// `region` as written (Bedrock's signing region; Vertex's location).
    pub region: Option<String>,
    /// `kind = "bedrock"`: the AWS credential references.
    pub aws: Option<AwsAuth>,
    /// `kind = "azure"`: API version, deployments, auth header.
    pub azure: Option<super::azure::AzureSpec>,
    /// Kind gemini: the tool-schema dialect sent.
    pub gemini_schema: GeminiSchema,
    /// `kind = "vertex"`: its project and region (its service account is
    /// `api_keys[0]`).
    pub vertex: Option<VertexSpec>,
}

/// Where a `kind = "vertex"` provider's models live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VertexSpec {
    pub project: String,
    /// `us-central1`, `europe-west4`, … or `global`.
    pub region: String,
}

impl VertexSpec {
    /// `https://{region}-aiplatform.googleapis.com/v1`, or
    /// `https://aiplatform.googleapis.com/v1` for `global`.
    pub fn default_base_url(&self) -> String {
        if self.region == "global" {
            "https://aiplatform.googleapis.com/v1".to_string()
        } else {
            format!("https://{}-aiplatform.googleapis.com/v1", self.region)
        }
    }
}

/// A project id or region as it goes into a Vertex URL path: lowercase
/// letters, digits, `-`, and for projects also `.` and `:` (domain-scoped
/// projects, `example.com:my-project`).
fn vertex_name(s: &str, project: bool) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'
                || (project && matches!(b, b'.' | b':'))
        })
}

/// The `api_key` value that forwards the client's own credential.
pub const CLIENT_AUTH: &str = "client";

pub use super::bedrock::AwsAuth;

/// Most keys one `api_keys` pool may hold.
pub const MAX_POOL_KEYS: usize = 64;

/// A configured header's value: as written, or a reference resolved like a
/// key (`env:VAR`, `keyring:NAME`) when the runtime is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    Literal(HeaderValue),
    Secret(SecretRef),
}

impl Validator<'_> {
    pub(super) fn providers(
        &mut self,
        raw: &[RawProvider],
        policy: &SsrfPolicy,
    ) -> Vec<ProviderSpec> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let path = format!("providers[{i}]");
            let name = p.name.get_ref();
            if !valid_name(name) {
                self.error(
                    &format!("{path}.name"),
                    &p.name,
                    format!("{name:?}: provider names use a-z, 0-9, '_' and '-'"),
                );
            }
            if !seen.insert(name.clone()) {
                self.error(
                    &format!("{path}.name"),
                    &p.name,
                    format!("duplicate provider {name:?}"),
                );
            }
            let responses = match (p.kind.get_ref(), &p.responses) {
                (ProviderKind::Anthropic, Some(r)) if *r.get_ref() == ResponsesMode::Native => {
                    self.error(
                        &format!("{path}.responses"),
                        r,
                        "Anthropic has no Responses API; omit this or use \"translate\"",
                    );
                    ResponsesMode::Translate
                }
                (ProviderKind::Gemini, Some(r)) if *r.get_ref() == ResponsesMode::Native => {
                    self.error(
                        &format!("{path}.responses"),
                        r,
                        "Gemini has no Responses API; omit this or use \"translate\"",
                    );
                    ResponsesMode::Translate
                }
                (ProviderKind::Vertex, Some(r)) if *r.get_ref() == ResponsesMode::Native => {
                    self.error(
                        &format!("{path}.responses"),
                        r,
                        "Vertex AI has no Responses API; omit this or use \"translate\"",
                    );
                    ResponsesMode::Translate
                }
                (ProviderKind::Bedrock, Some(r)) if *r.get_ref() == ResponsesMode::Native => {
                    self.error(
                        &format!("{path}.responses"),
                        r,
                        "Bedrock has no Responses API; omit this or use \"translate\"",
                    );
                    ResponsesMode::Translate
                }
                (
                    ProviderKind::Anthropic
                    | ProviderKind::Gemini
                    | ProviderKind::Vertex
                    | ProviderKind::Bedrock,
                    _,
                ) => ResponsesMode::Translate,
                (ProviderKind::Openai | ProviderKind::Azure, r) => {
                    r.as_ref().map(|r| *r.get_ref()).unwrap_or_default()
                }
            };
            let gemini_schema = match (&p.gemini_schema, p.kind.get_ref()) {
                (Some(g), ProviderKind::Gemini) => *g.get_ref(),
                (Some(g), _) => {
                    self.error(
                        &format!("{path}.gemini_schema"),
                        g,
                        "gemini_schema applies to kind = \"gemini\" only",
                    );
                    GeminiSchema::default()
                }
                (None, _) => GeminiSchema::default(),
            };
            let vertex = self.vertex(&path, p);
            let default_base;
            let aws = self.bedrock(&path, p);
            let base_src = match &p.base_url {
                Some(b) => b,
                None if *p.kind.get_ref() == ProviderKind::Bedrock => {
                    let region = p.region.as_ref().map_or("", |r| r.get_ref().as_str());
                    default_base =
                        toml::Spanned::new(p.name.span(), super::bedrock::base_url(region));
                    &default_base
                }
                None => {
                    let default = match p.kind.get_ref() {
                        ProviderKind::Gemini => Some(GEMINI_BASE_URL.to_string()),
                        ProviderKind::Vertex => Some(
                            vertex
                                .as_ref()
                                .map(VertexSpec::default_base_url)
                                .unwrap_or_default(),
                        ),
                        _ => None,
                    };
                    if default.is_none() {
                        self.error(
                            &format!("{path}.base_url"),
                            &p.name,
                            "base_url is required (only kind = \"gemini\" and \"vertex\" have a default)",
                        );
                    }
                    default_base = toml::Spanned::new(p.name.span(), default.unwrap_or_default());
                    &default_base
                }
            };
            let base_url = match Url::parse(base_src.get_ref()) {
                _ if base_src.get_ref().is_empty() && p.base_url.is_none() => None,
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    let literal = u.host_str().and_then(|h| {
                        h.trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse::<std::net::IpAddr>()
                            .ok()
                    });
                    if let Some(ip) = literal
                        && let Err(why) = ssrf::check(ip, policy)
                    {
                        self.error(&format!("{path}.base_url"), base_src, why);
                    }
                    if u.query().is_some() || u.fragment().is_some() {
                        self.error(
                            &format!("{path}.base_url"),
                            base_src,
                            "base_url must not have a query or fragment",
                        );
                    }
                    Some(trim_slash(u))
                }
                Ok(_) => {
                    self.error(
                        &format!("{path}.base_url"),
                        base_src,
                        "base_url must be an http:// or https:// URL with a host",
                    );
                    None
                }
                Err(e) => {
                    self.error(
                        &format!("{path}.base_url"),
                        base_src,
                        format!("invalid URL: {e}"),
                    );
                    None
                }
            };
            let client_auth = p
                .api_key
                .as_ref()
                .is_some_and(|k| k.get_ref() == CLIENT_AUTH);
            let mut refs: Vec<(String, &toml::Spanned<String>)> = Vec::new();
            // Vertex: the service account is the provider's one credential.
            if let Some(sa) = p.service_account.as_ref().filter(|_| vertex.is_some()) {
                refs.push((format!("{path}.service_account"), sa));
            }
            match (&p.api_key, &p.api_keys) {
                (Some(k), Some(_)) => self.error(
                    &format!("{path}.api_keys"),
                    k,
                    "api_key and api_keys are exclusive: put every key in api_keys",
                ),
                (Some(_), None) if client_auth => {}
                (Some(k), None) => refs.push((format!("{path}.api_key"), k)),
                (None, Some(pool)) => {
                    if pool.get_ref().is_empty() {
                        self.error(
                            &format!("{path}.api_keys"),
                            pool,
                            "api_keys is empty: list at least one key reference, or omit it",
                        );
                    }
                    if pool.get_ref().len() > MAX_POOL_KEYS {
                        self.error(
                            &format!("{path}.api_keys"),
                            pool,
                            format!("api_keys holds at most {MAX_POOL_KEYS} keys"),
                        );
                    }
                    for (j, k) in pool.get_ref().iter().enumerate() {
                        refs.push((format!("{path}.api_keys[{j}]"), k));
                    }
                }
                (None, None) => {}
            }
            let mut api_keys: Vec<SecretRef> = Vec::new();
            for (field, k) in refs {
                if k.get_ref() == CLIENT_AUTH {
                    self.error(
                        &field,
                        k,
                        "\"client\" goes in api_key alone, not in a key pool",
                    );
                    continue;
                }
                match SecretRef::parse(k.get_ref()) {
                    Ok(r) => {
                        if let SecretRef::Env(var) = &r
                            && std::env::var_os(var).is_none()
                        {
                            self.push(
                                Severity::Warning,
                                &field,
                                Some(k.span()),
                                format!("environment variable {var} is not set; requests to {name:?} will fail over"),
                            );
                        }
                        if api_keys.contains(&r) {
                            self.error(&field, k, format!("{r} is listed twice in this pool"));
                        }
                        api_keys.push(r);
                    }
                    Err(e) => self.error(&field, k, e),
                }
            }
            if p.timeout_s == 0 {
                self.error(
                    &format!("{path}.timeout_s"),
                    &p.name,
                    "timeout_s must be > 0",
                );
            }
            // Upper bounds keep every deadline representable.
            for (field, value, max) in [
                ("timeout_s", p.timeout_s, MAX_SECS),
                (
                    "stream_idle_timeout_s",
                    p.stream_idle_timeout_s.unwrap_or(0),
                    MAX_SECS,
                ),
                ("queue_timeout_ms", p.queue_timeout_ms, MAX_SECS * 1000),
                (
                    "health_check_interval_s",
                    p.health_check_interval_s,
                    MAX_SECS,
                ),
            ] {
                if value > max {
                    self.error(
                        &format!("{path}.{field}"),
                        &p.name,
                        format!("{field} must be at most {max}"),
                    );
                }
            }
            let mut headers = Vec::new();
            for (k, v) in &p.headers {
                if v == "[REDACTED]" {
                    self.error(
                        &format!("{path}.headers.{k}"),
                        &p.name,
                        "this is a redacted copy of the config: put the real value back, or \
                         better a keyring:NAME or env:VAR reference",
                    );
                    continue;
                }
                let source = if v.starts_with("env:") || v.starts_with("keyring:") {
                    match SecretRef::parse(v) {
                        Ok(r) => Ok(HeaderSource::Secret(r)),
                        Err(e) => {
                            self.error(&format!("{path}.headers.{k}"), &p.name, e);
                            continue;
                        }
                    }
                } else {
                    HeaderValue::try_from(v.as_str()).map(|mut v| {
                        v.set_sensitive(true);
                        HeaderSource::Literal(v)
                    })
                };
                match (HeaderName::try_from(k.as_str()), source) {
                    (Ok(k), Ok(v)) => headers.push((k, v)),
                    _ => self.error(
                        &format!("{path}.headers.{k}"),
                        &p.name,
                        "invalid header name or value",
                    ),
                }
            }
            let azure = self.azure(&path, p);
            if let Some(base_url) = base_url {
                let limit_group = p.share_limits.then(|| limit_group(&base_url));
                out.push(ProviderSpec {
                    name: name.clone(),
                    kind: *p.kind.get_ref(),
                    base_url,
                    api_keys,
                    key_rotation: p.key_rotation,
                    enabled: p.enabled,
                    client_auth,
                    timeout: Duration::from_secs(p.timeout_s.max(1)),
                    stream_idle_timeout: Duration::from_secs(
                        p.stream_idle_timeout_s.unwrap_or(p.timeout_s).max(1),
                    ),
                    rpm: p.rpm,
                    tpm: p.tpm,
                    queue_timeout: Duration::from_millis(p.queue_timeout_ms),
                    limit_group,
                    health_check_interval: (p.health_check_interval_s > 0)
                        .then(|| Duration::from_secs(p.health_check_interval_s)),
                    models: p.models.clone(),
                    headers,
                    responses,
                    azure,
                    gemini_schema,
                    vertex,
                    region: p.region.as_ref().map(|r| r.get_ref().clone()),
                    aws,
                });
            }
        }
        self.shared_limits(raw, &out);
        out
    }

    /// `kind = "vertex"`: `project`, `region` and `service_account` are
    /// required and `api_key(s)` refused; other kinds may not set
    /// `project` or `service_account`.
    fn vertex(&mut self, path: &str, p: &RawProvider) -> Option<VertexSpec> {
        if *p.kind.get_ref() != ProviderKind::Vertex {
            for (field, v) in [
                ("project", &p.project),
                ("service_account", &p.service_account),
            ] {
                if let Some(v) = v {
                    self.error(
                        &format!("{path}.{field}"),
                        v,
                        format!("{field} is only for kind = \"vertex\""),
                    );
                }
            }
            return None;
        }
        let mut ok = true;
        if let Some(v) = &p.api_key {
            ok = false;
            self.error(
                &format!("{path}.api_key"),
                v,
                "kind = \"vertex\" authenticates with service_account (a keyring:/env: \
                 reference to the service account's JSON key), not api_key",
            );
        }
        if let Some(v) = &p.api_keys {
            ok = false;
            self.error(
                &format!("{path}.api_keys"),
                v,
                "kind = \"vertex\" authenticates with service_account, not api_keys",
            );
        }
        if p.service_account.is_none() {
            ok = false;
            self.error(
                &format!("{path}.service_account"),
                &p.name,
                "kind = \"vertex\" needs service_account = \"keyring:NAME\" (or env:VAR), \
                 a reference whose value is the service account's JSON key",
            );
        }
        let mut field = |name: &str, v: &Option<toml::Spanned<String>>, project: bool| match v {
            Some(v) if vertex_name(v.get_ref(), project) => Some(v.get_ref().clone()),
            Some(v) => {
                self.error(
                    &format!("{path}.{name}"),
                    v,
                    format!(
                        "{:?} is not a valid {name} (lowercase letters, digits and '-')",
                        v.get_ref()
                    ),
                );
                None
            }
            None => {
                self.error(
                    &format!("{path}.{name}"),
                    &p.name,
                    format!(
                        "kind = \"vertex\" needs {name} (e.g. {})",
                        if project {
                            "\"my-project\""
                        } else {
                            "\"us-central1\" or \"global\""
                        }
                    ),
                );
                None
            }
        };
        let project = field("project", &p.project, true);
        let region = field("region", &p.region, false);
        Some(VertexSpec {
            project: project?,
            region: region?,
        })
        .filter(|_| ok)
    }

    /// Providers sharing one budget must agree on it.
    fn shared_limits(&mut self, raw: &[RawProvider], specs: &[ProviderSpec]) {
        for (i, p) in specs.iter().enumerate() {
            let Some(group) = &p.limit_group else {
                continue;
            };
            let Some(first) = specs[..i]
                .iter()
                .find(|q| q.limit_group.as_ref() == Some(group))
            else {
                continue;
            };
            if (first.rpm, first.tpm) != (p.rpm, p.tpm) {
                let at = raw.iter().position(|r| r.name.get_ref() == &p.name);
                if let Some(r) = at.and_then(|k| raw.get(k).map(|r| (k, r))) {
                    self.error(
                        &format!("providers[{}].share_limits", r.0),
                        &r.1.name,
                        format!(
                            "providers {:?} and {:?} share limits (both on {group}) but set \
                             different rpm/tpm ({}/{} and {}/{}): set the same on both",
                            first.name, p.name, first.rpm, first.tpm, p.rpm, p.tpm
                        ),
                    );
                }
            }
        }
    }
}

/// A base URL as one upstream account: scheme, host, port (the default one
/// made explicit) and path, lowercased, without a trailing slash.
pub fn limit_group(url: &Url) -> String {
    let port = url.port_or_known_default().unwrap_or(0);
    let host = url.host_str().unwrap_or_default();
    format!("{}://{host}:{port}{}", url.scheme(), url.path())
        .to_ascii_lowercase()
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    /// The docs' `[limits]` example: both OpenAI entries land in one limit
    /// group; malformed model limits are errors at their path.
    #[test]
    fn share_limits_group_by_normalised_base_url_and_model_limits_validate() {
        let p = |name: &str, url: &str, share: bool| {
            format!(
                "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{url}\"\nrpm = 5\nshare_limits = {share}\n"
            )
        };
        let src = format!(
            "[limits]\ningress_tpm = 10\n[[limits.models]]\nmodel = \"gpt-5*\"\nrpm = 1\n{}{}{}",
            p("a", "https://api.openai.com/v1", true),
            p("b", "HTTPS://API.openai.com:443/v1/", true),
            p("c", "https://api.openai.com/v1", false),
        );
        let c = Config::parse(&src, "t.toml").unwrap();
        let g: Vec<_> = c.providers.iter().map(|p| p.limit_group.clone()).collect();
        assert_eq!(g[0].as_deref(), Some("https://api.openai.com:443/v1"));
        assert_eq!(g[0], g[1]);
        assert_eq!(g[2], None);
        assert_eq!(c.limits.ingress_tpm, 10);
        assert_eq!(c.limits.models[0].model, "gpt-5*");
        for (bad, path) in [
            ("model = \"a*b*\"\nrpm = 1", "limits.models[0].model"),
            ("model = \"m\"", "limits.models[0].model"),
        ] {
            let e = Config::parse(&format!("[[limits.models]]\n{bad}\n"), "t.toml").unwrap_err();
            assert!(e.issues.iter().any(|i| i.path == path), "{bad}: {e:?}");
        }
    }

    /// IP-literal base URLs that carry a refused IPv4 address inside IPv6,
    /// or sit in 0.0.0.0/8, fail validation; loopback and public pass.
    #[test]
    fn base_urls_carrying_refused_ipv4_fail_validation() {
        let with = |url: &str| {
            format!(
                "[server]\nallow_private_upstreams = [\"0.0.0.0/0\", \"::/0\"]\n[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"{url}\"\n"
            )
        };
        for bad in [
            "http://0.0.0.0:8080/v1",
            "http://0.1.2.3/v1",
            "http://[::169.254.169.254]/v1",
            "http://[64:ff9b::a9fe:a9fe]/v1",
            "http://[64:ff9b:1::a9fe:a9fe]/v1",
            "http://[2002:a9fe:a9fe::1]/v1",
            "http://[2001:0:a9fe:a9fe::f7f7:f7f7]/v1",
            "http://[2001:0:808:808::5601:5601]/v1",
        ] {
            let e = Config::parse(&with(bad), "x").unwrap_err();
            let i = e.issues.iter().find(|i| i.path == "providers[0].base_url");
            assert!(i.is_some_and(|i| i.message.contains("SSRF")), "{bad}: {e}");
        }
        for good in [
            "http://127.0.0.1:11434/v1",
            "http://[::1]:11434/v1",
            "https://[64:ff9b::808:808]/v1",
        ] {
            Config::parse(&with(good), "x").unwrap();
        }
        // private ranges carried in IPv6 need the allow list
        let e = Config::parse(
            "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://[2002:a00:1::1]/v1\"\n",
            "x",
        )
        .unwrap_err();
        assert!(e.to_string().contains("allow_private_upstreams"), "{e}");
    }
}
