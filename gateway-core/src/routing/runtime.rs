//! The routing table a request reads: built once per published config and
//! swapped atomically; requests in flight keep the one they started with.

use std::sync::Arc;

use super::health::{HealthRegistry, TargetHealth};
use super::keys::{KeyState, PoolKey};
use super::sticky::{SessionKey, StickyTable};
use super::strategy::StrategyState;
use super::table::{MODEL_PLACEHOLDER, RouteTable, forward_name};
use crate::config::{Config, HeaderSource, PriceOverride, ProviderSpec, RouteSpec, Strategy};
use crate::limits::models::ModelLimits;
use crate::limits::{KeyedLimiter, ProviderLimiter};
use crate::providers::{self, ProviderApi};
use crate::secrets::Secret;
use crate::secrets::scrub::{Scrubber, is_credential_header};
use crate::telemetry::cost::{Price, price_for};
use crate::vocab::ErrorClass;

#[derive(Debug)]
pub struct ProviderRuntime {
    pub spec: ProviderSpec,
    /// The key pool, in config order; never empty (a keyless provider has
    /// one unnamed entry).
    pub keys: Vec<PoolKey>,
    /// Rotation and per-key cooldowns; shared with the next runtime when a
    /// publish leaves the pool as it is.
    pub key_state: Arc<KeyState>,
    /// Set when no key of the provider could be resolved, or a header
    /// reference could not: attempts to it fail (and fall back) with this
    /// message, which never contains a secret.
    pub key_error: Option<String>,
    /// Shared with the next runtime (resized when a publish changes this
    /// provider's `rpm`/`tpm`), and with every provider of the same
    /// [`ProviderSpec::limit_group`].
    pub limiter: Arc<ProviderLimiter>,
    /// The secrets this provider is sent, scrubbed out of what it answers.
    pub scrub: Scrubber,
}

impl ProviderRuntime {
    /// The behaviour of the first key that resolved (listings, probes,
    /// token counts): any key of the pool serves those.
    pub fn api(&self) -> &dyn ProviderApi {
        let k = self
            .keys
            .iter()
            .find(|k| k.error.is_none())
            .unwrap_or(&self.keys[0]);
        k.api.as_ref()
    }

    /// More than one key: 429/401/403 cool the key, not the target.
    pub fn is_pool(&self) -> bool {
        self.keys.len() > 1
    }

    /// `Some(until)` when every key of the pool cools: the provider is
    /// cooling. Does not move the rotation.
    pub fn keys_cooling_until(&self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
        self.key_state
            .cooling_until(now, |i| self.keys.get(i).is_some_and(|k| k.error.is_none()))
    }

    /// The keys one request tries ([`KeyState::order`]); moves the rotation.
    pub fn key_order(&self, now: tokio::time::Instant) -> Result<Vec<usize>, tokio::time::Instant> {
        self.key_state
            .order(now, |i| self.keys.get(i).is_some_and(|k| k.error.is_none()))
    }
}

#[derive(Debug)]
pub struct RouteTarget {
    pub provider: Arc<ProviderRuntime>,
    /// Forwarded model; `None` forwards the requested name. On a pattern
    /// route as configured, a `{model}` template is kept here until a
    /// request binds it ([`RouteRuntime::bind`]).
    pub model: Option<String>,
    /// On a pattern route as configured: the target's shared health, used
    /// only when the registry's bound on request-chosen names is reached.
    pub health: Arc<TargetHealth>,
}

impl RouteTarget {
    pub fn forwarded<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(requested)
    }
}

