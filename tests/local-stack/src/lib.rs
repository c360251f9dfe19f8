//! The local stack of elastic-jit, and the end-to-end story that runs on it.
//!
//! [`Stack::start`] builds the five functions and the two emulators and starts, on free loopback
//! ports: moto's server, the Elasticsearch and Elastic Cloud emulators, `cargo lambda watch`
//! serving the functions, and in this process a development OpenID Connect provider ([`idp`]),
//! an HTTP API gateway with the template's JWT authorizer ([`gateway`]) and the AWS glue moto
//! does not run ([`glue`]: Scheduler one-time schedules, the template's rate()/cron() rules,
//! Secrets Manager rotation steps, the table's stream and the SQS queues' event source mappings). [`run_story`] walks the whole story through the HTTP API
//! with real tokens. Every process and task it starts is stopped when the stack is dropped,
//! whether the story passed, failed or panicked.
#![forbid(unsafe_code)]

pub mod events;
pub mod fuzz;
pub mod gateway;
pub mod glue;
pub mod guide;
pub mod idp;
pub mod invoke;
pub mod notify;
pub mod procs;
pub mod stack;
mod story;
pub mod template;

use std::io::Write;
use std::time::Duration;

pub use stack::Stack;

/// Why the story stopped.
#[derive(Debug)]
pub enum StoryError {
    /// Something the story needs could not be built or started.
    Setup(String),
    /// A step of the story did not behave as documented.
    Step { step: String, message: String },
}

impl StoryError {
    pub fn setup(message: impl Into<String>) -> Self {
        Self::Setup(message.into())
    }

    pub fn step(step: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Step {
            step: step.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for StoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup(m) => write!(f, "set-up failed: {m}"),
            Self::Step { step, message } => write!(f, "step \"{step}\" failed: {message}"),
        }
    }
}

impl std::error::Error for StoryError {}

impl From<std::io::Error> for StoryError {
    fn from(e: std::io::Error) -> Self {
        Self::setup(format!("writing the story's output: {e}"))
    }
}

/// Bounded waits. Each can be overridden (in seconds) from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// `cargo build` of the functions and emulators (`E2E_BUILD_TIMEOUT`, default 1200 s: a
    /// cold build on two cores takes a few minutes).
    pub build: Duration,
    /// A process becoming ready (`E2E_START_TIMEOUT`, default 60 s).
    pub start: Duration,
    /// One Lambda invocation, including a compile on first use if the binary is stale
    /// (`E2E_INVOKE_TIMEOUT`, default 600 s).
    pub invoke: Duration,
}

impl Timeouts {
    pub fn from_env() -> Self {
        let secs = |name: &str, default: u64| {
            Duration::from_secs(
                std::env::var(name)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(default),
            )
        };
        Self {
            build: secs("E2E_BUILD_TIMEOUT", 1200),
            start: secs("E2E_START_TIMEOUT", 60),
            invoke: secs("E2E_INVOKE_TIMEOUT", 600),
        }
    }
}

/// Start the stack, reporting progress to `out`.
pub async fn start_stack(out: &mut impl Write) -> Result<Stack, StoryError> {
    start_stack_with(out, idp::IdpConfig::from_env()).await
}

/// As [`start_stack`], with the identity provider's settings given.
pub async fn start_stack_with(
    out: &mut impl Write,
    idp: idp::IdpConfig,
) -> Result<Stack, StoryError> {
    let timeouts = Timeouts::from_env();
    writeln!(out, "== Starting the local stack (everything on 127.0.0.1)")?;
    out.flush()?;
    let started = Stack::start_with(timeouts, idp, &mut |line: &str| {
        // Progress only: a failed write here shows up at the next step's write.
        let _ = writeln!(out, "   {line}");
        let _ = out.flush();
    })
    .await;
    match started {
        Ok(s) => Ok(s),
        Err(e) => {
            writeln!(out, "\nFAILED: {e}")?;
            Err(e)
        }
    }
}

/// What a test does on a started stack: it borrows the stack for as long as its future runs.
pub type StackStory<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + 'a>>;

/// A test's whole run on its own stack: start it, run `story`, then print the stack's progress,
/// the last lines of each process when the story failed, and how long `name` took; a failure
/// (the stack's or the story's) panics with its message, as a test expects.
pub async fn run_on_stack<F>(name: &str, idp: idp::IdpConfig, story: F)
where
    F: for<'a> FnOnce(&'a Stack) -> StackStory<'a>,
{
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let result = async {
        let stack = start_stack_with(&mut out, idp)
            .await
            .map_err(|e| e.to_string())?;
        let r = story(&stack).await;
        if r.is_err() {
            out.extend_from_slice(stack.logs(40).as_bytes());
        }
        r
    }
    .await;
    println!("{}", String::from_utf8_lossy(&out));
    println!("{name}: {:.1?}", started.elapsed());
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Walk the story on a started stack; on failure the child processes' output follows.
pub async fn story_on(stack: &mut Stack, out: &mut impl Write) -> Result<(), StoryError> {
    let result = story::run(stack, out).await;
    if let Err(e) = &result {
        writeln!(out, "\nFAILED: {e}\n")?;
        writeln!(out, "Output of the processes the story started:")?;
        writeln!(out, "{}", stack.logs(40))?;
    }
    out.flush()?;
    result
}

/// Start everything, walk the Elasticsearch and the Elastic Cloud story, stop everything.
/// The story is written to `out`; on failure the child processes' output follows it.
pub async fn run_story(out: &mut impl Write) -> Result<(), StoryError> {
    let mut stack = start_stack(out).await?;
    let result = story_on(&mut stack, out).await;
    writeln!(out, "== Stopping every process the story started")?;
    stack.stop();
    writeln!(
        out,
        "   all stopped; logs kept in {}",
        stack.log_dir().display()
    )?;
    out.flush()?;
    result
}
