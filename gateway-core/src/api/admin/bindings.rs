//! TypeScript bindings of the admin API's wire types, for the operator UI
//! (`frontend/src/api/generated/`, re-exported by `frontend/src/api/types.ts`).
//! The types derive `ts_rs::TS` under `cfg(test)` only (ts-rs is a
//! dev-dependency), so the shipped binary carries none of this.
//!
//! `committed_bindings_are_fresh` regenerates them into a temp dir and fails
//! when the committed files differ; to rewrite them:
//!
//! ```sh
//! AIGW_WRITE_BINDINGS=1 cargo nextest run -p gateway-core bindings
//! ```
//!
//! The types of other modules the admin API sends or takes (routing's
//! health and probes, config's issues and strategies, lifecycle's previews
//! and draft ops, store's versions and audit entries) derive it the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, ExportError, TS};

use super::{clients, config, ops, session, tools, update, verify};
use crate::api::telemetry::SummaryBody;
use crate::lifecycle::draft::Op;
use crate::lifecycle::{Preview, Published, Validation};
use crate::routing::ProbeReport;
use crate::store::Version;
use crate::telemetry::query::{Outcome, RequestDetail, RequestPage, Series};
use crate::tools::modelbench::{Estimate, Run, Spec};
use crate::tools::replay::{ReplayReport, ReplaySpec};

/// Every root type; each brings the types it uses.
fn export(dir: &Path) -> Result<(), ExportError> {
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    // session
    session::LoggedIn::export_all(&cfg)?;
    session::Session::export_all(&cfg)?;
    session::LoggedOut::export_all(&cfg)?;
    // ops
    ops::Status::export_all(&cfg)?;
    ops::Audit::export_all(&cfg)?;
    ops::Providers::export_all(&cfg)?;
    ProbeReport::export_all(&cfg)?;
    ops::DetectedServers::export_all(&cfg)?;
    ops::Keys::export_all(&cfg)?;
    ops::KeyDeleted::export_all(&cfg)?;
    ops::Paused::export_all(&cfg)?;
    // config
    config::LiveConfig::export_all(&cfg)?;
    config::History::export_all(&cfg)?;
    config::Draft::export_all(&cfg)?;
    config::RoutesInfo::export_all(&cfg)?;
    Version::export_all(&cfg)?;
    Validation::export_all(&cfg)?;
    Preview::export_all(&cfg)?;
    Published::export_all(&cfg)?;
    Op::export_all(&cfg)?;
    // fallback test
    ops::FallbackTestResult::export_all(&cfg)?;
    // telemetry
    crate::cache::CacheStats::export_all(&cfg)?;
    Series::export_all(&cfg)?;
    RequestPage::export_all(&cfg)?;
    RequestDetail::export_all(&cfg)?;
    SummaryBody::export_all(&cfg)?;
    Outcome::export_all(&cfg)?;
    // tools
    ReplaySpec::export_all(&cfg)?;
    ReplayReport::export_all(&cfg)?;
    Spec::export_all(&cfg)?;
    Estimate::export_all(&cfg)?;
    Run::export_all(&cfg)?;
    tools::Runs::export_all(&cfg)?;
    // verification runs
    crate::tools::verify::SuiteInfo::export_all(&cfg)?;
    crate::tools::verify::BaselineSpec::export_all(&cfg)?;
    crate::tools::verify::RunSpec::export_all(&cfg)?;
    crate::tools::verify::Baseline::export_all(&cfg)?;
    crate::tools::verify::Run::export_all(&cfg)?;
    verify::Baselines::export_all(&cfg)?;
    verify::Runs::export_all(&cfg)?;
    // connect tools
    clients::ClientList::export_all(&cfg)?;
    crate::clients::service::ConnectRequest::export_all(&cfg)?;
    crate::clients::ClientPreview::export_all(&cfg)?;
    crate::clients::ClientOutcome::export_all(&cfg)?;
    // updates
    update::UpdateCheck::export_all(&cfg)?;
    update::Applied::export_all(&cfg)?;
    update::RollbackDone::export_all(&cfg)?;
    Ok(())
}

/// Where the UI keeps them.
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/src/api/generated")
}

/// File name → contents of every `.ts` file under `dir`.
fn read_all(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            let sub = e.file_name().to_string_lossy().into_owned();
            for (name, text) in read_all(&path) {
                out.insert(format!("{sub}/{name}"), text);
            }
        } else if path.extension().is_some_and(|x| x == "ts") {
            let name = e.file_name().to_string_lossy().into_owned();
            out.insert(name, std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    out
}

#[test]
fn committed_bindings_are_fresh() {
    let tmp = tempfile::tempdir().expect("temp dir");
    export(tmp.path()).expect("export the bindings");
    let fresh = read_all(tmp.path());
    assert!(!fresh.is_empty(), "no bindings were generated");
    let dir = committed_dir();
    if std::env::var_os("AIGW_WRITE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        export(&dir).expect("write the bindings");
        return;
    }
    let committed = read_all(&dir);
    let stale: Vec<&String> = fresh
        .keys()
        .chain(committed.keys())
        .filter(|k| fresh.get(*k) != committed.get(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "frontend/src/api/generated is stale ({stale:?} differ); regenerate with \
         `AIGW_WRITE_BINDINGS=1 cargo nextest run -p gateway-core bindings`"
    );
}
