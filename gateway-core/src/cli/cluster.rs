//! `aigw cluster check [--json]`: can this replica reach its shared engines?
//! Redis (PING, server version, the gateway's function library) and
//! PostgreSQL (server version, schema version against this binary's,
//! pending migrations). Each check prints ok or fail; any failure exits 1.
//! Errors name the problem (unreachable, authentication, TLS, timeout) and
//! never the URL's password. Nothing is changed: migrations are reported,
//! not run.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::config::{ClusterConfig, Config, Paths};

/// Each engine's checks together (connect, queries).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
pub struct Check {
    pub engine: &'static str,
    pub ok: bool,
    /// What was found (versions, schema), or why it failed.
    pub detail: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl Check {
    fn fail(engine: &'static str, detail: String) -> Self {
        Self {
            engine,
            ok: false,
            detail,
            facts: serde_json::Map::new(),
        }
    }
}

/// The checks of `[cluster]` (empty when it names no engine).
pub async fn run_checks(cluster: &ClusterConfig) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(url) = &cluster.redis_url {
        let c = match tokio::time::timeout(CHECK_TIMEOUT, redis_check(url)).await {
            Ok(c) => c,
            Err(_) => Check::fail(
                "redis",
                format!("no answer within {}s", CHECK_TIMEOUT.as_secs()),
            ),
        };
        out.push(c);
    }
    if let Some(url) = &cluster.postgres_url {
        let c = match tokio::time::timeout(CHECK_TIMEOUT, postgres_check(url)).await {
            Ok(c) => c,
            Err(_) => Check::fail(
                "postgres",
                format!("no answer within {}s", CHECK_TIMEOUT.as_secs()),
            ),
        };
        out.push(c);
    }
    out
}

fn redis_error(e: &redis::RedisError) -> String {
    let s = e.to_string();
    let low = s.to_lowercase();
    if low.contains("wrongpass") || low.contains("noauth") || low.contains("auth") {
        format!("authentication failed: {s}")
    } else if low.contains("tls") || low.contains("certificate") {
        format!("TLS: {s}")
    } else if e.is_connection_refusal() || e.is_io_error() {
        format!("unreachable: {s}")
    } else {
        s
    }
}

async fn redis_check(url: &crate::config::EngineUrl) -> Check {
    let url = match url.resolve(crate::config::REDIS_SCHEMES) {
        Ok(u) => u,
        Err(e) => return Check::fail("redis", format!("redis_url: {e}")),
    };
    let client = match redis::Client::open(url.expose()) {
        Ok(c) => c,
        Err(e) => return Check::fail("redis", format!("redis_url: {}", redis_error(&e))),
    };
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut con = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(c) => c,
        Err(e) => return Check::fail("redis", redis_error(&e)),
    };
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut con).await;
    if let Err(e) = pong {
        return Check::fail("redis", redis_error(&e));
    }
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await
        .unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_string())
    };
    let version = field("valkey_version")
        .or_else(|| field("redis_version"))
        .unwrap_or_else(|| "unknown".into());
    let libraries: Vec<String> = match redis::cmd("FUNCTION")
        .arg("LIST")
        .query_async::<redis::Value>(&mut con)
        .await
    {
        Ok(v) => {
            let mut names = Vec::new();
            library_names(&v, &mut names);
            names.retain(|n| n.starts_with("aigw"));
            names
        }
        Err(_) => Vec::new(),
    };
    let mut facts = serde_json::Map::new();
    facts.insert("version".into(), version.clone().into());
    facts.insert("function_libraries".into(), libraries.clone().into());
    let lib = if libraries.is_empty() {
        "the gateway's function library is not loaded yet (a replica loads it when it starts)"
            .to_string()
    } else {
        format!("function library {} loaded", libraries.join(", "))
    };
    Check {
        engine: "redis",
        ok: true,
        detail: format!("PING ok, server {version}; {lib}"),
        facts,
    }
}

/// The `library_name` values in a `FUNCTION LIST` reply (RESP2 arrays or
/// RESP3 maps).
fn library_names(v: &redis::Value, out: &mut Vec<String>) {
    use redis::Value;
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    match v {
        Value::Array(items) => {
            for pair in items.windows(2) {
                if text(&pair[0]).as_deref() == Some("library_name")
                    && let Some(n) = text(&pair[1])
                {
                    out.push(n);
                }
            }
            for i in items {
                library_names(i, out);
            }
        }
        Value::Map(kv) => {
            for (k, val) in kv {
                if text(k).as_deref() == Some("library_name")
                    && let Some(n) = text(val)
                {
                    out.push(n);
                }
                library_names(val, out);
            }
        }
        _ => {}
    }
}

async fn postgres_check(url: &crate::config::EngineUrl) -> Check {
    use crate::cluster::pg;
    let p = match pg::Pg::open(url) {
        Ok(p) => p,
        Err(e) => return Check::fail("postgres", e.to_string()),
    };
    let client = match p.raw_client().await {
        Ok(c) => c,
        Err(e) => return Check::fail("postgres", e.to_string()),
    };
    let version: String = match client.query_one("SHOW server_version", &[]).await {
        Ok(r) => r.get(0),
        Err(e) => return Check::fail("postgres", pg::PgError::db(&e).to_string()),
    };
    let schema = match pg::current_schema(&client).await {
        Ok(v) => v,
        Err(e) => return Check::fail("postgres", e.to_string()),
    };
    let known = pg::schema_version();
    let pending: Vec<String> = pg::MIGRATIONS
        .iter()
        .filter(|m| m.version > schema)
        .map(|m| format!("{} ({})", m.version, m.name))
        .collect();
    let mut facts = serde_json::Map::new();
    facts.insert("version".into(), version.clone().into());
    facts.insert("schema_version".into(), schema.into());
    facts.insert("binary_schema_version".into(), known.into());
    facts.insert("pending_migrations".into(), pending.clone().into());
    let (ok, what) = if schema > known {
        (
            false,
            format!(
                "schema version {schema} is newer than this aigw knows ({known}): upgrade aigw"
            ),
        )
    } else if pending.is_empty() {
        (true, format!("schema version {schema} (current)"))
    } else {
        (
            true,
            format!(
                "schema version {schema}, this aigw knows {known}: pending {} (applied when a replica starts)",
                pending.join(", ")
            ),
        )
    };
    Check {
        engine: "postgres",
        ok,
        detail: format!("server {version}; {what}"),
        facts,
    }
}

/// `aigw cluster check [--json]`.
pub async fn check(paths: &Paths, json: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(&paths.config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !config.cluster.is_enabled() {
        anyhow::bail!(
            "{}: no [cluster] redis_url or postgres_url: this is a single node (nothing to check)",
            paths.config_file.display()
        );
    }
    let checks = run_checks(&config.cluster).await;
    let ok = checks.iter().all(|c| c.ok);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "ok": ok, "checks": checks }))?
        );
    } else {
        for c in &checks {
            println!(
                "{:<8} {:<4} {}",
                c.engine,
                if c.ok { "ok" } else { "FAIL" },
                c.detail
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