#[derive(Debug)]
pub struct RouteRuntime {
    /// `spec.model` is the route's name: the exact model or the pattern.
    pub spec: Arc<RouteSpec>,
    pub targets: Vec<RouteTarget>,
    /// Shared by a pattern route and every per-request binding of it, so
    /// weighted order is one rotation across all the names it matches.
    pub strategy: Arc<StrategyState>,
    /// A pattern route (`claude-*`): bind it to the requested name first.
    pub pattern: bool,
    /// Made for one unrouted name (`provider/model`, a listed model).
    pub implicit: bool,
    /// Sticky sessions of this route (`None` when off: priority routes,
    /// `sticky = false`). Shared with the next runtime when a publish leaves
    /// the route's targets as they were ([`Runtime::keep_sessions`]).
    pub sticky: Option<Arc<StickyTable>>,
    /// Per `fallback_targets` class: indices into `targets` the request
    /// goes on with after that error. Targets named only there come after
    /// the route's own (`spec.targets.len()` of them), never in its order.
    pub class_targets: Vec<(ErrorClass, Vec<usize>)>,
    /// `cost` routes: each of the route's own targets' price (provider,
    /// concrete forwarded model); empty otherwise and on a pattern route
    /// until bound.
    pub prices: Vec<Option<Price>>,
}

/// Each target's price, for a `cost` route (nothing for other strategies).
fn prices_of(
    spec: &RouteSpec,
    targets: &[RouteTarget],
    overrides: &[PriceOverride],
    requested: &str,
) -> Vec<Option<Price>> {
    if spec.strategy != Strategy::Cost {
        return Vec::new();
    }
    targets
        .iter()
        .take(spec.targets.len())
        .map(|t| price_for(overrides, &t.provider.spec.name, t.forwarded(requested)))
        .collect()
}

impl RouteRuntime {
    /// This pattern route for one requested name: each target's forwarded
    /// model made concrete (omitted → the name, `{model}` substituted), and
    /// its health that of `(provider, concrete model)` — the same entry an
    /// exact route or an implicit route to that model uses, since an
    /// upstream's failures and rate limits are per model (one overloaded
    /// model must not cool down every name a `*` route sends there). The
    /// names are the client's choice, so the registry bounds how many such
    /// entries it creates ([`HealthRegistry::get_dynamic`]); past that bound
    /// a target falls back to its shared per-target health.
    pub fn bind(
        &self,
        requested: &str,
        health: &HealthRegistry,
        prices: &[PriceOverride],
    ) -> Arc<RouteRuntime> {
        let targets: Vec<RouteTarget> = self
            .targets
            .iter()
            .map(|t| {
                let fwd = forward_name(t.model.as_deref(), requested);
                RouteTarget {
                    health: health.get_dynamic(&t.provider.spec.name, &fwd, Some(&t.health)),
                    provider: t.provider.clone(),
                    model: t.model.as_ref().map(|_| fwd),
                }
            })
            .collect();
        Arc::new(RouteRuntime {
            prices: prices_of(&self.spec, &targets, prices, requested),
            spec: self.spec.clone(),
            targets,
            strategy: self.strategy.clone(),
            sticky: self.sticky.clone(),
            pattern: false,
            implicit: false,
            class_targets: self.class_targets.clone(),
        })
    }

    /// Try order for one request (first = preferred). A session on this
    /// route's sticky table goes to its target first while that target is
    /// healthy (breaker closed); otherwise the strategy picks.
    pub fn order(&self, session: Option<&SessionKey>) -> Vec<usize> {
        self.order_for(session, (0, 0))
    }

    /// [`RouteRuntime::order`] for a request of `tokens` (estimated input,
    /// output): what a `cost` route orders by.
    pub fn order_for(&self, session: Option<&SessionKey>, tokens: (u64, u64)) -> Vec<usize> {
        let own = self.spec.targets.len().min(self.targets.len());
        let pinned = match (&self.sticky, session) {
            (Some(table), Some(key)) => {
                let now = tokio::time::Instant::now();
                table.get(key, now).filter(|&i| {
                    self.targets
                        .get(i)
                        .is_some_and(|t| t.health.peek(now) == super::health::Admission::Closed)
                })
            }
            _ => None,
        };
        self.strategy.order(
            own,
            |i| self.targets[i].health.ewma_ms(),
            |i| self.estimated_cost(i, tokens),
            pinned,
        )
    }

