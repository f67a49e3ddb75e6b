//! Route names with a `*` and target models with `{model}`: what config
//! validation checks and routing matches, in one place.

/// A route name with one `*`: what comes before and after it.
/// `*` alone matches every name; `claude-*` every name starting with
/// `claude-`; `*-latest` every name ending in `-latest`; `a*z` both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    prefix: String,
    suffix: String,
}

impl Pattern {
    /// `None` for a name without `*` (an exact route). Callers validate
    /// first: a name with more than one `*` is a config error.
    pub fn parse(name: &str) -> Option<Self> {
        let (prefix, suffix) = name.split_once('*')?;
        Some(Self {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    /// Literal characters: the more, the more specific (`*` has none).
    pub fn specificity(&self) -> usize {
        self.prefix.len() + self.suffix.len()
    }

    pub fn matches(&self, model: &str) -> bool {
        model.len() >= self.specificity()
            && model.starts_with(&self.prefix)
            && model.ends_with(&self.suffix)
    }

    /// Whether some name matches both: their prefixes and their suffixes
    /// agree (one starts, resp. ends, the other).
    pub fn overlaps(&self, other: &Pattern) -> bool {
        (self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix))
            && (self.suffix.ends_with(&other.suffix) || other.suffix.ends_with(&self.suffix))
    }

    /// A name both match, for error messages (only meaningful when they overlap).
    pub fn common_example(&self, other: &Pattern) -> String {
        let p = if self.prefix.len() >= other.prefix.len() {
            &self.prefix
        } else {
            &other.prefix
        };
        let s = if self.suffix.len() >= other.suffix.len() {
            &self.suffix
        } else {
            &other.suffix
        };
        format!("{p}x{s}")
    }
}

/// The forwarded model for `requested` from a target's `model`: the
/// requested name when omitted, else the template with every `{model}`
/// replaced by it (a fixed rewrite has none).
pub fn forward_name(template: Option<&str>, requested: &str) -> String {
    match template {
        None => requested.to_string(),
        Some(t) if t.contains(MODEL_PLACEHOLDER) => t.replace(MODEL_PLACEHOLDER, requested),
        Some(t) => t.to_string(),
    }
}

/// What a target's `model` may contain to stand for the requested name.
pub const MODEL_PLACEHOLDER: &str = "{model}";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_by_prefix_and_suffix() {
        assert!(p("claude-*").matches("claude-opus-4-8"));
        assert!(p("claude-*").matches("claude-"));
        assert!(!p("claude-*").matches("claud"));
        assert!(!p("claude-*").matches("gpt-5"));
        assert!(p("*").matches(""));
        assert!(p("*-latest").matches("llama-latest"));
        assert!(!p("*-latest").matches("llama"));
        // prefix and suffix must not share characters of the name
        assert!(!p("ab*ba").matches("aba"));
        assert!(p("ab*ba").matches("abba"));
        assert!(Pattern::parse("gpt-4o").is_none());
    }

    #[test]
    fn overlap_is_agreeing_prefixes_and_suffixes() {
        assert!(!p("claude-*").overlaps(&p("gemini-*")));
        assert!(p("a*x").overlaps(&p("ab*")));
        assert!(p("a*x").matches(&p("a*x").common_example(&p("ab*"))));
        assert!(p("ab*").matches(&p("a*x").common_example(&p("ab*"))));
        assert!(!p("a*x").overlaps(&p("b*")));
        assert!(!p("*x").overlaps(&p("*y")));
    }

    #[test]
    fn templates_substitute_the_requested_name() {
        assert_eq!(forward_name(None, "claude-opus-4-8"), "claude-opus-4-8");
        assert_eq!(
            forward_name(Some("openrouter/{model}"), "claude-sonnet-5"),
            "openrouter/claude-sonnet-5"
        );
        assert_eq!(
            forward_name(Some("{model}-latest"), "gpt-5"),
            "gpt-5-latest"
        );
        assert_eq!(forward_name(Some("llama3.1:8b"), "gpt-5"), "llama3.1:8b");
    }
}
