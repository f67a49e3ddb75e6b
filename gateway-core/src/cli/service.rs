//! `aigw service install|uninstall|status`: carries out the plan that
//! `crate::service` computes for this OS (writes the unit / plist / task
//! XML, runs `systemctl` / `launchctl` / `schtasks`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::config::Paths;
use crate::service::{Cmd, Os, Plan, Scope, ServiceSpec, plan};

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Install and start the service: a systemd user unit on Linux, a
    /// launchd agent on macOS, a scheduled task at logon on Windows.
    Install {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Print the file and the commands instead of doing it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop the service and remove it.
    Uninstall {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Whether it is installed, and the service manager's view of it.
    Status {
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ScopeArgs {
    /// For your user, in your login session (the default).
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// Linux: the hardened system unit (packaging/systemd), as root.
    #[arg(long)]
    system: bool,
}

impl ScopeArgs {
    fn scope(self) -> Scope {
        if self.system {
            Scope::System
        } else {
            Scope::User
        }
    }
}

/// `explicit_config` / `explicit_data_dir`: the flags or `AIGW_*` values as
/// given (the service gets those; without them it uses the OS defaults,
/// which `paths` already holds).
pub fn service(
    paths: &Paths,
    explicit_config: Option<PathBuf>,
    explicit_data_dir: Option<PathBuf>,
    command: ServiceCommand,
) -> anyhow::Result<ExitCode> {
    let os = Os::current().context("aigw service supports Linux, macOS and Windows")?;
    let scope = match command {
        ServiceCommand::Install { scope, .. }
        | ServiceCommand::Uninstall { scope }
        | ServiceCommand::Status { scope } => scope.scope(),
    };
    let home = std::env::home_dir().context("no home directory found")?;
    let absolute = |p: Option<PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
    let exe = std::env::current_exe().context("cannot find the aigw binary")?;
    // aigww.exe: installed beside aigw.exe by the zip and the installer.
    let launcher = exe.with_file_name("aigww.exe");
    let windows_launcher = (os == Os::Windows && launcher.is_file()).then_some(launcher);
    if os == Os::Windows
        && windows_launcher.is_none()
        && matches!(command, ServiceCommand::Install { .. })
    {
        eprintln!(
            "note: no aigww.exe beside {}: the task runs aigw.exe, whose console window shows at logon (the release zip and installer have aigww.exe)",
            exe.display()
        );
    }
    let spec = ServiceSpec {
        exe,
        windows_launcher,
        home,
        config: absolute(explicit_config),
        data_dir: absolute(explicit_data_dir),
        windows_user: windows_user(),
        windows_xml_dir: paths.data_dir.clone(),
    };
    let uid = if os == Os::MacOs { mac_uid()? } else { 0 };
    let plan = plan(os, scope, &spec, uid)?;
    match command {
        ServiceCommand::Install { dry_run: true, .. } => {
            dry_run(&plan);
            Ok(ExitCode::SUCCESS)
        }
        ServiceCommand::Install { .. } => install(&plan),
        ServiceCommand::Uninstall { .. } => uninstall(&plan),
        ServiceCommand::Status { .. } => Ok(status(&plan)),
    }
}

fn windows_user() -> Option<String> {
    let user = std::env::var("USERNAME").ok().filter(|u| !u.is_empty())?;
    Some(match std::env::var("USERDOMAIN") {
        Ok(d) if !d.is_empty() => format!("{d}\\{user}"),
        _ => user,
    })
}

/// The numeric user id for launchd's `gui/UID` domain.
fn mac_uid() -> anyhow::Result<u32> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("cannot run `id -u`")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("`id -u` did not print a number")
}

/// The file as text (the Windows task XML is UTF-16).
fn contents_text(plan: &Plan) -> String {
    if plan.os == Os::Windows && plan.contents.starts_with(&[0xFF, 0xFE]) {
        let units: Vec<u16> = plan.contents[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units).replace("\r\n", "\n")
    } else {
        String::from_utf8_lossy(&plan.contents).into_owned()
    }
}

fn dry_run(plan: &Plan) {
    println!("# would write {}", plan.file.display());
    print!("{}", contents_text(plan));
    println!("# then run:");
    for c in &plan.install {
        println!("{}", c.display());
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("the service file has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| permission_hint(e, dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| permission_hint(e, dir))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn permission_hint(e: std::io::Error, dir: &Path) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::anyhow!(
            "cannot write to {}: permission denied (the system unit needs root: sudo aigw service install --system)",
            dir.display()
        )
    } else {
        anyhow::anyhow!("cannot write to {}: {e}", dir.display())
    }
}

/// Runs `c`; `Ok(None)` when it succeeded, `Ok(Some(output))` for a failure
/// it may have.
fn run(c: &Cmd) -> anyhow::Result<Option<String>> {
    let out = Command::new(&c.program)
        .args(&c.args)
        .output()
        .with_context(|| format!("cannot run {}", c.program))?;
    if out.status.success() {
        return Ok(None);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned();
    if c.may_fail {
        Ok(Some(text))
    } else {
        bail!("`{}` failed: {text}{}", c.display(), manager_hint(c))
    }
}

fn manager_hint(c: &Cmd) -> &'static str {
    if c.program == "systemctl" && c.args.iter().any(|a| a == "--user") {
        " (a user service needs your systemd user manager: log in to a session, or \
         `loginctl enable-linger $USER` to run it without one)"
    } else {
        ""
    }
}

fn install(plan: &Plan) -> anyhow::Result<ExitCode> {
    for d in &plan.dirs {
        std::fs::create_dir_all(d).map_err(|e| permission_hint(e, d))?;
    }
    write_file(&plan.file, &plan.contents)?;
    println!("wrote {}", plan.file.display());
    for c in &plan.install {
        run(c)?;
        println!("ran {}", c.display());
    }
    println!(
        "{} is installed and started; `aigw service status` shows it, `aigw service uninstall` removes it",
        plan.name
    );
    Ok(ExitCode::SUCCESS)
}

fn uninstall(plan: &Plan) -> anyhow::Result<ExitCode> {
    if !plan.file.exists() && plan.os != Os::Windows {
        println!(
            "{} is not installed (no {})",
            plan.name,
            plan.file.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for c in &plan.uninstall {
        match run(c)? {
            None => println!("ran {}", c.display()),
            Some(out) => println!("{}: {out}", c.display()),
        }
    }
    match std::fs::remove_file(&plan.file) {
        Ok(()) => println!("removed {}", plan.file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(permission_hint(e, &plan.file)),
    }
    if plan.os == Os::Linux {
        // Forget the removed unit; harmless when the manager is gone.
        let reload = plan.install[0].clone();
        let _ = run(&Cmd {
            may_fail: true,
            ..reload
        });
    }
    println!("{} is uninstalled", plan.name);
    Ok(ExitCode::SUCCESS)
}

fn status(plan: &Plan) -> ExitCode {
    if !plan.file.exists() {
        println!(
            "{}: not installed (no {}); `aigw service install` installs it",
            plan.name,
            plan.file.display()
        );
        return ExitCode::from(1);
    }
    println!("{}: installed ({})", plan.name, plan.file.display());
    let mut ok = true;
    for c in &plan.status {
        match Command::new(&c.program).args(&c.args).output() {
            Ok(out) => {
                ok &= out.status.success();
                let text = String::from_utf8_lossy(&out.stdout);
                let err = String::from_utf8_lossy(&out.stderr);
                println!("$ {}\n{}{}", c.display(), text.trim_end(), err.trim_end());
            }
            Err(e) => {
                ok = false;
                println!("$ {}\ncannot run it: {e}", c.display());
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}
