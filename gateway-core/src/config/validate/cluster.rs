//! `[cluster]`: the shared engines of a team deployment (docs/deploy-team.md).

use reqwest::Url;
use toml::Spanned;

use super::Validator;
use crate::config::raw::RawCluster;
use crate::secrets::{Secret, SecretError, SecretRef};

/// Schemes `[cluster] redis_url` accepts (`…s` = TLS).
pub const REDIS_SCHEMES: &[&str] = &["redis", "rediss", "valkey", "valkeys"];
/// Schemes `[cluster] postgres_url` accepts.
pub const POSTGRES_SCHEMES: &[&str] = &["postgres", "postgresql"];
/// The longest engine URL (bytes).
pub const MAX_ENGINE_URL: usize = 2048;

/// Where an engine URL comes from: written out (no password in it) or a
/// reference to the whole URL.
#[derive(Clone, PartialEq, Eq)]
pub enum EngineUrl {
    Literal(String),
    Ref(SecretRef),
}

impl std::fmt::Debug for EngineUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Literal(u) => write!(f, "{u:?}"),
            Self::Ref(r) => write!(f, "{r:?}"),
        }
    }
}

impl EngineUrl {
    /// The URL to connect to. A referenced URL is checked for its scheme
    /// again (it was not seen at validation).
    pub fn resolve(&self, schemes: &[&str]) -> Result<Secret, SecretError> {
        match self {
            Self::Literal(u) => Ok(Secret::new(u.as_str())),
            Self::Ref(r) => {
                let s = r.resolve()?;
                match check_url(s.expose(), schemes, true) {
                    Ok(()) => Ok(s),
                    Err(m) => Err(SecretError::Missing(format!("{r:?}: {m}"))),
                }
            }
        }
    }
}

/// The validated `[cluster]` section. Both engines absent = single node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    pub redis_url: Option<EngineUrl>,
    pub postgres_url: Option<EngineUrl>,
    pub replica_id: Option<String>,
}

impl ClusterConfig {
    pub fn is_enabled(&self) -> bool {
        self.redis_url.is_some() || self.postgres_url.is_some()
    }
}

/// Checks an engine URL's scheme and host; a written-out URL may not carry
/// a password (`allow_password` is set for referenced ones).
pub fn check_url(s: &str, schemes: &[&str], allow_password: bool) -> Result<(), String> {
    if s.len() > MAX_ENGINE_URL {
        return Err(format!("longer than {MAX_ENGINE_URL} bytes"));
    }
    let url = Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "scheme {:?} is not one of {}",
            url.scheme(),
            schemes.join(", ")
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !allow_password && url.password().is_some() {
        return Err(
            "the URL carries a password: keep the whole URL in the keychain \
             (`aigw keys set NAME`, then \"keyring:NAME\") or an environment \
             variable (\"env:VAR\")"
                .into(),
        );
    }
    Ok(())
}

impl Validator<'_> {
    pub(super) fn cluster(&mut self, raw: &RawCluster) -> ClusterConfig {
        let engine = |v: &mut Self, path: &str, at: &Option<Spanned<String>>, schemes| {
            let at = at.as_ref()?;
            let s = at.get_ref().trim();
            if s.starts_with("env:") || s.starts_with("keyring:") {
                return match SecretRef::parse(s) {
                    Ok(r) => Some(EngineUrl::Ref(r)),
                    Err(m) => {
                        v.error(path, at, m);
                        None
                    }
                };
            }
            match check_url(s, schemes, false) {
                Ok(()) => Some(EngineUrl::Literal(s.to_string())),
                Err(m) => {
                    v.error(path, at, m);
                    None
                }
            }
        };
        let redis_url = engine(self, "cluster.redis_url", &raw.redis_url, REDIS_SCHEMES);
        let postgres_url = engine(
            self,
            "cluster.postgres_url",
            &raw.postgres_url,
            POSTGRES_SCHEMES,
        );
        let replica_id = raw.replica_id.as_ref().and_then(|r| {
            let id = r.get_ref();
            let ok = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if ok {
                Some(id.clone())
            } else {
                self.error(
                    "cluster.replica_id",
                    r,
                    "1-64 letters, digits, '-', '_' or '.'",
                );
                None
            }
        });
        ClusterConfig {
            redis_url,
            postgres_url,
            replica_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(section: &str) -> Result<Config, String> {
        Config::parse(&format!("[cluster]\n{section}\n"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn urls_without_passwords_and_references_are_taken() {
        let c = parse(
            "redis_url = \"rediss://cache.internal:6380/0\"\npostgres_url = \"env:AIGW_PG\"\nreplica_id = \"gw-1\"",
        )
        .unwrap();
        assert!(c.cluster.is_enabled());
        assert_eq!(c.cluster.replica_id.as_deref(), Some("gw-1"));
        assert!(matches!(
            c.cluster.postgres_url,
            Some(super::EngineUrl::Ref(_))
        ));
        assert!(!parse("").unwrap().cluster.is_enabled());
    }

    #[test]
    fn passwords_bad_schemes_and_ids_are_refused() {
        let e = parse("redis_url = \"redis://:hunter2@127.0.0.1:6379\"").unwrap_err();
        assert!(e.contains("carries a password"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("postgres_url = \"mysql://db/x\"").unwrap_err();
        assert!(e.contains("scheme"), "{e}");
        let e = parse("redis_url = \"redis://\"").unwrap_err();
        assert!(e.contains("no host") || e.contains("not a URL"), "{e}");
        let e = parse("replica_id = \"a b\"").unwrap_err();
        assert!(e.contains("cluster.replica_id"), "{e}");
    }
}
