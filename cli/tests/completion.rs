//! Shell completion of names from the API, through the binary as a shell calls it
//! (`COMPLETE=fish elastic-jit -- WORDS`: one candidate a line, `value<TAB>help`), against a
//! loopback server that answers `GET /integrations` and `GET /integrations/{name}/resources`
//! in the shapes infra/openapi.yaml gives a requester (paged, with `next_cursor`), and records
//! what it was asked. The attacker and failure cases: a name that would leave its path segment,
//! an expired token (no refresh, nothing written), an API that hangs or is down, names that
//! would break the shell's protocol.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

const TOKEN: &str = "completion-test-token";

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

async fn integrations(State(seen): State<Seen>, h: HeaderMap) -> Response {
    seen.0.lock().unwrap().push("/integrations".into());
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"integrations": [
        {"name": "prod-search", "kind": "elasticsearch", "url": "https://es:9200",
         "organization_id": null, "custom_access_details": null, "integration_owners": [],
         "flows": ["logs-read"], "permissions": ["read", "write"]},
        {"name": "cloud-org", "kind": "elastic_cloud", "url": null, "organization_id": "123",
         "custom_access_details": null, "integration_owners": [], "flows": ["cloud"],
         "permissions": ["deployment-viewer"]},
    ]}))
    .into_response()
}