    /// Target `i`'s price for `tokens` (input, output) in USD, when known
    /// (`cost` routes only). Where the provider caches prompts, the share of
    /// input its recent answers read from the cache
    /// ([`TargetHealth::cached_share`](super::health::TargetHealth::cached_share))
    /// is priced at its cached-input rate.
    pub fn estimated_cost(&self, i: usize, (tokens_in, tokens_out): (u64, u64)) -> Option<f64> {
        let price = self.prices.get(i).copied().flatten()?;
        let share = self.targets.get(i).and_then(|t| t.health.cached_share());
        let cached = share.map_or(0, |s| (s.clamp(0.0, 1.0) * tokens_in as f64) as u64);
        Some(price.cost_cached(tokens_in, cached, 0, tokens_out))
    }

    /// The targets the request goes on with after a `class` error, if the
    /// route names some.
    pub fn targets_after(&self, class: ErrorClass) -> Option<&[usize]> {
        self.class_targets
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, t)| t.as_slice())
    }

    /// Target `i` served the session: it stays there. True when team mode
    /// should publish the binding ([`StickyTable::set`]).
    pub fn served_session(&self, session: Option<&SessionKey>, i: usize) -> bool {
        match (&self.sticky, session) {
            (Some(table), Some(key)) => table.set(key, i, tokio::time::Instant::now()),
            _ => false,
        }
    }

    /// What identifies this route's targets, in order: sessions are kept
    /// across a publish only when it is the same.
    fn target_ids(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.targets
            .iter()
            .map(|t| (t.provider.spec.name.as_str(), t.model.as_deref()))
    }
}

#[derive(Debug)]
pub struct Runtime {
    pub config: Arc<Config>,
    /// Increases with every swap; caches keyed on it go stale on publish.
    pub generation: u64,
    pub providers: Vec<Arc<ProviderRuntime>>,
    /// Exact routes and pattern routes ([`RouteTable::lookup`]).
    pub routes: RouteTable,
    /// `(label, key)`: the label (the key's reference) identifies the client.
    pub client_keys: Vec<(String, Secret)>,
    /// Shared with the next runtime, resized when `limits.ingress_rpm` or
    /// `ingress_tpm` change.
    pub ingress: Arc<KeyedLimiter>,
    /// `[[limits.models]]`; each entry's budget kept like the ingress one.
    pub model_limits: ModelLimits,
    /// The virtual client keys (data, not config): the same set in every
    /// runtime of one gateway ([`crate::state::AppState::vkeys`]).
    pub vkeys: Arc<crate::vkeys::VirtualKeys>,
}

/// Which budget a provider draws on: its own, or its limit group's.
fn limiter_key(spec: &ProviderSpec) -> (bool, &str) {
    match &spec.limit_group {
        Some(g) => (true, g),
        None => (false, &spec.name),
    }
}

impl Runtime {
    /// Resolves keys and builds routes. Never fails: an unresolvable provider
    /// key makes that provider fail over at request time, with the reason.
    pub fn build(config: Config, health: &HealthRegistry, generation: u64) -> Self {
        Self::build_after(config, health, generation, None)
    }

