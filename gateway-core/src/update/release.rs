//! The producer side, used by `aigw-release` (packaging/) and the tests:
//! reproducible `.tar.gz` archives, detached `.sig` files, the signed
//! manifest and `SHA256SUMS`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::App;
use super::error::{Result, UpdateError};
use super::keys::SigningKey;
use super::manifest::{Manifest, PRODUCT, SCHEMA, TargetEntry};
use super::verify::{self, sha256_hex};

/// `aigw-VERSION-TARGET`: the gateway archive's file stem and its top
/// directory (the desktop app's: [`App::archive_stem`]).
pub fn archive_stem(version: &str, target: &str) -> String {
    App::Gateway.archive_stem(version, target)
}

/// One file to put in an archive.
#[derive(Clone, Debug)]
pub struct ArchiveFile {
    pub source: PathBuf,
    /// Path inside the archive's top directory, e.g. `aigw` or `docs/install.md`.
    pub name: String,
    pub executable: bool,
}

/// Writes `out` (a `.tar.gz`) holding `files` under `stem/`, owned by root,
/// with fixed modes and `mtime` (e.g. `SOURCE_DATE_EPOCH`): the same inputs
/// give the same bytes.
pub fn pack_archive(out: &Path, stem: &str, files: &[ArchiveFile], mtime: u64) -> Result<()> {
    let ctx = || format!("write {}", out.display());
    let io = |e: std::io::Error| UpdateError::io(ctx(), e);
    let file = std::fs::File::create(out).map_err(io)?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let mut sorted: Vec<&ArchiveFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut dirs = std::collections::BTreeSet::from([stem.to_owned()]);
    for f in &sorted {
        let mut p = Path::new(&f.name).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(format!("{stem}/{}", d.display()));
            p = d.parent();
        }
    }
    for d in &dirs {
        let mut h = header(0o755, mtime, 0);
        h.set_entry_type(tar::EntryType::Directory);
        tar.append_data(&mut h, format!("{d}/"), std::io::empty())
            .map_err(io)?;
    }
    for f in sorted {
        let data = std::fs::read(&f.source)
            .map_err(|e| UpdateError::io(format!("read {}", f.source.display()), e))?;
        let mode = if f.executable { 0o755 } else { 0o644 };
        let mut h = header(mode, mtime, data.len() as u64);
        tar.append_data(&mut h, format!("{stem}/{}", f.name), data.as_slice())
            .map_err(io)?;
    }
    let gz = tar.into_inner().map_err(io)?;
    let file = gz.finish().map_err(io)?;
    file.sync_all().map_err(io)
}

/// Whether `target`'s archives are `.zip` (Windows: Explorer opens them,
/// and `tar` is not on every machine) rather than `.tar.gz`.
pub fn zips(target: &str) -> bool {
    target.contains("windows")
}

/// `STEM.zip` for Windows targets ([`zips`]), `STEM.tar.gz` for the others.
pub fn archive_file_name(stem: &str, target: &str) -> String {
    if zips(target) {
        format!("{stem}.zip")
    } else {
        format!("{stem}.tar.gz")
    }
}

/// Writes `out` (a `.zip`) holding `files` under `stem/`, with fixed modes and
/// `mtime` (DOS time, UTC; clamped to 1980..=2107): the same inputs give the
/// same bytes. Text files keep their bytes (no line-ending conversion).
pub fn pack_zip(out: &Path, stem: &str, files: &[ArchiveFile], mtime: u64) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let ctx = || format!("write {}", out.display());
    let zerr = |e: zip::result::ZipError| UpdateError::io(ctx(), std::io::Error::other(e));
    let file = std::fs::File::create(out).map_err(|e| UpdateError::io(ctx(), e))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(dos_time(mtime));
    let mut sorted: Vec<&ArchiveFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut dirs = std::collections::BTreeSet::from([stem.to_owned()]);
    for f in &sorted {
        let mut p = Path::new(&f.name).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(format!("{stem}/{}", d.display()));
            p = d.parent();
        }
    }
    for d in &dirs {
        zip.add_directory(format!("{d}/"), opts.unix_permissions(0o755))
            .map_err(zerr)?;
    }
    for f in sorted {
        let data = std::fs::read(&f.source)
            .map_err(|e| UpdateError::io(format!("read {}", f.source.display()), e))?;
        let mode = if f.executable { 0o755 } else { 0o644 };
        zip.start_file(format!("{stem}/{}", f.name), opts.unix_permissions(mode))
            .map_err(zerr)?;
        zip.write_all(&data)
            .map_err(|e| UpdateError::io(ctx(), e))?;
    }
    let file = zip.finish().map_err(zerr)?;
    file.sync_all().map_err(|e| UpdateError::io(ctx(), e))
}

