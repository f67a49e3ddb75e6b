//! Shared cooldowns (team mode): a target (or a pool key) cooled by one
//! replica is skipped by every replica until its cooldown ends.
//!
//! A replica that opens a breaker (or cools a key) writes
//! `aigw:{cool}:<id>` = the reason, with a TTL equal to the cooldown (an
//! existing longer one is kept), and adds `<id>` to the index
//! `aigw:{cool}` (a sorted set scored by expiry). Every
//! [`SYNC_INTERVAL`], off the request path, one call of the library's
//! `aigw_cool_v1` (`redis_state.lua`) publishes what changed here and
//! reads the whole cooled set back (remaining TTL and
//! reason of each, at most [`MAX_COOLED`]); the answer marks the matching
//! local targets and keys as cooled ([`HealthRegistry::set_remote`]), so a
//! request only reads memory. A half-open probe or health probe that
//! succeeds deletes the key. Ids: `t:<provider>:<model>` for a target,
//! `k:<provider>:<key reference>` for a pool key (the reference as written,
//! `env:KEY_2`, never the key). Provider names never contain `:`.
//!
//! Redis down: nothing is published or read; each replica's own breakers
//! decide, and cooldowns already read stay until they end. What could not
//! be published is published once Redis answers again (if it is still
//! cooling).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::redis::{CallError, RedisCluster};

use crate::routing::Runtime;
use crate::routing::health::{HealthRegistry, Share};

/// How often a replica publishes and reads cooldowns. A breaker that
/// opens brings its replica's round forward ([`super::shared::SharedState::poke`]),
/// so the others skip the target within about this (plus a round trip).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);

/// The most shared cooldowns read (the soonest-ending are dropped first
/// when more are written).
pub const MAX_COOLED: usize = 1024;

/// Longest reason stored with a cooldown, in bytes.
pub const MAX_REASON: usize = 256;

/// Longest model name or key reference shared; a target with a longer
/// (client-chosen) model name cools on its own replica only.
const MAX_NAME: usize = 256;

const INDEX: &str = "aigw:{cool}";
const PREFIX: &str = "aigw:{cool}:";

fn target_id(provider: &str, model: &str) -> Option<String> {
    (model.len() <= MAX_NAME).then(|| format!("t:{provider}:{model}"))
}

fn key_id(provider: &str, reference: &str) -> Option<String> {
    (reference.len() <= MAX_NAME).then(|| format!("k:{provider}:{reference}"))
}

