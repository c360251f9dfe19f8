//! One readable line per failure, and an exit code a script can act on (README "Command line").

/// Exit codes: 0 success; 1 the API refused (4xx, its stable code in the message); 3 not signed
/// in or the sign-in was refused; 4 a server or identity provider could not be reached; 5 the
/// API failed (5xx); 6 local configuration or files (the declaration files of `plan`/`apply`,
/// an unconfirmed apply); 7 `plan --exit-code` found changes. `exec` exits with the command's
/// own code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    NotSignedIn(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Config(String),
    /// A local input refused before anything is sent (a declaration file, a plan that cannot
    /// be applied), with a stable code like the API's.
    #[error("{message} ({code})")]
    Input { code: &'static str, message: String },
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Api { status, .. } if *status >= 500 => 5,
            Self::Api { .. } => 1,
            Self::NotSignedIn(_) => 3,
            Self::Unreachable(_) => 4,
            Self::Config(_) | Self::Input { .. } => 6,
        }
    }

    pub fn config(what: impl std::fmt::Display) -> Self {
        Self::Config(what.to_string())
    }
}

impl CliError {
    pub fn input(code: &'static str, message: impl std::fmt::Display) -> Self {
        Self::Input {
            code,
            message: message.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
