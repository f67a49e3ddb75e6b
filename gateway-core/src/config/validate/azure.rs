//! `kind = "azure"` settings: `api_version`, `deployments`, `azure_auth`
//! (refused on other kinds).

use std::collections::BTreeMap;

use super::super::raw::{AzureAuth, ProviderKind, RawProvider};
use super::Validator;

/// Most entries one `deployments` map may hold.
pub const MAX_DEPLOYMENTS: usize = 256;
/// Longest deployment name (Azure's own limit is 64).
pub const MAX_DEPLOYMENT_LEN: usize = 64;

/// Which of Azure OpenAI's APIs a provider calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureApi {
    /// `/openai/v1/…`, no `api-version`, the deployment as the body's `model`.
    V1,
    /// `/openai/v1/…?api-version=preview`.
    Preview,
    /// `/openai/deployments/{deployment}/…?api-version=DATE` (Responses:
    /// `/openai/responses?api-version=DATE`).
    Dated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSpec {
    pub api: AzureApi,
    /// Model name → deployment name.
    pub deployments: BTreeMap<String, String>,
    pub auth: AzureAuth,
}

impl AzureSpec {
    /// The deployment that serves `model` (itself without an entry).
    pub fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }
}

/// A deployment name as Azure allows it: letters, digits, `-`, `_`, `.`.
fn valid_deployment(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DEPLOYMENT_LEN
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`.
fn dated(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

impl Validator<'_> {
    /// The Azure settings of `providers[i]`: `Some` for `kind = "azure"`;
    /// on other kinds each Azure field is an error.
    pub(super) fn azure(&mut self, path: &str, p: &RawProvider) -> Option<AzureSpec> {
        if *p.kind.get_ref() != ProviderKind::Azure {
            let only = "is only for kind = \"azure\"";
            if let Some(v) = &p.api_version {
                self.error(
                    &format!("{path}.api_version"),
                    v,
                    format!("api_version {only}"),
                );
            }
            if let Some(v) = &p.deployments {
                self.error(
                    &format!("{path}.deployments"),
                    v,
                    format!("deployments {only}"),
                );
            }
            if let Some(v) = &p.azure_auth {
                self.error(
                    &format!("{path}.azure_auth"),
                    v,
                    format!("azure_auth {only}"),
                );
            }
            return None;
        }
        let api = match &p.api_version {
            None => AzureApi::V1,
            Some(v) => match v.get_ref().as_str() {
                "v1" => AzureApi::V1,
                "preview" => AzureApi::Preview,
                d if dated(d) => AzureApi::Dated(d.to_string()),
                other => {
                    self.error(
                        &format!("{path}.api_version"),
                        v,
                        format!(
                            "{other:?}: api_version is \"v1\", \"preview\" or a dated version \
                             such as \"2024-10-21\" or \"2025-04-01-preview\""
                        ),
                    );
                    AzureApi::V1
                }
            },
        };
        let mut deployments = BTreeMap::new();
        if let Some(map) = &p.deployments {
            let field = format!("{path}.deployments");
            if map.get_ref().len() > MAX_DEPLOYMENTS {
                self.error(
                    &field,
                    map,
                    format!("deployments holds at most {MAX_DEPLOYMENTS} entries"),
                );
            }
            for (model, dep) in map.get_ref() {
                if model.is_empty() || model.len() > 256 {
                    self.error(
                        &field,
                        map,
                        "a model name in deployments is empty or too long",
                    );
                } else if !valid_deployment(dep) {
                    self.error(
                        &format!("{field}.{model}"),
                        map,
                        format!(
                            "{dep:?}: a deployment name has 1 to {MAX_DEPLOYMENT_LEN} letters, \
                             digits, '-', '_' or '.'"
                        ),
                    );
                } else {
                    deployments.insert(model.clone(), dep.clone());
                }
            }
        }
        Some(AzureSpec {
            api,
            deployments,
            auth: p
                .azure_auth
                .as_ref()
                .map(|a| *a.get_ref())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn azure(extra: &str) -> Result<Config, super::super::ConfigError> {
        Config::parse(
            &format!(
                "[[providers]]\nname = \"az\"\nkind = \"azure\"\nbase_url = \"https://res.openai.azure.com\"\napi_key = \"env:AZ_KEY\"\n{extra}"
            ),
            "t.toml",
        )
    }

    #[test]
    fn azure_settings_validate_at_their_path() {
        let c = azure(
            "api_version = \"2024-10-21\"\nazure_auth = \"entra\"\ndeployments = { \"gpt-4o\" = \"prod-gpt4o\" }\n",
        )
        .unwrap();
        let a = c.providers[0].azure.as_ref().unwrap();
        assert_eq!(a.api, AzureApi::Dated("2024-10-21".into()));
        assert_eq!(a.auth, AzureAuth::Entra);
        assert_eq!(a.deployment("gpt-4o"), "prod-gpt4o");
        assert_eq!(a.deployment("gpt-4.1"), "gpt-4.1");
        let d = azure("").unwrap();
        let a = d.providers[0].azure.as_ref().unwrap();
        assert_eq!((&a.api, a.auth), (&AzureApi::V1, AzureAuth::ApiKey));
        assert_eq!(
            azure("api_version = \"preview\"").unwrap().providers[0]
                .azure
                .as_ref()
                .unwrap()
                .api,
            AzureApi::Preview
        );
        azure("api_version = \"2025-04-01-preview\"").unwrap();
        for (bad, path) in [
            ("api_version = \"latest\"", "providers[0].api_version"),
            ("api_version = \"2024-1-021\"", "providers[0].api_version"),
            (
                "deployments = { m = \"a/b\" }",
                "providers[0].deployments.m",
            ),
            ("deployments = { m = \"\" }", "providers[0].deployments.m"),
            ("azure_auth = \"oauth\"", "providers[0].azure_auth"),
        ] {
            let e = azure(bad).unwrap_err();
            assert!(
                e.issues
                    .iter()
                    .any(|i| i.path == path || i.message.contains("unknown variant `oauth`")),
                "{bad}: {e}"
            );
        }
        let many: Vec<String> = (0..=MAX_DEPLOYMENTS)
            .map(|i| format!("m{i} = \"d{i}\""))
            .collect();
        let e = azure(&format!("deployments = {{ {} }}", many.join(", "))).unwrap_err();
        assert!(e.to_string().contains("at most 256"), "{e}");
        // The Azure fields belong to kind = "azure" alone.
        let e = Config::parse(
            "[[providers]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_version = \"v1\"\ndeployments = { a = \"b\" }\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(
            e.issues
                .iter()
                .any(|i| i.path == "providers[0].api_version"),
            "{e}"
        );
        assert!(
            e.issues
                .iter()
                .any(|i| i.path == "providers[0].deployments"),
            "{e}"
        );
        // Azure needs its resource's URL.
        let e = Config::parse("[[providers]]\nname = \"a\"\nkind = \"azure\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("base_url is required"), "{e}");
    }
}
