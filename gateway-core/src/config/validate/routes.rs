//! `[[routes]]` and `[profiles.*]`: the effective routes (the active
//! profile's when one is set), their targets and thresholds.

use std::collections::HashSet;
use std::time::Duration;

use super::super::raw::{RawConfig, RawRoute, Strategy};
use super::{MAX_SECS, Severity, Validator, valid_name};
use crate::vocab::ErrorClass;
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
    /// What else falls back, and where to, and for how long ([`ErrorRules`]).
    pub errors: ErrorRules,
}

/// A route's error-class fallback and retry rules; the default (all empty)
/// is the behaviour without them: 408, 429, 5xx and transport failures
/// fall back, other 4xx return to the client, attempts end by count only.
#[derive(Debug, Clone, Default)]
pub struct ErrorRules {
    /// Upstream client errors that fall back (health-neutral).
    pub fallback_on: Vec<ErrorClass>,
    /// Per class: the targets the request goes on with after that error
    /// (`weight` unused).
    pub fallback_targets: Vec<(ErrorClass, Vec<TargetSpec>)>,
    /// Upstream statuses that fall back besides 408, 429 and 5xx.
    pub retry_on_status: Vec<u16>,
    /// Lowercase error-body substrings that make an upstream error fall back.
    pub retry_on_message: Vec<String>,
    /// Budget for all attempts of one request.
    pub max_elapsed: Option<Duration>,
}

/// No rules: what a call outside a route (a pinned target) runs under.
pub static NO_RULES: ErrorRules = ErrorRules {
    fallback_on: Vec::new(),
    fallback_targets: Vec::new(),
    retry_on_status: Vec::new(),
    retry_on_message: Vec::new(),
    max_elapsed: None,
};

/// Most entries in each of a route's `fallback_on`, `retry_on_status`,
/// `retry_on_message` and each `fallback_targets` list.
pub const MAX_RULES: usize = 32;
/// Longest `retry_on_message` pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 256;

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
            let sticky_kind = matches!(r.strategy, Strategy::Weighted | Strategy::Latency);
            if !sticky_kind && r.sticky == Some(true) {
                self.push(
                    Severity::Warning,
                    &format!("{path}.sticky"),
                    None,
                    "priority and cost routes are sticky by nature: `sticky` has no effect".into(),
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
            let errors = self.error_rules(&path, r, providers);
            out.push(RouteSpec {
                model: model.clone(),
                strategy: r.strategy,
                cooldown: Duration::from_secs(r.cooldown_s),
                failure_threshold: r.failure_threshold.max(1),
                rate_limit_threshold: r.rate_limit_threshold.max(1),
                retries: r.retries,
                sticky: sticky_kind && r.sticky.unwrap_or(true),
                cache: r.cache.as_ref().map(|c| RouteCache {
                    ttl: Duration::from_secs(c.ttl_s),
                    cache_temperature: c.cache_temperature,
                }),
                targets,
                errors,
            });
        }
        out
    }
}