/// `unix_secs` as a zip timestamp (UTC, clamped to what zip can hold).
fn dos_time(unix_secs: u64) -> zip::DateTime {
    // `YYYY-MM-DDTHH:MM:SSZ`
    let t = super::manifest::rfc3339_utc(unix_secs);
    let n = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<u16>().ok());
    let parts = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = parts {
        if y < 1980 {
            return zip::DateTime::default();
        }
        if let Ok(dt) =
            zip::DateTime::from_date_and_time(y, mo as u8, d as u8, h as u8, mi as u8, s as u8)
        {
            return dt;
        }
    }
    zip::DateTime::default()
}

fn header(mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    let _ = h.set_username("root");
    let _ = h.set_groupname("root");
    h
}

/// Writes `<path>.sig`: the base64 signature of the file's bytes and a newline.
pub fn sign_file(key: &SigningKey, path: &Path) -> Result<PathBuf> {
    let bytes =
        std::fs::read(path).map_err(|e| UpdateError::io(format!("read {}", path.display()), e))?;
    let sig_path = sig_path(path);
    write_file(
        &sig_path,
        format!("{}\n", key.sign(&bytes).to_base64()).as_bytes(),
    )?;
    Ok(sig_path)
}

/// `FILE.sig`.
pub fn sig_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// One target's archive for [`write_manifest`].
#[derive(Clone, Debug)]
pub struct ReleaseArchive {
    /// Which program it holds: listed under `targets` or `desktop`.
    pub app: App,
    pub target: String,
    pub path: PathBuf,
    /// The executable's path inside the archive.
    pub binary: String,
}

/// What the manifest says beside the archives.
#[derive(Clone, Debug)]
pub struct ReleaseSpec {
    pub version: String,
    /// RFC 3339 UTC.
    pub date: String,
    pub minimum_version: Option<String>,
    pub notes_url: Option<String>,
    /// Prefix for archive URLs; `None` = URLs relative to the manifest.
    pub base_url: Option<String>,
    pub archives: Vec<ReleaseArchive>,
}

/// Signs each archive (`.sig` beside it), writes `out_dir/manifest.json` and
/// `manifest.json.sig`, and checks the result the way the updater will.
pub fn write_manifest(spec: &ReleaseSpec, key: &SigningKey, out_dir: &Path) -> Result<Manifest> {
    let mut targets = BTreeMap::new();
    let mut desktop = BTreeMap::new();
    for a in &spec.archives {
        let bytes = std::fs::read(&a.path)
            .map_err(|e| UpdateError::io(format!("read {}", a.path.display()), e))?;
        sign_file(key, &a.path)?;
        let name = a
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let url = match &spec.base_url {
            Some(base) => format!("{}/{name}", base.trim_end_matches('/')),
            None => name,
        };
        let builds = match a.app {
            App::Gateway => &mut targets,
            App::Desktop => &mut desktop,
        };
        let previous = builds.insert(
            a.target.clone(),
            TargetEntry {
                url,
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                signature: key.sign(&bytes).to_base64(),
                binary: a.binary.clone(),
            },
        );
        if previous.is_some() {
            return Err(UpdateError::Manifest(format!(
                "two {} archives for {}",
                a.app, a.target
            )));
        }
    }
    let manifest = Manifest {
        schema: SCHEMA,
        product: PRODUCT.to_owned(),
        version: spec.version.clone(),
        date: spec.date.clone(),
        minimum_version: spec.minimum_version.clone(),
        notes_url: spec.notes_url.clone(),
        targets,
        desktop,
    };
    let json = manifest.to_json()?;
    let sig = key.sign(&json).to_base64();
    // Refuse to publish what the updater would refuse.
    let checked = verify::manifest(&json, &sig, &key.public())?;
    for a in &spec.archives {
        let entry = checked
            .manifest
            .builds(a.app)
            .get(&a.target)
            .ok_or_else(|| {
                UpdateError::Manifest(format!("{} for {} is missing", a.app, a.target))
            })?;
        let bytes = std::fs::read(&a.path)
            .map_err(|e| UpdateError::io(format!("read {}", a.path.display()), e))?;
        verify::archive(&bytes, entry, &key.public())?;
    }
    let path = out_dir.join("manifest.json");
    write_file(&path, &json)?;
    write_file(&sig_path(&path), format!("{sig}\n").as_bytes())?;
    Ok(manifest)
}

