//! `elastic-jit login` in a browser against the development identity provider alone (login
//! calls no API: `whoami` reads the stored token). The test is the browser: it reads the
//! address `login --no-open` prints, opens the provider's login page, picks an identity, and
//! follows the redirect to the CLI's loopback listener. On the way it plays the attacker: a
//! genuine code delivered with another state, a request for another path, a request under
//! another host name, and a look for the listener on addresses other than 127.0.0.1.
//!
//! A minimal runner of the binary is written here (not the one in tests/cli.rs): this needs only
//! a configuration folder and the process's stderr.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use local_stack::idp::{CLIENT_ID, IdpConfig, RunningIdp};
use serde_json::Value;

type Res<T> = Result<T, String>;

/// One configuration folder, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ejit-browser-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        Self(dir)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_elastic-jit"));
        c.args(args)
            .env("ELASTIC_JIT_CONFIG_DIR", &self.0)
            .env_remove("ELASTIC_JIT_API")
            .env_remove("ELASTIC_JIT_ISSUER")
            .env_remove("ELASTIC_JIT_CLIENT_ID")
            .env_remove("COMPLETE");
        c
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `login --no-open`, its stderr read line by line, killed when dropped.
struct Login {
    child: Child,
    lines: Receiver<String>,
    said: Vec<String>,
}

impl Login {
    fn start(folder: &Folder, issuer: &str, extra: &[&str]) -> Res<Self> {
        Self::start_opening(folder, issuer, None, extra)
    }

    /// With `browser` (as $BROWSER) opened on the address; printing it only without one.
    fn start_opening(
        folder: &Folder,
        issuer: &str,
        browser: Option<&std::path::Path>,
        extra: &[&str],
    ) -> Res<Self> {
        let mut args = vec![
            "login",
            if browser.is_some() {
                "--browser"
            } else {
                "--no-open"
            },
            "--api",
            "http://127.0.0.1:9",
            "--issuer",
            issuer,
            "--client-id",
            CLIENT_ID,
        ];
        args.extend_from_slice(extra);
        let mut command = folder.command(&args);
        if let Some(b) = browser {
            command.env("BROWSER", b);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("login: {e}"))?;
        let stderr = child.stderr.take().ok_or("login: no stderr")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Ok(Self {
            child,
            lines,
            said: vec![],
        })
    }

    /// The authorization address it printed.
    fn address(&mut self) -> Res<url::Url> {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| format!("login printed no address: {:?}", self.said))?;
            self.said.push(line.clone());
            if let Some(u) = line.trim().strip_prefix("http") {
                return url::Url::parse(&format!("http{u}")).map_err(|e| e.to_string());
            }
        }
    }

    /// Its exit code and everything it said.
    async fn finish(mut self) -> Res<(i32, String)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                // The reader thread ends with the pipe; take what it has left.
                std::thread::sleep(Duration::from_millis(50));
                self.said.extend(self.lines.try_iter());
                return Ok((status.code().unwrap_or(-1), self.said.join("\n")));
            }
            if Instant::now() > deadline {
                return Err(format!("login did not finish: {:?}", self.said));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

fn param(u: &url::Url, k: &str) -> Res<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
        .ok_or(format!("{k} missing from {u}"))
}

/// What a person does in the browser: the login page, then a click on `identity`; the
/// provider's redirect (to the CLI's listener), not yet followed.
async fn pick(http: &reqwest::Client, authorize: &url::Url, identity: &str) -> Res<url::Url> {
    let page = http
        .get(authorize.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status() != 200 {
        return Err(format!("login page: {}", page.status()));
    }
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in authorize.query_pairs() {
        form.append_pair(&k, &v);
    }
    form.append_pair("identity", identity);
    let mut post = authorize.clone();
    post.set_query(None);
    let r = http
        .post(post)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or(format!(
            "the login form answered {} without a redirect",
            r.status()
        ))?;
    url::Url::parse(location).map_err(|e| e.to_string())
}

/// The listening sockets on `port` as /proc/net/tcp{,6} shows them (local address in hex).
#[cfg(target_os = "linux")]
fn listening_on(port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // Column 3 is the state: 0A is LISTEN.
            (cols.len() > 3 && cols[1].ends_with(&port) && cols[3] == "0A")
                .then(|| cols[1].to_string())
        })
        .collect()
}

