//! `bash tests/bench.sh`: the release function binaries behind a loopback Lambda Runtime API,
//! against moto (through the counting proxy) and the Elasticsearch emulator. One table: per
//! operation the target requests and the DynamoDB / Secrets Manager / Scheduler calls (exact),
//! warm latency p50/p99 (with min and max over the repeated runs); per function the cold-start
//! init time, peak RSS and the stripped and zipped binary sizes; and the authorizing proxy's
//! added latency and throughput against direct calls to the emulator. Exits non-zero when a
//! count is over its budget (or the proxy line cannot be measured).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench::budget::{self, Budget, over};
use bench::proxy::ProxyLine;
use bench::runtime::RuntimeApi;
use bench::scenario::{Bench, Function, Invoke, Measured, Time, person, story, sweep_problem};
use clap::Parser;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use fixtures::aws_faults::AwsFaultProxy;
use fixtures::{CONNECTOR_PASSWORD, ELASTIC_PASSWORD, Env, es_seed};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

#[derive(Parser)]
#[command(
    about = "Measure the functions: exact call counts, warm latency, cold start, memory, size"
)]
struct Args {
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Per operation, every call by service and action.
    #[arg(long)]
    verbose: bool,
    /// Small sizes (discovery of 10 and 100 indices, sweeps of 0, 10 and 50) for a quick run.
    #[arg(long)]
    quick: bool,
    /// Discovery sizes (indices), instead of 10,1000,10000 (or --quick's).
    #[arg(long, value_delimiter = ',')]
    indices: Option<Vec<usize>>,
    /// Sweep sizes (overdue grants), instead of 0,100,2000 (or --quick's). Against stock moto
    /// (ELASTIC_JIT_MOTO_ROLLBACK=stock) a sweep of 2,000 grants with accounts takes hours
    /// (README "Benchmark": it copies the whole table for every write of a transaction).
    #[arg(long, value_delimiter = ',')]
    sweeps: Option<Vec<usize>>,
    /// Warm runs per latency measurement.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Sequential requests per side (direct, through the proxy) for the proxy's latency.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    proxy_requests: u32,
    /// Seconds per side of the proxy's throughput run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    proxy_seconds: u64,
    /// Only the proxy line (quick to check on a busy machine).
    #[arg(long)]
    proxy_only: bool,
}

/// One function process behind its runtime API.
struct Process {
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
    binary: PathBuf,
}

struct Binaries {
    procs: BTreeMap<Function, Process>,
}

#[async_trait::async_trait]
impl Invoke for Binaries {
    async fn invoke(&self, function: Function, event: Value) -> Value {
        let p = &self.procs[&function];
        match p.api.invoke(event).await {
            Ok(v) => v,
            Err(e) => json!({"error": e}),
        }
    }
}

async fn spawn(f: Function, env: &Env, proxy: &AwsFaultProxy, dir: &std::path::Path) -> Process {
    let api = RuntimeApi::start(f.name()).await.expect("runtime API");
    let binary = dir.join(f.name());
    let spawned = Instant::now();
    let child = Command::new(&binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", f.name())
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "warn")
        .env("AWS_ENDPOINT_URL", proxy.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("TABLE_NAME", env.store.table())
        .env("ADMIN_GROUP", "jit-admins")
        .env("GROUPS_CLAIM", "groups")
        .env("CREDENTIAL_SECRET_PREFIX", &env.secret_prefix)
        .env("CONNECTOR_SECRET_PREFIX", &env.connector_prefix)
        .env("SCHEDULE_GROUP", &env.schedule_group)
        .env("REVOKE_FUNCTION_ARN", fixtures::REVOKE_ARN)
        .env("SCHEDULER_ROLE_ARN", fixtures::SCHEDULER_ROLE)
        // The cleanup function arms missed start schedules again with it (required there).
        .env("PROVISION_FUNCTION_ARN", fixtures::PROVISION_ARN)
        // The functions' logs would mix with the table on stdout; their errors stay visible.
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (build it with `cargo build --release`)",
                binary.display()
            )
        });
    Process {
        api,
        child,
        spawned,
        binary,
    }
}

