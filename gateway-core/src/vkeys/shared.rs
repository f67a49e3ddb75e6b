//! A virtual key's limits as shared ones (team mode with Redis,
//! `cluster::limits`): its RPM/TPM buckets and its budget for the current
//! period, under keys every replica uses for the same key id.

use super::{LiveKey, Refusal, roll};
use crate::cluster::limits::{Bucket, BudgetAsk};
use crate::cluster::redis::key;
use crate::store::now_ms;
use crate::sync::{LockExt, RwLockExt};

/// A period's budget key outlives its reset by this (ms).
const BUDGET_KEY_GRACE_MS: i64 = 3_600_000;

impl LiveKey {
    /// `(rpm, tpm)` as set on the key (0: none).
    pub fn limits(&self) -> (u32, u32) {
        let i = self.info.read_or_recover();
        (i.rpm, i.tpm)
    }

    /// The key's RPM and TPM buckets (one request, `tokens` estimated).
    pub fn shared_buckets(&self, tokens: u64) -> [Bucket; 2] {
        let i = self.info.read_or_recover();
        let tag = format!("rl:vk:{}", i.id);
        [
            Bucket {
                key: key(&tag, ":rpm"),
                cap: i.rpm,
                cost: 1,
            },
            Bucket {
                key: key(&tag, ":tpm"),
                cap: i.tpm,
                cost: tokens,
            },
        ]
    }

    /// The budget to reserve `cost_usd` of, when the key has one: keyed by
    /// the period's start, seeded with what this replica knows was spent.
    pub fn shared_budget(&self, cost_usd: f64) -> Option<BudgetAsk> {
        let (id, budget, period) = {
            let i = self.info.read_or_recover();
            (i.id.clone(), i.budget_usd?, i.period)
        };
        let now = now_ms();
        let seed = {
            let mut s = self.spend.lock_or_recover();
            roll(&mut s, period, now);
            s.spent
        };
        let start = period.start(now);
        Some(BudgetAsk {
            key: key(&format!("budget:vk:{id}"), &format!(":{start}")),
            budget,
            cost: cost_usd,
            seed,
            ttl_ms: (period.next_reset(now) - now).max(0) + BUDGET_KEY_GRACE_MS,
        })
    }

    /// The refusal of a spent shared budget (`spent_usd`: every replica's).
    pub fn budget_refusal(&self, spent_usd: f64) -> Refusal {
        let i = self.info.read_or_recover();
        Refusal::BudgetExceeded {
            budget_usd: i.budget_usd.unwrap_or(0.0),
            spent_usd,
            resets_at_ms: i.period.next_reset(now_ms()),
        }
    }
}