    /// [`Runtime::build`] for a config that replaces `prev`'s: local limits
    /// keep their state (requests and tokens spent in the current window)
    /// for every provider (or limit group), the ingress and every model
    /// limit, so a publish, a hand edit or a profile switch does not hand
    /// out a fresh budget. A changed limit is resized in place: what was
    /// spent in the window counts against the new value.
    pub fn build_after(
        config: Config,
        health: &HealthRegistry,
        generation: u64,
        prev: Option<&Runtime>,
    ) -> Self {
        // One limiter per provider or limit group: the previous runtime's
        // when it had that provider (group), resized to the new limits.
        let mut limiters: Vec<((bool, String), Arc<ProviderLimiter>)> = Vec::new();
        let mut limiter_for = |spec: &ProviderSpec| {
            let (shared, id) = limiter_key(spec);
            if let Some((_, l)) = limiters.iter().find(|((s, k), _)| *s == shared && k == id) {
                return l.clone();
            }
            let old = prev.and_then(|p| {
                p.providers
                    .iter()
                    .find(|o| limiter_key(&o.spec) == (shared, id))
            });
            let l = match old {
                Some(o) => {
                    o.limiter.resize(spec.rpm, spec.tpm);
                    o.limiter.clone()
                }
                None => Arc::new(ProviderLimiter::new(spec.rpm, spec.tpm)),
            };
            limiters.push(((shared, id.to_string()), l.clone()));
            l
        };
        let kept_keys = |spec: &crate::config::ProviderSpec| {
            let old = prev?.providers.iter().find(|p| p.spec.name == spec.name)?;
            (old.spec.api_keys == spec.api_keys && old.spec.key_rotation == spec.key_rotation)
                .then(|| old.key_state.clone())
        };
        let providers: Vec<Arc<ProviderRuntime>> = config
            .providers
            .iter()
            .map(|spec| {
                build_provider(
                    spec,
                    limiter_for(spec),
                    kept_keys(spec),
                    &config.server.ssrf,
                )
            })
            .collect();
        let routes = RouteTable::new(config.routes.iter().map(|r| {
            let pattern = r.model.contains('*');
            let target = |t: &crate::config::TargetSpec| {
                // An exact route's templates are made concrete now; a
                // pattern route's per request. Its shared health is
                // keyed by what it forwards as written (`claude-*`,
                // `openrouter/{model}`).
                let model = match &t.model {
                    Some(m) if !pattern && m.contains(MODEL_PLACEHOLDER) => {
                        Some(forward_name(Some(m), &r.model))
                    }
                    m => m.clone(),
                };
                RouteTarget {
                    provider: providers[t.provider_index].clone(),
                    health: health.get(&t.provider, model.as_deref().unwrap_or(&r.model)),
                    model,
                }
            };
            let mut targets: Vec<RouteTarget> = r.targets.iter().map(target).collect();
            // A class's fallback target is the route's own when it names
            // the same provider and forwarded model; else one more target.
            let mut ids: Vec<(String, String)> = r
                .targets
                .iter()
                .map(|t| {
                    (
                        t.provider.clone(),
                        forward_name(t.model.as_deref(), &r.model),
                    )
                })
                .collect();
            let class_targets = r
                .errors
                .fallback_targets
                .iter()
                .map(|(class, list)| {
                    let idx = list
                        .iter()
                        .map(|t| {
                            let id = (
                                t.provider.clone(),
                                forward_name(t.model.as_deref(), &r.model),
                            );
                            ids.iter().position(|x| *x == id).unwrap_or_else(|| {
                                ids.push(id);
                                targets.push(target(t));
                                targets.len() - 1
                            })
                        })
                        .collect();
                    (*class, idx)
                })
                .collect();
            let weights: Vec<u32> = r.targets.iter().map(|t| t.weight).collect();
            // A pattern route's table is shared by every name it takes: a
            // session stays on its target whatever name it asks for.
            let sticky = r.sticky.then(|| {
                Arc::new(StickyTable::new(
                    config.routing.sticky_ttl,
                    config.routing.sticky_max_sessions,
                ))
            });
            let prices = if pattern {
                Vec::new()
            } else {
                prices_of(r, &targets, &config.telemetry.prices, &r.model)
            };
            let route = RouteRuntime {
                spec: Arc::new(r.clone()),
                targets,
                strategy: Arc::new(StrategyState::new(r.strategy, &weights)),
                sticky,
                pattern,
                implicit: false,
                class_targets,
                prices,
            };
            (r.model.clone(), Arc::new(route))
        }));
        let client_keys = config
            .server
            .client_keys
            .iter()
            .filter_map(|r| match r.resolve() {
                Ok(k) => Some((r.to_string(), k)),
                Err(e) => {
                    tracing::error!(
                        "client key {r} cannot be resolved ({e}); it will not authenticate anyone"
                    );
                    None
                }
            })
            .collect();
        let limits = &config.limits;
        let ingress = match prev {
            Some(p) => {
                p.ingress.resize(limits.ingress_rpm, limits.ingress_tpm);
                p.ingress.clone()
            }
            None => Arc::new(KeyedLimiter::new(limits.ingress_rpm, limits.ingress_tpm)),
        };
        let model_limits = ModelLimits::build(&limits.models, prev.map(|p| &p.model_limits));
        let vkeys = prev.map_or_else(
            || Arc::new(crate::vkeys::VirtualKeys::in_memory()),
            |p| p.vkeys.clone(),
        );
        Self {
            config: Arc::new(config),
            generation,
            providers,
            routes,
            client_keys,
            ingress,
            model_limits,
            vkeys,
        }
    }

