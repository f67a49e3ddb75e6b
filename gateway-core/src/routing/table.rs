//! Which route a model name takes: exact names in one hash map, pattern
//! routes (`claude-*`, `gpt-5*`, `*-latest`, `*`) in a short list sorted
//! at build time, most specific first, scanned only when the exact lookup
//! misses. Order: exact name > longest pattern > `*`; what no route the
//! operator wrote matches goes on to the implicit routes
//! (`provider/model`, then the catalog) in [`super::engine`].

use std::collections::HashMap;
use std::sync::Arc;

use super::runtime::RouteRuntime;
pub use crate::vocab::pattern::{MODEL_PLACEHOLDER, Pattern, forward_name};

/// How a name found its route.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// A route with exactly this name.
    Exact,
    /// A pattern route (`claude-*`, `*`).
    Pattern,
    /// `provider/model`: that provider, that model.
    Provider,
    /// No route: the first provider that lists the model.
    Catalog,
}

/// The operator's routes, exact and patterns.
#[derive(Debug, Default)]
pub struct RouteTable {
    exact: HashMap<String, Arc<RouteRuntime>>,
    /// Most specific first; `*` (if any) last; each with its name as written.
    patterns: Vec<(Pattern, String, Arc<RouteRuntime>)>,
}

impl RouteTable {
    /// Routes keyed by their `model`; names with a `*` become patterns.
    pub fn new(routes: impl IntoIterator<Item = (String, Arc<RouteRuntime>)>) -> Self {
        let mut t = Self::default();
        for (name, r) in routes {
            match Pattern::parse(&name) {
                Some(p) => t.patterns.push((p, name, r)),
                None => {
                    t.exact.insert(name, r);
                }
            }
        }
        // Stable: equally specific patterns keep config order (validation
        // refuses those that overlap, so the order never decides).
        t.patterns
            .sort_by_key(|(p, _, _)| std::cmp::Reverse(p.specificity()));
        t
    }

    /// The route for `model`: one hash lookup, then the patterns in order.
    pub fn lookup(&self, model: &str) -> Option<(&Arc<RouteRuntime>, MatchKind)> {
        if let Some(r) = self.exact.get(model) {
            return Some((r, MatchKind::Exact));
        }
        self.patterns
            .iter()
            .find(|(p, _, _)| p.matches(model))
            .map(|(_, _, r)| (r, MatchKind::Pattern))
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every route, exact ones first (no order within them).
    pub fn all(&self) -> impl Iterator<Item = &Arc<RouteRuntime>> {
        self.exact
            .values()
            .chain(self.patterns.iter().map(|(_, _, r)| r))
    }

    /// The route named `name` as written (an exact name or a pattern).
    pub fn by_name(&self, name: &str) -> Option<&Arc<RouteRuntime>> {
        self.exact.get(name).or_else(|| {
            self.patterns
                .iter()
                .find(|(_, n, _)| n == name)
                .map(|(_, _, r)| r)
        })
    }

    /// Every route with its name as written, to edit before publishing.
    pub fn entries_mut(&mut self) -> impl Iterator<Item = (&String, &mut Arc<RouteRuntime>)> {
        self.exact
            .iter_mut()
            .chain(self.patterns.iter_mut().map(|(_, n, r)| (&*n, r)))
    }

    /// The exact route names (concrete model ids), unsorted.
    pub fn exact_names(&self) -> impl Iterator<Item = &String> {
        self.exact.keys()
    }

    /// Whether `model` is matched by a pattern route (not an exact one).
    pub fn pattern_matches(&self, model: &str) -> bool {
        self.patterns.iter().any(|(p, _, _)| p.matches(model))
    }
}

/// `table["claude-*"]`: the route of that name as written; panics when
/// there is none (like a map's index).
impl std::ops::Index<&str> for RouteTable {
    type Output = Arc<RouteRuntime>;

    fn index(&self, name: &str) -> &Self::Output {
        self.by_name(name)
            .unwrap_or_else(|| panic!("no route named {name:?}"))
    }
}