fn clip(reason: &str) -> &str {
    if reason.len() <= MAX_REASON {
        return reason;
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Cooldowns other replicas (and this one) share now: provider → name
/// (model or key reference) → (until, reason).
#[derive(Debug, Default)]
struct Cooled {
    targets: HashMap<String, HashMap<String, (Instant, String)>>,
    keys: HashMap<String, HashMap<String, Instant>>,
}

impl Cooled {
    fn parse(raw: Vec<(String, u64, String)>, now: Instant) -> Self {
        let mut c = Cooled::default();
        for (id, ttl, why) in raw {
            let until = now + Duration::from_millis(ttl);
            let Some((kind, rest)) = id.split_once(':') else {
                continue;
            };
            let Some((provider, name)) = rest.split_once(':') else {
                continue;
            };
            match kind {
                "t" => {
                    c.targets
                        .entry(provider.to_string())
                        .or_default()
                        .insert(name.to_string(), (until, why));
                }
                "k" => {
                    c.keys
                        .entry(provider.to_string())
                        .or_default()
                        .insert(name.to_string(), until);
                }
                _ => {}
            }
        }
        c
    }

    fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.keys.is_empty()
    }
}

/// The sync task's state between rounds.
#[derive(Debug, Default)]
pub struct CoolingSync {
    /// The last round read nothing: a round that reads nothing again has
    /// nothing to unmark.
    was_empty: bool,
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub published: usize,
    pub cooled: usize,
}

impl CoolingSync {
    pub fn new() -> Self {
        Self { was_empty: false }
    }

    /// One round: publish this replica's changes, read the cooled set,
    /// mark local targets and keys. On an error nothing is marked and the
    /// changes wait for the next round.
    pub async fn round(
        &mut self,
        engine: &RedisCluster,
        health: &HealthRegistry,
        rt: &Runtime,
    ) -> Result<Round, CallError> {
        let mut args = vec![PREFIX.to_string(), MAX_COOLED.to_string()];
        let mut call = |id: String, ms: u64, why: &str| {
            args.push(id);
            args.push(ms.to_string());
            args.push(clip(why).to_string());
        };
        let now = Instant::now();
        let ttl_ms = |until: Instant| {
            // A cooldown that ended before it was published is not shared.
            let ms = until.saturating_duration_since(now).as_millis();
            u64::try_from(ms).unwrap_or(u64::MAX)
        };
        let shares = health.take_shares();
        let mut published = 0;
        for (provider, model, share) in &shares {
            let Some(id) = target_id(provider, model) else {
                continue;
            };
            match share {
                Share::Cool { until, reason } => {
                    let ms = ttl_ms(*until);
                    if ms == 0 {
                        continue;
                    }
                    call(id, ms, reason);
                }
                Share::Clear => call(id, 0, ""),
            }
            published += 1;
        }
        let pools: Vec<_> = rt.providers.iter().filter(|p| p.is_pool()).collect();
        let mut key_shares = Vec::new();
        for p in &pools {
            let taken = p.key_state.take_shares();
            for (i, until, reason) in &taken {
                let Some(id) = p.keys[*i]
                    .name
                    .as_deref()
                    .and_then(|r| key_id(&p.spec.name, r))
                else {
                    continue;
                };
                let ms = ttl_ms(*until);
                if ms == 0 {
                    continue;
                }
                call(id, ms, reason);
                published += 1;
            }
            key_shares.push(taken);
        }
        let got = engine
            .fcall("cool", &[INDEX.to_string()], &args)
            .await
            .and_then(|v| {
                redis::from_redis_value::<Vec<(String, u64, String)>>(v)
                    .map_err(|e| CallError::Redis(e.into()))
            });
        let raw = match got {
            Ok(r) => r,
            Err(e) => {
                health.requeue_shares(shares);
                for (p, taken) in pools.iter().zip(key_shares) {
                    p.key_state.requeue_shares(taken);
                }
                return Err(e);
            }
        };
        let now = Instant::now();
        let cooled = Cooled::parse(raw, now);
        let n = cooled.targets.values().map(HashMap::len).sum::<usize>()
            + cooled.keys.values().map(HashMap::len).sum::<usize>();
        if !(cooled.is_empty() && self.was_empty) {
            health.set_remote(|p, m| {
                let (until, why) = cooled.targets.get(p)?.get(m)?;
                Some((*until, why.as_str()))
            });
            for p in &pools {
                let of = cooled.keys.get(&p.spec.name);
                p.key_state.set_remote(|i| {
                    let r = p.keys.get(i)?.name.as_deref()?;
                    of?.get(r).copied()
                });
            }
        }
        self.was_empty = cooled.is_empty();
        Ok(Round {
            published,
            cooled: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_parse() {
        assert_eq!(
            target_id("a", "gpt-4o:mini").as_deref(),
            Some("t:a:gpt-4o:mini")
        );
        assert!(target_id("a", &"m".repeat(MAX_NAME + 1)).is_none());
        assert_eq!(key_id("a", "env:K2").as_deref(), Some("k:a:env:K2"));
        let now = Instant::now();
        let c = Cooled::parse(
            vec![
                ("t:a:gpt-4o:mini".into(), 1500, "429".into()),
                ("k:b:env:K2".into(), 200, "".into()),
                ("junk".into(), 5, "".into()),
            ],
            now,
        );
        assert_eq!(
            c.targets["a"]["gpt-4o:mini"],
            (now + Duration::from_millis(1500), "429".to_string())
        );
        assert_eq!(c.keys["b"]["env:K2"], now + Duration::from_millis(200));
    }

    #[test]
    fn reasons_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(MAX_REASON);
        let c = clip(&long);
        assert!(c.len() <= MAX_REASON && c.len() >= MAX_REASON - 1);
        assert_eq!(clip("short"), "short");
    }
}