/// Writes `dir/SHA256SUMS` (`sha256sum -c` format) for `files`, by file name.
pub fn write_sha256sums(dir: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let mut lines = Vec::new();
    for f in files {
        let bytes =
            std::fs::read(f).map_err(|e| UpdateError::io(format!("read {}", f.display()), e))?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        lines.push(format!("{}  {name}\n", sha256_hex(&bytes)));
    }
    lines.sort_by(|a, b| a.get(66..).cmp(&b.get(66..)));
    let path = dir.join("SHA256SUMS");
    write_file(&path, lines.concat().as_bytes())?;
    Ok(path)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let ctx = || format!("write {}", path.display());
    let mut f = std::fs::File::create(path).map_err(|e| UpdateError::io(ctx(), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| UpdateError::io(ctx(), e))
}

#[cfg(test)]
mod tests {
    use super::super::keys::SigningKey;
    use super::*;

    #[test]
    fn archives_are_reproducible_and_hold_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("aigw-bin");
        std::fs::write(&bin, b"#!/bin/sh\necho 'aigw 1.0.0'\n").unwrap();
        let doc = dir.path().join("install.md");
        std::fs::write(&doc, b"# install\n").unwrap();
        let files = [
            ArchiveFile {
                source: bin.clone(),
                name: "aigw".into(),
                executable: true,
            },
            ArchiveFile {
                source: doc,
                name: "docs/install.md".into(),
                executable: false,
            },
        ];
        let stem = archive_stem("1.0.0", "x86_64-unknown-linux-gnu");
        let a = dir.path().join("a.tar.gz");
        let b = dir.path().join("b.tar.gz");
        pack_archive(&a, &stem, &files, 1_700_000_000).unwrap();
        pack_archive(&b, &stem, &files, 1_700_000_000).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        self_update::Extract::from_source(&a)
            .archive(self_update::ArchiveKind::Tar(Some(
                self_update::Compression::Gz,
            )))
            .extract_file(&out, format!("{stem}/aigw"))
            .unwrap();
        assert_eq!(
            std::fs::read(out.join(&stem).join("aigw")).unwrap(),
            std::fs::read(&bin).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(&stem).join("aigw"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111);
        }
    }

    #[test]
    fn windows_archives_are_reproducible_zips_holding_the_exe() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("aigw.exe");
        std::fs::write(&bin, b"MZ not really a program").unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, b"[server]\nlisten = \"127.0.0.1:4000\"\n").unwrap();
        let files = [
            ArchiveFile {
                source: bin.clone(),
                name: "aigw.exe".into(),
                executable: true,
            },
            ArchiveFile {
                source: cfg.clone(),
                name: "config/config.toml".into(),
                executable: false,
            },
        ];
        let target = "x86_64-pc-windows-gnu";
        let stem = archive_stem("1.0.0", target);
        assert!(zips(target) && !zips("x86_64-unknown-linux-gnu"));
        assert_eq!(archive_file_name(&stem, target), format!("{stem}.zip"));
        assert_eq!(
            archive_file_name("s", "x86_64-unknown-linux-gnu"),
            "s.tar.gz"
        );
        let a = dir.path().join("a.zip");
        let b = dir.path().join("b.zip");
        pack_zip(&a, &stem, &files, 1_700_000_000).unwrap();
        pack_zip(&b, &stem, &files, 1_700_000_000).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert_eq!(&std::fs::read(&a).unwrap()[..2], b"PK");

        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for name in ["aigw.exe", "config/config.toml"] {
            self_update::Extract::from_source(&a)
                .archive(self_update::ArchiveKind::Zip)
                .extract_file(&out, format!("{stem}/{name}"))
                .unwrap();
        }
        assert_eq!(
            std::fs::read(out.join(&stem).join("aigw.exe")).unwrap(),
            std::fs::read(&bin).unwrap()
        );
        // Bytes as given: no line-ending conversion.
        assert_eq!(
            std::fs::read(out.join(&stem).join("config/config.toml")).unwrap(),
            std::fs::read(&cfg).unwrap()
        );
        // An mtime zip cannot hold still packs.
        pack_zip(&dir.path().join("c.zip"), &stem, &files, 0).unwrap();
    }

    #[test]
    fn a_written_manifest_verifies_and_sums_list_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let archive = dir.path().join("aigw-2.0.0-t.tar.gz");
        std::fs::write(&archive, b"archive").unwrap();
        let spec = ReleaseSpec {
            version: "2.0.0".into(),
            date: "2026-11-25T13:00:00Z".into(),
            minimum_version: Some("1.0.0".into()),
            notes_url: None,
            base_url: Some("https://r.example/v2/".into()),
            archives: vec![ReleaseArchive {
                app: App::Gateway,
                target: "t".into(),
                path: archive.clone(),
                binary: "aigw-2.0.0-t/aigw".into(),
            }],
        };
        let m = write_manifest(&spec, &key, dir.path()).unwrap();
        assert_eq!(
            m.targets["t"].url,
            "https://r.example/v2/aigw-2.0.0-t.tar.gz"
        );
        let json = std::fs::read(dir.path().join("manifest.json")).unwrap();
        let sig = std::fs::read_to_string(dir.path().join("manifest.json.sig")).unwrap();
        verify::manifest(&json, &sig, &key.public()).unwrap();
        verify::detached(&archive, &sig_path(&archive), &key.public()).unwrap();

        let sums = write_sha256sums(
            dir.path(),
            &[archive.clone(), dir.path().join("manifest.json")],
        )
        .unwrap();
        let text = std::fs::read_to_string(sums).unwrap();
        let names: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
        assert_eq!(names, ["aigw-2.0.0-t.tar.gz", "manifest.json"]);
        assert!(text.starts_with(&sha256_hex(b"archive")));
    }
}
