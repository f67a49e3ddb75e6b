//! The level above [`super::Clients`], where the config is known: the
//! token a tool gets (a client key per tool when `server.client_keys` is
//! configured, else [`super::LOCAL_TOKEN`]), and the routing-loop check.
//!
//! A tool's client key is `keyring:aigw-client-<tool>` (the OS keychain,
//! through [`crate::secrets::KeyIndex`]); connect mints it once and adds
//! the ref to `server.client_keys` with a normal, audited publish. The
//! gateway's telemetry records the key's ref as the request's `client`, so
//! spending shows per tool. Keys are never logged or returned by the API.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use toml_edit::{Array, DocumentMut, value};

use super::{ClientError, LOCAL_TOKEN, Tool};
use crate::config::Config;
use crate::secrets::{KeyIndex, SecretRef};

/// `aigw-client-claude-code`, …
pub fn key_name(tool: Tool) -> String {
    format!("aigw-client-{}", tool.name())
}

pub fn key_ref(tool: Tool) -> String {
    format!("keyring:{}", key_name(tool))
}

/// A provider whose base URL is this gateway's own address: requests would
/// go round in circles.
pub fn routing_loop(config: &Config, listen: SocketAddr) -> Option<String> {
    config.providers.iter().find_map(|p| {
        let url = &p.base_url;
        let port = url.port_or_known_default()?;
        if port != listen.port() {
            return None;
        }
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
        let ours = match host.parse::<IpAddr>() {
            // (on 0.0.0.0 a LAN address of this machine loops too, but it
            // cannot be told from another host's without the interfaces)
            Ok(ip) => ip == listen.ip() || ip.is_loopback() || ip.is_unspecified(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        };
        ours.then(|| {
            format!(
                "provider {:?} has base_url {} — this gateway's own address ({listen}); fix that provider first",
                p.name, p.base_url
            )
        })
    })
}

/// What [`prepare`] found or made.
#[derive(Debug)]
pub struct Token {
    /// The value written into the tool's file.
    pub value: String,
    /// The live TOML with the key's ref added to `server.client_keys`,
    /// to publish before writing the file (None: nothing to publish).
    pub publish: Option<String>,
    /// The ref, when a client key is used.
    pub key_ref: Option<String>,
}

/// The token for `tool`. `mint`: create the key when missing (connect);
/// without it a missing key is shown as a placeholder (preview).
pub fn prepare(
    data_dir: &Path,
    config: &Config,
    live_toml: &str,
    tool: Tool,
    mint: bool,
) -> Result<Token, ClientError> {
    if config.server.client_keys.is_empty() {
        return Ok(Token {
            value: LOCAL_TOKEN.into(),
            publish: None,
            key_ref: None,
        });
    }
    let name = key_name(tool);
    let r = key_ref(tool);
    let value = match crate::secrets::keychain_get(&name) {
        Ok(k) => k.expose().to_string(),
        Err(_) if mint => {
            let v = format!(
                "aigw-{}-{}",
                tool.name(),
                hex::encode(rand::random::<[u8; 24]>())
            );
            KeyIndex::new(data_dir)
                .set(&name, &v)
                .map_err(|e| ClientError::Key(e.to_string()))?;
            v
        }
        Err(_) => format!("<new-client-key-{name}-made-on-connect>"),
    };
    let listed = config
        .server
        .client_keys
        .iter()
        .any(|k| *k == SecretRef::Keyring(name.clone()));
    let publish = if listed {
        None
    } else {
        Some(add_client_key(live_toml, &r)?)
    };
    Ok(Token {
        value,
        publish,
        key_ref: Some(r),
    })
}

/// `live_toml` with `r` appended to `server.client_keys` (formatting kept).
pub fn add_client_key(live_toml: &str, r: &str) -> Result<String, ClientError> {
    let mut doc = live_toml
        .parse::<DocumentMut>()
        .map_err(|e| ClientError::Key(format!("the live config does not parse: {e}")))?;
    let server = doc
        .entry("server")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| ClientError::Key("[server] is not a table".into()))?;
    let keys = server
        .entry("client_keys")
        .or_insert_with(|| value(Array::new()));
    let Some(arr) = keys.as_array_mut() else {
        return Err(ClientError::Key(
            "server.client_keys is not an array".into(),
        ));
    };
    if !arr.iter().any(|v| v.as_str() == Some(r)) {
        arr.push(r);
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(base_url: &str) -> Config {
        Config::parse(
            &format!("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"{base_url}\"\n"),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn a_provider_at_our_own_address_is_a_loop() {
        let listen: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        for own in [
            "http://127.0.0.1:4000/v1",
            "http://localhost:4000/v1",
            "http://[::1]:4000/v1",
        ] {
            let why = routing_loop(&config(own), listen);
            assert!(why.is_some_and(|w| w.contains("provider \"p\"")), "{own}");
        }
        for other in [
            "http://127.0.0.1:4001/v1",
            "http://gpu-box.example:4000/v1",
            "https://api.openai.com/v1",
        ] {
            assert_eq!(routing_loop(&config(other), listen), None, "{other}");
        }
        let lan: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        assert!(routing_loop(&config("http://192.0.2.7:4000/v1"), lan).is_some());
    }

    #[test]
    fn the_client_key_ref_is_appended_keeping_the_file() {
        let toml =
            "# mine\n[server]\nlisten = \"127.0.0.1:4000\"\nclient_keys = [\"env:A\"] # keys\n";
        let out = add_client_key(toml, "keyring:aigw-client-codex").unwrap();
        assert_eq!(
            out,
            "# mine\n[server]\nlisten = \"127.0.0.1:4000\"\nclient_keys = [\"env:A\", \"keyring:aigw-client-codex\"] # keys\n"
        );
        assert_eq!(
            add_client_key(&out, "keyring:aigw-client-codex").unwrap(),
            out
        );
    }
}
