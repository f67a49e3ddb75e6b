//! `[telemetry]`: retention and size caps, stored bodies, price
//! overrides, OTLP export.

use std::time::Duration;

use reqwest::Url;

use super::super::raw::RawTelemetry;
use super::{Severity, Validator, trim_slash};
use crate::vocab::Price;

/// `[telemetry]`: the request log, stored bodies, prices.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Log rows older than this are deleted; `None` = only the size cap.
    pub retention: Option<Duration>,
    pub max_db_bytes: u64,
    pub store_bodies: bool,
    /// Cap per stored body.
    pub max_body_bytes: usize,
    /// Queue length of the log writer (read at start).
    pub queue_capacity: usize,
    /// OpenTelemetry trace export, when `otlp_endpoint` is set (read at start).
    pub otlp: Option<OtlpConfig>,
    pub prices: Vec<PriceOverride>,
}

/// A price from the config: for one provider, one model, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceOverride {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub price: Price,
}

/// Where and as what spans are exported (OTLP/HTTP, JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// `{otlp_endpoint}/v1/traces`.
    pub traces_url: Url,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            retention: Some(Duration::from_secs(30 * 86_400)),
            max_db_bytes: 500 * 1024 * 1024,
            store_bodies: false,
            max_body_bytes: 64 * 1024,
            queue_capacity: 10_000,
            otlp: None,
            prices: Vec::new(),
        }
    }
}

impl Validator<'_> {
    pub(super) fn telemetry(&mut self, t: &RawTelemetry, providers: &[&str]) -> TelemetryConfig {
        let mut must = |ok: bool, path: &str, msg: &str| {
            if !ok {
                self.push(Severity::Error, path, None, msg.into());
            }
        };
        must(t.max_db_mb >= 1, "telemetry.max_db_mb", "must be >= 1");
        must(
            t.max_body_bytes >= 1,
            "telemetry.max_body_bytes",
            "must be >= 1",
        );
        must(
            (1..=1_000_000).contains(&t.queue_capacity),
            "telemetry.queue_capacity",
            "must be between 1 and 1000000",
        );
        let otlp = self.otlp(t);
        let mut prices = Vec::new();
        for (i, p) in t.prices.iter().enumerate() {
            let path = format!("telemetry.prices[{i}]");
            if p.provider.is_none() && p.model.is_none() {
                self.error(&path, &p.input_per_mtok, "set provider, model or both");
            }
            if let Some(name) = &p.provider
                && !providers.contains(&name.get_ref().as_str())
            {
                self.error(
                    &format!("{path}.provider"),
                    name,
                    format!(
                        "unknown provider {:?} (defined: {providers:?})",
                        name.get_ref()
                    ),
                );
            }
            for (field, v) in [
                ("input_per_mtok", Some(&p.input_per_mtok)),
                ("output_per_mtok", Some(&p.output_per_mtok)),
                ("cache_read_per_mtok", p.cache_read_per_mtok.as_ref()),
                ("cache_write_per_mtok", p.cache_write_per_mtok.as_ref()),
            ] {
                let Some(v) = v else { continue };
                if !(v.get_ref().is_finite() && *v.get_ref() >= 0.0) {
                    self.error(&format!("{path}.{field}"), v, "must be a price >= 0");
                }
            }
            prices.push(PriceOverride {
                provider: p.provider.as_ref().map(|s| s.get_ref().clone()),
                model: p.model.as_ref().map(|s| s.get_ref().clone()),
                price: Price {
                    input_per_mtok: *p.input_per_mtok.get_ref(),
                    output_per_mtok: *p.output_per_mtok.get_ref(),
                    cache_read_per_mtok: p.cache_read_per_mtok.as_ref().map(|v| *v.get_ref()),
                    cache_write_per_mtok: p.cache_write_per_mtok.as_ref().map(|v| *v.get_ref()),
                },
            });
        }
        TelemetryConfig {
            retention: (t.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(t.retention_days) * 86_400)),
            max_db_bytes: t.max_db_mb.saturating_mul(1024 * 1024),
            store_bodies: t.store_bodies,
            max_body_bytes: usize::try_from(t.max_body_bytes).unwrap_or(usize::MAX),
            queue_capacity: usize::try_from(t.queue_capacity).unwrap_or(1_000_000),
            otlp,
            prices,
        }
    }

    /// `otlp_endpoint`: an http(s) base URL (`/v1/traces` is appended unless
    /// the URL already ends with it) and the service name.
    fn otlp(&mut self, t: &RawTelemetry) -> Option<OtlpConfig> {
        let service_name = match &t.otlp_service_name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error("telemetry.otlp_service_name", n, "must not be empty");
                None
            }
            Some(n) => Some(n.get_ref().clone()),
            None => Some("aigw".to_string()),
        };
        let Some(e) = &t.otlp_endpoint else {
            if let Some(n) = &t.otlp_service_name {
                self.push(
                    Severity::Warning,
                    "telemetry.otlp_service_name",
                    Some(n.span()),
                    "has no effect without telemetry.otlp_endpoint".into(),
                );
            }
            return None;
        };
        let path = "telemetry.otlp_endpoint";
        let url = match Url::parse(e.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            Ok(_) => {
                self.error(
                    path,
                    e,
                    "must be an http:// or https:// URL with a host, e.g. \"http://127.0.0.1:4318\"",
                );
                return None;
            }
            Err(err) => {
                self.error(path, e, format!("invalid URL: {err}"));
                return None;
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            self.error(path, e, "must not have a query or fragment");
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            // it is logged; and the exporter sends no credentials
            self.error(path, e, "must not contain credentials");
            return None;
        }
        let mut traces_url = trim_slash(url);
        if !traces_url.path().ends_with("/v1/traces") {
            let p = format!("{}/v1/traces", traces_url.path().trim_end_matches('/'));
            traces_url.set_path(&p);
        }
        Some(OtlpConfig {
            traces_url,
            service_name: service_name?,
        })
    }
}
