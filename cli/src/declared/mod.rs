//! Integrations and flows as code: `plan`, `apply` and `export` of declaration files (README
//! "Command line"). Integrations are created before the flows that name them and deleted after
//! them; every step goes through the same API routes an administrator's PUT and DELETE use.

mod export;
pub mod files;
pub mod plan;
mod state;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use reqwest::Method;

use crate::api::Api;
use crate::args::Output;
use crate::error::{CliError, Result};
use crate::output::print_json;
use plan::{Action, Plan, StackManaged};

/// `plan --exit-code` when the plan has changes.
pub const EXIT_CHANGES: i32 = 7;

const FILES_HELP: &str = "\
Declaration file (YAML):
  integrations:
    prod-search:
      kind: elasticsearch
      url: https://es.internal:9200
      secret_arn: arn:aws:secretsmanager:eu-west-1:111122223333:secret:elastic-jit/connectors/prod-search-AbCdEf
      integration_owners: [{type: group, value: search-platform}]
  flows:
    logs-read:
      integration: prod-search
      requesters: [{type: group, value: developers}]
      resources: ['logs-*']
      permissions: [read]
      max_duration: 8h";

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Declaration files (YAML: top-level `integrations:` and `flows:` keyed by name, the API's
    /// fields), or directories of *.yaml files; several may follow one -f.
    #[arg(short = 'f', long = "file", value_name = "FILE|DIR", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Also delete the integrations and flows that no file declares (never those a
    /// CloudFormation stack manages: those are left to their stack).
    #[arg(long)]
    pub prune: bool,
    /// Also change the integrations and flows a CloudFormation stack manages where the files
    /// differ (refused otherwise: the stack's template says what they should be).
    #[arg(long)]
    pub include_stack_managed: bool,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{FILES_HELP}\n\nExamples:\n  \
    elastic-jit plan -f access/\n  \
    elastic-jit plan -f access/*.yaml --prune -o json\n  \
    elastic-jit plan -f access/ --exit-code   # 0: no changes, 7: changes"))]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    /// Exit 7 when the plan has changes (0 when it has none).
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{FILES_HELP}\n\nExamples:\n  \
    elastic-jit apply -f access/                # shows the plan, asks before applying\n  \
    elastic-jit apply -f access/ --prune --yes  # in CI: no question, deletes what no file declares\n  \
    elastic-jit apply -f access/ --dry-run      # the plan only"))]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    /// Apply without asking (required when not run from a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the plan only, as `plan` does.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    elastic-jit export                    # one document on standard output\n  \
    elastic-jit export access.yaml\n  \
    elastic-jit export access/            # one file per integration, with its flows\n  \
    elastic-jit plan -f access/           # right after an export: no changes")]
pub struct ExportArgs {
    /// A file, or a directory (existing, or ending in /: one <integration>.yaml each);
    /// standard output if left out.
    #[arg(value_name = "FILE|DIR")]
    pub to: Option<PathBuf>,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

/// The plan of the files against what is deployed; nothing is read before the files parse.
async fn make_plan(api: &Api, a: &FilesArgs) -> Result<Plan> {
    let declared = files::load(&a.files)?;
    let deployed = state::fetch(api).await?;
    let stack = if a.include_stack_managed {
        StackManaged::Include
    } else {
        StackManaged::Refuse
    };
    plan::build(&declared, &deployed, a.prune, stack)
}

fn show(out: Output, p: &Plan) {
    match out {
        Output::Json => print_json(&p.to_json()),
        Output::Table => println!("{}", p.render()),
    }
}

pub async fn plan(api: &Api, out: Output, a: PlanArgs) -> Result<i32> {
    let p = make_plan(api, &a.files).await?;
    show(out, &p);
    Ok(if a.exit_code && !p.changes.is_empty() {
        EXIT_CHANGES
    } else {
        0
    })
}

pub async fn apply(api: &Api, out: Output, a: ApplyArgs) -> Result<i32> {
    let p = make_plan(api, &a.files).await?;
    show(out, &p);
    if a.dry_run || p.changes.is_empty() {
        return Ok(0);
    }
    confirm(a.yes, &p)?;
    let mut done: Vec<String> = Vec::new();
    for c in &p.changes {
        let path = c.kind.path(&c.name);
        let step = match c.action {
            Action::Create | Action::Update => {
                api.call(Method::PUT, &path, c.body.as_ref(), None).await
            }
            Action::Delete => api.call(Method::DELETE, &path, None, None).await,
        };
        let what = format!(
            "{} {} {}",
            match c.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            },
            c.kind.as_str(),
            c.name
        );
        if let Err(e) = step {
            return Err(stopped(e, &what, &done, p.changes.len()));
        }
        eprintln!("{what}: done");
        done.push(what);
    }
    eprintln!("Applied: {}.", p.summary().replace(" to ", " "));
    Ok(0)
}

/// A refusal half-way, as one line: what failed with the API's code, what was applied before
/// it (in the plan's stable order, so running apply again continues from there).
fn stopped(e: CliError, what: &str, done: &[String], total: usize) -> CliError {
    let applied = if done.is_empty() {
        "nothing was applied".to_string()
    } else {
        format!(
            "applied before it ({} of {total}): {}",
            done.len(),
            done.join(", ")
        )
    };
    let context = |m: String| format!("{what} failed: {m}; {applied}");
    match e {
        CliError::Api {
            status,
            code,
            message,
        } => CliError::Api {
            status,
            code,
            message: context(message),
        },
        CliError::NotSignedIn(m) => CliError::NotSignedIn(context(m)),
        CliError::Unreachable(m) => CliError::Unreachable(context(m)),
        CliError::Config(m) => CliError::Config(context(m)),
        CliError::Input { code, message } => CliError::Input {
            code,
            message: context(message),
        },
    }
}

/// On a terminal, ask; anywhere else, only `--yes` applies (a script must say so).
fn confirm(yes: bool, p: &Plan) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(
            "confirmation_required",
            "not a terminal: pass --yes to apply (nothing was applied)",
        ));
    }
    eprint!("Apply {}? Only 'yes' applies: ", p.summary());
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::config(format!("cannot read the answer: {e}")))?;
    if answer.trim() != "yes" {
        return Err(CliError::input("not_confirmed", "nothing was applied"));
    }
    Ok(())
}

pub async fn export(api: &Api, out: Output, a: ExportArgs) -> Result<()> {
    let deployed = state::fetch(api).await?;
    for line in export::left_out(&deployed) {
        eprintln!("{line}");
    }
    match a.to {
        None => match out {
            Output::Json => {
                print_json(&serde_json::to_value(export::document(&deployed)).unwrap_or_default())
            }
            Output::Table => print!("{}", files::to_yaml(&export::document(&deployed))?),
        },
        Some(to) => {
            for f in export::write(&deployed, &to, a.force)? {
                eprintln!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}
