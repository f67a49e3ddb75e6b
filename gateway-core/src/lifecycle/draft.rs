//! Structured edits for the UI: operations applied to the live TOML with
//! `toml_edit`, so comments and layout survive and nobody hand-writes TOML
//! in a browser. A draft is only text: it is previewed, then published
//! through the normal lifecycle (validated, versioned, audited).

use serde::Deserialize;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// One structured edit (`POST /config/draft` takes a list of them).
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "DraftOp"))]
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    UpsertProvider {
        provider: Box<ProviderDraft>,
    },
    RemoveProvider {
        name: String,
    },
    /// The provider's on/off switch: `false` writes `enabled = false`,
    /// `true` removes the line (the default).
    SetProviderEnabled {
        name: String,
        enabled: bool,
    },
    UpsertRoute {
        route: RouteDraft,
        /// Edit `profiles.NAME.routes` instead of the top-level routes.
        #[cfg_attr(test, ts(optional = nullable))]
        #[serde(default)]
        profile: Option<String>,
    },
    RemoveRoute {
        model: String,
        #[cfg_attr(test, ts(optional = nullable))]
        #[serde(default)]
        profile: Option<String>,
    },
}

/// A provider's table as an edit sets it; absent fields are left alone.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderDraft {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    /// `keyring:NAME`, `env:VAR`, or null for keyless servers.
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(default)]
    pub api_key: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub timeout_s: Option<i64>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub rpm: Option<i64>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub tpm: Option<i64>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// `kind = "vertex"`: project, region, and the service account's
    /// reference (set when given; the kind's other fields are removed when
    /// the kind changes away from it).
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub project: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub service_account: Option<String>,
    /// `kind = "bedrock"` (and Vertex's location): the region; `""`
    /// removes the key, absent leaves it.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub region: Option<String>,
    /// `kind = "bedrock"`: the credential references (`keyring:NAME` /
    /// `env:VAR`); `""` removes one, absent leaves it.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub session_token: Option<String>,
    /// `kind = "azure"`: an empty string removes the key.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub api_version: Option<String>,
    /// `kind = "azure"`: model → deployment; an empty map removes the key.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub deployments: Option<std::collections::BTreeMap<String, String>>,
}

/// A route as an edit sets it; absent scalar fields keep their lines.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct RouteDraft {
    pub model: String,
    /// Any string is taken and written; validation refuses an unknown one.
    /// The UI sends only the strategies there are.
    #[cfg_attr(test, ts(as = "Option<crate::config::Strategy>", optional))]
    #[serde(default)]
    pub strategy: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub cooldown_s: Option<i64>,
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub retries: Option<i64>,
    /// `false` writes `sticky = false`; `true` removes the key (the
    /// default); absent leaves the line as it is.
    #[cfg_attr(test, ts(optional))]
    #[serde(default)]
    pub sticky: Option<bool>,
    pub targets: Vec<TargetDraft>,
}

/// A route's target as an edit sets it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct TargetDraft {
    pub provider: String,
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(default)]
    pub model: Option<String>,
    #[cfg_attr(test, ts(optional = nullable))]
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("the base config is not valid TOML: {0}")]
    Parse(String),
    #[error("`{0}` is not an array of tables in this config")]
    Shape(String),
    #[error("nothing named {0:?} to remove")]
    Missing(String),
}

/// Applies `ops` in order to `base`.
pub fn apply(base: &str, ops: &[Op]) -> Result<String, DraftError> {
    let mut doc: DocumentMut = base
        .parse()
        .map_err(|e: toml_edit::TomlError| DraftError::Parse(e.to_string()))?;
    for op in ops {
        match op {
            Op::UpsertProvider { provider } => upsert_provider(&mut doc, provider)?,
            Op::RemoveProvider { name } => {
                let arr = array(doc.as_table_mut(), "providers")?;
                remove_where(arr, "name", name)?;
            }
            Op::SetProviderEnabled { name, enabled } => {
                let arr = array(doc.as_table_mut(), "providers")?;
                let t = find(arr, "name", name).ok_or_else(|| DraftError::Missing(name.clone()))?;
                if *enabled {
                    t.remove("enabled");
                } else {
                    t.insert("enabled", value(false));
                }
            }
            Op::UpsertRoute { route, profile } => {
                let arr = routes(&mut doc, profile.as_deref())?;
                upsert_route(arr, route);
            }
            Op::RemoveRoute { model, profile } => {
                let arr = routes(&mut doc, profile.as_deref())?;
                remove_where(arr, "model", model)?;
            }
        }
    }
    Ok(doc.to_string())
}

