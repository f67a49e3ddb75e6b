//! Cost per request: tokens (reported, else estimated) times a price.
//!
//! Prices come from config overrides (`[[telemetry.prices]]`) first, then
//! from the embedded, dated table `prices.toml`. A model matches a price
//! entry exactly or by a prefix cut at `-`, `:` or `@`, so dated snapshots
//! (`gpt-4o-2024-08-06`) find their family; `vendor/model` also matches by
//! `model`. When the upstream reports no usage, tokens are estimated at one
//! per 4 bytes (request body in, answer text out) and flagged as estimated.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::RequestEvent;
use crate::config::PriceOverride;
pub use crate::vocab::Price;
use crate::vocab::Usage;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    taken: String,
    price: Vec<TableEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    model: String,
    input: f64,
    output: f64,
}

/// The embedded price table.
#[derive(Debug)]
pub struct PriceTable {
    /// The date the prices were read (`YYYY-MM-DD`).
    pub taken: String,
    prices: HashMap<String, Price>,
}

const TABLE_TOML: &str = include_str!("prices.toml");

static TABLE: LazyLock<PriceTable> = LazyLock::new(|| match PriceTable::parse(TABLE_TOML) {
    Ok(t) => t,
    Err(e) => {
        tracing::error!("embedded price table is invalid: {e}");
        PriceTable {
            taken: String::new(),
            prices: HashMap::new(),
        }
    }
});

impl PriceTable {
    fn parse(src: &str) -> Result<Self, toml::de::Error> {
        let f: TableFile = toml::from_str(src)?;
        let prices = f
            .price
            .into_iter()
            .map(|e| {
                let p = Price {
                    input_per_mtok: e.input,
                    output_per_mtok: e.output,
                };
                (e.model.to_ascii_lowercase(), p)
            })
            .collect();
        Ok(Self {
            taken: f.taken,
            prices,
        })
    }

    /// The table embedded in this build.
    pub fn builtin() -> &'static PriceTable {
        &TABLE
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price of `model`, by exact name or family prefix.
    pub fn get(&self, model: &str) -> Option<Price> {
        let m = model.to_ascii_lowercase();
        candidates(&m).find_map(|c| self.prices.get(c).copied())
    }
}

/// `m` itself, then shorter prefixes cut at a separator; then the same for
/// the part after the last `/`.
fn candidates(m: &str) -> impl Iterator<Item = &str> {
    let tail = m.rsplit_once('/').map(|(_, t)| t).filter(|t| !t.is_empty());
    prefixes(m).chain(tail.into_iter().flat_map(prefixes))
}

fn prefixes(m: &str) -> impl Iterator<Item = &str> {
    let cuts = m
        .char_indices()
        .filter(|(_, c)| matches!(c, '-' | ':' | '@'))
        .map(|(i, _)| i)
        .filter(|&i| i > 0)
        .collect::<Vec<_>>();
    std::iter::once(m).chain(cuts.into_iter().rev().map(move |i| &m[..i]))
}

fn model_matches(pattern: &str, model: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let m = model.to_ascii_lowercase();
    candidates(&m).any(|c| c == p)
}

/// The price for a provider's model: the most specific config override
/// (provider + model, then model, then provider), else the embedded table.
pub fn price_for(overrides: &[PriceOverride], provider: &str, model: &str) -> Option<Price> {
    let by = |want_provider: bool, want_model: bool| {
        overrides.iter().find(|o| {
            o.provider.is_some() == want_provider
                && o.model.is_some() == want_model
                && o.provider.as_deref().is_none_or(|p| p == provider)
                && o.model.as_deref().is_none_or(|m| model_matches(m, model))
        })
    };
    by(true, true)
        .or_else(|| by(false, true))
        .or_else(|| by(true, false))
        .map(|o| o.price)
        .or_else(|| TABLE.get(model))
}

/// Tokens for `bytes` of text: the usual rule of thumb of 4 bytes a token.
pub fn estimate_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

/// Bytes of generated text in a non-streamed answer (message content, tool
/// call arguments, completion text, Responses output text) for estimating
/// output tokens when the upstream reports no usage. Embeddings have none.
pub fn answer_text_bytes(body: &[u8]) -> u64 {
    fn walk(v: &serde_json::Value, key: Option<&str>) -> u64 {
        match v {
            serde_json::Value::String(s)
                if matches!(
                    key,
                    Some(
                        "content"
                            | "text"
                            | "arguments"
                            | "refusal"
                            | "reasoning_content"
                            | "reasoning"
                    )
                ) =>
            {
                s.len() as u64
            }
            serde_json::Value::Array(a) => a.iter().map(|x| walk(x, key)).sum(),
            serde_json::Value::Object(o) => o
                .iter()
                .filter(|(k, _)| k.as_str() != "usage")
                .map(|(k, x)| walk(x, Some(k)))
                .sum(),
            _ => 0,
        }
    }
    serde_json::from_slice::<serde_json::Value>(body).map_or(0, |v| walk(&v, None))
}

