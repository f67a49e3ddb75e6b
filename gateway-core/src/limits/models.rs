//! Per-model limits (`[[limits.models]]`): an RPM/TPM budget per entry,
//! shared by every client and every model name the entry matches. A name
//! takes the most specific entry (exact > longest pattern > `*`), like
//! routes do; one entry limits it.

use std::sync::Arc;

use super::ProviderLimiter;
use crate::config::ModelLimitSpec;
use crate::vocab::pattern::Pattern;

#[derive(Debug)]
pub struct ModelLimit {
    /// The entry's `model` as written (an exact name or a pattern).
    pub model: String,
    pattern: Option<Pattern>,
    pub limiter: Arc<ProviderLimiter>,
}

impl ModelLimit {
    fn specificity(&self) -> usize {
        self.pattern
            .as_ref()
            .map_or(usize::MAX, Pattern::specificity)
    }

    fn matches(&self, model: &str) -> bool {
        self.pattern
            .as_ref()
            .map_or(self.model == model, |p| p.matches(model))
    }
}

/// The entries, most specific first.
#[derive(Debug, Default)]
pub struct ModelLimits {
    entries: Vec<ModelLimit>,
}

impl ModelLimits {
    /// The limits of `specs`; an entry whose `model` was in `prev` keeps
    /// its budget (resized when its `rpm`/`tpm` changed).
    pub fn build(specs: &[ModelLimitSpec], prev: Option<&ModelLimits>) -> Self {
        let mut entries: Vec<ModelLimit> = specs
            .iter()
            .map(|s| {
                let limiter = match prev.and_then(|p| p.by_name(&s.model)) {
                    Some(old) => {
                        old.resize(s.rpm, s.tpm);
                        old.clone()
                    }
                    None => Arc::new(ProviderLimiter::new(s.rpm, s.tpm)),
                };
                ModelLimit {
                    pattern: Pattern::parse(&s.model),
                    model: s.model.clone(),
                    limiter,
                }
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.specificity()));
        Self { entries }
    }

    /// The entry that limits `model`, if any.
    pub fn lookup(&self, model: &str) -> Option<&ModelLimit> {
        self.entries.iter().find(|e| e.matches(model))
    }

    fn by_name(&self, name: &str) -> Option<&Arc<ProviderLimiter>> {
        self.entries
            .iter()
            .find(|e| e.model == name)
            .map(|e| &e.limiter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(model: &str, rpm: u32) -> ModelLimitSpec {
        ModelLimitSpec {
            model: model.into(),
            rpm,
            tpm: 0,
        }
    }

    #[test]
    fn most_specific_entry_wins_and_budgets_survive_a_rebuild() {
        let specs = [spec("*", 100), spec("gpt-5*", 1), spec("gpt-5-mini", 2)];
        let l = ModelLimits::build(&specs, None);
        assert_eq!(l.lookup("gpt-5").unwrap().model, "gpt-5*");
        assert_eq!(l.lookup("gpt-5-mini").unwrap().model, "gpt-5-mini");
        assert_eq!(l.lookup("claude").unwrap().model, "*");
        assert!(l.lookup("gpt-5.1").unwrap().limiter.try_acquire(0).is_ok());
        assert!(l.lookup("gpt-5").unwrap().limiter.try_acquire(0).is_err());
        let next = ModelLimits::build(&specs, Some(&l));
        assert!(
            next.lookup("gpt-5")
                .unwrap()
                .limiter
                .try_acquire(0)
                .is_err()
        );
        assert!(
            ModelLimits::build(&specs[..1], None)
                .lookup("gpt-5")
                .unwrap()
                .limiter
                .try_acquire(0)
                .is_ok()
        );
    }
}
