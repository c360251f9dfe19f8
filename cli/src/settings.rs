//! Where the API and the identity provider are, kept from `login` for later commands, in the
//! user's configuration folder: `$ELASTIC_JIT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/elastic-jit`,
//! else `~/.config/elastic-jit` (`%APPDATA%\elastic-jit` on Windows).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub api_url: String,
    pub issuer: String,
    pub client_id: String,
}

pub fn config_dir() -> Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("ELASTIC_JIT_CONFIG_DIR") {
        return Ok(d);
    }
    if let Some(d) = var("XDG_CONFIG_HOME") {
        return Ok(d.join("elastic-jit"));
    }
    if cfg!(windows)
        && let Some(d) = var("APPDATA")
    {
        return Ok(d.join("elastic-jit"));
    }
    var("HOME")
        .map(|h| h.join(".config").join("elastic-jit"))
        .ok_or_else(|| CliError::config("no home folder: set ELASTIC_JIT_CONFIG_DIR"))
}

/// A URL tokens may be sent to: https, or http on a loopback address only (a local stack).
pub fn checked_url(what: &str, raw: &str) -> Result<String> {
    let u = url::Url::parse(raw.trim())
        .map_err(|e| CliError::config(format!("{what} {raw:?} is not a URL: {e}")))?;
    let loopback = matches!(
        u.host(),
        Some(url::Host::Ipv4(a)) if a.is_loopback()
    ) || matches!(u.host(), Some(url::Host::Ipv6(a)) if a.is_loopback())
        || u.host_str() == Some("localhost");
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(CliError::config(format!(
                "{what} must be https (plain http only on a loopback address): {raw}"
            )));
        }
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(CliError::config(format!(
            "{what} must not carry credentials"
        )));
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

fn file(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

pub fn load(dir: &Path) -> Result<Option<Settings>> {
    match std::fs::read_to_string(file(dir)) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CliError::config(format!("{}: {e}", file(dir).display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::config(format!("{}: {e}", file(dir).display()))),
    }
}

pub fn save(dir: &Path, s: &Settings) -> Result<()> {
    crate::tokens::write_private(
        &file(dir),
        serde_json::to_string_pretty(s)
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_only_to_https_or_loopback() {
        assert_eq!(
            checked_url("api", "https://jit.example.com/").unwrap(),
            "https://jit.example.com"
        );
        assert!(checked_url("api", "http://127.0.0.1:8080").is_ok());
        assert!(checked_url("api", "http://localhost:8080").is_ok());
        assert!(checked_url("api", "http://[::1]:8080").is_ok());
        for bad in [
            "http://jit.example.com",
            "http://127.0.0.1.example.com",
            "ftp://127.0.0.1",
            "https://user:pw@jit.example.com",
            "jit.example.com",
        ] {
            assert!(checked_url("api", bad).is_err(), "{bad}");
        }
    }
}
