//! `aigw keys …` (provider and client keys in the OS keychain; values are
//! never printed) and `aigw admin-token`.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use crate::config::Paths;
use crate::secrets::KeyIndex;
use crate::secrets::admin::AdminTokens;

/// `aigw keys set NAME`: the secret is read from stdin.
pub fn set_key(paths: &Paths, name: &str) -> anyhow::Result<ExitCode> {
    let index = KeyIndex::new(&paths.data_dir);
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the secret for {name:?}, then Enter and Ctrl-D:");
    }
    let mut secret = String::new();
    std::io::stdin().read_to_string(&mut secret)?;
    let secret = secret.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        anyhow::bail!("no secret on stdin; try: printf %s \"$KEY\" | aigw keys set {name}");
    }
    index.set(name, secret)?;
    println!("stored {name:?} in the OS keychain; use api_key = \"keyring:{name}\"");
    Ok(ExitCode::SUCCESS)
}

/// `aigw keys list`: names, and whether the keychain holds them.
pub fn list_keys(paths: &Paths) -> anyhow::Result<ExitCode> {
    let index = KeyIndex::new(&paths.data_dir);
    for (name, present) in index.list() {
        println!(
            "{name}\t{}",
            if present {
                "present"
            } else {
                "missing from keychain"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `aigw keys rm NAME`.
pub fn remove_key(paths: &Paths, name: &str) -> anyhow::Result<ExitCode> {
    let index = KeyIndex::new(&paths.data_dir);
    if index.remove(name)? {
        println!("removed {name:?}");
    } else {
        anyhow::bail!("no key named {name:?}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `aigw admin-token [--viewer | --name NAME]`: the admin (or viewer, or
/// named admin) token.
pub fn admin_token(paths: &Paths, viewer: bool, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let Some(t) = AdminTokens::read_existing(&paths.data_dir) else {
        anyhow::bail!(
            "no admin token yet for data dir {} (it is created when `aigw serve` first runs)",
            paths.data_dir.display()
        );
    };
    if let Some(name) = name {
        println!("{}", t.named_token(&paths.data_dir, name)?.expose());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}",
        if viewer {
            t.viewer.expose()
        } else {
            t.admin.expose()
        }
    );
    Ok(ExitCode::SUCCESS)
}
