//! `aigw serve` as a child process, for the tests that run the real binary.
#![allow(clippy::zombie_processes)] // the Drop impl kills and reaps the child

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub struct Aigw {
    pub child: Child,
    pub url: String,
    /// A client for [`Aigw::chat`].
    pub http: reqwest::Client,
    log: mpsc::Receiver<String>,
    early: Vec<String>,
}

impl Aigw {
    /// Starts `aigw serve` and waits for its "listening on" line.
    pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Aigw {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aigw"));
        cmd.arg("serve").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Aigw::spawn(cmd)
    }

    /// Writes `dir/config.toml` (`[server] listen = "127.0.0.1:0"`, then
    /// `rest`) and serves it with the data dir `dir/data`.
    pub fn serve_config(dir: &Path, rest: &str, env: &[(&str, &str)]) -> Aigw {
        let cfg = dir.join("config.toml");
        std::fs::write(&cfg, format!("[server]\nlisten = \"127.0.0.1:0\"\n{rest}")).unwrap();
        Aigw::serve_files(&cfg, &dir.join("data"), env)
    }

    /// `aigw serve --config CFG --data-dir DATA`.
    pub fn serve_files(cfg: &Path, data: &Path, env: &[(&str, &str)]) -> Aigw {
        Aigw::serve(
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ],
            env,
        )
    }

    /// Runs `cmd` (an `aigw serve`, maybe behind a shell) without the
    /// caller's `AIGW_*` and proxy variables, and waits for its "listening
    /// on" line; its stderr is kept for [`Aigw::log_lines`].
    pub fn spawn(mut cmd: Command) -> Aigw {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        // What the command sets itself wins; upstreams are on loopback, so
        // no proxy unless a test sets one.
        let unset = |cmd: &Command, v: &str| cmd.get_envs().all(|(k, _)| k != v);
        for v in ["AIGW_CONFIG", "AIGW_DATA_DIR", "AIGW_LISTEN"]
            .into_iter()
            .chain(gateway_core::upstream::PROXY_VARS)
        {
            if unset(&cmd, v) {
                cmd.env_remove(v);
            }
        }
        if unset(&cmd, "AIGW_LOG") {
            cmd.env("AIGW_LOG", "info");
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split_whitespace().next().unwrap().to_string();
                        seen.push(line);
                        return Aigw {
                            child,
                            url,
                            http: reqwest::Client::new(),
                            log: rx,
                            early: seen,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => panic!("aigw did not start: {seen:#?}"),
            }
        }
    }

    /// POSTs `body` to `/v1/chat/completions`.
    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.chat_request(body).send().await.unwrap()
    }

    /// [`Aigw::chat`] with a client key (`Authorization: Bearer KEY`).
    pub async fn chat_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.chat_request(body)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    fn chat_request(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.url))
            .json(body)
    }

    /// Everything logged so far (stderr).
    pub fn log_lines(&mut self) -> Vec<String> {
        self.early.extend(self.log.try_iter());
        self.early.clone()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn wait_exit(&mut self) -> i32 {
        for _ in 0..200 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aigw did not exit");
    }
}

impl Drop for Aigw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