    /// Before this runtime is published: every sticky route whose targets
    /// (providers and forwarded models, in order) and sticky bounds are the
    /// same as in `prev` takes over `prev`'s sessions; any other route starts
    /// empty (a session's target index would mean another target).
    pub fn keep_sessions(&mut self, prev: &Runtime) {
        for (model, route) in self.routes.entries_mut() {
            let Some(old) = prev.routes.by_name(model) else {
                continue;
            };
            let (Some(new_t), Some(old_t)) = (&route.sticky, &old.sticky) else {
                continue;
            };
            if new_t.ttl() != old_t.ttl()
                || new_t.max() != old_t.max()
                || !route.target_ids().eq(old.target_ids())
            {
                continue;
            }
            let kept = old_t.clone();
            if let Some(r) = Arc::get_mut(route) {
                r.sticky = Some(kept);
            }
        }
    }

    pub fn provider_index(&self, name: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.spec.name == name)
    }

    /// A one-target route for a model that has no route of its own.
    pub fn implicit_route(
        &self,
        provider: usize,
        model: Option<String>,
        requested: &str,
        health: &HealthRegistry,
    ) -> Arc<RouteRuntime> {
        let p = self.providers[provider].clone();
        let fwd = model.clone().unwrap_or_else(|| requested.to_string());
        let spec = Arc::new(RouteSpec {
            model: requested.to_string(),
            strategy: Strategy::Priority,
            cooldown: std::time::Duration::from_secs(30),
            failure_threshold: 3,
            rate_limit_threshold: 1,
            retries: 0,
            sticky: false,
            cache: None,
            targets: vec![crate::config::TargetSpec {
                provider: p.spec.name.clone(),
                provider_index: provider,
                model: model.clone(),
                weight: 1,
            }],
            errors: Default::default(),
        });
        Arc::new(RouteRuntime {
            targets: vec![RouteTarget {
                // The name is the client's choice: bounded like a pattern's.
                health: health.get_dynamic(&p.spec.name, &fwd, None),
                provider: p,
                model,
            }],
            spec,
            strategy: Arc::new(StrategyState::Priority),
            sticky: None,
            pattern: false,
            implicit: true,
            class_targets: Vec::new(),
            prices: Vec::new(),
        })
    }
}

/// A Vertex provider's service account: a JSON key whose `token_uri` the
/// SSRF guard allows (the message never quotes the key).
fn check_service_account(json: &Secret, ssrf: &crate::ssrf::SsrfPolicy) -> Result<(), String> {
    providers::vertex::ServiceAccount::parse(json.expose())?.check_token_uri(ssrf)
}

