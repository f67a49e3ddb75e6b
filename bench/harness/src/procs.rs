//! Processes under test: spawn in their own process group (so a peer's
//! workers stop with it), wait for health, read CPU time and RSS from
//! `/proc` over the whole process tree, stop by process-group id.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Process groups started and not yet stopped, for [`stop_all`].
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills every process group still running (on Ctrl-C).
pub fn stop_all() {
    let pids = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(|e| e.into_inner()));
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
}

/// A running process we started.
pub struct Proc {
    pub name: String,
    child: Child,
    pid: u32,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<Proc> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("log file {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let pid = child
            .id()
            .with_context(|| format!("{name} exited at once"))?;
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
        Ok(Proc {
            name: name.to_string(),
            child,
            pid,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether it is still running (`Err` with its exit status if not).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(st) => bail!("{} exited: {st}", self.name),
        }
    }

    /// User + system CPU time of the tree, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        cpu_tree_ticks(self.pid)
    }

    /// Resident set size of the tree, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_tree_kib(self.pid)
    }

    /// SIGTERM to the process group, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.pid);
        let group = format!("-{}", self.pid);
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &group])
                .status();
            let _ = self.child.wait().await;
        }
        // Workers of a peer may outlive their parent for a moment.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
}

/// `pid` and all its descendants.
pub fn tree_of(pid: u32) -> Vec<u32> {
    let mut parent_of: HashMap<u32, u32> = HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(st) = stat_fields(pid)
                && let Some(pp) = st.get(1).and_then(|s| s.parse::<u32>().ok())
            {
                parent_of.insert(pid, pp);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(
            parent_of
                .iter()
                .filter(|&(_, &pp)| pp == p)
                .map(|(&c, _)| c),
        );
        i += 1;
    }
    out
}

/// User + system CPU time of `pid`'s tree, in clock ticks.
pub fn cpu_tree_ticks(pid: u32) -> u64 {
    tree_of(pid)
        .into_iter()
        .filter_map(stat_fields)
        .map(|f| {
            // Fields after the `(comm)`: index 0 is state; utime is 11, stime 12.
            let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            n(11) + n(12)
        })
        .sum()
}

/// Resident set size of `pid`'s tree, in KiB.
pub fn rss_tree_kib(pid: u32) -> u64 {
    tree_of(pid).into_iter().map(rss_of).sum()
}

/// `/proc/PID/stat` fields after the command name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Clock ticks per second for `/proc/PID/stat` times.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// One GET; the status code, or an error.
pub async fn get_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = tx.send_request(req).await?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// Polls `GET path` every millisecond until it answers 200; the time since
/// `since`. Bounded by `limit`; fails early if the process exits.
pub async fn wait_healthy(
    proc: &mut Proc,
    addr: SocketAddr,
    path: &str,
    since: Instant,
    limit: Duration,
) -> anyhow::Result<Duration> {
    loop {
        if let Ok(Ok(200)) =
            tokio::time::timeout(Duration::from_secs(2), get_status(addr, path)).await
        {
            return Ok(since.elapsed());
        }
        proc.check_alive()?;
        if since.elapsed() > limit {
            bail!(
                "{} not healthy at {path} within {}s",
                proc.name,
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The 1-minute load average.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Waits (up to `max`) until the 1-minute load average is below `below`;
/// returns the load average at the end and whether it got there.
pub async fn wait_quiet(below: f64, max: Duration) -> (f64, bool) {
    let start = Instant::now();
    let mut said = false;
    loop {
        let l = loadavg();
        if l < below {
            return (l, true);
        }
        if start.elapsed() >= max {
            eprintln!(
                "   load average still {l:.2} after {}s: measuring anyway",
                max.as_secs()
            );
            return (l, false);
        }
        if !said {
            eprintln!(
                "   waiting for load average {l:.2} < {below} (up to {}s)",
                max.as_secs()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// A free loopback port (bound and released; the tiny race is acceptable here).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The CPUs this process may run on (`Cpus_allowed_list` of
/// `/proc/self/status`, e.g. `0-1` or `0,2-3`), in order.
pub fn allowed_cpus() -> Vec<u32> {
    let list = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    parse_cpu_list(&list)
}

fn parse_cpu_list(list: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let mut ends = part.splitn(2, '-').map(|v| v.trim().parse::<u32>());
        match (ends.next(), ends.next()) {
            (Some(Ok(a)), None) => out.push(a),
            (Some(Ok(a)), Some(Ok(b))) if a <= b => out.extend(a..=b),
            _ => {}
        }
    }
    out
}

/// Pins every thread of `pid` (only that process) to `cpus` (`taskset`'s
/// list syntax).
pub fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let st = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("taskset (util-linux) not found")?;
    anyhow::ensure!(st.success(), "taskset -a -p -c {cpus} {pid}: {st}");
    Ok(())
}

/// [`pin`] for `pid` and all its descendants (a peer's workers too).
pub fn pin_tree(pid: u32, cpus: &str) -> anyhow::Result<()> {
    for p in tree_of(pid) {
        pin(p, cpus)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists_parse() {
        assert_eq!(super::parse_cpu_list("0-1"), vec![0, 1]);
        assert_eq!(super::parse_cpu_list("0,2-4,7"), vec![0, 2, 3, 4, 7]);
        assert_eq!(super::parse_cpu_list(""), Vec::<u32>::new());
        assert_eq!(super::parse_cpu_list("3-1,x"), Vec::<u32>::new());
    }
}
