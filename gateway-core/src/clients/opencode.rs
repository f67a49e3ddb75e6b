//! opencode: `~/.config/opencode/opencode.json` (or an existing
//! `opencode.jsonc`): `provider.aigw` with `npm:
//! "@ai-sdk/openai-compatible"`, `name`, `options.baseURL` (`…/v1`),
//! `options.apiKey` and `models` (opencode drops a provider without
//! models); top-level `model` (`aigw/<model>`) only when a model is given.
//! JSONC comments are kept: the file is edited on its syntax tree (`jsonc`).

use std::path::Path;

use super::jsonc::{Doc, J};
use super::{ClientError, Edit, Target};

pub const PROVIDER_ID: &str = "aigw";
const SCHEMA: &str = "https://opencode.ai/config.json";

fn parse(path: &Path, text: &str) -> Result<Doc, ClientError> {
    let doc = Doc::parse(text).map_err(|e| ClientError::unsupported(path, e))?;
    if doc.is_object(&["provider"]) == Some(false) {
        return Err(ClientError::unsupported(
            path,
            "\"provider\" is not an object",
        ));
    }
    Ok(doc)
}

pub fn apply(path: &Path, before: Option<&str>, t: &Target) -> Result<Edit, ClientError> {
    let models = t.models.listed();
    if models.is_empty() {
        return Err(ClientError::Invalid(
            "opencode needs at least one model to list: pass a model (--model) or add an exact [[routes]] model to the gateway".into(),
        ));
    }
    let fresh = before.is_none();
    let mut doc = parse(path, before.unwrap_or("{}\n"))?;
    let e = |e| ClientError::unsupported(path, e);
    if fresh {
        doc.set(&["$schema"], &J::str(SCHEMA)).map_err(e)?;
    }
    let provider = J::Obj(vec![
        ("npm".into(), J::str("@ai-sdk/openai-compatible")),
        ("name".into(), J::str("AI Model Gateway")),
        (
            "options".into(),
            J::Obj(vec![
                ("baseURL".into(), J::str(t.v1())),
                ("apiKey".into(), J::str(t.token.clone())),
            ]),
        ),
        (
            "models".into(),
            J::Obj(
                models
                    .iter()
                    .map(|m| (m.clone(), J::Obj(vec![("name".into(), J::str(m.clone()))])))
                    .collect(),
            ),
        ),
    ]);
    doc.set(&["provider", PROVIDER_ID], &provider).map_err(e)?;
    let mut touched = vec![format!("provider.{PROVIDER_ID}")];
    if fresh {
        touched.push("$schema".into());
    }
    if let Some(m) = &t.models.model {
        doc.set(&["model"], &J::str(format!("{PROVIDER_ID}/{m}")))
            .map_err(e)?;
        touched.push("model".into());
    }
    Ok(Edit {
        text: doc.into_text(),
        warnings: vec![],
        touched,
    })
}

pub fn unapply(
    path: &Path,
    current: &str,
    original: Option<&str>,
    touched: &[String],
) -> Result<String, ClientError> {
    let doc = parse(path, current)?;
    super::jsonc::restore(doc, original, touched, "provider")
        .map_err(|e| ClientError::unsupported(path, e))
}
