//! [`RedisServer`]: a real `redis-server` (Debian's package; `REDIS_SERVER`
//! names another binary) on a 127.0.0.1 port, for team-mode tests. No
//! persistence (`--save '' --appendonly no`): a restart starts empty, like a
//! Redis that lost its data.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long [`RedisServer::start`] waits for the first `PONG`.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A `redis-server` child process, killed (SIGKILL) on drop; its temp dir
/// is removed then.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// If `redis-server` cannot be run or does not answer in time.
    pub async fn start() -> RedisServer {
        Self::start_with(None).await
    }

    /// [`RedisServer::start`] with `requirepass` set.
    pub async fn start_with_password(password: &str) -> RedisServer {
        Self::start_with(Some(password.to_string())).await
    }

    async fn start_with(password: Option<String>) -> RedisServer {
        let port = free_port();
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "testkit-redis-{}-{port}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("testkit: cannot create {}: {e}", dir.display());
        }
        let mut s = RedisServer {
            port,
            dir,
            password,
            child: None,
        };
        s.spawn().await;
        s
    }

    /// `redis://127.0.0.1:PORT/` (with `:PASSWORD@` when it has one).
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills it (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills it if it runs and starts it again on the same port (empty).
    ///
    /// # Panics
    /// If it does not answer in time.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// One command of plain words, its reply as text (RESP, unparsed:
    /// `+PONG\r\n`, `:3\r\n`, `$5\r\nhello\r\n`).
    ///
    /// # Panics
    /// If the server does not answer.
    pub fn command(&self, words: &[&str]) -> String {
        match self.try_command(words) {
            Ok(r) => r,
            Err(e) => panic!("testkit: redis {words:?}: {e}"),
        }
    }

    fn try_command(&self, words: &[&str]) -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut out = Vec::new();
        if let Some(p) = &self.password {
            out.extend(resp(&["AUTH", p]));
        }
        out.extend(resp(words));
        // QUIT: the server closes once the replies are written.
        out.extend(resp(&["QUIT"]));
        s.write_all(&out)?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        let mut reply = reply.strip_suffix("+OK\r\n").unwrap_or(&reply);
        if self.password.is_some() {
            reply = reply.strip_prefix("+OK\r\n").unwrap_or(reply);
        }
        Ok(reply.to_string())
    }

    async fn spawn(&mut self) {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut cmd = Command::new(&bin);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.password {
            cmd.args(["--requirepass", p]);
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("testkit: cannot run {bin} (apt install redis-server): {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if self
                .try_command(&["PING"])
                .is_ok_and(|r| r.contains("PONG"))
            {
                return;
            }
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "testkit: redis-server on port {} exited: {status}",
                    self.port
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "testkit: redis-server on port {} did not answer PING",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn resp(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend(format!("${}\r\n{w}\r\n", w.len()).into_bytes());
    }
    out
}

/// A port free now on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("testkit: cannot bind 127.0.0.1:0: {e}"),
    }
}
