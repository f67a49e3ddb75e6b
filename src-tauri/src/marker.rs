//! `EVENT name detail` lines on stdout: a stable, machine-readable trace of
//! what the app did (the window rendered, a tray item was clicked) for the
//! smoke and end-to-end tests. Logs go to stderr.

use std::io::Write;

pub fn emit(name: &str, detail: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not take the app down.
    let _ = writeln!(out, "EVENT {name} {detail}");
    let _ = out.flush();
}
