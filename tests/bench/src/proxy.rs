//! The proxy line: the release `proxy --serve` on loopback in front of a security-less
//! emulator, the same search sent directly to the emulator and through the proxy, alternately,
//! one after the other (latency, so both see the same machine load), then each at a fixed
//! concurrency for a fixed time (throughput). What the proxy adds is the difference.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use es_emulator::{EmulatorConfig, RunningEmulator};
use fixtures::flows::{ask, credentials, discover_app, provision_app, put_flow, put_integration};
use fixtures::{DEV, ELASTIC_PASSWORD, Env, es_seed};
use serde::Serialize;
use serde_json::json;
use tokio::process::{Child, Command};

const INTEGRATION: &str = "bench-proxy";
const PATH: &str = "/logs-2026.11/_search?size=1";
/// Requests in flight during the throughput runs.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProxyLine {
    pub direct: Side,
    pub proxied: Side,
    /// Proxied minus direct, at each percentile.
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
    pub requests: usize,
    pub concurrency: usize,
}

/// The running proxy server, stopped when dropped.
struct Server(#[allow(dead_code)] Child);

/// Measures the proxy with `requests` sequential requests per side and `throughput_for` per
/// side at [`CONCURRENCY`]. `aws_endpoint` is what the proxy process reads DynamoDB and
/// Secrets Manager through.
pub async fn measure(
    env: &Env,
    aws_endpoint: &str,
    bin_dir: &Path,
    requests: usize,
    throughput_for: Duration,
) -> Result<ProxyLine, String> {
    let cluster = RunningEmulator::start(
        EmulatorConfig::new(ELASTIC_PASSWORD)
            .with_seed(es_seed())
            .without_security(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .map_err(|e| format!("emulator: {e}"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let proxy_url = format!("http://127.0.0.1:{port}");
    let auth = grant(env, &cluster.url(), &proxy_url).await?;
    let _server = start(env, aws_endpoint, bin_dir, port).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .map_err(|e| e.to_string())?;
    let direct = format!("{}{PATH}", cluster.url());
    let proxied = format!("{proxy_url}{PATH}");
    // Warm both paths (connections, the proxy's grant cache and catalog).
    for _ in 0..20 {
        once(&http, &direct, None).await?;
        once(&http, &proxied, Some(&auth)).await?;
    }
    let (mut d, mut p) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        d.push(once(&http, &direct, None).await?);
        p.push(once(&http, &proxied, Some(&auth)).await?);
    }
    let direct_rps = throughput(&http, &direct, None, throughput_for).await?;
    let proxied_rps = throughput(&http, &proxied, Some(&auth), throughput_for).await?;
    let (d50, d99) = (percentile(&mut d, 0.5), percentile(&mut d, 0.99));
    let (p50, p99) = (percentile(&mut p, 0.5), percentile(&mut p, 0.99));
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(ProxyLine {
        direct: Side {
            p50_ms: round(d50),
            p99_ms: round(d99),
            requests_per_s: direct_rps.round(),
        },
        proxied: Side {
            p50_ms: round(p50),
            p99_ms: round(p99),
            requests_per_s: proxied_rps.round(),
        },
        added_p50_ms: round(p50 - d50),
        added_p99_ms: round(p99 - d99),
        requests,
        concurrency: CONCURRENCY,
    })
}

/// A proxy integration on `cluster`, an auto-approved read grant through the real handlers;
/// the grant's `Authorization: ApiKey` header.
async fn grant(env: &Env, cluster: &str, proxy_url: &str) -> Result<String, String> {
    // The in-process handlers use the fixtures' clock; the proxy process the real one.
    env.clock.set(chrono::Utc::now());
    let d = discover_app(env);
    let arn = env.secret_for(INTEGRATION, json!({})).await;
    let (s, b) = put_integration(
        &d,
        INTEGRATION,
        json!({"kind": "elasticsearch", "url": cluster, "secret_arn": arn,
               "authorization": "proxy", "proxy_url": proxy_url, "allow_insecure_http": true}),
    )
    .await;
    if s != 201 && s != 200 {
        return Err(format!("register the proxy integration: {s} {b}"));
    }
    let (s, b) = put_flow(
        &d,
        "bench-proxy-auto",
        json!({"integration": INTEGRATION, "requesters": [{"type": "group", "value": "developers"}],
               "resources": ["logs-*"], "permissions": ["read"], "auto_approve": true}),
    )
    .await;
    if s != 201 && s != 200 {
        return Err(format!("the proxy flow: {s} {b}"));
    }
    let p = provision_app(env);
    let (s, r) = ask(
        &p,
        DEV,
        json!({"integration": INTEGRATION, "flow": "bench-proxy-auto",
               "resources": ["logs-2026.11"], "permission": "read", "duration": "1h"}),
    )
    .await;
    let id = r["id"].as_str().unwrap_or_default().to_string();
    if s != 201 || r["status"] != "active" {
        return Err(format!("the proxy grant: {s} {r}"));
    }
    let (s, c) = credentials(&p, DEV, &id).await;
    c["authorization_header"]
        .as_str()
        .filter(|_| s == 200)
        .map(str::to_string)
        .ok_or_else(|| format!("the proxy credential: {s}"))
}

async fn start(env: &Env, aws: &str, bin_dir: &Path, port: u16) -> Result<Server, String> {
    let binary = bin_dir.join("proxy");
    let child = Command::new(&binary)
        .arg("--serve")
        .env_clear()
        .env("TABLE_NAME", env.store.table())
        .env("PROXY_INTEGRATION", INTEGRATION)
        .env("CONNECTOR_SECRET_PREFIX", &env.connector_prefix)
        .env("PROXY_LISTEN", format!("127.0.0.1:{port}"))
        .env("AWS_ENDPOINT_URL", aws)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "warn")
        // Its audit lines, one per request, are not what is measured here.
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {e} (build it with `cargo build --release -p proxy`)",
                binary.display()
            )
        })?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the proxy did not listen within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Server(child))
}

/// One request read to its end; its duration in milliseconds.
async fn once(http: &reqwest::Client, url: &str, auth: Option<&str>) -> Result<f64, String> {
    let started = Instant::now();
    let mut r = http.get(url);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Completed requests per second with [`CONCURRENCY`] in flight for `for_`.
async fn throughput(
    http: &reqwest::Client,
    url: &str,
    auth: Option<&str>,
    for_: Duration,
) -> Result<f64, String> {
    let started = Instant::now();
    let workers = (0..CONCURRENCY).map(|_| {
        let (http, url, auth) = (http.clone(), url.to_string(), auth.map(str::to_string));
        tokio::spawn(async move {
            let mut done = 0usize;
            while started.elapsed() < for_ {
                once(&http, &url, auth.as_deref()).await?;
                done += 1;
            }
            Ok::<usize, String>(done)
        })
    });
    let mut total = 0;
    for w in workers.collect::<Vec<_>>() {
        total += w.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn percentile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}
