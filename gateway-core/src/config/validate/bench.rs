//! `[bench]`: the scheduled model benchmark.

use std::time::Duration;

use super::super::raw::RawBench;
use super::{Severity, Validator};

impl Validator<'_> {
    pub(super) fn bench(
        &mut self,
        b: &RawBench,
        providers: &[&str],
    ) -> Option<(Duration, crate::tools::modelbench::Spec)> {
        use crate::tools::modelbench::{Protocol, Spec, Target};
        let mut targets = Vec::new();
        for (i, t) in b.targets.iter().enumerate() {
            match t.get_ref().parse::<Target>() {
                Ok(t2) if providers.contains(&t2.provider.as_str()) => targets.push(t2),
                Ok(t2) => self.error(
                    &format!("bench.targets[{i}]"),
                    t,
                    format!("unknown provider {:?}", t2.provider),
                ),
                Err(e) => self.error(&format!("bench.targets[{i}]"), t, e),
            }
        }
        let mut protocols = Vec::new();
        for (i, p) in b.protocols.iter().enumerate() {
            match p.parse::<Protocol>() {
                Ok(p) => protocols.push(p),
                Err(e) => self.push(Severity::Error, &format!("bench.protocols[{i}]"), None, e),
            }
        }
        if protocols.is_empty() {
            protocols.push(Protocol::Chat);
        }
        if b.max_cost_usd.is_nan() || b.max_cost_usd < 0.0 || b.requests == 0 {
            self.push(
                Severity::Error,
                "bench",
                None,
                "requests must be >= 1 and max_cost_usd >= 0".into(),
            );
        }
        if b.every_minutes == 0 || targets.is_empty() {
            return None;
        }
        Some((
            Duration::from_secs(b.every_minutes * 60),
            Spec {
                targets,
                protocols,
                stream: vec![false, true],
                requests: b.requests,
                concurrency: 2,
                max_tokens: 32,
                max_cost_usd: b.max_cost_usd,
            },
        ))
    }
}
