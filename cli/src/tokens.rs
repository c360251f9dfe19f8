//! The signed-in tokens. On macOS and Windows they live in the OS keyring (the `keyring`
//! crate); elsewhere in `tokens.json` in the configuration folder, readable only by the user
//! (mode 0600, written whole through a temporary file). Linux has no keyring that both persists
//! and builds without the D-Bus development libraries, hence the file there.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Write `bytes` to `path` readable only by the user, replacing it whole.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| CliError::config(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(not(any(target_os = "macos", target_os = "windows")))]
mod backend {
    use super::*;

    fn file(dir: &Path) -> std::path::PathBuf {
        dir.join("tokens.json")
    }

    pub fn load(dir: &Path) -> Result<Option<Tokens>> {
        match std::fs::read(file(dir)) {
            Ok(b) => Ok(serde_json::from_slice(&b).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::config(format!("{}: {e}", file(dir).display()))),
        }
    }

    pub fn save(dir: &Path, t: &Tokens) -> Result<()> {
        write_private(&file(dir), &serde_json::to_vec(t).unwrap_or_default())
    }

    pub fn forget(dir: &Path) -> Result<()> {
        match std::fs::remove_file(file(dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CliError::config(format!("{}: {e}", file(dir).display()))),
        }
    }
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
mod backend {
    use super::*;

    fn entry(dir: &Path) -> Result<keyring::Entry> {
        keyring::Entry::new("elastic-jit", &dir.display().to_string())
            .map_err(|e| CliError::config(format!("keyring: {e}")))
    }

    pub fn load(dir: &Path) -> Result<Option<Tokens>> {
        match entry(dir)?.get_password() {
            Ok(s) => Ok(serde_json::from_str(&s).ok()),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(CliError::config(format!("keyring: {e}"))),
        }
    }

    pub fn save(dir: &Path, t: &Tokens) -> Result<()> {
        entry(dir)?
            .set_password(&serde_json::to_string(t).unwrap_or_default())
            .map_err(|e| CliError::config(format!("keyring: {e}")))
    }

    pub fn forget(dir: &Path) -> Result<()> {
        match entry(dir)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(CliError::config(format!("keyring: {e}"))),
        }
    }
}

pub use backend::{forget, load, save};

#[cfg(all(test, unix, not(target_os = "macos")))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_token_file_is_readable_only_by_its_owner_and_never_debug_printed() {
        let dir = std::env::temp_dir().join(format!("ejit-cli-{}", std::process::id()));
        let t = Tokens {
            access_token: "secret-access".into(),
            refresh_token: Some("secret-refresh".into()),
            expires_at: 1,
        };
        save(&dir, &t).unwrap();
        let mode = std::fs::metadata(dir.join("tokens.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&dir).unwrap().unwrap().access_token, "secret-access");
        assert!(!format!("{t:?}").contains("secret"));
        forget(&dir).unwrap();
        assert!(load(&dir).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
