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
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
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
                    cache_read_per_mtok: e.cache_read,
                    cache_write_per_mtok: e.cache_write,
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

/// How an answer ended, for [`settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Whole: what the upstream did not report is estimated.
    Complete,
    /// A stream cut short (broken, or the client left): what the upstream
    /// did not report is unknown (`None`), and so is the cost.
    Cut,
}

/// Fills the event's tokens from reported usage and its cost from the
/// provider's price. Input tokens count cached ones (Anthropic's
/// `input_tokens` plus its cache reads and writes; OpenAI's prompt tokens
/// as they are); cache reads and writes are recorded apart and priced at
/// their own rates. A complete answer's missing counts are estimated
/// (`request_bytes / 4` in, `output_bytes / 4` out) and flagged; a cut
/// stream's stay unknown. Call it for answers the upstream produced
/// (success or a stream cut short), not for failures.
pub fn settle(
    ev: &mut RequestEvent,
    usage: Option<Usage>,
    ending: Ending,
    request_bytes: usize,
    output_bytes: impl FnOnce() -> u64,
    overrides: &[PriceOverride],
) {
    let reported_in = usage.and_then(|u| u.input());
    let reported_out = usage.and_then(|u| u.output());
    ev.cache_read_tokens = usage.and_then(|u| u.cache_read());
    ev.cache_write_tokens = usage.and_then(|u| u.cache_write());
    let (tin, tout) = match ending {
        Ending::Complete => {
            ev.tokens_estimated = reported_in.is_none() || reported_out.is_none();
            (
                Some(reported_in.unwrap_or_else(|| estimate_tokens(request_bytes as u64))),
                Some(reported_out.unwrap_or_else(|| estimate_tokens(output_bytes()))),
            )
        }
        Ending::Cut => {
            ev.tokens_estimated = false;
            (reported_in, reported_out)
        }
    };
    ev.tokens_in = tin;
    ev.tokens_out = tout;
    ev.cost_usd = match (&ev.provider, &ev.forwarded_model, tin, tout) {
        (Some(p), Some(m), Some(tin), Some(tout)) => price_for(overrides, p, m).map(|price| {
            let read = ev.cache_read_tokens.unwrap_or(0);
            let write = ev.cache_write_tokens.unwrap_or(0);
            price.cost_cached(tin, read, write, tout)
        }),
        _ => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: f64, o: f64) -> Price {
        Price::simple(i, o)
    }

    /// Compares input/output prices only (the table also has cache prices).
    trait Io {
        fn io(self) -> Option<(f64, f64)>;
    }
    impl Io for Option<Price> {
        fn io(self) -> Option<(f64, f64)> {
            self.map(|p| (p.input_per_mtok, p.output_per_mtok))
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
        assert_eq!(t.get("gpt-4o-mini").io(), Some((0.15, 0.60)));
        assert_eq!(t.get("gpt-4o-mini-2024-07-18").io(), Some((0.15, 0.60)));
        assert_eq!(t.get("gpt-4o-2024-08-06").io(), Some((2.50, 10.0)));
        assert_eq!(t.get("openai/gpt-4.1-mini").io(), Some((0.40, 1.60)));
        assert_eq!(t.get("claude-3-5-haiku-20241022").io(), Some((0.80, 4.0)));
        assert_eq!(t.get("o3-mini").io(), Some((1.10, 4.40)));
        assert_eq!(t.get("o3").io(), Some((2.0, 8.0)));
        assert_eq!(
            t.get("meta-llama/Llama-3.3-70B-Instruct-Turbo").io(),
            Some((0.88, 0.88))
        );
        assert_eq!(t.get("mistral-large-latest").io(), Some((2.0, 6.0)));
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
        assert_eq!(price_for(&o, "openai", "gpt-4o").io(), Some((2.5, 10.0)));
        assert_eq!(price_for(&o, "local", "qwen"), None);
    }

    fn event(provider: &str, model: &str) -> RequestEvent {
        let mut e = RequestEvent::new(
            "r".into(),
            std::time::SystemTime::now(),
            "c".into(),
            "messages",
            model.into(),
            super::super::Origin::Client,
        );
        e.provider = Some(provider.into());
        e.forwarded_model = Some(model.into());
        e
    }

    #[test]
    fn cache_tokens_are_priced_apart_for_both_providers() {
        // Anthropic: 10 fresh + 900 read + 100 written, 5 out, at
        // sonnet-4 prices (3 in, 0.30 read, 3.75 write, 15 out).
        let usage: Usage = serde_json::from_str(
            r#"{"input_tokens":10,"cache_read_input_tokens":900,"cache_creation_input_tokens":100,"output_tokens":5}"#,
        )
        .unwrap();
        let mut e = event("anthropic", "claude-sonnet-4-20250514");
        settle(
            &mut e,
            Some(usage.anthropic()),
            Ending::Complete,
            0,
            || 0,
            &[],
        );
        assert_eq!(e.tokens_in, Some(1010));
        assert_eq!(
            (e.cache_read_tokens, e.cache_write_tokens),
            (Some(900), Some(100))
        );
        let want = (10.0 * 3.0 + 900.0 * 0.30 + 100.0 * 3.75 + 5.0 * 15.0) / 1e6;
        assert!(
            (e.cost_usd.unwrap() - want).abs() < 1e-12,
            "{:?}",
            e.cost_usd
        );
        assert!(!e.tokens_estimated);

        // OpenAI: 1010 prompt tokens of which 900 cached, gpt-4o-mini
        // (0.15 in, 0.075 cached, 0.60 out).
        let usage: Usage = serde_json::from_str(
            r#"{"prompt_tokens":1010,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":900}}"#,
        )
        .unwrap();
        let mut e = event("openai", "gpt-4o-mini");
        settle(&mut e, Some(usage), Ending::Complete, 0, || 0, &[]);
        assert_eq!(e.tokens_in, Some(1010));
        assert_eq!(
            (e.cache_read_tokens, e.cache_write_tokens),
            (Some(900), None)
        );
        let want = (110.0 * 0.15 + 900.0 * 0.075 + 5.0 * 0.60) / 1e6;
        assert!(
            (e.cost_usd.unwrap() - want).abs() < 1e-12,
            "{:?}",
            e.cost_usd
        );

        // An override without cache prices charges cache tokens as input.
        let o = vec![PriceOverride {
            provider: None,
            model: Some("gpt-4o-mini".into()),
            price: p(1.0, 2.0),
        }];
        let mut e = event("openai", "gpt-4o-mini");
        settle(&mut e, Some(usage), Ending::Complete, 0, || 0, &o);
        assert!((e.cost_usd.unwrap() - (1010.0 + 10.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn a_cut_stream_without_usage_is_unknown_not_zero() {
        let mut e = event("openai", "gpt-4o-mini");
        settle(&mut e, None, Ending::Cut, 4000, || 400, &[]);
        assert_eq!((e.tokens_in, e.tokens_out, e.cost_usd), (None, None, None));
        assert!(!e.tokens_estimated);
        // input known from message_start, output never came: cost unknown
        let start: Usage =
            serde_json::from_str(r#"{"input_tokens":10,"cache_read_input_tokens":90}"#).unwrap();
        let mut e = event("anthropic", "claude-sonnet-4");
        settle(
            &mut e,
            Some(start.anthropic()),
            Ending::Cut,
            4000,
            || 400,
            &[],
        );
        assert_eq!((e.tokens_in, e.tokens_out), (Some(100), None));
        assert_eq!(e.cache_read_tokens, Some(90));
        assert_eq!(e.cost_usd, None);
        // the same without usage, complete: estimated and flagged
        let mut e = event("openai", "gpt-4o-mini");
        settle(&mut e, None, Ending::Complete, 4000, || 400, &[]);
        assert_eq!((e.tokens_in, e.tokens_out), (Some(1000), Some(100)));
        assert!(e.tokens_estimated && e.cost_usd.is_some());
    }

    #[test]
    fn known_models_have_cache_prices() {
        let t = PriceTable::builtin();
        let r = |m: &str| t.get(m).and_then(|p| p.cache_read_per_mtok);
        let w = |m: &str| t.get(m).and_then(|p| p.cache_write_per_mtok);
        assert_eq!(r("gpt-4o-mini"), Some(0.075));
        assert_eq!(r("gpt-4.1-2025-04-14"), Some(0.50));
        assert_eq!(w("gpt-4o"), None);
        assert_eq!(
            (r("claude-sonnet-4-5"), w("claude-sonnet-4-5")),
            (Some(0.30), Some(3.75))
        );
        assert_eq!(
            (r("claude-3-5-haiku-20241022"), w("claude-3-5-haiku")),
            (Some(0.08), Some(1.00))
        );
        assert_eq!(
            (r("claude-opus-4-1"), w("claude-opus-4-1")),
            (Some(1.50), Some(18.75))
        );
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
