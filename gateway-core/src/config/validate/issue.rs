//! Findings: [`Issue`] (a field path, its line and column, a message),
//! [`ConfigError`] (every error, with the file), and their one-line form.

use std::fmt;

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, pointing at a field.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    pub severity: Severity,
    /// Dotted field path, e.g. `routes[0].targets[1].provider`.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Config rejected: every error found, with the file it came from.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub origin: String,
    pub issues: Vec<Issue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .collect();
        write!(
            f,
            "invalid config {}: {} error(s)",
            self.origin,
            errors.len()
        )?;
        for i in errors {
            write!(f, "\n  {}", format_issue(&self.origin, i))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// `file:line:col: path: message`, the shape editors can jump to.
pub fn format_issue(origin: &str, i: &Issue) -> String {
    let loc = match (i.line, i.column) {
        (Some(l), Some(c)) => format!("{origin}:{l}:{c}"),
        (Some(l), None) => format!("{origin}:{l}"),
        _ => origin.to_string(),
    };
    if i.path.is_empty() {
        format!("{loc}: {}", i.message)
    } else {
        format!("{loc}: {}: {}", i.path, i.message)
    }
}