/// Fills the event's tokens from reported usage, estimating what is missing
/// (`request_bytes / 4` in, `output_bytes / 4` out), and its cost from the
/// provider's price. Call it for answers the upstream produced (success or a
/// stream cut short), not for failures.
pub fn settle(
    ev: &mut RequestEvent,
    usage: Option<Usage>,
    request_bytes: usize,
    output_bytes: impl FnOnce() -> u64,
    overrides: &[PriceOverride],
) {
    let reported_in = usage.and_then(|u| u.prompt_tokens);
    let reported_out = usage.and_then(|u| u.completion_tokens);
    ev.tokens_estimated = reported_in.is_none() || reported_out.is_none();
    let tin = reported_in.unwrap_or_else(|| estimate_tokens(request_bytes as u64));
    let tout = reported_out.unwrap_or_else(|| estimate_tokens(output_bytes()));
    ev.tokens_in = Some(tin);
    ev.tokens_out = Some(tout);
    ev.cost_usd = match (&ev.provider, &ev.forwarded_model) {
        (Some(p), Some(m)) => price_for(overrides, p, m).map(|price| price.cost(tin, tout)),
        _ => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: f64, o: f64) -> Price {
        Price {
            input_per_mtok: i,
            output_per_mtok: o,
        }
    }

    #[test]
    fn embedded_table_parses_and_is_dated() {
        let t = PriceTable::parse(TABLE_TOML).unwrap();
        assert!(t.len() > 30, "{}", t.len());
        assert_eq!(t.taken.len(), 10);
        assert_eq!(PriceTable::builtin().len(), t.len());
    }

    #[test]
    fn families_and_vendor_prefixes_match() {
        let t = PriceTable::builtin();
        assert_eq!(t.get("gpt-4o-mini"), Some(p(0.15, 0.60)));
        assert_eq!(t.get("gpt-4o-mini-2024-07-18"), Some(p(0.15, 0.60)));
        assert_eq!(t.get("gpt-4o-2024-08-06"), Some(p(2.50, 10.0)));
        assert_eq!(t.get("openai/gpt-4.1-mini"), Some(p(0.40, 1.60)));
        assert_eq!(t.get("claude-3-5-haiku-20241022"), Some(p(0.80, 4.0)));
        assert_eq!(t.get("o3-mini"), Some(p(1.10, 4.40)));
        assert_eq!(t.get("o3"), Some(p(2.0, 8.0)));
        assert_eq!(
            t.get("meta-llama/Llama-3.3-70B-Instruct-Turbo"),
            Some(p(0.88, 0.88))
        );
        assert_eq!(t.get("mistral-large-latest"), Some(p(2.0, 6.0)));
        assert_eq!(t.get("llama3.1:8b"), None);
        assert_eq!(t.get("o3x"), None);
    }

    #[test]
    fn overrides_win_most_specific_first() {
        let o = vec![
            PriceOverride {
                provider: Some("ollama".into()),
                model: None,
                price: p(0.0, 0.0),
            },
            PriceOverride {
                provider: None,
                model: Some("gpt-4o-mini".into()),
                price: p(1.0, 2.0),
            },
            PriceOverride {
                provider: Some("azure".into()),
                model: Some("gpt-4o-mini".into()),
                price: p(3.0, 4.0),
            },
        ];
        assert_eq!(
            price_for(&o, "azure", "gpt-4o-mini-2024"),
            Some(p(3.0, 4.0))
        );
        assert_eq!(price_for(&o, "openai", "gpt-4o-mini"), Some(p(1.0, 2.0)));
        assert_eq!(price_for(&o, "ollama", "llama3.1:8b"), Some(p(0.0, 0.0)));
        assert_eq!(price_for(&o, "openai", "gpt-4o"), Some(p(2.5, 10.0)));
        assert_eq!(price_for(&o, "local", "qwen"), None);
    }

    #[test]
    fn answer_text_is_counted_without_envelope() {
        let chat = br#"{"id":"x","choices":[{"message":{"role":"assistant","content":"Hello there","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]}}],"usage":null}"#;
        assert_eq!(answer_text_bytes(chat), 11 + 7);
        let emb = br#"{"data":[{"embedding":[0.1,0.2]}]}"#;
        assert_eq!(answer_text_bytes(emb), 0);
        assert_eq!(answer_text_bytes(b"not json"), 0);
        assert_eq!(estimate_tokens(9), 3);
    }
}