/// Peak resident memory of a process in KiB (`VmHWM`).
fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Size of the binary zipped as Lambda receives it (deflate).
fn zipped_size(binary: &std::path::Path) -> Option<u64> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[1],'bootstrap')\nz.close()\nprint(len(b.getvalue()))",
        ])
        .arg(binary)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[derive(Serialize, Default, Clone)]
struct Row {
    op: String,
    target: usize,
    dynamodb: usize,
    secrets: usize,
    scheduler: usize,
    p50_ms: f64,
    p99_ms: f64,
    min_ms: f64,
    max_ms: f64,
    runs: usize,
    calls: BTreeMap<String, usize>,
    /// Median milliseconds per `service:Action` over the runs (where the time goes).
    aws_ms: BTreeMap<String, f64>,
}

#[derive(Serialize)]
struct FunctionRow {
    function: &'static str,
    init_ms: f64,
    peak_rss_mib: f64,
    binary_mib: f64,
    zipped_mib: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Counts of the last run (warm), times over all runs.
fn row(samples: &[Measured]) -> Row {
    let first = &samples[samples.len() - 1];
    // The story's run (the first) may be a function's first call or find its caches cold.
    let warm = if samples.len() > 1 {
        &samples[1..]
    } else {
        samples
    };
    let mut times: Vec<f64> = warm.iter().map(|m| ms(m.elapsed)).collect();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    let by = |service: &str| {
        first
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with(service))
            .map(|(_, v)| v)
            .sum()
    };
    Row {
        op: first.op.clone(),
        target: first.counts.target,
        dynamodb: first.counts.dynamodb,
        secrets: by("secretsmanager:"),
        scheduler: by("scheduler:"),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        min_ms: times[0],
        max_ms: times[times.len() - 1],
        runs: times.len(),
        calls: first.calls.clone(),
        aws_ms: first
            .aws_ms
            .keys()
            .map(|k| {
                let mut v: Vec<f64> = samples
                    .iter()
                    .map(|m| m.aws_ms.get(k).copied().unwrap_or(0.0))
                    .collect();
                v.sort_by(f64::total_cmp);
                (k.clone(), (v[v.len() / 2] * 10.0).round() / 10.0)
            })
            .collect(),
    }
}