impl Validator<'_> {
    /// A route's `fallback_on`, `fallback_targets`, `retry_on_status`,
    /// `retry_on_message` and `max_elapsed_s`, checked and bounded.
    fn error_rules(&mut self, path: &str, r: &RawRoute, providers: &[&str]) -> ErrorRules {
        let known = || {
            ErrorClass::FALLBACK_ON
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = ErrorRules::default();
        let too_many = |what: &str| format!("{what} takes at most {MAX_RULES} entries");
        if r.fallback_on.len() > MAX_RULES {
            self.error(
                &format!("{path}.fallback_on"),
                &r.model,
                too_many("fallback_on"),
            );
        }
        for (k, name) in r.fallback_on.iter().enumerate() {
            match ErrorClass::fallback_class(name.get_ref()) {
                Some(c) if !out.fallback_on.contains(&c) => out.fallback_on.push(c),
                Some(_) => {}
                None => self.error(
                    &format!("{path}.fallback_on[{k}]"),
                    name,
                    format!(
                        "unknown error class {:?} (known: {})",
                        name.get_ref(),
                        known()
                    ),
                ),
            }
        }
        for (class, list) in &r.fallback_targets {
            let tpath = format!("{path}.fallback_targets.{class}");
            let Some(c) = ErrorClass::fallback_class(class) else {
                self.error(
                    &tpath,
                    list,
                    format!("unknown error class {class:?} (known: {})", known()),
                );
                continue;
            };
            if list.get_ref().is_empty() || list.get_ref().len() > MAX_RULES {
                self.error(
                    &tpath,
                    list,
                    format!("a class's fallback targets are 1 to {MAX_RULES} entries"),
                );
                continue;
            }
            let mut targets = Vec::new();
            for entry in list.get_ref() {
                // `provider` or `provider/model` (the model may contain '/').
                let (pname, model) = match entry.split_once('/') {
                    Some((p, m)) if !m.is_empty() => (p, Some(m.to_string())),
                    _ => (entry.as_str(), None),
                };
                let Some(idx) = providers.iter().position(|p| *p == pname) else {
                    self.error(
                        &tpath,
                        list,
                        format!(
                            "fallback target {entry:?}: unknown provider {pname:?} \
                             (write \"provider\" or \"provider/model\"; defined: {providers:?})"
                        ),
                    );
                    continue;
                };
                targets.push(TargetSpec {
                    provider: pname.to_string(),
                    provider_index: idx,
                    model,
                    weight: 1,
                });
            }
            // Targets for a class make it a fallback signal.
            if !out.fallback_on.contains(&c) {
                out.fallback_on.push(c);
            }
            out.fallback_targets.push((c, targets));
        }
        if r.retry_on_status.len() > MAX_RULES {
            self.error(
                &format!("{path}.retry_on_status"),
                &r.model,
                too_many("retry_on_status"),
            );
        }
        for &st in &r.retry_on_status {
            if !(400..=599).contains(&st) {
                self.error(
                    &format!("{path}.retry_on_status"),
                    &r.model,
                    format!("retry_on_status: {st} is not an error status (400 to 599)"),
                );
            } else if !out.retry_on_status.contains(&st) {
                out.retry_on_status.push(st);
            }
        }
        if r.retry_on_message.len() > MAX_RULES {
            self.error(
                &format!("{path}.retry_on_message"),
                &r.model,
                too_many("retry_on_message"),
            );
        }
        for m in &r.retry_on_message {
            if m.trim().is_empty() || m.len() > MAX_PATTERN_LEN {
                self.error(
                    &format!("{path}.retry_on_message"),
                    &r.model,
                    format!("retry_on_message patterns are 1 to {MAX_PATTERN_LEN} bytes"),
                );
            } else {
                out.retry_on_message.push(m.to_lowercase());
            }
        }
        if r.max_elapsed_s > MAX_SECS {
            self.error(
                &format!("{path}.max_elapsed_s"),
                &r.model,
                format!("max_elapsed_s must be at most {MAX_SECS}"),
            );
        }
        out.max_elapsed = (r.max_elapsed_s > 0).then(|| Duration::from_secs(r.max_elapsed_s));
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

    #[test]
    fn error_rules_parse_bound_and_point_at_bad_entries() {
        let two = "[[providers]]\nname = \"big\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:2/v1\"\n";
        let good = format!(
            "{PROVIDER}{two}[[routes]]\nmodel = \"m\"\nfallback_on = [\"content_filter\"]\n\
             retry_on_status = [404, 404]\nretry_on_message = [\"Overloaded\"]\nmax_elapsed_s = 60\n\
             [[routes.targets]]\nprovider = \"a\"\n\
             [routes.fallback_targets]\ncontext_length_exceeded = [\"big/org/gpt-big\", \"a\"]\n"
        );
        let c = Config::parse(&good, "t").unwrap();
        let e = &c.routes[0].errors;
        use crate::vocab::ErrorClass as C;
        // a class with targets falls back by itself
        assert_eq!(e.fallback_on, [C::ContentFilter, C::ContextLengthExceeded]);
        let (class, targets) = &e.fallback_targets[0];
        assert_eq!(*class, C::ContextLengthExceeded);
        assert_eq!(targets[0].provider, "big");
        assert_eq!(targets[0].model.as_deref(), Some("org/gpt-big"));
        assert_eq!(
            (targets[1].provider.as_str(), targets[1].model.as_deref()),
            ("a", None)
        );
        assert_eq!(e.retry_on_status, [404]);
        assert_eq!(e.retry_on_message, ["overloaded"]);
        assert_eq!(e.max_elapsed, Some(std::time::Duration::from_secs(60)));
        // defaults: no rules
        let c = Config::parse(&format!("{PROVIDER}{}", route("m", None)), "t").unwrap();
        assert!(c.routes[0].errors.fallback_on.is_empty());
        assert!(c.routes[0].errors.max_elapsed.is_none());

        let bad = |extra: &str| {
            let r = route("m", None).replacen("\"m\"\n", &format!("\"m\"\n{extra}\n"), 1);
            errors(&r)
        };
        let e = bad("fallback_on = [\"too_long\"]");
        assert_eq!(e[0].0, "routes[0].fallback_on[0]");
        assert!(
            e[0].1.contains("unknown error class \"too_long\""),
            "{}",
            e[0].1
        );
        assert!(
            e[0].1.contains("context_length_exceeded, content_filter"),
            "{}",
            e[0].1
        );
        let e = bad("retry_on_status = [200]");
        assert!(e[0].1.contains("not an error status"), "{e:?}");
        let e = bad("retry_on_message = [\"\"]");
        assert!(e[0].1.contains("1 to 256 bytes"), "{e:?}");
        let e = bad("max_elapsed_s = 86401");
        assert_eq!(e[0].0, "routes[0].max_elapsed_s");
        let many: Vec<String> = (0..33).map(|i| format!("\"x{i}\"")).collect();
        let e = bad(&format!("retry_on_message = [{}]", many.join(",")));
        assert!(e.iter().any(|(_, m)| m.contains("at most 32")), "{e:?}");
        let with_targets = |t: &str| {
            errors(&format!(
                "{}[routes.fallback_targets]\n{t}\n",
                route("m", None)
            ))
        };
        let e = with_targets("context_length_exceeded = [\"nope/x\"]");
        assert_eq!(e[0].0, "routes[0].fallback_targets.context_length_exceeded");
        assert!(e[0].1.contains("unknown provider \"nope\""), "{}", e[0].1);
        let e = with_targets("too_long = [\"a\"]");
        assert!(e[0].1.contains("unknown error class"), "{e:?}");
        let e = with_targets("content_filter = []");
        assert!(e[0].1.contains("1 to 32 entries"), "{e:?}");
    }

    #[test]
    fn cost_routes_are_not_sticky() {
        let r = route("m", None).replacen("\n", "\nstrategy = \"cost\"\n", 1);
        let c = Config::parse(&format!("{PROVIDER}{r}"), "t").unwrap();
        assert_eq!(c.routes[0].strategy, super::Strategy::Cost);
        assert!(!c.routes[0].sticky);
    }
}
