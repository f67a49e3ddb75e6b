//! `fake-upstream`: run [`testkit::FakeUpstream`]s as a standalone process, for tests written in
//! other languages (e.g. the OpenAI Python SDK suite in `tests/sdk/`).
//!
//! ```text
//! fake-upstream --upstream NAME=BEHAVIOR [--upstream NAME=BEHAVIOR ...]
//! ```
//!
//! BEHAVIOR is one of:
//! * `ok` — [`Behavior::Ok`],
//! * `auto` — [`Behavior::Auto`] (tool calls when the chat request has `tools`, else `ok`),
//! * `tool_call` — [`Behavior::ToolCall`],
//! * `verify_honest` / `verify_substitute` — [`Behavior::Scripted`] with
//!   [`testkit::probe_model`] (answers the gateway's verification probes),
//! * `status:CODE` or `status:CODE:RETRY_AFTER` — [`Behavior::Status`].
//!
//! Protocol on stdio:
//! * once every upstream listens, ONE JSON line `{"NAME": "http://127.0.0.1:PORT/v1", ...}` is
//!   printed to stdout;
//! * each line `dump` read on stdin prints ONE JSON line
//!   `{"NAME": [{"method":..., "path":..., "model":...}, ...], ...}` with every request received
//!   so far (including `GET /v1/models`, in arrival order);
//! * the process exits when stdin is closed (EOF). Unknown stdin lines are reported on stderr.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const USAGE: &str = "usage: fake-upstream --upstream NAME=BEHAVIOR [--upstream NAME=BEHAVIOR ...]
  BEHAVIOR: ok | auto | tool_call | verify_honest | verify_substitute | status:CODE[:RETRY_AFTER]
  Prints {\"NAME\": \"http://127.0.0.1:PORT/v1\", ...} on stdout; a line `dump` on stdin prints the
  requests received so far as {\"NAME\": [{\"method\",\"path\",\"model\"}, ...]}; exits on stdin EOF.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let specs = match parse_args(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake-upstream: {e:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-upstream: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(specs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-upstream: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `(name, behavior)` pairs in command-line order.
fn parse_args(args: &[String]) -> anyhow::Result<Vec<(String, Behavior)>> {
    let mut specs: Vec<(String, Behavior)> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let spec = if arg == "--upstream" {
            it.next()
                .context("--upstream needs a value NAME=BEHAVIOR")?
        } else if let Some(v) = arg.strip_prefix("--upstream=") {
            v
        } else {
            bail!("unexpected argument {arg:?}");
        };
        let (name, behavior) = spec
            .split_once('=')
            .with_context(|| format!("--upstream {spec:?}: expected NAME=BEHAVIOR"))?;
        if name.is_empty() {
            bail!("--upstream {spec:?}: empty name");
        }
        if specs.iter().any(|(n, _)| n == name) {
            bail!("--upstream {spec:?}: duplicate name {name:?}");
        }
        let behavior = parse_behavior(behavior).with_context(|| format!("--upstream {spec:?}"))?;
        specs.push((name.to_owned(), behavior));
    }
    if specs.is_empty() {
        bail!("at least one --upstream is required");
    }
    Ok(specs)
}

fn parse_behavior(s: &str) -> anyhow::Result<Behavior> {
    match s {
        "ok" => return Ok(Behavior::Ok),
        "auto" => return Ok(Behavior::Auto),
        "tool_call" => return Ok(Behavior::ToolCall),
        "verify_honest" => return Ok(Behavior::Scripted(testkit::probe_model(true))),
        "verify_substitute" => return Ok(Behavior::Scripted(testkit::probe_model(false))),
        _ => {}
    }
    let Some(rest) = s.strip_prefix("status:") else {
        bail!("unknown behavior {s:?} (expected ok, auto, tool_call or status:CODE[:RETRY_AFTER])");
    };
    let (code, retry_after) = match rest.split_once(':') {
        Some((code, ra)) => {
            let ra: u64 = ra
                .parse()
                .with_context(|| format!("RETRY_AFTER {ra:?} is not a number of seconds"))?;
            (code, Some(ra))
        }
        None => (rest, None),
    };
    let status: u16 = code
        .parse()
        .with_context(|| format!("status code {code:?} is not a number"))?;
    if !(100..=999).contains(&status) {
        bail!("status code {status} is out of range");
    }
    Ok(Behavior::Status {
        status,
        retry_after,
        body: None,
    })
}

async fn run(specs: Vec<(String, Behavior)>) -> anyhow::Result<()> {
    let mut upstreams: Vec<FakeUpstream> = Vec::with_capacity(specs.len());
    for (name, behavior) in specs {
        let up = FakeUpstream::start(&name).await;
        up.set_default(behavior);
        upstreams.push(up);
    }
    let urls: serde_json::Map<String, Value> = upstreams
        .iter()
        .map(|u| (u.name().to_owned(), Value::String(u.base_url())))
        .collect();
    let mut stdout = tokio::io::stdout();
    write_line(&mut stdout, &Value::Object(urls)).await?;

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        match line.trim() {
            "" => {}
            "dump" => write_line(&mut stdout, &dump(&upstreams)).await?,
            other => {
                eprintln!("fake-upstream: ignoring unknown command {other:?} (expected `dump`)")
            }
        }
    }
    drop(upstreams);
    Ok(())
}

fn dump(upstreams: &[FakeUpstream]) -> Value {
    let all: BTreeMap<String, Vec<Value>> = upstreams
        .iter()
        .map(|u| {
            let reqs = u
                .requests()
                .iter()
                .map(|r| json!({"method": r.method, "path": r.path, "model": r.model()}))
                .collect();
            (u.name().to_owned(), reqs)
        })
        .collect();
    json!(all)
}

async fn write_line(out: &mut tokio::io::Stdout, v: &Value) -> anyhow::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    out.write_all(line.as_bytes())
        .await
        .context("writing stdout")?;
    out.flush().await.context("flushing stdout")?;
    Ok(())
}