/// The array of tables at `key`, created when absent.
fn array<'a>(t: &'a mut Table, key: &str) -> Result<&'a mut ArrayOfTables, DraftError> {
    t.entry(key)
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| DraftError::Shape(key.to_string()))
}

fn routes<'a>(
    doc: &'a mut DocumentMut,
    profile: Option<&str>,
) -> Result<&'a mut ArrayOfTables, DraftError> {
    match profile {
        None => array(doc.as_table_mut(), "routes"),
        Some(p) => {
            let profiles = doc
                .as_table_mut()
                .entry("profiles")
                .or_insert_with(|| {
                    let mut t = Table::new();
                    t.set_implicit(true);
                    Item::Table(t)
                })
                .as_table_mut()
                .ok_or_else(|| DraftError::Shape("profiles".into()))?;
            let prof = profiles
                .entry(p)
                .or_insert(Item::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| DraftError::Shape(format!("profiles.{p}")))?;
            array(prof, "routes")
        }
    }
}

fn find<'a>(arr: &'a mut ArrayOfTables, key: &str, name: &str) -> Option<&'a mut Table> {
    arr.iter_mut()
        .find(|t| t.get(key).and_then(|v| v.as_str()) == Some(name))
}

fn remove_where(arr: &mut ArrayOfTables, key: &str, name: &str) -> Result<(), DraftError> {
    let idx = arr
        .iter()
        .position(|t| t.get(key).and_then(|v| v.as_str()) == Some(name))
        .ok_or_else(|| DraftError::Missing(name.to_string()))?;
    arr.remove(idx);
    Ok(())
}

fn set_opt_int(t: &mut Table, key: &str, v: Option<i64>) {
    if let Some(v) = v {
        t.insert(key, value(v));
    }
}

fn upsert_provider(doc: &mut DocumentMut, p: &ProviderDraft) -> Result<(), DraftError> {
    let arr = array(doc.as_table_mut(), "providers")?;
    if find(arr, "name", &p.name).is_none() {
        let mut t = Table::new();
        t.insert("name", value(p.name.as_str()));
        arr.push(t);
    }
    let t = find(arr, "name", &p.name).ok_or_else(|| DraftError::Missing(p.name.clone()))?;
    t.insert("kind", value(p.kind.as_str()));
    // Kinds with a default base URL (gemini, vertex) may leave it out.
    if p.base_url.is_empty() {
        t.remove("base_url");
    } else {
        t.insert("base_url", value(p.base_url.as_str()));
    }
    for (key, v) in [
        ("project", &p.project),
        ("region", &p.region),
        ("service_account", &p.service_account),
    ] {
        if let Some(v) = v {
            t.insert(key, value(v.as_str()));
        }
    }
    if p.kind != "vertex" {
        t.remove("project");
        t.remove("service_account");
        if p.kind != "bedrock" {
            t.remove("region");
        }
    }
    match &p.api_key {
        // A key pool is edited in the TOML; the form's one key leaves it be.
        Some(_) if t.contains_key("api_keys") => {}
        Some(k) => {
            t.insert("api_key", value(k.as_str()));
        }
        None => {
            t.remove("api_key");
        }
    }
    // Bedrock's region and credential references: `""` removes one, absent
    // leaves it; a kind that is not bedrock has none.
    const AWS: [&str; 3] = ["access_key_id", "secret_access_key", "session_token"];
    if p.kind == "bedrock" {
        for (k, v) in [
            ("region", &p.region),
            (AWS[0], &p.access_key_id),
            (AWS[1], &p.secret_access_key),
            (AWS[2], &p.session_token),
        ] {
            match v.as_deref() {
                Some("") => {
                    t.remove(k);
                }
                Some(v) => {
                    t.insert(k, value(v));
                }
                None => {}
            }
        }
    } else {
        for k in AWS {
            t.remove(k);
        }
    }
    set_opt_int(t, "timeout_s", p.timeout_s);
    set_opt_int(t, "rpm", p.rpm);
    set_opt_int(t, "tpm", p.tpm);
    if let Some(models) = &p.models {
        let mut a = toml_edit::Array::new();
        for m in models {
            a.push(m.as_str());
        }
        t.insert("models", value(a));
    }
    if p.kind != "azure" {
        t.remove("api_version");
        t.remove("deployments");
    }
    match p.api_version.as_deref() {
        Some("") => {
            t.remove("api_version");
        }
        Some(v) => {
            t.insert("api_version", value(v));
        }
        None => {}
    }
    match &p.deployments {
        Some(d) if d.is_empty() => {
            t.remove("deployments");
        }
        Some(d) => {
            let mut map = toml_edit::InlineTable::new();
            for (model, dep) in d {
                map.insert(model, dep.as_str().into());
            }
            t.insert("deployments", value(map));
        }
        None => {}
    }
    Ok(())
}