/// A cluster with `n` indices and the fixtures' connector user.
fn sized_seed(n: usize) -> Seed {
    let indices: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("app-{i:05}"), "mappings": {"_meta": {"owner": "alice@example.com"}}}))
        .collect();
    serde_json::from_value(json!({
        "indices": indices,
        "users": [{"username": "connector", "password": CONNECTOR_PASSWORD, "roles": ["jit_connector"]}],
        "roles": {"jit_connector": {"cluster": ["monitor", "manage_security"],
                                    "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]}}
    }))
    .expect("sized seed")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let proxy = AwsFaultProxy::start(&test_harness::aws_endpoint()).await;
    let env = Env::start_via(es_seed(), proxy.url()).await;
    let measure_proxy = || {
        bench::proxy::measure(
            &env,
            proxy.url(),
            &args.bin_dir,
            args.proxy_requests as usize,
            Duration::from_secs(args.proxy_seconds),
        )
    };
    if args.proxy_only {
        return match measure_proxy().await {
            Ok(line) => {
                if args.json {
                    println!("{}", json!({"proxy": line}));
                } else {
                    print_proxy(&line);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("proxy line: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut procs = BTreeMap::new();
    for f in Function::ALL {
        procs.insert(f, spawn(f, &env, &proxy, &args.bin_dir).await);
    }
    let binaries = Binaries { procs };
    let bench = Bench {
        env: &env,
        proxy: &proxy,
        invoke: &binaries,
        time: Time::Real,
    };
    let mut failures = Vec::new();
    let check =
        |failures: &mut Vec<String>, m: &Measured, b: Budget| failures.extend(over(&b, &m.counts));
    let hot_budget = |op: &str| match op {
        "approve+provision (user)" => Some(budget::APPROVE_USER),
        "approve+provision (api_key)" => Some(budget::APPROVE_API_KEY),
        "revoke (user)" => Some(budget::REVOKE_USER),
        "revoke (api_key)" => Some(budget::REVOKE_API_KEY),
        _ => None,
    };

    // The story once: each function's first invocation is its cold one (the connector secret
    // is not cached yet), so the hot paths' budgets are checked on the warm runs below.
    let measured = story(&bench).await;
    eprintln!("[bench] the story ran once ({} operations)", measured.len());
    let mut rows: Vec<Vec<Measured>> = measured.iter().cloned().map(|m| vec![m]).collect();
    // Warm latency: fresh people, so every approval is a first grant like the counted one.
    for i in 0..args.runs {
        for (flow, op, rop) in [
            ("logs-leads", "approve+provision (user)", "revoke (user)"),
            (
                "keys-leads",
                "approve+provision (api_key)",
                "revoke (api_key)",
            ),
        ] {
            let who = person(&format!("warm-{flow}-{i}"));
            let (asked, approved, id) = bench.grant(who, flow, op).await;
            let creds = bench.credentials(who, &id).await;
            let revoked = bench.revoke(rop, who, &id).await;
            for m in [&approved, &revoked, &asked, &creds] {
                if let Some(b) = hot_budget(&m.op) {
                    check(&mut failures, m, b);
                }
                if let Some(r) = rows.iter_mut().find(|r| r[0].op == m.op) {
                    r.push(m.clone());
                }
            }
        }
    }
    if args.runs > 0 {
        for r in rows.iter().filter(|r| r.len() > 1) {
            progress(r);
        }
    }
    let (discover_sizes, sweep_sizes) = if args.quick {
        (vec![10, 100], vec![0, 10, 50])
    } else {
        (vec![10, 1_000, 10_000], vec![0, 100, 2_000])
    };
    let discover_sizes = args.indices.clone().unwrap_or(discover_sizes);
    let sweep_sizes = args.sweeps.clone().unwrap_or(sweep_sizes);
    // The sweep's orphan phase reads every Elasticsearch integration's connector secret.
    // (The sweeps run before the large discoveries: moto's index queries slow down with the
    // size of the table, which is not what is measured.)
    let integrations = 1;
    for &n in &sweep_sizes {
        let m = bench.sweep(n).await;
        check(&mut failures, &m, budget::sweep(n, integrations));
        failures.extend(sweep_problem(&m, n));
        progress(std::slice::from_ref(&m));
        rows.push(vec![m]);
    }
    let mut clusters = Vec::new();
    for &n in &discover_sizes {
        let es = RunningEmulator::start(
            EmulatorConfig::new(ELASTIC_PASSWORD).with_seed(sized_seed(n)),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("emulator");
        let name = format!("size-{n}");
        bench.register_at(&name, &es.url()).await;
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.push(
                bench
                    .discover_at(&format!("discover {n} indices"), &name, &es.url())
                    .await,
            );
        }
        progress(&samples);
        rows.push(samples);
        clusters.push(es);
    }
    if args.runs == 0 {
        for m in &measured {
            if let Some(b) = hot_budget(&m.op) {
                check(&mut failures, m, b);
            }
        }
    }
    // Last: the functions' cached connector secret is stale after it.
    for m in bench.rotation().await {
        progress(std::slice::from_ref(&m));
        rows.push(vec![m]);
    }

    // The proxy's line: its own cluster and process, so nothing above is disturbed.
    let proxy_line = match measure_proxy().await {
        Ok(line) => {
            eprintln!(
                "[bench] proxy: +{:.3} ms at p50, +{:.3} ms at p99",
                line.added_p50_ms, line.added_p99_ms
            );
            Some(line)
        }
        Err(e) => {
            failures.push(format!("proxy line: {e}"));
            None
        }
    };

    let table: Vec<Row> = rows.iter().map(|r| row(r)).collect();
    let mut functions = Vec::new();
    for (f, p) in &binaries.procs {
        let init = p
            .api
            .first_poll()
            .map(|t| ms(t.duration_since(p.spawned)))
            .unwrap_or(f64::NAN);
        let size = std::fs::metadata(&p.binary).map(|m| m.len()).unwrap_or(0);
        let mib = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
        functions.push(FunctionRow {
            function: f.name(),
            init_ms: init,
            peak_rss_mib: peak_rss_kib(p.child.id())
                .map_or(f64::NAN, |k| (k as f64 / 1024.0 * 10.0).round() / 10.0),
            binary_mib: mib(size),
            zipped_mib: mib(zipped_size(&p.binary).unwrap_or(0)),
        });
        if let Some(e) = p.api.init_error() {
            failures.push(format!("{} failed to start: {e}", f.name()));
        }
    }
    let moto = moto_mode();
    if args.json {
        let out = json!({"moto": moto, "operations": table, "functions": functions,
                         "proxy": proxy_line, "over_budget": failures});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("AWS side: {moto}\n");
        print_table(&table, &functions, args.verbose);
        if let Some(line) = &proxy_line {
            println!();
            print_proxy(line);
        }
        for f in &failures {
            eprintln!("OVER BUDGET: {f}");
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Which moto the AWS side is (README "Benchmark": how a transaction is rolled back decides
/// what it costs as the table grows).
fn moto_mode() -> &'static str {
    if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.is_empty()) {
        "AWS_ENDPOINT_URL"
    } else if test_harness::moto_undo_log() {
        "moto, transactions rolled back by an undo log (ELASTIC_JIT_MOTO_ROLLBACK=undo-log)"
    } else {
        "stock moto (a transaction copies the whole table per write)"
    }
}

/// One finished operation, on stderr as soon as it is measured: a long run (a 10,000-index
/// discovery, a 2,000-grant sweep) shows where it is, and what it measured survives a run that
/// is stopped before the table.
fn progress(samples: &[Measured]) {
    let r = row(samples);
    eprintln!(
        "[bench] {}: target {} · DynamoDB {} · Secrets Manager {} · Scheduler {} · p50 {:.1} ms ({} runs)",
        r.op, r.target, r.dynamodb, r.secrets, r.scheduler, r.p50_ms, r.runs
    );
}

fn print_table(rows: &[Row], functions: &[FunctionRow], verbose: bool) {
    println!(
        "| operation | target reqs | DynamoDB | Secrets Manager | Scheduler | p50 ms | p99 ms | min–max ms | runs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1}–{:.1} | {} |",
            r.op,
            r.target,
            r.dynamodb,
            r.secrets,
            r.scheduler,
            r.p50_ms,
            r.p99_ms,
            r.min_ms,
            r.max_ms,
            r.runs
        );
        if verbose {
            for (call, n) in &r.calls {
                let time = r
                    .aws_ms
                    .get(call)
                    .map(|ms| format!("{ms:.1} ms (median)"))
                    .unwrap_or_default();
                println!("| &nbsp;&nbsp;{call} | {n} calls | | | | {time} | | | |");
            }
        }
    }
    println!();
    println!("| function | cold-start init ms | peak RSS MiB | binary MiB | zipped MiB |");
    println!("|---|---:|---:|---:|---:|");
    for f in functions {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            f.function, f.init_ms, f.peak_rss_mib, f.binary_mib, f.zipped_mib
        );
    }
}

fn print_proxy(l: &ProxyLine) {
    println!(
        "| proxy (server mode, loopback; {} sequential requests per side, {} in flight for req/s) | p50 ms | p99 ms | req/s |",
        l.requests, l.concurrency
    );
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("direct to the emulator", &l.direct),
        ("through the proxy", &l.proxied),
    ] {
        println!(
            "| {name} | {:.3} | {:.3} | {:.0} |",
            s.p50_ms, s.p99_ms, s.requests_per_s
        );
    }
    println!(
        "| added by the proxy | {:+.3} | {:+.3} | {:+.0} |",
        l.added_p50_ms,
        l.added_p99_ms,
        l.proxied.requests_per_s - l.direct.requests_per_s
    );
}
