//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCompleter;

use crate::complete;

#[derive(Debug, Parser)]
#[command(
    name = "elastic-jit",
    version,
    about = "Just-in-time access to Elasticsearch and Elastic Cloud: request, approve, use",
    after_help = "Examples:\n  \
      elastic-jit login --api https://jit.example.com --issuer https://idp.example.com --client-id elastic-jit\n  \
      elastic-jit request --integration prod-search --resource 'logs-*' --permission read --duration 2h \\\n      \
        --justification 'INC-4711' --wait\n  \
      elastic-jit requests --to-decide\n  \
      elastic-jit approve 3f6c… --reason 'on call'\n  \
      elastic-jit exec 3f6c… -- curl -s -u \"$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD\" \"$ELASTICSEARCH_URL/_cat/indices\""
)]
pub struct Cli {
    /// Listings as a table (default) or JSON.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in at the identity provider: in a browser where one can open, else with a device
    /// code (open the printed address, enter the code).
    Login(LoginArgs),
    /// Forget the stored tokens.
    Logout,
    /// Who the stored sign-in says you are.
    Whoami,
    /// Your requests, or (with --to-decide) those waiting for your decision.
    Requests {
        #[arg(long)]
        to_decide: bool,
    },
    /// One request, as the API shows it to you.
    Show { id: String },
    /// Ask for access.
    Request(RequestArgs),
    /// Approve a request you may decide.
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a request you may decide (a reason is required).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// End an active grant now.
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Extend an active grant (where its flow allows).
    Extend {
        id: String,
        /// How much to add, e.g. 30m.
        #[arg(long)]
        duration: String,
        #[arg(long)]
        justification: Option<String>,
    },
    /// Withdraw your pending or scheduled request.
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print a grant's credentials (once: nothing is written to disk).
    Creds {
        id: String,
        /// As `export` lines for a POSIX shell.
        #[arg(long)]
        env: bool,
    },
    /// Run a command with a grant's credentials in its environment (ELASTICSEARCH_URL, and
    /// ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD or ELASTIC_API_KEY); never written to disk.
    Exec {
        id: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Show what `apply` would create, change and delete (administrators).
    Plan(crate::declared::PlanArgs),
    /// Make integrations and flows what declaration files say: plan, confirm, apply (administrators).
    Apply(crate::declared::ApplyArgs),
    /// Write today's integrations and flows as declaration files (administrators).
    Export(crate::declared::ExportArgs),
    /// The shell code that registers completions (names come from the API as you type) for
    /// bash, zsh, fish, elvish or PowerShell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The elastic-jit API's base URL (kept for later commands).
    #[arg(long, env = "ELASTIC_JIT_API")]
    pub api: Option<String>,
    /// The OpenID Connect issuer URL.
    #[arg(long, env = "ELASTIC_JIT_ISSUER")]
    pub issuer: Option<String>,
    /// The OAuth client id registered for elastic-jit.
    #[arg(long, env = "ELASTIC_JIT_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Sign in in a browser (authorization code with PKCE, answered on 127.0.0.1): the default
    /// where a browser can open here.
    #[arg(long, conflicts_with = "device")]
    pub browser: bool,
    /// Sign in with a code entered in any browser (device flow): the default over SSH or
    /// without a desktop.
    #[arg(long)]
    pub device: bool,
    /// Print the browser sign-in's address instead of opening a browser (implies --browser).
    #[arg(long, conflicts_with = "device")]
    pub no_open: bool,
    /// The loopback port the browser sign-in listens on (default: any free one; set it for a
    /// provider that needs the exact redirect URI registered).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 0,
        conflicts_with = "device"
    )]
    pub port: u16,
    /// How long the browser sign-in waits for the answer, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[arg(long, add = ArgValueCompleter::new(complete::integration))]
    pub integration: String,
    /// A resource name or `*` pattern; repeat for several.
    #[arg(long = "resource", required = true, add = ArgValueCompleter::new(complete::resource))]
    pub resources: Vec<String>,
    #[arg(long, add = ArgValueCompleter::new(complete::permission))]
    pub permission: String,
    /// e.g. 2h.
    #[arg(long)]
    pub duration: String,
    #[arg(long)]
    pub justification: Option<String>,
    /// The access flow to use (else the API picks the one that allows it).
    #[arg(long)]
    pub flow: Option<String>,
    /// Start later (RFC 3339, e.g. 2026-12-05T09:00:00Z).
    #[arg(long)]
    pub starts_at: Option<String>,
    /// Wait until the request is decided, then print what was granted.
    #[arg(long)]
    pub wait: bool,
}