fn upsert_route(arr: &mut ArrayOfTables, r: &RouteDraft) {
    if find(arr, "model", &r.model).is_none() {
        let mut t = Table::new();
        t.insert("model", value(r.model.as_str()));
        arr.push(t);
    }
    let Some(t) = find(arr, "model", &r.model) else {
        return;
    };
    if let Some(s) = &r.strategy {
        t.insert("strategy", value(s.as_str()));
    }
    set_opt_int(t, "cooldown_s", r.cooldown_s);
    set_opt_int(t, "retries", r.retries);
    match r.sticky {
        Some(false) => {
            t.insert("sticky", value(false));
        }
        Some(true) => {
            t.remove("sticky");
        }
        None => {}
    }
    let mut targets = ArrayOfTables::new();
    for target in &r.targets {
        let mut tt = Table::new();
        tt.insert("provider", value(target.provider.as_str()));
        if let Some(m) = &target.model {
            tt.insert("model", value(m.as_str()));
        }
        set_opt_int(&mut tt, "weight", target.weight);
        targets.push(tt);
    }
    t.insert("targets", Item::ArrayOfTables(targets));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const BASE: &str = "# my config\n[server]\nlisten = \"127.0.0.1:4000\" # keep me\n\n[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\n[[routes]]\nmodel = \"m\"\n[[routes.targets]]\nprovider = \"a\"\n";

    fn ops(json: &str) -> Vec<Op> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn adds_provider_and_reorders_route_keeping_comments() {
        let out = apply(
            BASE,
            &ops(r#"[
              {"op":"upsert_provider","provider":{"name":"ollama","kind":"openai","base_url":"http://127.0.0.1:11434/v1","models":["llama3.1:8b"]}},
              {"op":"upsert_route","route":{"model":"m","strategy":"priority","cooldown_s":10,"targets":[{"provider":"ollama","model":"llama3.1:8b"},{"provider":"a"}]}}
            ]"#),
        )
        .unwrap();
        assert!(
            out.starts_with("# my config\n") && out.contains("# keep me"),
            "{out}"
        );
        let c = Config::parse(&out, "draft").unwrap();
        assert_eq!(c.providers.len(), 2);
        assert_eq!(c.routes[0].targets[0].provider, "ollama");
        assert_eq!(c.routes[0].targets[0].model.as_deref(), Some("llama3.1:8b"));
        assert_eq!(c.routes[0].targets[1].provider, "a");
        assert_eq!(c.routes[0].cooldown.as_secs(), 10);
    }

    #[test]
    fn a_bedrock_provider_is_drafted_with_its_region_and_credential_references() {
        let out = apply(
            BASE,
            &ops(
                r#"[{"op":"upsert_provider","provider":{"name":"bedrock","kind":"bedrock",
              "base_url":"https://bedrock-runtime.eu-west-1.amazonaws.com","api_key":null,
              "region":"eu-west-1","access_key_id":"keyring:aws-id",
              "secret_access_key":"keyring:aws-secret","session_token":""}}]"#,
            ),
        )
        .unwrap();
        let c = Config::parse(&out, "draft").unwrap();
        let p = &c.providers[1];
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        let aws = p.aws.as_ref().unwrap();
        assert_eq!(aws.access_key_id.to_string(), "keyring:aws-id");
        assert!(aws.session_token.is_none());
        assert!(!out.contains("session_token"), "{out}");
        // An edit that names no credentials leaves them as they are.
        let out = apply(
            &out,
            &ops(
                r#"[{"op":"upsert_provider","provider":{"name":"bedrock","kind":"bedrock",
              "base_url":"https://bedrock-runtime.eu-west-1.amazonaws.com","timeout_s":90}}]"#,
            ),
        )
        .unwrap();
        assert!(
            out.contains("secret_access_key = \"keyring:aws-secret\""),
            "{out}"
        );
        // Another kind drops the region and the AWS references.
        let out = apply(
            &out,
            &ops(
                r#"[{"op":"upsert_provider","provider":{"name":"bedrock","kind":"openai",
              "base_url":"https://api.example.com/v1","access_key_id":"keyring:aws-id"}}]"#,
            ),
        )
        .unwrap();
        Config::parse(&out, "draft").unwrap();
        for gone in [
            "region",
            "access_key_id",
            "secret_access_key",
            "session_token",
        ] {
            assert!(!out.contains(gone), "{gone}: {out}");
        }
    }

    #[test]
    fn a_route_edit_keeps_its_error_rules_and_class_targets() {
        let base = BASE.replace(
            "model = \"m\"\n",
            "model = \"m\"\nfallback_on = [\"content_filter\"]\nmax_elapsed_s = 9\n",
        ) + "[routes.fallback_targets]\ncontext_length_exceeded = [\"a/big\"]\n";
        Config::parse(&base, "base").unwrap();
        let out = apply(
            &base,
            &ops(r#"[{"op":"upsert_route","route":{"model":"m","strategy":"cost","targets":[{"provider":"a","model":"x"}]}}]"#),
        )
        .unwrap();
        let c = Config::parse(&out, "draft").unwrap();
        let r = &c.routes[0];
        assert_eq!(r.strategy, crate::config::Strategy::Cost);
        assert_eq!(r.targets[0].model.as_deref(), Some("x"));
        assert_eq!(r.errors.fallback_on.len(), 2, "{out}");
        assert_eq!(r.errors.max_elapsed.map(|d| d.as_secs()), Some(9));
        assert_eq!(
            r.errors.fallback_targets[0].1[0].model.as_deref(),
            Some("big")
        );
    }

    /// The UI's Vertex preset: no base URL (the region's default), the
    /// service account instead of a key; an edit without the Vertex fields
    /// keeps them, a change of kind drops them.
    #[test]
    fn a_vertex_provider_from_the_form() {
        let add = r#"[{"op":"upsert_provider","provider":{"name":"vx","kind":"vertex","base_url":"","api_key":null,"service_account":"keyring:vertex-sa","project":"my-project","region":"us-east5"}}]"#;
        let out = apply(BASE, &ops(add)).unwrap();
        let c = Config::parse(&out, "d").unwrap();
        let p = &c.providers[1];
        assert_eq!(
            p.base_url.as_str(),
            "https://us-east5-aiplatform.googleapis.com/v1"
        );
        assert_eq!(p.api_keys[0].to_string(), "keyring:vertex-sa");
        let v = p.vertex.as_ref().unwrap();
        assert_eq!(
            (v.project.as_str(), v.region.as_str()),
            ("my-project", "us-east5")
        );
        let edit = r#"[{"op":"upsert_provider","provider":{"name":"vx","kind":"vertex","base_url":"","api_key":null,"timeout_s":9}}]"#;
        let out = apply(&out, &ops(edit)).unwrap();
        let c = Config::parse(&out, "d").unwrap();
        assert_eq!(c.providers[1].vertex.as_ref(), Some(v));
        assert_eq!(c.providers[1].timeout.as_secs(), 9);
        let away = r#"[{"op":"upsert_provider","provider":{"name":"vx","kind":"openai","base_url":"http://127.0.0.1:3/v1","api_key":null}}]"#;
        let out = apply(&out, &ops(away)).unwrap();
        for gone in ["project", "region", "service_account"] {
            assert!(!out.contains(gone), "{out}");
        }
        Config::parse(&out, "d").unwrap();
    }

    #[test]
    fn an_azure_provider_gets_its_api_version_and_deployments_and_loses_them_when_cleared() {
        let out = apply(
            BASE,
            &ops(r#"[{"op":"upsert_provider","provider":{"name":"az","kind":"azure","base_url":"https://res.openai.azure.com","api_key":"keyring:az","api_version":"2024-10-21","deployments":{"gpt-4o":"prod-gpt4o"}}}]"#),
        )
        .unwrap();
        let c = Config::parse(&out, "d").unwrap();
        let a = c.providers[1].azure.as_ref().unwrap();
        assert_eq!(a.api, crate::config::AzureApi::Dated("2024-10-21".into()));
        assert_eq!(a.deployment("gpt-4o"), "prod-gpt4o");
        let out = apply(
            &out,
            &ops(r#"[{"op":"upsert_provider","provider":{"name":"az","kind":"azure","base_url":"https://res.openai.azure.com","api_key":"keyring:az","api_version":"","deployments":{}}}]"#),
        )
        .unwrap();
        assert!(
            !out.contains("api_version") && !out.contains("deployments"),
            "{out}"
        );
        let c = Config::parse(&out, "d").unwrap();
        let a = c.providers[1].azure.as_ref().unwrap();
        assert_eq!(a.api, crate::config::AzureApi::V1);
    }

    #[test]
    fn edits_existing_provider_and_removes() {
        let out = apply(
            BASE,
            &ops(r#"[{"op":"upsert_provider","provider":{"name":"a","kind":"openai","base_url":"http://127.0.0.1:2/v1","api_key":"keyring:a"}}]"#),
        )
        .unwrap();
        let c = Config::parse(&out, "d").unwrap();
        assert_eq!(c.providers.len(), 1);
        assert_eq!(c.providers[0].base_url.as_str(), "http://127.0.0.1:2/v1");
        assert_eq!(c.providers[0].api_keys[0].to_string(), "keyring:a");
        // removing a provider a route uses leaves a draft that validation refuses
        let out = apply(BASE, &ops(r#"[{"op":"remove_provider","name":"a"}]"#)).unwrap();
        let e = Config::parse(&out, "d").unwrap_err();
        assert_eq!(e.issues[0].path, "routes[0].targets[0].provider");
        let out = apply(BASE, &ops(r#"[{"op":"remove_route","model":"m"}]"#)).unwrap();
        assert!(Config::parse(&out, "d").unwrap().routes.is_empty());
        assert!(matches!(
            apply(BASE, &ops(r#"[{"op":"remove_route","model":"zz"}]"#)),
            Err(DraftError::Missing(_))
        ));
    }

    #[test]
    fn profile_routes() {
        let out = apply(
            BASE,
            &ops(r#"[{"op":"upsert_route","profile":"local-only","route":{"model":"m","targets":[{"provider":"a","model":"x"}]}}]"#),
        )
        .unwrap();
        let with_profile = out.replace(
            "listen = \"127.0.0.1:4000\"",
            "listen = \"127.0.0.1:4000\"\nprofile = \"local-only\"",
        );
        let c = Config::parse(&with_profile, "d").unwrap();
        assert_eq!(c.routes[0].targets[0].model.as_deref(), Some("x"));
    }

    #[test]
    fn pattern_routes_in_a_profile_are_drafted_and_removed_by_their_pattern() {
        let out = apply(
            BASE,
            &ops(r#"[
              {"op":"upsert_route","profile":"local-only","route":{"model":"*","targets":[{"provider":"a","model":"llama3.1:8b"}]}},
              {"op":"upsert_route","profile":"local-only","route":{"model":"claude-*","targets":[{"provider":"a","model":"openrouter/{model}"}]}}
            ]"#),
        )
        .unwrap();
        let active = out.replace(
            "listen = \"127.0.0.1:4000\"",
            "listen = \"127.0.0.1:4000\"\nprofile = \"local-only\"",
        );
        let c = Config::parse(&active, "d").unwrap();
        let names: Vec<_> = c.routes.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(names, ["*", "claude-*"]);
        assert_eq!(
            c.routes[1].targets[0].model.as_deref(),
            Some("openrouter/{model}")
        );
        let out = apply(
            &active,
            &ops(r#"[{"op":"remove_route","profile":"local-only","model":"*"}]"#),
        )
        .unwrap();
        let c = Config::parse(&out, "d").unwrap();
        let names: Vec<_> = c.routes.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(names, ["claude-*"]);
    }

    #[test]
    fn sticky_false_is_written_true_removes_it_and_absent_keeps_it() {
        let weighted = r#"{"op":"upsert_route","route":{"model":"m","strategy":"weighted","targets":[{"provider":"a"}]}}"#;
        let off = r#"{"op":"upsert_route","route":{"model":"m","sticky":false,"targets":[{"provider":"a"}]}}"#;
        let out = apply(BASE, &ops(&format!("[{weighted},{off}]"))).unwrap();
        assert!(out.contains("sticky = false"), "{out}");
        assert!(!Config::parse(&out, "d").unwrap().routes[0].sticky);
        // an edit that does not mention sticky keeps the line
        let kept = apply(&out, &ops(&format!("[{weighted}]"))).unwrap();
        assert!(kept.contains("sticky = false"), "{kept}");
        assert!(!Config::parse(&kept, "d").unwrap().routes[0].sticky);
        // true is the default: the key goes away
        let on = r#"[{"op":"upsert_route","route":{"model":"m","sticky":true,"targets":[{"provider":"a"}]}}]"#;
        let out = apply(&kept, &ops(on)).unwrap();
        assert!(!out.contains("sticky"), "{out}");
        assert!(Config::parse(&out, "d").unwrap().routes[0].sticky);
    }

    #[test]
    fn the_enabled_switch_writes_false_and_removes_true() {
        let off = apply(
            BASE,
            &ops(r#"[{"op":"set_provider_enabled","name":"a","enabled":false}]"#),
        )
        .unwrap();
        assert!(
            off.contains("enabled = false") && off.contains("# keep me"),
            "{off}"
        );
        assert!(!Config::parse(&off, "d").unwrap().providers[0].enabled);
        let on = apply(
            &off,
            &ops(r#"[{"op":"set_provider_enabled","name":"a","enabled":true}]"#),
        )
        .unwrap();
        assert!(!on.contains("enabled"), "{on}");
        assert!(Config::parse(&on, "d").unwrap().providers[0].enabled);
        let e = apply(
            BASE,
            &ops(r#"[{"op":"set_provider_enabled","name":"nope","enabled":false}]"#),
        );
        assert!(matches!(e, Err(DraftError::Missing(_))));
    }

    #[test]
    fn the_form_s_one_key_leaves_a_pool_alone() {
        let pooled = BASE.replace(
            "base_url = \"http://127.0.0.1:1/v1\"\n",
            "base_url = \"http://127.0.0.1:1/v1\"\napi_keys = [\"keyring:a\", \"keyring:b\"]\n",
        );
        let out = apply(
            &pooled,
            &ops(r#"[{"op":"upsert_provider","provider":{"name":"a","kind":"openai","base_url":"http://127.0.0.1:1/v1","api_key":"keyring:a","timeout_s":9}}]"#),
        )
        .unwrap();
        let c = Config::parse(&out, "d").unwrap();
        assert_eq!(c.providers[0].api_keys.len(), 2);
        assert_eq!(c.providers[0].timeout.as_secs(), 9);
    }
}