async fn browser_story(idp: &RunningIdp) -> Res<()> {
    let http = http();
    let dev = Folder::new("dev");
    let mut login = Login::start(&dev, idp.issuer(), &[])?;
    let authorize = login.address()?;
    if !authorize
        .as_str()
        .starts_with(&format!("{}/authorize?", idp.issuer()))
    {
        return Err(format!("the address is not the provider's: {authorize}"));
    }
    for (k, want) in [("code_challenge_method", "S256"), ("response_type", "code")] {
        if param(&authorize, k)? != want {
            return Err(format!("{k} in {authorize}"));
        }
    }
    let state = param(&authorize, "state")?;
    let redirect =
        url::Url::parse(&param(&authorize, "redirect_uri")?).map_err(|e| e.to_string())?;
    let port = redirect.port().ok_or("no port in the redirect URI")?;
    if redirect.host_str() != Some("127.0.0.1")
        || redirect.path() != "/callback"
        || state.len() < 16
    {
        return Err(format!("redirect {redirect}, state {state:?}"));
    }

    // Only 127.0.0.1 is bound: not 127.0.0.2 (which a 0.0.0.0 listener would answer on Linux),
    // not ::1, and the kernel's table shows exactly 127.0.0.1.
    for other in ["127.0.0.2", "[::1]"] {
        let addr = format!("{other}:{port}");
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return Err(format!("the listener answers on {addr}"));
        }
    }
    #[cfg(target_os = "linux")]
    {
        let bound = listening_on(port);
        if bound != [format!("0100007F:{port:04X}")] {
            return Err(format!("listening on {bound:?}"));
        }
    }

    // Another path: 404, and the login goes on.
    let other = http
        .get(format!("http://127.0.0.1:{port}/favicon.ico"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if other.status() != 404 {
        return Err(format!("another path answered {}", other.status()));
    }
    // The attacker's own genuine code (signed in as admin at the same provider, for this very
    // redirect URI), sent with their state, without one, or under a rebound host name: refused,
    // and the login does not complete with it.
    let mut forged_request = authorize.clone();
    forged_request
        .query_pairs_mut()
        .clear()
        .extend_pairs(authorize.query_pairs().filter(|(k, _)| k != "state"))
        .append_pair("state", "attacker-state");
    let attackers = pick(&http, &forged_request, "admin").await?;
    let attacker_code = param(&attackers, "code")?;
    for (query, host, want) in [
        (
            format!("code={attacker_code}&state=attacker-state"),
            None,
            400,
        ),
        (format!("code={attacker_code}"), None, 400),
        (format!("error=access_denied&state=x{state}"), None, 400),
        (
            format!("code={attacker_code}&state={state}"),
            Some(format!("evil.example:{port}")),
            421,
        ),
    ] {
        let mut rb = http.get(format!("http://127.0.0.1:{port}/callback?{query}"));
        if let Some(h) = host {
            rb = rb.header("host", h);
        }
        let r = rb.send().await.map_err(|e| e.to_string())?;
        if r.status() != want {
            return Err(format!(
                "forged {query:?} answered {}, not {want}",
                r.status()
            ));
        }
    }
    if let Ok(Some(status)) = login.child.try_wait() {
        return Err(format!("login ended on a forged response: {status}"));
    }

    // The person signs in as dev; the browser follows the redirect to the listener.
    let back = pick(&http, &authorize, "dev").await?;
    if !back.as_str().starts_with(redirect.as_str()) || param(&back, "state")? != state {
        return Err(format!("the provider redirected to {back}"));
    }
    let page = http
        .get(back.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let (status, no_store) = (
        page.status(),
        page.headers()
            .get("cache-control")
            .is_some_and(|v| v == "no-store"),
    );
    let body = page.text().await.unwrap_or_default();
    if status != 200 || !no_store || !body.contains("signed in") {
        return Err(format!("the listener answered {status}: {body}"));
    }
    let (code, said) = login.finish().await?;
    if code != 0 || !said.contains("signed in as dev@example.com") {
        return Err(format!("login exited {code}: {said}"));
    }
    if said.contains(&attacker_code) || said.contains(&param(&back, "code")?) {
        return Err("login printed a code".into());
    }
    // The listener is gone with the login: a replayed redirect reaches nothing.
    if http.get(back).send().await.is_ok() {
        return Err("the listener still answers after the login".into());
    }
    let me = dev
        .command(&["whoami", "-o", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let me: Value = serde_json::from_slice(&me.stdout).map_err(|e| format!("whoami: {e}"))?;
    if me["email"] != "dev@example.com" || me["issuer"] != idp.issuer() {
        return Err(format!("whoami: {me}"));
    }
    Ok(())
}

async fn refusals(idp: &RunningIdp) -> Res<()> {
    let http = http();
    // Nobody answers: the timeout ends it, readable, exit 3, nothing kept.
    let quiet = Folder::new("quiet");
    let mut login = Login::start(&quiet, idp.issuer(), &["--timeout", "1"])?;
    login.address()?;
    let (code, said) = login.finish().await?;
    if code != 3 || !said.contains("not completed within 1s") {
        return Err(format!("timeout: exit {code}: {said}"));
    }
    if quiet.0.join("tokens.json").exists() {
        return Err("a timed-out login kept tokens".into());
    }
    // The provider answers with an error for this login (the person declined): it ends with
    // the error, its description stripped of terminal escapes.
    let declined = Folder::new("declined");
    let mut login = Login::start(&declined, idp.issuer(), &[])?;
    let authorize = login.address()?;
    let state = param(&authorize, "state")?;
    let redirect = param(&authorize, "redirect_uri")?;
    let mut back = url::Url::parse(&redirect).map_err(|e| e.to_string())?;
    back.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "declined \u{1b}[31mby you")
        .append_pair("state", &state);
    let r = http.get(back).send().await.map_err(|e| e.to_string())?;
    if r.status() != 400 {
        return Err(format!("an error response answered {}", r.status()));
    }
    let (code, said) = login.finish().await?;
    if code != 3
        || !said.contains("sign-in refused: access_denied: declined [31mby you")
        || said.contains('\u{1b}')
    {
        return Err(format!("declined: exit {code}: {said:?}"));
    }
    // A fixed port another process already listens on (one squatting on it, say) is an error,
    // never shared: the answer could otherwise reach the squatter.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = squatter
        .local_addr()
        .map_err(|e| e.to_string())?
        .port()
        .to_string();
    let args = [
        "login",
        "--no-open",
        "--port",
        &port,
        "--api",
        "http://127.0.0.1:9",
        "--issuer",
        idp.issuer(),
        "--client-id",
        CLIENT_ID,
    ];
    let out = declined
        .command(&args)
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(6) || !err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
    {
        return Err(format!("a taken port: {:?} {err}", out.status.code()));
    }
    // Flags that contradict each other, or a timeout out of range, never start a login.
    for bad in [
        &["login", "--device", "--no-open"][..],
        &["login", "--browser", "--device"],
        &["login", "--timeout", "0"],
        &["login", "--device", "--port", "8400"],
    ] {
        let out = declined.command(bad).output().map_err(|e| e.to_string())?;
        if out.status.code() != Some(2) {
            return Err(format!("{bad:?} exited {:?}", out.status.code()));
        }
    }
    Ok(())
}

/// A text-mode browser as `$BROWSER`, which runs in the foreground until it exits (this one
/// never does on its own): each start records its pid, and every one still running is killed
/// when this is dropped.
#[cfg(target_os = "linux")]
struct TextBrowser {
    folder: Folder,
}

#[cfg(target_os = "linux")]
impl TextBrowser {
    fn new() -> Res<Self> {
        let folder = Folder::new("text-browser");
        std::fs::create_dir_all(&folder.0).map_err(|e| e.to_string())?;
        let b = Self { folder };
        // Named like w3m, so the opener waits for it as for any text browser.
        let script = format!(
            "#!/bin/sh\necho \"$$\" >> '{}'\nexec sleep 120 </dev/null >/dev/null 2>&1\n",
            b.pids_file().display()
        );
        std::fs::write(b.path(), script).map_err(|e| e.to_string())?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(b.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        Ok(b)
    }

    fn path(&self) -> PathBuf {
        self.folder.0.join("w3m")
    }

    fn pids_file(&self) -> PathBuf {
        self.folder.0.join("pids")
    }

    fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.pids_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The pid of the browser the login started, once it has.
    async fn started(&self, n: usize) -> Res<u32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(pid) = self.pids().get(n) {
                return Ok(*pid);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("the login never opened the browser".into())
    }
}

#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(target_os = "linux")]
impl Drop for TextBrowser {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The browser is opened without waiting for it: the redirect is answered and the login ends
/// while a text browser still holds on, and `--timeout` counts from the start even when the
/// browser never returns.
#[cfg(target_os = "linux")]
async fn blocking_browser(idp: &RunningIdp) -> Res<()> {
    let http = http();
    let browser = TextBrowser::new()?;
    let dev = Folder::new("dev-text-browser");
    let mut login = Login::start_opening(
        &dev,
        idp.issuer(),
        Some(&browser.path()),
        &["--timeout", "60"],
    )?;
    let authorize = login.address()?;
    let pid = browser.started(0).await?;
    let back = pick(&http, &authorize, "dev").await?;
    let page = http
        .get(back)
        .send()
        .await
        .map_err(|e| format!("the listener did not answer while the browser was open: {e}"))?;
    if page.status() != 200 {
        return Err(format!("the listener answered {}", page.status()));
    }
    let (code, said) = login.finish().await?;
    if code != 0 || !said.contains("signed in as dev@example.com") {
        return Err(format!("login exited {code}: {said}"));
    }
    if !running(pid) {
        return Err("the browser had exited: the test proves nothing".into());
    }
    // Unanswered with the browser still open: the timeout ends it all the same.
    let quiet = Folder::new("quiet-text-browser");
    let started = Instant::now();
    let mut login = Login::start_opening(
        &quiet,
        idp.issuer(),
        Some(&browser.path()),
        &["--timeout", "1"],
    )?;
    login.address()?;
    let pid = browser.started(1).await?;
    let (code, said) = login.finish().await?;
    if code != 3 || !said.contains("not completed within 1s") || !running(pid) {
        return Err(format!(
            "timeout with the browser open: exit {code}: {said}"
        ));
    }
    if started.elapsed() > Duration::from_secs(15) {
        return Err(format!(
            "the timeout waited for the browser: {:?}",
            started.elapsed()
        ));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_never_returns_neither_blocks_nor_outlasts_the_sign_in() {
    let idp = RunningIdp::start(IdpConfig::default())
        .await
        .expect("identity provider");
    if let Err(e) = blocking_browser(&idp).await {
        panic!("{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sign_in_completes_only_with_its_own_answer() {
    let idp = RunningIdp::start(IdpConfig::default())
        .await
        .expect("identity provider");
    if let Err(e) = browser_story(&idp).await {
        panic!("{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_unanswered_browser_sign_in_fails_readably() {
    let idp = RunningIdp::start(IdpConfig::default())
        .await
        .expect("identity provider");
    if let Err(e) = refusals(&idp).await {
        panic!("{e}");
    }
}
