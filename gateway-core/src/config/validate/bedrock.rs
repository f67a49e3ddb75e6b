//! `kind = "bedrock"`: the region and the AWS credential references
//! (`access_key_id`, `secret_access_key`, optional `session_token`, each a
//! `keyring:`/`env:` reference, never a value), and the keys the other
//! kinds use refused here.

use super::super::raw::{ProviderKind, RawProvider};
use super::{Severity, Validator};
use crate::secrets::SecretRef;

/// A Bedrock provider's credentials, as references resolved when the
/// runtime is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAuth {
    pub access_key_id: SecretRef,
    pub secret_access_key: SecretRef,
    pub session_token: Option<SecretRef>,
}

/// The Bedrock Runtime endpoint of `region`.
pub fn base_url(region: &str) -> String {
    if region.is_empty() {
        return String::new();
    }
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: lowercase letters, digits
/// and dashes, at most 32 bytes (it goes into a host name).
fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-')
}

impl Validator<'_> {
    /// The Bedrock fields of provider `p` at `path`: checked for a bedrock
    /// provider (`None` on any error), refused on another kind (but
    /// `region`, which Vertex uses too).
    pub(super) fn bedrock(&mut self, path: &str, p: &RawProvider) -> Option<AwsAuth> {
        let creds = [
            ("access_key_id", &p.access_key_id),
            ("secret_access_key", &p.secret_access_key),
            ("session_token", &p.session_token),
        ];
        if *p.kind.get_ref() != ProviderKind::Bedrock {
            for (field, v) in creds {
                if let Some(v) = v {
                    self.error(
                        &format!("{path}.{field}"),
                        v,
                        format!("{field} is for kind = \"bedrock\" only"),
                    );
                }
            }
            return None;
        }
        let mut ok = true;
        match &p.region {
            None => {
                self.error(
                    &format!("{path}.region"),
                    &p.name,
                    "kind = \"bedrock\" needs region (e.g. region = \"us-east-1\")",
                );
                ok = false;
            }
            Some(r) if !valid_region(r.get_ref()) => {
                self.error(
                    &format!("{path}.region"),
                    r,
                    format!(
                        "{:?} is not an AWS region (lowercase letters, digits and '-', like us-east-1)",
                        r.get_ref()
                    ),
                );
                ok = false;
            }
            Some(_) => {}
        }
        for (field, v) in [("api_key", &p.api_key)] {
            if let Some(v) = v {
                self.error(
                    &format!("{path}.{field}"),
                    v,
                    "kind = \"bedrock\" signs with AWS credentials: use access_key_id and \
                     secret_access_key (references), not api_key",
                );
                ok = false;
            }
        }
        if let Some(v) = &p.api_keys {
            self.error(
                &format!("{path}.api_keys"),
                v,
                "kind = \"bedrock\" signs with AWS credentials: use access_key_id and \
                 secret_access_key (references), not api_keys",
            );
            ok = false;
        }
        let mut refs: Vec<Option<SecretRef>> = Vec::new();
        for (field, v) in creds {
            let Some(v) = v else {
                if field != "session_token" {
                    self.error(
                        &format!("{path}.{field}"),
                        &p.name,
                        format!(
                            "kind = \"bedrock\" needs {field}, a keyring:NAME or env:VAR reference"
                        ),
                    );
                    ok = false;
                }
                refs.push(None);
                continue;
            };
            match SecretRef::parse(v.get_ref()) {
                Ok(r) => {
                    if let SecretRef::Env(var) = &r
                        && std::env::var_os(var).is_none()
                    {
                        self.push(
                            Severity::Warning,
                            &format!("{path}.{field}"),
                            Some(v.span()),
                            format!(
                                "environment variable {var} is not set; requests to {:?} will fail over",
                                p.name.get_ref()
                            ),
                        );
                    }
                    refs.push(Some(r));
                }
                Err(e) => {
                    self.error(
                        &format!("{path}.{field}"),
                        v,
                        format!("{e} (credentials are references, never values in config)"),
                    );
                    ok = false;
                    refs.push(None);
                }
            }
        }
        let mut refs = refs.into_iter();
        let (Some(Some(access_key_id)), Some(Some(secret_access_key)), Some(session_token)) =
            (refs.next(), refs.next(), refs.next())
        else {
            return None;
        };
        ok.then_some(AwsAuth {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }
}
