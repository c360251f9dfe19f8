//! Shell completion of names the API knows: `request --integration <TAB>` offers the
//! integrations the signed-in person may request through (`GET /integrations`), `--resource
//! <TAB>` the resources that integration's flows offer them (`GET
//! /integrations/{name}/resources`, the portal's request form's list) and `--permission <TAB>`
//! the permissions those flows offer. clap_complete's dynamic completion calls these while the
//! shell completes (`COMPLETE=$SHELL elastic-jit -- WORDS`).
//!
//! A completion runs on every TAB, maybe while another `elastic-jit` runs, so it only reads:
//! the stored settings and tokens, never a refresh (the provider rotates refresh tokens, so a
//! refresh here could sign the running command out) and never a write. It never prompts, gives
//! up after [`BUDGET`], and on any failure offers nothing and prints nothing.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use serde_json::Value;

use crate::api::segment;

/// The longest a completion may take, all requests included: a shell waits for it.
pub const BUDGET: Duration = Duration::from_secs(2);
/// Resource pages read at most (1000 each, as the portal's form reads up to 5000).
const MAX_PAGES: usize = 5;

/// What completion sends requests with: the API and a token that has not expired.
pub struct Source {
    pub api_url: String,
    pub token: String,
    http: reqwest::Client,
}

impl Source {
    /// The stored sign-in, read only; `None` when there is none or its token has expired.
    pub fn stored(dir: &Path) -> Option<Self> {
        let settings = crate::settings::load(dir).ok()??;
        let tokens = crate::tokens::load(dir).ok()??;
        // A few seconds of margin: a token that expires in flight is refused anyway.
        if tokens.expires_at - chrono::Utc::now().timestamp() < 5 {
            return None;
        }
        Self::new(settings.api_url, tokens.access_token)
    }

    pub fn new(api_url: String, token: String) -> Option<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(BUDGET / 2)
            .timeout(BUDGET)
            .build()
            .ok()?;
        Some(Self {
            api_url,
            token,
            http,
        })
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// The integrations the caller may use, each with a short description.
    pub async fn integrations(&self) -> Option<Vec<(String, String)>> {
        Some(
            self.integrations_raw()
                .await?
                .iter()
                .filter_map(|i| {
                    let name = i["name"].as_str()?.to_string();
                    let kind = i["kind"].as_str().unwrap_or_default();
                    let perms = words(&i["permissions"]);
                    let help = if perms.is_empty() {
                        kind.to_string()
                    } else {
                        format!("{kind}: {}", perms.join(", "))
                    };
                    Some((name, help))
                })
                .collect(),
        )
    }

    /// The permissions the caller's flows offer on `integration`.
    pub async fn permissions(&self, integration: &str) -> Option<Vec<(String, String)>> {
        let integration = segment(integration).ok()?;
        let all = self.integrations_raw().await?;
        let found = all.iter().find(|i| i["name"] == integration.as_str())?;
        Some(
            words(&found["permissions"])
                .into_iter()
                .map(|p| (p, String::new()))
                .collect(),
        )
    }

    async fn integrations_raw(&self) -> Option<Vec<Value>> {
        let v = self.get("/integrations").await?;
        v["integrations"].as_array().cloned()
    }

    /// The resources of `integration` the caller may ask for (what is gone is left out).
    pub async fn resources(&self, integration: &str) -> Option<Vec<(String, String)>> {
        // A name from the command line becomes one path segment or nothing is sent.
        let integration = segment(integration).ok()?;
        let mut out = vec![];
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path = format!("/integrations/{integration}/resources?limit=1000");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(
                    &url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>(),
                );
            }
            let page = self.get(&path).await?;
            for r in page["resources"].as_array().into_iter().flatten() {
                if !r["gone_since"].is_null() {
                    continue;
                }
                let Some(name) = r["name"].as_str() else {
                    continue;
                };
                let kind = r["kind"].as_str().unwrap_or_default();
                let help = match r["display_name"].as_str() {
                    Some(d) if d != name => format!("{kind}: {d}"),
                    _ => kind.to_string(),
                };
                out.push((name.to_string(), help));
            }
            cursor = page["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        Some(out)
    }
}

