//! Admission through the shared limits (team mode with Redis): the
//! client's ingress RPM/TPM, its model's `[[limits.models]]` entry, its
//! virtual key's RPM/TPM and budget, taken in one all-or-nothing call
//! ([`SharedLimits::take`]); the errors are the local path's.

use std::sync::Arc;

use super::{
    ApiError, Charge, KeyCharge, estimate_cost, ingress_rpm_error, ingress_tpm_error, key_refusal,
    model_limit_error,
};
use crate::cluster::limits::{Bucket, Settle, SharedLimits, Verdict};
use crate::cluster::redis::key;
use crate::routing::{ProxyRequest, Runtime};
use crate::vkeys::{LiveKey, Refusal};
use crate::vocab::ErrorClass;

/// What a bucket limits, for the refusal's message.
enum Which {
    IngressRpm,
    IngressTpm,
    Model { entry: String, limits: (u32, u32) },
    Key,
}

/// What a request took from the shared limits, to settle after its answer.
pub(super) struct SharedCharge {
    limits: Arc<SharedLimits>,
    shared: bool,
    /// The token buckets: `(key, cap)`, charged the estimate.
    tpm: Vec<(String, u32)>,
    budget: Option<crate::cluster::limits::BudgetAsk>,
}

impl SharedCharge {
    /// Replaces the estimate with `actual` tokens and the reservation with
    /// `cost_usd` (off the request path).
    pub(super) fn settle(&self, estimated: u64, actual: u64, cost_usd: f64) {
        let buckets = self
            .tpm
            .iter()
            .map(|(k, cap)| {
                // A take is cut to the capacity: only that much comes back.
                let charged = (estimated as f64).min(f64::from(*cap));
                (k.clone(), *cap, charged - actual as f64)
            })
            .collect();
        let budget = self.budget.clone().map(|a| {
            let release = a.cost;
            let cost = if cost_usd.is_finite() && cost_usd > 0.0 {
                cost_usd
            } else {
                0.0
            };
            (a, release, cost)
        });
        self.limits.settle(Settle {
            shared: self.shared,
            buckets,
            budget,
        });
    }
}

/// Takes the request's shared limits, or the error to answer.
pub(super) async fn admit(
    rt: &Runtime,
    limits: Arc<SharedLimits>,
    req: ProxyRequest,
    vkey: Option<Arc<LiveKey>>,
) -> Result<(ProxyRequest, Charge), (ApiError, ErrorClass)> {
    let est = req.est_tokens;
    if let Some(k) = &vkey
        && !k.allows(&req.peek.model)
    {
        return Err(key_refusal(Refusal::ModelNotAllowed {
            model: req.peek.model.clone(),
        }));
    }
    let mut buckets = Vec::with_capacity(6);
    let mut which = Vec::with_capacity(6);
    let mut tpm = Vec::new();
    let tag = format!("rl:in:{}", req.client);
    buckets.push(Bucket {
        key: key(&tag, ":rpm"),
        cap: rt.ingress.rpm(),
        cost: 1,
    });
    which.push(Which::IngressRpm);
    buckets.push(Bucket {
        key: key(&tag, ":tpm"),
        cap: rt.ingress.tpm(),
        cost: est,
    });
    which.push(Which::IngressTpm);
    if let Some(limit) = rt.model_limits.lookup(&req.peek.model) {
        let (rpm, tpm_cap) = limit.limiter.limits();
        let tag = format!("rl:model:{}", limit.model);
        for (suffix, cap, cost) in [(":rpm", rpm, 1), (":tpm", tpm_cap, est)] {
            buckets.push(Bucket {
                key: key(&tag, suffix),
                cap,
                cost,
            });
            which.push(Which::Model {
                entry: limit.model.clone(),
                limits: (rpm, tpm_cap),
            });
        }
    }
    let mut cost_usd = 0.0;
    let mut budget = None;
    if let Some(k) = &vkey {
        buckets.extend(k.shared_buckets(est));
        which.extend([Which::Key, Which::Key]);
        cost_usd = estimate_cost(rt, &req);
        budget = k.shared_budget(cost_usd);
    }
    for b in &buckets {
        if b.key.ends_with(":tpm") {
            tpm.push((b.key.clone(), b.cap));
        }
    }
    tpm.retain(|(_, cap)| *cap > 0);
    let decision = limits.take(&buckets, budget.as_ref()).await;
    if let Verdict::Refused { index, wait, spent } = decision.verdict {
        let e = match which.get(index) {
            Some(Which::IngressRpm) => (
                ingress_rpm_error(rt.ingress.rpm(), wait),
                ErrorClass::IngressRateLimited,
            ),
            Some(Which::IngressTpm) => (
                ingress_tpm_error(rt.ingress.tpm(), est, wait),
                ErrorClass::IngressRateLimited,
            ),
            Some(Which::Model { entry, limits }) => (
                model_limit_error(&req.peek.model, entry, *limits, wait),
                ErrorClass::IngressRateLimited,
            ),
            Some(Which::Key) => {
                let (rpm, tpm) = vkey.as_ref().map_or((0, 0), |k| k.limits());
                key_refusal(Refusal::RateLimited { rpm, tpm, wait })
            }
            None => match &vkey {
                Some(k) => key_refusal(k.budget_refusal(spent)),
                None => (
                    ingress_rpm_error(rt.ingress.rpm(), wait),
                    ErrorClass::IngressRateLimited,
                ),
            },
        };
        return Err(e);
    }
    let keys = rt.vkeys.clone();
    let charge = Charge {
        ingress: rt.ingress.clone(),
        client: req.client.clone(),
        model: None,
        estimated: est,
        vkey: vkey.map(|key| KeyCharge {
            keys,
            key,
            reserved_usd: cost_usd,
        }),
        shared: Some(SharedCharge {
            limits,
            shared: decision.shared,
            tpm,
            budget,
        }),
    };
    Ok((req, charge))
}