async fn resources(
    State(seen): State<Seen>,
    h: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let cursor = q.get("cursor").cloned();
    seen.0.lock().unwrap().push(format!(
        "/integrations/{name}/resources limit={} cursor={}",
        q.get("limit").map(String::as_str).unwrap_or("-"),
        cursor.as_deref().unwrap_or("-")
    ));
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match (name.as_str(), cursor.as_deref()) {
        ("prod-search", None) => axum::Json(json!({
            "resources": [
                {"name": "logs-app", "kind": "index", "display_name": null, "owner": "alice"},
                {"name": "logs-x\nrm -rf ~", "kind": "index", "display_name": null, "owner": null},
                // Index names Elasticsearch accepts that bash would run or expand once the
                // candidate is on the command line (bash inserts a candidate as it is).
                {"name": "logs-$(touch${IFS}pwned)", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-a;id", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-`id`", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-a&id", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-[a]pp", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-'q'", "kind": "index", "display_name": null, "owner": null},
                {"name": "logs-!!", "kind": "index", "display_name": null, "owner": null},
            ],
            "next_cursor": "page 2/+"
        }))
        .into_response(),
        ("prod-search", Some("page 2/+")) => axum::Json(json!({
            "resources": [
                {"name": "logs-db", "kind": "alias", "display_name": null, "owner": null},
                {"name": "metrics", "kind": "data_stream", "display_name": null, "owner": null},
            ],
            "next_cursor": null
        }))
        .into_response(),
        ("slow", _) => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            axum::Json(
                json!({"resources": [{"name": "late", "kind": "index"}], "next_cursor": null}),
            )
            .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A configuration folder signed in to `api` with a token that expires in `ttl` seconds,
/// removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(api: &str, ttl: i64) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ejit-complete-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = json!({"api_url": api, "issuer": "http://127.0.0.1:9", "client_id": "c"});
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let tokens = json!({"access_token": TOKEN, "refresh_token": "completion-refresh",
                            "expires_at": chrono::Utc::now().timestamp() + ttl});
        std::fs::write(dir.join("tokens.json"), tokens.to_string()).unwrap();
        Self(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a completion answered: its lines, how long it took, what went to stderr.
struct Answer {
    lines: Vec<String>,
    took: Duration,
    stderr: String,
}

impl Answer {
    fn names(&self) -> Vec<&str> {
        self.lines
            .iter()
            .map(|l| l.split('\t').next().unwrap_or_default())
            .collect()
    }

    fn is_silent_and_empty(&self) -> bool {
        self.lines.is_empty() && self.stderr.is_empty()
    }
}

/// Ask the binary as `shell` would after `words` (the words after `elastic-jit`). fish completes
/// the last word; bash completes the word at `index` (bash passes the whole line).
async fn ask(folder: &Folder, shell: &str, index: Option<usize>, words: &[&str]) -> Answer {
    let dir = folder.0.clone();
    let shell = shell.to_string();
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut c = Command::new(env!("CARGO_BIN_EXE_elastic-jit"));
        c.env("COMPLETE", &shell)
            .env("ELASTIC_JIT_CONFIG_DIR", &dir)
            .arg("--")
            .arg("elastic-jit")
            .args(&words);
        if let Some(i) = index {
            c.env("_CLAP_COMPLETE_INDEX", (i + 1).to_string());
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "completion exited {:?}", out.status);
        Answer {
            lines: String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
            took: started.elapsed(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_complete_from_what_the_api_offers_and_never_from_anything_else() {
    let seen = Seen::default();
    let app = Router::new()
        .route("/integrations", get(integrations))
        .route("/integrations/{name}/resources", get(resources))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let folder = Folder::new(&api, 600);
    let taken = || std::mem::take(&mut *seen.0.lock().unwrap());

    // Integrations the caller may use, with what they offer.
    let a = ask(&folder, "fish", None, &["request", "--integration", ""]).await;
    assert_eq!(
        a.lines,
        [
            "prod-search\telasticsearch: read, write",
            "cloud-org\telastic_cloud: deployment-viewer"
        ]
    );
    assert!(a.stderr.is_empty(), "{}", a.stderr);
    let a = ask(&folder, "fish", None, &["request", "--integration", "cl"]).await;
    assert_eq!(a.names(), ["cloud-org"]);
    taken();

    // Resources of the integration on the line, every page read, matching what is typed; a name
    // with a newline (it would become a second candidate) or with what a shell would run or
    // expand (`$(…)`, `;`, backquotes, `&`, globs, quotes, history) is left out.
    let words = [
        "request",
        "--integration",
        "prod-search",
        "--resource",
        "logs-",
    ];
    let a = ask(&folder, "fish", None, &words).await;
    assert_eq!(a.names(), ["logs-app", "logs-db"]);
    assert_eq!(a.lines[1], "logs-db\talias");
    assert_eq!(
        taken(),
        [
            "/integrations/prod-search/resources limit=1000 cursor=-",
            "/integrations/prod-search/resources limit=1000 cursor=page 2/+",
        ]
    );
    // bash passes the words after the cursor too: the integration may come after it.
    let words = ["request", "--resource", "", "--integration=prod-search"];
    let a = ask(&folder, "bash", Some(2), &words).await;
    assert_eq!(a.names(), ["logs-app", "logs-db", "metrics"]);
    taken();
    let words = [
        "request",
        "--integration",
        "prod-search",
        "--permission",
        "",
    ];
    let a = ask(&folder, "fish", None, &words).await;
    assert_eq!(a.names(), ["read", "write"]);
    taken();

    // In a real bash, through the registered function, `=` split off as bash does.
    let a = in_bash(
        &folder,
        &[
            "request",
            "--integration",
            "=",
            "prod-search",
            "--resource",
            "m",
        ],
    )
    .await;
    assert_eq!(a, ["metrics"]);
    taken();

    // A name that would leave its path segment is never sent.
    let words = ["request", "--integration", "../requests", "--resource", ""];
    let a = ask(&folder, "fish", None, &words).await;
    assert!(a.is_silent_and_empty(), "{:?} {}", a.lines, a.stderr);
    assert_eq!(taken(), Vec::<String>::new());

    // An API that hangs: nothing, quietly, within the budget (2 s) and the process's start-up.
    let words = ["request", "--integration", "slow", "--resource", ""];
    let a = ask(&folder, "fish", None, &words).await;
    assert!(a.is_silent_and_empty(), "{:?} {}", a.lines, a.stderr);
    assert!(a.took < Duration::from_secs(5), "took {:?}", a.took);
    taken();

    // An expired sign-in: no request, no refresh, nothing written.
    let expired = Folder::new(&api, -10);
    let before = std::fs::read(expired.0.join("tokens.json")).unwrap();
    let a = ask(&expired, "fish", None, &["request", "--integration", ""]).await;
    assert!(a.is_silent_and_empty(), "{:?} {}", a.lines, a.stderr);
    assert_eq!(taken(), Vec::<String>::new());
    assert_eq!(
        std::fs::read(expired.0.join("tokens.json")).unwrap(),
        before
    );

    // The API down: nothing, quietly.
    server.abort();
    let _ = server.await;
    let a = ask(&folder, "fish", None, &["request", "--integration", ""]).await;
    assert!(a.is_silent_and_empty(), "{:?} {}", a.lines, a.stderr);

    // What clap knows still completes with no API at all.
    let a = ask(&folder, "fish", None, &["whoa"]).await;
    assert_eq!(a.names(), ["whoami"]);
}

/// COMPREPLY after bash's completion function for `words` (the last one being completed), the
/// function registered by `completions bash`.
async fn in_bash(folder: &Folder, words: &[&str]) -> Vec<String> {
    let dir = folder.0.clone();
    let line: Vec<String> = std::iter::once("elastic-jit")
        .chain(words.iter().copied())
        .map(|w| format!("'{w}'"))
        .collect();
    let script = format!(
        "source <(\"$BIN\" completions bash)\n\
         COMP_WORDS=({line})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n\
         _clap_complete_elastic_jit elastic-jit \"${{COMP_WORDS[COMP_CWORD]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        line = line.join(" "),
        cword = words.len()
    );
    tokio::task::spawn_blocking(move || {
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("BIN", env!("CARGO_BIN_EXE_elastic-jit"))
            .env("ELASTIC_JIT_CONFIG_DIR", &dir)
            .env_remove("COMPLETE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .await
    .unwrap()
}

#[test]
fn completions_prints_the_registration_for_each_shell() {
    for (shell, marker) in [
        ("bash", "COMPLETE=\"bash\""),
        ("zsh", "COMPLETE=\"zsh\""),
        ("fish", "COMPLETE=fish"),
        ("elvish", "COMPLETE"),
        ("powershell", "COMPLETE"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_elastic-jit"))
            .args(["completions", shell])
            .env_remove("COMPLETE")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}");
        assert!(
            text.contains(marker) && text.contains("elastic-jit"),
            "{shell}: {text}"
        );
    }
}