fn words(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// The candidates among `items` that start with what is typed. Only a name a shell takes as
/// one plain word is offered: in the completion protocol a newline would become another
/// candidate, and bash puts a candidate on the command line as it is, where `$(…)`, `;`,
/// backquotes, `&`, quotes, globs or `!` in a name someone gave an index would run or expand
/// when the line is entered. Such a name can still be typed, quoted. Help text loses its
/// control characters.
pub fn candidates(items: Vec<(String, String)>, typed: &OsStr) -> Vec<CompletionCandidate> {
    let typed = typed.to_string_lossy();
    items
        .into_iter()
        .filter(|(name, _)| {
            !name.is_empty() && name.starts_with(typed.as_ref()) && name.chars().all(plain)
        })
        .map(|(name, help)| {
            let help = crate::loopback::printable(&help);
            let c = CompletionCandidate::new(name);
            if help.is_empty() {
                c
            } else {
                c.help(Some(help.into()))
            }
        })
        .collect()
}

/// A character no shell gives a meaning to in an unquoted word: letters and digits (in any
/// script) and `-_.:@%+,/=^`, which is every character of index, data stream, alias,
/// deployment and project names in practice.
fn plain(c: char) -> bool {
    c.is_alphanumeric() || "-_.:@%+,/=^".contains(c)
}

/// The value of the last `--integration` among the words being completed (`--integration X`,
/// `--integration=X`, or bash's `--integration = X`).
pub fn integration_on_line(words: &[OsString]) -> Option<String> {
    let mut found = None;
    let mut it = words.iter().map(|w| w.to_string_lossy());
    while let Some(w) = it.next() {
        if w == "--integration" {
            // bash splits `--integration=X` at the `=` (COMP_WORDBREAKS): `=` then `X`.
            found = match it.next() {
                Some(v) if v == "=" => it.next().map(|v| v.into_owned()),
                v => v.map(|v| v.into_owned()),
            };
        } else if let Some(v) = w.strip_prefix("--integration=") {
            found = Some(v.to_string());
        }
    }
    found
}

/// The words the shell passed after `--` (clap_complete's calling convention: bash passes the
/// whole line, words after the cursor too).
fn line() -> Vec<OsString> {
    std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .collect()
}

/// Run `f` against the stored sign-in within [`BUDGET`], or offer nothing.
fn quietly<F, Fut>(typed: &OsStr, f: F) -> Vec<CompletionCandidate>
where
    F: FnOnce(Source) -> Fut,
    Fut: std::future::Future<Output = Option<Vec<(String, String)>>>,
{
    let Some(source) = crate::settings::config_dir()
        .ok()
        .and_then(|d| Source::stored(&d))
    else {
        return vec![];
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return vec![];
    };
    let found = rt.block_on(async { tokio::time::timeout(BUDGET, f(source)).await });
    match found {
        Ok(Some(items)) => candidates(items, typed),
        _ => vec![],
    }
}

/// `--integration`: the integrations the caller may use.
pub fn integration(typed: &OsStr) -> Vec<CompletionCandidate> {
    quietly(typed, |s| async move { s.integrations().await })
}

/// `--resource`: the resources of the `--integration` already on the line.
pub fn resource(typed: &OsStr) -> Vec<CompletionCandidate> {
    let Some(integration) = integration_on_line(&line()) else {
        return vec![];
    };
    quietly(typed, |s| async move { s.resources(&integration).await })
}

/// `--permission`: what the caller's flows offer on the `--integration` already on the line.
pub fn permission(typed: &OsStr) -> Vec<CompletionCandidate> {
    let Some(integration) = integration_on_line(&line()) else {
        return vec![];
    };
    quietly(typed, |s| async move { s.permissions(&integration).await })
}

/// The registration for clap_complete's dynamic completion (what `COMPLETE=SHELL elastic-jit`
/// prints): the shell then asks this binary on every TAB, so names come from the API. Calls
/// back the binary as it was invoked, made absolute when given with a folder, as clap_complete
/// does.
pub fn registration(shell: clap_complete::Shell) -> crate::error::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| crate::error::CliError::config(format!("no completion for {name}")))?;
    let mut bin = std::path::PathBuf::from(
        std::env::args_os()
            .next()
            .unwrap_or_else(|| "elastic-jit".into()),
    );
    if bin.components().count() > 1
        && let Ok(cwd) = std::env::current_dir()
    {
        bin = cwd.join(bin);
    }
    let mut out = Vec::new();
    completer
        .write_registration(
            "COMPLETE",
            "elastic-jit",
            "elastic-jit",
            &bin.to_string_lossy(),
            &mut out,
        )
        .map_err(|e| crate::error::CliError::config(format!("completions: {e}")))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| crate::error::CliError::config(format!("completions: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_integration_is_read_from_the_line_being_completed() {
        let line = os(&[
            "elastic-jit",
            "request",
            "--integration",
            "prod",
            "--resource",
        ]);
        assert_eq!(integration_on_line(&line).as_deref(), Some("prod"));
        let eq = os(&[
            "elastic-jit",
            "request",
            "--integration=a",
            "--integration=b",
        ]);
        assert_eq!(integration_on_line(&eq).as_deref(), Some("b"));
        let bash = os(&[
            "elastic-jit",
            "request",
            "--integration",
            "=",
            "c",
            "--resource",
        ]);
        assert_eq!(integration_on_line(&bash).as_deref(), Some("c"));
        assert_eq!(integration_on_line(&os(&["elastic-jit", "request"])), None);
        assert_eq!(integration_on_line(&os(&["--integration"])), None);
    }

    #[test]
    fn candidates_match_what_is_typed_and_nothing_can_break_the_shell_protocol() {
        let items = vec![
            ("logs-app".to_string(), "index".to_string()),
            ("logs-db".to_string(), "alias\u{1b}[2J".to_string()),
            ("metrics".to_string(), String::new()),
            ("logs-x\nrm -rf".to_string(), "index".to_string()),
            ("logs y".to_string(), "index".to_string()),
        ];
        let got = candidates(items, OsStr::new("logs-"));
        let names: Vec<_> = got.iter().map(|c| c.get_value().to_owned()).collect();
        assert_eq!(names, ["logs-app", "logs-db"]);
        assert_eq!(
            got[1].get_help().map(|h| h.to_string()).as_deref(),
            Some("alias[2J")
        );
    }
}
