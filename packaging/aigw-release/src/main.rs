//! `aigw-release`: the release side of aigw's signed updates, driven by
//! `packaging/release.sh`.
//!
//! ```text
//! aigw-release keygen --out FILE          # new signing key (mode 0600), prints the public key
//! aigw-release pubkey --key FILE [--pem]  # the public key of a signing key
//! aigw-release pack [--app aigw|desktop] --binary BIN --version V --target T --out-dir DIR
//!                   [--file SRC=NAME]... [--exec-file SRC=NAME]...
//! aigw-release sign --key FILE --version V --archive TARGET=PATH... --out-dir DIR
//!                   [--desktop-archive TARGET=PATH]... [--extra FILE]...
//!                   [--minimum-version V] [--base-url URL] [--notes-url URL]
//! ```
//!
//! The formats (manifest, signatures, archives) live in
//! `gateway_core::update`, shared with the updater that checks them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gateway_core::update::manifest::{now_rfc3339, parse_version, rfc3339_utc};
use gateway_core::update::release::{
    ArchiveFile, ReleaseArchive, ReleaseSpec, archive_file_name, pack_archive, pack_zip, sign_file,
    write_manifest, write_sha256sums, zips,
};
use gateway_core::update::{App, PublicKey, SigningKey};

#[derive(Parser)]
#[command(
    name = "aigw-release",
    version,
    about = "Sign and package aigw releases"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a signing key file (mode 0600, never overwritten); print its public key.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the public key of a signing key file.
    Pubkey {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// PEM (for `openssl pkeyutl -verify -pubin`) instead of base64.
        #[arg(long)]
        pem: bool,
    },
    /// Write a reproducible APP-VERSION-TARGET.tar.gz holding the binary and extra files.
    Pack {
        /// Which program the binary is: `aigw` or `desktop` (aigw-desktop).
        #[arg(long, value_enum, default_value_t = App::Gateway)]
        app: App,
        #[arg(long, value_name = "PATH")]
        binary: PathBuf,
        #[arg(long)]
        version: String,
        #[arg(long)]
        target: String,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Extra file as SRC=NAME (NAME = path inside the archive).
        #[arg(long = "file", value_name = "SRC=NAME")]
        files: Vec<String>,
        /// Extra executable file (mode 0755) as SRC=NAME.
        #[arg(long = "exec-file", value_name = "SRC=NAME")]
        exec_files: Vec<String>,
        /// Timestamp of every entry (default: SOURCE_DATE_EPOCH, else 0).
        #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
        mtime: u64,
    },
    /// Sign archives and extra files, write manifest.json(.sig) and SHA256SUMS(.sig).
    Sign {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long)]
        version: String,
        /// TARGET=PATH of an archive made by `pack` (repeatable).
        #[arg(long = "archive", value_name = "TARGET=PATH", required = true)]
        archives: Vec<String>,
        /// TARGET=PATH of a desktop app archive made by `pack --app desktop`.
        #[arg(long = "desktop-archive", value_name = "TARGET=PATH")]
        desktop_archives: Vec<String>,
        /// Another artifact to sign and list in SHA256SUMS (e.g. the .deb).
        #[arg(long = "extra", value_name = "FILE")]
        extras: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Oldest installed version allowed to self-update to this release.
        #[arg(long)]
        minimum_version: Option<String>,
        /// Where the archives will be served (default: beside the manifest).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        #[arg(long, value_name = "URL")]
        notes_url: Option<String>,
        /// Release date as Unix seconds (default: SOURCE_DATE_EPOCH, else now).
        #[arg(long, env = "SOURCE_DATE_EPOCH")]
        date: Option<u64>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aigw-release: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        Cmd::Keygen { out: path } => {
            let key = SigningKey::generate()?;
            key.write_new(&path)?;
            writeln!(out, "{}", key.public())?;
            eprintln!(
                "wrote {} (mode 0600): keep it offline, never commit it.\n\
                 Build releases with: bash packaging/release.sh --key {}",
                path.display(),
                path.display()
            );
        }
        Cmd::Pubkey { key, pem } => {
            let public: PublicKey = SigningKey::read(&key)?.public();
            if pem {
                write!(out, "{}", public.to_pem())?;
            } else {
                writeln!(out, "{public}")?;
            }
        }
        Cmd::Pack {
            app,
            binary,
            version,
            target,
            out_dir,
            files,
            exec_files,
            mtime,
        } => {
            parse_version(&version, "--version")?;
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("create {}", out_dir.display()))?;
            let mut entries = vec![ArchiveFile {
                source: binary,
                name: format!("{app}{}", exe_suffix_for(&target)),
                executable: true,
            }];
            let extra = files
                .iter()
                .map(|f| (f, false))
                .chain(exec_files.iter().map(|f| (f, true)));
            for (f, executable) in extra {
                let Some((src, name)) = f.split_once('=') else {
                    bail!("--file {f:?}: expected SRC=NAME");
                };
                entries.push(ArchiveFile {
                    source: src.into(),
                    name: name.to_owned(),
                    executable,
                });
            }
            let stem = app.archive_stem(&version, &target);
            let path = out_dir.join(archive_file_name(&stem, &target));
            if zips(&target) {
                pack_zip(&path, &stem, &entries, mtime)?;
            } else {
                pack_archive(&path, &stem, &entries, mtime)?;
            }
            writeln!(out, "{}", path.display())?;
        }
        Cmd::Sign {
            key,
            version,
            archives,
            desktop_archives,
            extras,
            out_dir,
            minimum_version,
            base_url,
            notes_url,
            date,
        } => {
            let key = SigningKey::read(&key)?;
            parse_version(&version, "--version")?;
            if let Some(m) = &minimum_version {
                parse_version(m, "--minimum-version")?;
            }
            let mut release_archives = Vec::new();
            let all = archives
                .iter()
                .map(|a| (App::Gateway, a))
                .chain(desktop_archives.iter().map(|a| (App::Desktop, a)));
            for (app, a) in all {
                let Some((target, path)) = a.split_once('=') else {
                    bail!("--archive {a:?}: expected TARGET=PATH");
                };
                let stem = app.archive_stem(&version, target);
                release_archives.push(ReleaseArchive {
                    app,
                    target: target.to_owned(),
                    path: PathBuf::from(path),
                    binary: format!("{stem}/{app}{}", exe_suffix_for(target)),
                });
            }
            let spec = ReleaseSpec {
                version,
                date: date.map(rfc3339_utc).unwrap_or_else(now_rfc3339),
                minimum_version,
                notes_url,
                base_url,
                archives: release_archives.clone(),
            };
            write_manifest(&spec, &key, &out_dir)?;
            let mut listed: Vec<PathBuf> =
                release_archives.iter().map(|a| a.path.clone()).collect();
            for extra in &extras {
                sign_file(&key, extra)?;
                listed.push(extra.clone());
            }
            listed.push(out_dir.join("manifest.json"));
            let sums = write_sha256sums(&out_dir, &listed)?;
            sign_file(&key, &sums)?;
            for p in listed.iter().chain([&sums]) {
                writeln!(out, "{}", display_in(&out_dir, p))?;
            }
        }
    }
    Ok(())
}

fn exe_suffix_for(target: &str) -> &'static str {
    if target.contains("windows") {
        ".exe"
    } else {
        ""
    }
}

fn display_in(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}
