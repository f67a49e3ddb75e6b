//! `aigww.exe`: runs `aigw.exe` (beside it) with the same arguments and no
//! console window, for the scheduled task of `aigw service install` on
//! Windows ("w" as in `pythonw.exe` / `javaw.exe`).
//!
//! `aigw.exe` is a console program: started by Task Scheduler at logon it
//! gets a console window of its own, which shows on the desktop and stops
//! the gateway when closed. This launcher is built for the Windows GUI
//! subsystem (no console) and starts `aigw.exe` with `CREATE_NO_WINDOW` and
//! its stdin a pipe from the launcher, with `AIGW_STOP_ON_STDIN_EOF=1`: when
//! the launcher ends, however it ends (`schtasks /End` terminates it, the
//! task's process), the pipe closes and `aigw serve` shuts down as on
//! Ctrl-C. It waits and exits with the gateway's exit code (Task
//! Scheduler's restart-on-failure and "last run result" see the gateway's).
//! `aigw update apply` replaces `aigw.exe` only; this launcher, which never
//! changes, runs the new one from the next start. No unsafe code: only std.
//! Docs: docs/install.md, "`aigw service`".
#![cfg_attr(windows, windows_subsystem = "windows")]

#[cfg(windows)]
fn main() {
    std::process::exit(windows::run());
}

#[cfg(not(windows))]
fn main() {
    eprintln!("aigww: the Windows console-less launcher of aigw.exe; on this OS run aigw itself");
    std::process::exit(2);
}

#[cfg(windows)]
mod windows {
    use std::os::windows::process::CommandExt;
    use std::process::{Command, Stdio};

    /// `gateway_core::cli::STOP_ON_STDIN_EOF`, spelled out: linking the
    /// library for one string made this launcher as big as aigw.exe
    /// (scripts/wine-smoke.sh checks the pair works).
    const STOP_ON_STDIN_EOF: &str = "AIGW_STOP_ON_STDIN_EOF";

    /// Creates no console for a console program.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;

    /// The exit code when `aigw.exe` cannot be started (no console to say
    /// why: Task Scheduler shows it as the last run result).
    const CANNOT_START: i32 = 0x71;

    pub fn run() -> i32 {
        let Ok(me) = std::env::current_exe() else {
            return CANNOT_START;
        };
        let Ok(mut child) = Command::new(me.with_file_name("aigw.exe"))
            .args(std::env::args_os().skip(1))
            .env(STOP_ON_STDIN_EOF, "1")
            .stdin(Stdio::piped())
            .creation_flags(CREATE_NO_WINDOW)
            .spawn()
        else {
            return CANNOT_START;
        };
        // Held open until this process ends: its end is the gateway's EOF.
        let _lifeline = child.stdin.take();
        match child.wait() {
            Ok(status) => status.code().unwrap_or(1),
            Err(_) => 1,
        }
    }
}
