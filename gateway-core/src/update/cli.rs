//! `aigw update …`: the clap subcommands and their output. The binary only
//! mounts [`UpdateCommand`] and calls [`run`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::apply::{self, Action, Options, Outcome, Source};
use super::keys::{DEV_PUBKEY, EMBEDDED_PUBKEY, PublicKey};
use super::{App, DEFAULT_MANIFEST_URL, verify};

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Fetch and verify the release manifest; say whether an update is available.
    Check {
        #[command(flatten)]
        source: SourceArgs,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download, verify and install the latest release. The replaced binary
    /// is kept for `aigw update rollback`; on any failure nothing is changed.
    Apply {
        #[command(flatten)]
        source: SourceArgs,
        /// Download and verify everything, replace nothing.
        #[arg(long)]
        dry_run: bool,
        /// Install the release even if it is older than the installed version.
        #[arg(long)]
        allow_downgrade: bool,
    },
    /// Put back the binary replaced by the last apply (a second rollback undoes the first).
    Rollback {
        /// Where to restore it (default: where it was installed).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// Which program's kept version to restore.
        #[arg(long, value_enum, default_value_t = App::Gateway)]
        app: App,
    },
    /// Check a downloaded release file against its detached signature.
    Verify {
        /// The file (archive, .deb, manifest.json, SHA256SUMS).
        file: PathBuf,
        /// Its signature (default: FILE.sig).
        #[arg(long, value_name = "SIG")]
        sig: Option<PathBuf>,
        /// Trust this ed25519 public key (base64) instead of the built-in one.
        #[arg(long, value_name = "BASE64")]
        pubkey: Option<String>,
    },
    /// Print the release public key this build trusts (base64 and PEM).
    Key,
}

/// Where updates come from; shared by `check` and `apply`.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Release manifest URL (default: the one this build was released with).
    #[arg(long, env = "AIGW_UPDATE_URL", value_name = "URL")]
    pub manifest_url: Option<String>,
    /// Trust this ed25519 public key (base64) instead of the built-in one,
    /// e.g. to test releases signed with your own key. Deliberately a flag
    /// only: no config key or environment variable can change whom aigw trusts.
    #[arg(long, value_name = "BASE64")]
    pub pubkey: Option<String>,
    /// The binary to update (default: this executable; required with `--app desktop`).
    #[arg(long, env = "AIGW_UPDATE_BINARY", value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Which program of the release: `aigw` (this gateway) or `desktop`
    /// (the tray app, e.g. `--app desktop --binary ~/.local/bin/aigw-desktop`).
    #[arg(long, value_enum, default_value_t = App::Gateway)]
    pub app: App,
}

impl SourceArgs {
    fn options(self, data_dir: &Path) -> anyhow::Result<Options> {
        let manifest_url = self
            .manifest_url
            .or(DEFAULT_MANIFEST_URL.map(str::to_owned))
            .context(
                "this build has no default update URL (it was not built by packaging/release.sh): pass --manifest-url URL or set AIGW_UPDATE_URL",
            )?;
        let mut opts = Options::new(
            Source {
                manifest_url,
                key: key(self.pubkey.as_deref())?,
            },
            data_dir.to_path_buf(),
        );
        opts.binary = self.binary;
        opts.app = self.app;
        Ok(opts)
    }
}

fn key(pubkey: Option<&str>) -> anyhow::Result<PublicKey> {
    Ok(match pubkey {
        Some(k) => PublicKey::parse(k).context("--pubkey")?,
        None => PublicKey::trusted().context("this build's update key")?,
    })
}

/// Runs an update subcommand, writing its report to `out`.
pub fn run(cmd: UpdateCommand, data_dir: &Path, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match cmd {
        UpdateCommand::Check { source, json } => {
            let st = apply::check(&source.options(data_dir)?)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &st)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "installed  {} {}  {}",
                st.app,
                st.installed.version,
                st.installed.path.display()
            )?;
            writeln!(out, "latest     {}  released {}", st.offered, st.date)?;
            writeln!(
                out,
                "manifest   {}  (signature verified, key {})",
                st.manifest_url, st.key
            )?;
            let verdict = match &st.action {
                Action::UpToDate => "up to date".to_owned(),
                Action::Update => "update available: run `aigw update apply`".to_owned(),
                Action::Downgrade => format!(
                    "the release is older than the installed version; `aigw update apply --allow-downgrade` would install {}",
                    st.offered
                ),
                Action::BelowMinimum { minimum } => format!(
                    "this version is below the release's minimum_version {minimum}: install {} from the release archive (docs/install.md)",
                    st.offered
                ),
                Action::NoBuild { available } => format!(
                    "the release has no build for {} (it has: {})",
                    st.target,
                    available.join(", ")
                ),
            };
            writeln!(out, "{verdict}")?;
        }
        UpdateCommand::Apply {
            source,
            dry_run,
            allow_downgrade,
        } => {
            let mut opts = source.options(data_dir)?;
            opts.allow_downgrade = allow_downgrade;
            let outcome =
                apply::apply(&opts, dry_run).context("update not applied, nothing was changed")?;
            match outcome {
                Outcome::UpToDate { version } => {
                    writeln!(out, "{} {version} is up to date; nothing to do", opts.app)?;
                }
                Outcome::DryRun { from, to, binary } => writeln!(
                    out,
                    "dry run: {to} downloaded and verified (manifest signature, archive checksum and signature, new binary reports {to}); would replace {} ({from}). Nothing was changed.",
                    binary.display()
                )?,
                Outcome::Updated {
                    from,
                    to,
                    binary,
                    previous,
                } => {
                    let (undo, restart) = match opts.app {
                        App::Gateway => ("aigw update rollback", "Restart running gateways"),
                        App::Desktop => (
                            "aigw update rollback --app desktop",
                            "Restart the desktop app (tray: Restart to use it)",
                        ),
                    };
                    writeln!(
                        out,
                        "updated {} from {from} to {to}; {from} is kept at {} (undo: {undo}). {restart} to use {to}.",
                        binary.display(),
                        previous.display()
                    )?
                }
            }
        }
        UpdateCommand::Rollback { binary, app } => {
            let r = apply::rollback(data_dir, app, binary.as_deref())
                .context("rollback not done, nothing was changed")?;
            writeln!(
                out,
                "rolled back {}: {} restored (replacing {}; run the same rollback again to undo)",
                r.binary.display(),
                r.restored,
                r.replaced
            )?;
        }
        UpdateCommand::Verify { file, sig, pubkey } => {
            let key = key(pubkey.as_deref())?;
            let sig = sig.unwrap_or_else(|| super::release::sig_path(&file));
            let sum = verify::detached(&file, &sig, &key)?;
            writeln!(
                out,
                "{}: signature OK (key {key})\nsha256 {sum}",
                file.display()
            )?;
        }
        UpdateCommand::Key => {
            let key = PublicKey::embedded().context("this build's embedded update key")?;
            let origin = if EMBEDDED_PUBKEY == DEV_PUBKEY {
                "the documented development key (docs/install.md, \"Release keys\")"
            } else {
                "the release key embedded at build time (AIGW_UPDATE_PUBKEY)"
            };
            write!(out, "{key}\n# {origin}\n{}", key.to_pem())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