/// Resolves a provider's keys and header references and builds its
/// behaviour once per key. Never fails: what does not resolve is reported
/// at request time (the key skipped, or the provider failing over).
fn build_provider(
    spec: &ProviderSpec,
    limiter: Arc<ProviderLimiter>,
    key_state: Option<Arc<KeyState>>,
    ssrf: &crate::ssrf::SsrfPolicy,
) -> Arc<ProviderRuntime> {
    let mut errors: Vec<String> = Vec::new();
    let mut header_secrets: Vec<crate::secrets::Secret> = Vec::new();
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (name, source) in &spec.headers {
        match source {
            HeaderSource::Literal(v) => headers.push((name.clone(), v.clone())),
            HeaderSource::Secret(r) => match r.resolve().map_err(|e| e.to_string()).and_then(|s| {
                let v = providers::secret_header(s.expose())
                    .ok_or_else(|| "the value is not a valid header value".to_string())?;
                Ok((s, v))
            }) {
                Ok((s, v)) => {
                    header_secrets.push(s);
                    headers.push((name.clone(), v));
                }
                Err(e) => {
                    let msg = format!("provider {:?}: header {name} ({r}): {e}", spec.name);
                    tracing::warn!("{msg}");
                    errors.push(msg);
                }
            },
        }
    }
    let resolved: Vec<(Option<String>, Result<Secret, String>)> = if spec.api_keys.is_empty() {
        Vec::new()
    } else {
        spec.api_keys
            .iter()
            .map(|r| {
                let key = r
                    .resolve()
                    .map_err(|e| e.to_string())
                    .and_then(|k| {
                        if spec.kind == crate::config::ProviderKind::Vertex {
                            check_service_account(&k, ssrf)?;
                        }
                        Ok(k)
                    })
                    .map_err(|e| {
                        let msg = format!("provider {:?}: key {r}: {e}", spec.name);
                        tracing::warn!("{msg}");
                        msg
                    });
                (Some(r.to_string()), key)
            })
            .collect()
    };
    let aws = spec
        .aws
        .as_ref()
        .map(|a| (a.access_key_id.to_string(), resolve_aws(spec, a)));
    let aws_secrets: Vec<Secret> = match &aws {
        Some((_, Ok(c))) => [Some(&c.access_key_id), Some(&c.secret_access_key)]
            .into_iter()
            .chain([c.session_token.as_ref()])
            .flatten()
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let scrub = Scrubber::new(
        resolved
            .iter()
            .filter_map(|(_, k)| k.as_ref().ok())
            .chain(&header_secrets)
            .chain(&aws_secrets)
            .map(|k| k.expose().as_bytes())
            .chain(
                headers
                    .iter()
                    .filter(|(n, _)| is_credential_header(n.as_str()))
                    .map(|(_, v)| v.as_bytes()),
            ),
    );
    let keys: Vec<PoolKey> = if let Some((name, creds)) = aws {
        // Bedrock: one "key", the credential set, named by its key id's
        // reference.
        vec![match creds {
            Ok(c) => PoolKey {
                name: Some(name),
                api: providers::build_bedrock(spec, c, &headers),
                error: None,
            },
            Err(e) => PoolKey {
                name: Some(name),
                api: providers::build(spec, None, &headers),
                error: Some(e),
            },
        }]
    } else if resolved.is_empty() {
        vec![PoolKey {
            name: None,
            api: providers::build(spec, None, &headers),
            error: None,
        }]
    } else {
        resolved
            .into_iter()
            .map(|(name, key)| match key {
                Ok(k) => PoolKey {
                    name,
                    api: providers::build(spec, Some(k), &headers),
                    error: None,
                },
                Err(e) => PoolKey {
                    name,
                    api: providers::build(spec, None, &headers),
                    error: Some(e),
                },
            })
            .collect()
    };
    if keys.iter().all(|k| k.error.is_some())
        && let Some(e) = keys.first().and_then(|k| k.error.clone())
    {
        errors.insert(0, e);
    }
    Arc::new(ProviderRuntime {
        scrub,
        key_state: key_state
            .unwrap_or_else(|| Arc::new(KeyState::new(keys.len(), spec.key_rotation))),
        keys,
        key_error: (!errors.is_empty()).then(|| errors.join("; ")),
        limiter,
        spec: spec.clone(),
    })
}

/// A Bedrock provider's credential references resolved (each must be a
/// valid header value: the key id and token go into headers).
fn resolve_aws(
    spec: &ProviderSpec,
    a: &crate::config::AwsAuth,
) -> Result<providers::AwsCredentials, String> {
    let one = |r: &crate::secrets::SecretRef| {
        r.resolve()
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let v = s.expose();
                if v.is_empty() || http::HeaderValue::from_str(v).is_err() {
                    Err("the value is empty or not printable ASCII".to_string())
                } else {
                    Ok(s)
                }
            })
            .map_err(|e| {
                let msg = format!("provider {:?}: {r}: {e}", spec.name);
                tracing::warn!("{msg}");
                msg
            })
    };
    Ok(providers::AwsCredentials {
        access_key_id: one(&a.access_key_id)?,
        secret_access_key: one(&a.secret_access_key)?,
        session_token: a.session_token.as_ref().map(one).transpose()?,
    })
}
