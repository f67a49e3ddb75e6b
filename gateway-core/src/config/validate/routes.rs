//! `[[routes]]` and `[profiles.*]`: the effective routes (the active
//! profile's when one is set), their targets and thresholds.

use std::collections::HashSet;
use std::time::Duration;

use super::super::raw::{RawConfig, RawRoute, Strategy};
use super::{MAX_SECS, Severity, Validator, valid_name};
use crate::vocab::pattern::{MODEL_PLACEHOLDER, Pattern, forward_name};

#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub provider: String,
    /// Index into [`Config::providers`].
    pub provider_index: usize,
    /// Forwarded model; `None` forwards the requested name.
    pub model: Option<String>,
    pub weight: u32,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub model: String,
    pub strategy: Strategy,
    pub cooldown: Duration,
    pub failure_threshold: u32,
    pub rate_limit_threshold: u32,
    pub retries: u32,
    /// Sticky sessions on (only ever true for weighted and latency routes).
    pub sticky: bool,
    /// The exact response cache (`[routes.cache]`); `None`: off.
    pub cache: Option<RouteCache>,
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCache {
    pub ttl: Duration,
    /// Requests with `temperature > 0` are cached too.
    pub cache_temperature: bool,
}

impl Validator<'_> {
    /// Profile names, every profile's routes, and the active profile; the
    /// returned routes are the active profile's, else the top-level ones.
    pub(super) fn profiles(
        &mut self,
        raw: &RawConfig,
        names: &[&str],
    ) -> (Vec<String>, Vec<RouteSpec>, Option<String>) {
        let s = &raw.server;
        let mut profiles = Vec::new();
        for name in raw.profiles.keys() {
            if !valid_name(name) {
                self.push(
                    Severity::Error,
                    &format!("profiles.{name}"),
                    None,
                    "profile names use a-z, 0-9, '_' and '-'".into(),
                );
            }
            profiles.push(name.clone());
        }
        let mut routes = self.routes("routes", &raw.routes, names);
        for (name, p) in &raw.profiles {
            let r = self.routes(&format!("profiles.{name}.routes"), &p.routes, names);
            if s.profile.as_ref().is_some_and(|a| a.get_ref() == name) {
                routes = r;
            }
        }
        let active_profile = match &s.profile {
            Some(p) if !raw.profiles.contains_key(p.get_ref()) => {
                self.error(
                    "server.profile",
                    p,
                    format!(
                        "no profile named {:?} (defined: {:?})",
                        p.get_ref(),
                        profiles
                    ),
                );
                None
            }
            Some(p) => Some(p.get_ref().clone()),
            None => None,
        };
        (profiles, routes, active_profile)
    }

    pub(super) fn routes(
        &mut self,
        base: &str,
        raw: &[RawRoute],
        providers: &[&str],
    ) -> Vec<RouteSpec> {
        let mut seen = HashSet::new();
        let mut patterns: Vec<(usize, Pattern)> = Vec::new();
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("{base}[{i}]");
            let model = r.model.get_ref();
            if model.trim().is_empty() {
                self.error(
                    &format!("{path}.model"),
                    &r.model,
                    "model must not be empty",
                );
            }
            if !seen.insert(model.clone()) {
                self.error(
                    &format!("{path}.model"),
                    &r.model,
                    format!("duplicate route {model:?}"),
                );
            }
            if model.matches('*').count() > 1 {
                self.error(
                    &format!("{path}.model"),
                    &r.model,
                    format!(
                        "route {model:?} has more than one '*': a pattern has one, \
                         anywhere (\"claude-*\", \"*-latest\", \"*\")"
                    ),
                );
            } else if let Some(p) = Pattern::parse(model) {
                // Equally specific patterns that can match the same name
                // would leave the choice to config order: refused.
                for (k, q) in &patterns {
                    if q.specificity() == p.specificity() && q != &p && q.overlaps(&p) {
                        self.error(
                            &format!("{path}.model"),
                            &r.model,
                            format!(
                                "routes {:?} ({base}[{k}]) and {model:?} are equally specific \
                                 and both match e.g. {:?}: make one longer or split them",
                                raw[*k].model.get_ref(),
                                q.common_example(&p),
                            ),
                        );
                    }
                }
                patterns.push((i, p));
            }
            if r.targets.is_empty() {
                self.error(
                    &format!("{path}.targets"),
                    &r.model,
                    "a route needs at least one target",
                );
            }
            if r.cooldown_s > MAX_SECS {
                self.error(
                    &format!("{path}.cooldown_s"),
                    &r.model,
                    format!("cooldown_s must be at most {MAX_SECS}"),
                );
            }
            if r.failure_threshold == 0 || r.rate_limit_threshold == 0 {
                self.error(&path, &r.model, "failure thresholds must be >= 1");
            }
            let mut targets = Vec::new();
            let mut pairs = HashSet::new();
            for (j, t) in r.targets.iter().enumerate() {
                let tpath = format!("{path}.targets[{j}]");
                let pname = t.provider.get_ref();
                let Some(idx) = providers.iter().position(|p| p == pname) else {
                    self.error(
                        &format!("{tpath}.provider"),
                        &t.provider,
                        format!("unknown provider {pname:?} (defined: {providers:?})"),
                    );
                    continue;
                };
                if r.strategy == Strategy::Weighted && t.weight == 0 {
                    self.error(
                        &format!("{tpath}.weight"),
                        &t.provider,
                        "weight must be >= 1",
                    );
                }
                if t.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
                    self.error(
                        &format!("{tpath}.model"),
                        &t.provider,
                        "model must not be empty",
                    );
                }
                if let Some(m) = t.model.as_deref()
                    && m.replace(MODEL_PLACEHOLDER, "").contains(['{', '}'])
                {
                    self.error(
                        &format!("{tpath}.model"),
                        &t.provider,
                        format!(
                            "model {m:?}: the only placeholder is {MODEL_PLACEHOLDER} \
                             (the requested name), e.g. \"openrouter/{MODEL_PLACEHOLDER}\""
                        ),
                    );
                }
                // What the target forwards, templates filled in with the
                // route's name: `{model}` and an omitted model are the same.
                let fwd = forward_name(t.model.as_deref(), model);
                if !pairs.insert((pname.clone(), fwd.clone())) {
                    self.error(
                        &tpath,
                        &t.provider,
                        format!("target {pname}/{fwd} appears twice in this route"),
                    );
                }
                targets.push(TargetSpec {
                    provider: pname.clone(),
                    provider_index: idx,
                    model: t.model.clone(),
                    weight: t.weight.max(1),
                });
            }
            if r.strategy == Strategy::Priority && r.sticky == Some(true) {
                self.push(
                    Severity::Warning,
                    &format!("{path}.sticky"),
                    None,
                    "priority routes are sticky by nature: `sticky` has no effect".into(),
                );
            }
            if let Some(c) = &r.cache
                && !(1..=MAX_SECS).contains(&c.ttl_s)
            {
                self.error(
                    &format!("{path}.cache.ttl_s"),
                    &r.model,
                    format!("ttl_s must be between 1 and {MAX_SECS}"),
                );
            }
            out.push(RouteSpec {
                model: model.clone(),
                strategy: r.strategy,
                cooldown: Duration::from_secs(r.cooldown_s),
                failure_threshold: r.failure_threshold.max(1),
                rate_limit_threshold: r.rate_limit_threshold.max(1),
                retries: r.retries,
                sticky: r.strategy != Strategy::Priority && r.sticky.unwrap_or(true),
                cache: r.cache.as_ref().map(|c| RouteCache {
                    ttl: Duration::from_secs(c.ttl_s),
                    cache_temperature: c.cache_temperature,
                }),
                targets,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::GOOD;
    use super::super::{Config, Severity};

    #[test]
    fn active_profile_replaces_routes() {
        let src = GOOD.replace(
            "listen = \"127.0.0.1:4000\"",
            "listen = \"127.0.0.1:4000\"\nprofile = \"local-only\"",
        );
        let c = Config::parse(&src, "t").unwrap();
        assert_eq!(c.active_profile.as_deref(), Some("local-only"));
        assert_eq!(c.routes[0].targets.len(), 1);
        assert_eq!(c.routes[0].targets[0].provider, "backup");
    }

    #[test]
    fn semantic_errors_point_at_the_field() {
        let src = GOOD.replace("provider = \"backup\"\nmodel", "provider = \"nope\"\nmodel");
        let e = Config::parse(&src, "cfg.toml").unwrap_err();
        let i = e
            .issues
            .iter()
            .find(|i| i.severity == Severity::Error)
            .unwrap();
        assert_eq!(i.path, "routes[0].targets[1].provider");
        assert_eq!(i.line, Some(21));
        assert!(i.message.contains("unknown provider \"nope\""));
        assert!(e.to_string().contains("cfg.toml:21:"));
    }

    #[test]
    fn sticky_defaults_per_strategy_and_bounds() {
        let with = |route_extra: &str, routing: &str| {
            let src = GOOD
                .replace(
                    "[[routes]]\nmodel = \"gpt-4o-mini\"\n",
                    &format!("[[routes]]\nmodel = \"gpt-4o-mini\"\n{route_extra}\n"),
                )
                .replace("[server]", &format!("{routing}\n[server]"));
            Config::parse(&src, "t")
        };
        let c = with("strategy = \"weighted\"", "").unwrap();
        assert!(c.routes[0].sticky);
        assert_eq!(c.routing.sticky_ttl, std::time::Duration::from_secs(3600));
        assert_eq!(c.routing.sticky_max_sessions, 10_000);
        assert!(with("strategy = \"latency\"", "").unwrap().routes[0].sticky);
        assert!(
            !with("strategy = \"weighted\"\nsticky = false", "")
                .unwrap()
                .routes[0]
                .sticky
        );
        let c = with("", "").unwrap();
        assert!(!c.routes[0].sticky);
        // sticky = true on a priority route: no effect, a warning
        let c = with("sticky = true", "").unwrap();
        assert!(!c.routes[0].sticky);
        assert!(
            c.warnings
                .iter()
                .any(|i| i.severity == Severity::Warning && i.path == "routes[0].sticky")
        );
        let c = with("", "[routing]\nsticky_ttl_s = 60\nsticky_max_sessions = 5").unwrap();
        assert_eq!(
            (
                c.routing.sticky_ttl.as_secs(),
                c.routing.sticky_max_sessions
            ),
            (60, 5)
        );
        for bad in [
            "sticky_ttl_s = 0",
            "sticky_ttl_s = 86401",
            "sticky_max_sessions = 0",
            "sticky_max_sessions = 1000001",
        ] {
            let e = with("", &format!("[routing]\n{bad}")).unwrap_err();
            let field = bad.split(' ').next().unwrap();
            assert!(
                e.issues
                    .iter()
                    .any(|i| i.path == format!("routing.{field}")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let src = "[server]\nprofile = \"cheap\"\n";
        let e = Config::parse(src, "x").unwrap_err();
        assert_eq!(e.issues[0].path, "server.profile");
        assert_eq!(e.issues[0].line, Some(2));
    }

    const PROVIDER: &str =
        "[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n";

    fn route(model: &str, target_model: Option<&str>) -> String {
        let m = target_model.map_or(String::new(), |m| format!("model = {m:?}\n"));
        format!("[[routes]]\nmodel = {model:?}\n[[routes.targets]]\nprovider = \"a\"\n{m}")
    }

    fn errors(routes: &str) -> Vec<(String, String)> {
        match Config::parse(&format!("{PROVIDER}{routes}"), "t") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .issues
                .into_iter()
                .filter(|i| i.severity == Severity::Error)
                .map(|i| (i.path, i.message))
                .collect(),
        }
    }

    #[test]
    fn patterns_templates_and_exact_routes_together_are_valid() {
        let src = [
            route("claude-*", None),
            route("claude-opus-*", Some("{model}-latest")),
            route("gpt-5*", Some("openrouter/{model}")),
            route("*-preview", None),
            route("*", Some("llama3.1:8b")),
            route("claude-opus-4-8", None),
        ]
        .concat();
        assert_eq!(errors(&src), Vec::<(String, String)>::new());
        let c = Config::parse(&format!("{PROVIDER}{src}"), "t").unwrap();
        assert_eq!(c.routes.len(), 6);
        assert_eq!(
            c.routes[2].targets[0].model.as_deref(),
            Some("openrouter/{model}")
        );
    }

    #[test]
    fn equally_specific_overlapping_patterns_are_refused_naming_both() {
        // `ab*` and `a*x` both have two literal characters and both match "abx".
        let e = errors(&[route("ab*", None), route("a*x", None)].concat());
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "routes[1].model");
        assert!(e[0].1.contains("\"ab*\" (routes[0])"), "{}", e[0].1);
        assert!(e[0].1.contains("\"a*x\""), "{}", e[0].1);
        assert!(e[0].1.contains("equally specific"), "{}", e[0].1);
        // Same length, disjoint prefixes: no name matches both, no error.
        assert!(errors(&[route("claude-*", None), route("gemini-*", None)].concat()).is_empty());
        // In a profile, the path names the profile's routes.
        let p = "[profiles.x]\n[[profiles.x.routes]]\nmodel = \"ab*\"\n[[profiles.x.routes.targets]]\nprovider = \"a\"\n[[profiles.x.routes]]\nmodel = \"a*x\"\n[[profiles.x.routes.targets]]\nprovider = \"a\"\n";
        let e = errors(p);
        assert_eq!(e[0].0, "profiles.x.routes[1].model");
        assert!(e[0].1.contains("profiles.x.routes[0]"), "{}", e[0].1);
    }

    #[test]
    fn duplicate_patterns_and_two_stars_are_refused() {
        let e = errors(&[route("claude-*", None), route("claude-*", None)].concat());
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "routes[1].model");
        assert!(
            e[0].1.contains("duplicate route \"claude-*\""),
            "{}",
            e[0].1
        );
        // `{model}` forwards what an omitted model does: the same target twice.
        let twice = format!(
            "{}[[routes.targets]]\nprovider = \"a\"\nmodel = \"{{model}}\"\n",
            route("claude-*", None)
        );
        let e = errors(&twice);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].1.contains("appears twice"), "{}", e[0].1);
        let e = errors(&route("claude-*-*", None));
        assert_eq!(e[0].0, "routes[0].model");
        assert!(e[0].1.contains("more than one '*'"), "{}", e[0].1);
    }

    #[test]
    fn a_template_with_an_unknown_placeholder_is_refused() {
        for bad in ["{modle}", "openrouter/{model", "x}"] {
            let e = errors(&route("claude-*", Some(bad)));
            assert_eq!(e.len(), 1, "{bad}: {e:?}");
            assert_eq!(e[0].0, "routes[0].targets[0].model");
            assert!(
                e[0].1.contains("the only placeholder is {model}"),
                "{}",
                e[0].1
            );
        }
    }
}
