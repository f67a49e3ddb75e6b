//! What the `aigw` subcommands do; `bin/aigw.rs` parses the flags and
//! dispatches here, one module per command group: `config` (`aigw config
//! …`), `keys` (`aigw keys …`, `aigw admin-token`), `serve`, `doctor`
//! (`aigw doctor`, `aigw probe`), `tools` (`aigw replay`, `aigw
//! bench-models`), `clients` (`aigw clients …`, `aigw run`), `verify`
//! (`aigw verify …`), `audit` (`aigw audit list|verify`), `logs` (`aigw
//! logs [-f]`, `aigw logs export`), `status` (`aigw status`), `diagnose`
//! (`aigw diagnose`), `backup` (`aigw backup`, `aigw restore`), `vkeys`
//! (`aigw keys client …`), `service` (`aigw service
//! install|uninstall|status`).

pub mod audit;
mod backup;
pub mod clients;
pub mod cluster;
mod config;
mod diagnose;
mod doctor;
mod keys;
pub mod logs;
mod serve;
pub mod service;
mod status;
mod tools;
pub mod verify;
pub mod vkeys;

use std::process::ExitCode;

pub use backup::{backup, restore};
pub use config::{diff, format_ms, history, publish, rollback, show, validate};
pub use diagnose::diagnose;
pub use doctor::{doctor, doctor_report, probe};
pub use keys::{admin_token, list_keys, remove_key, set_key};
pub use serve::{STOP_ON_STDIN_EOF, serve};
pub use status::{NOT_RUNNING, status};
pub use tools::{BenchArgs, bench_models, replay};

use crate::config::Paths;

/// `aigw paths`: where the config and data live.
pub fn paths(paths: &Paths) -> ExitCode {
    println!("config: {}", paths.config_file.display());
    println!("data:   {}", paths.data_dir.display());
    ExitCode::SUCCESS
}
