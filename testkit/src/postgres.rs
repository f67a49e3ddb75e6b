//! A throwaway PostgreSQL cluster for team-mode tests: `initdb` into a temp
//! dir, `pg_ctl start` on a free 127.0.0.1 port (its socket in the same
//! dir), one database created; stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root: when the test runs as root the
//! cluster belongs to `nobody` (the dir is chowned to it and the server
//! binaries run through `setpriv`). Clients connect over TCP with `trust`
//! authentication as the superuser `aigw`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian's PostgreSQL 15 server binaries are (`AIGW_PG_BIN` overrides).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The superuser and database a [`PostgresServer`] creates.
pub const PG_USER: &str = "aigw";
pub const PG_DATABASE: &str = "aigw_test";

pub struct PostgresServer {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    running: bool,
}

impl std::fmt::Debug for PostgresServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresServer(127.0.0.1:{})", self.port)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    })
}

impl PostgresServer {
    /// Creates and starts a cluster. Panics with the server's log when it
    /// does not come up (a test cannot go on without it).
    pub fn start() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let bin = std::env::var_os("AIGW_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(PG_BIN));
        let dir = std::env::temp_dir().join(format!(
            "aigw-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))
            .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        if is_root() {
            for p in [dir.clone(), dir.join("data")] {
                std::os::unix::fs::chown(&p, Some(65534), Some(65534))
                    .unwrap_or_else(|e| panic!("chown {} to nobody: {e}", p.display()));
            }
        }
        let mut s = Self {
            dir,
            port: free_port(),
            bin,
            running: false,
        };
        s.run(
            "initdb",
            &[
                "-D",
                &s.data().to_string_lossy(),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        s.start_again();
        let out = Command::new(s.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &s.port.to_string(), "-U", PG_USER])
            .arg(PG_DATABASE)
            .output()
            .unwrap_or_else(|e| panic!("run createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a server binary as the cluster's owner; panics on failure.
    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            panic!(
                "{tool} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// `postgres://aigw@127.0.0.1:PORT/aigw_test` (trust auth, no password).
    pub fn url(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/{PG_DATABASE}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server (fast shutdown: open connections are closed), the
    /// data kept.
    pub fn stop(&mut self) {
        if self.running {
            self.run(
                "pg_ctl",
                &[
                    "-D",
                    &self.data().to_string_lossy(),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
            );
            self.running = false;
        }
    }

    /// Starts the server again on the same port and data.
    pub fn start_again(&mut self) {
        if self.running {
            return;
        }
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &self.dir.join("log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        self.running = true;
    }

    /// [`Self::stop`] then [`Self::start_again`].
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let exe = self.bin.join("pg_ctl");
            let data = self.data();
            let mut cmd = if is_root() {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(&exe);
                c
            } else {
                Command::new(&exe)
            };
            let _ = cmd
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .current_dir(&self.dir)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
