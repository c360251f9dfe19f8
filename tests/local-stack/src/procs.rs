//! Child processes the story starts: each in its own process group, its output in a log file,
//! stopped (with everything it spawned) when its guard is dropped: on success, on error and
//! while unwinding from a panic.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::StoryError;

/// How long a stopped process gets to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);
/// How often readiness and exit are polled.
pub const POLL: Duration = Duration::from_millis(50);

/// A running child process. Dropping it stops the process, its process group and every
/// descendant it started (even one that moved to a process group of its own).
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    stopped: bool,
}

impl Proc {
    /// Start `cmd` in a new process group; stdout and stderr go to `<log_dir>/<name>.log`.
    /// `stdin_piped` keeps a pipe open to the child (moto's launcher exits when it closes).
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        log_dir: &Path,
        stdin_piped: bool,
    ) -> Result<Self, StoryError> {
        use std::os::unix::process::CommandExt;
        let log = log_dir.join(format!("{name}.log"));
        let file = File::create(&log)
            .map_err(|e| StoryError::setup(format!("create {}: {e}", log.display())))?;
        let err = file
            .try_clone()
            .map_err(|e| StoryError::setup(format!("log file: {e}")))?;
        cmd.stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .stdin(if stdin_piped {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .process_group(0);
        let child = cmd.spawn().map_err(|e| {
            StoryError::setup(format!("start {name} ({:?}): {e}", cmd.get_program()))
        })?;
        Ok(Self {
            name: name.to_string(),
            log,
            child,
            stopped: false,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// An error if the process has already exited.
    pub fn check_running(&mut self) -> Result<(), StoryError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(StoryError::setup(format!(
                "{} exited early ({status}); its output is in {}:\n{}",
                self.name,
                self.log.display(),
                self.tail(30)
            ))),
            Err(e) => Err(StoryError::setup(format!("{}: {e}", self.name))),
        }
    }

    /// The last `lines` lines of the process's log.
    pub fn tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Wait until the log contains a line with `prefix`; returns what follows it on that line.
    pub async fn wait_for_line(
        &mut self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<String, StoryError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.log)
                && let Some(line) = text
                    .lines()
                    .find_map(|l| l.find(prefix).map(|at| &l[at + prefix.len()..]))
            {
                return Ok(line.trim().to_string());
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                return Err(StoryError::setup(format!(
                    "{} did not print {prefix:?} within {timeout:?}; its output is in {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(30)
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Wait until something accepts TCP connections on 127.0.0.1:`port`.
    pub async fn wait_for_port(&mut self, port: u16, timeout: Duration) -> Result<(), StoryError> {
        let deadline = Instant::now() + timeout;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                return Err(StoryError::setup(format!(
                    "{} did not listen on 127.0.0.1:{port} within {timeout:?}; its output is in {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(30)
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stop the process group and every descendant: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid = self.child.id();
        // Close stdin first (moto's launcher exits on EOF).
        drop(self.child.stdin.take());
        if let Ok(Some(_)) = self.child.try_wait() {
            // The leader is gone; its group or descendants may not be.
            signal_group(pid, "KILL");
            return;
        }
        // Collected before signalling: once the leader exits, its children are re-parented.
        let descendants = descendants(pid);
        signal_group(pid, "TERM");
        signal_pids(&descendants, "TERM");
        let deadline = Instant::now() + GRACE;
        let mut exited = false;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                exited = true;
                break;
            }
            std::thread::sleep(POLL);
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Whatever is left of the group or the tree (e.g. a function process cargo-lambda ran in
        // a process group of its own) does not outlive the story.
        let deadline = Instant::now() + GRACE;
        loop {
            let alive: Vec<u32> = descendants.iter().copied().filter(|p| alive(*p)).collect();
            if alive.is_empty() || Instant::now() >= deadline {
                signal_pids(&alive, "KILL");
                break;
            }
            std::thread::sleep(POLL);
        }
        signal_group(pid, "KILL");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn signal_pids(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let mut cmd = Command::new("kill");
    cmd.arg(format!("-{signal}")).arg("--");
    for p in pids {
        cmd.arg(p.to_string());
    }
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Is `pid` a live (non-zombie) process?
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_fields(&stat).is_some_and(|(state, _)| state != "Z"),
        Err(_) => false,
    }
}

/// (state, ppid) from `/proc/PID/stat` (the command name may contain spaces and parentheses).
fn stat_fields(stat: &str) -> Option<(String, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.to_string();
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Every process descended from `root` (Linux `/proc`; empty elsewhere).
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                && let Some((_, ppid)) = stat_fields(&stat)
            {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children.get(&p).into_iter().flatten() {
            out.push(*c);
            stack.push(*c);
        }
    }
    out
}

/// The last `lines` lines of a file (or a note that it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..]
                .iter()
                .map(|l| format!("    | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("    | (cannot read {}: {e})", path.display()),
    }
}

/// A free TCP port on 127.0.0.1 (released for the caller to bind).
pub fn free_port() -> Result<u16, StoryError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| StoryError::setup(format!("no free loopback port: {e}")))
}

/// Run a command to completion with a bounded wait, output to `log`.
pub async fn run_to_end(
    name: &str,
    cmd: Command,
    log_dir: &Path,
    timeout: Duration,
) -> Result<(), StoryError> {
    let mut p = Proc::spawn(name, cmd, log_dir, false)?;
    let deadline = Instant::now() + timeout;
    loop {
        match p.child.try_wait() {
            Ok(Some(status)) if status.success() => {
                p.stopped = true;
                return Ok(());
            }
            Ok(Some(status)) => {
                p.stopped = true;
                return Err(StoryError::setup(format!(
                    "{name} failed ({status}); its output is in {}:\n{}",
                    p.log.display(),
                    p.tail(40)
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(StoryError::setup(format!("{name}: {e}"))),
        }
        if Instant::now() >= deadline {
            return Err(StoryError::setup(format!(
                "{name} did not finish within {timeout:?}; its output is in {}:\n{}",
                p.log.display(),
                p.tail(40)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
