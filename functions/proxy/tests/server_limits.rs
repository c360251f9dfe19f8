//! The server under abuse, over real sockets: a client that stops reading, a connection kept
//! alive forever, one address opening many connections, a huge request line. Each must cost
//! the server a bounded time, a bounded number of slots and a bounded log line.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Running, basic, build_proxy, grant, lambda_answer, register_proxy, start_proxy_with};
use fixtures::flows::{discover_app, flows, provision_app};
use fixtures::{Env, es_seed, event};
use proxy::server::ServerConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TTL: Duration = Duration::from_millis(500);

fn addr(p: &Running) -> SocketAddr {
    p.url.trim_start_matches("http://").parse().unwrap()
}

/// A connection from `from` (any 127/8 address on Linux loopback) with a small receive
/// buffer, so a response it does not read fills the server's socket quickly.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.bind(format!("{from}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

fn get(path: &str, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("authorization: {a}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nhost: proxy\r\n{auth}\r\n")
}

/// Sends `GET /` without credentials and reads the head of the answer: `Some(status line)` when
/// served, `None` when the server closed the connection without answering.
async fn served(stream: &mut TcpStream) -> Option<String> {
    if stream.write_all(get("/", None).as_bytes()).await.is_err() {
        return None;
    }
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            text.lines().next().map(str::to_string)
        }
        _ => None,
    }
}

/// A new connection from `from` is served within `within`.
async fn served_within(from: &str, to: SocketAddr, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut s = connect_from(from, to).await;
        if let Some(status) = served(&mut s).await {
            assert!(status.contains("401"), "{status}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "no connection from {from} served within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The proxy integration with a grant on `logs-*`, whose `logs-bulky` index answers a search
/// with about 16 MB: more than every socket buffer between the server and a client.
async fn bulky_grant(env: &Env) -> Value {
    let (d, p) = (discover_app(env), provision_app(env));
    register_proxy(env, &d).await;
    flows(&d, &["logs-auto"]).await;
    grant(&p, &["logs-bulky"]).await.1
}

/// The proxy integration alone (no grant), served with `config`.
async fn without_grants(config: ServerConfig) -> (Env, Running) {
    let env = Env::start_without_security(es_seed()).await;
    register_proxy(&env, &discover_app(&env)).await;
    let proxy = start_proxy_with(&env, "prod-search", TTL, config).await;
    (env, proxy)
}

/// The proxy integration with a grant on `logs-2026.11`, served with `config`.
async fn with_a_grant(config: ServerConfig) -> (Env, Value, Running) {
    let env = Env::start_without_security(es_seed()).await;
    let c = {
        let (d, p) = (discover_app(&env), provision_app(&env));
        register_proxy(&env, &d).await;
        flows(&d, &["logs-auto"]).await;
        grant(&p, &["logs-2026.11"]).await.1
    };
    let proxy = start_proxy_with(&env, "prod-search", TTL, config).await;
    (env, c, proxy)
}

fn bulky_seed() -> es_emulator::Seed {
    let mut seed = es_seed();
    let chunk = "x".repeat(1024 * 1024);
    let docs: Vec<Value> = (0..16)
        .map(|i| json!({"id": i.to_string(), "source": {"blob": chunk}}))
        .collect();
    seed.indices
        .push(serde_json::from_value(json!({"name": "logs-bulky", "documents": docs})).unwrap());
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_loses_its_connection_and_its_slot() {
    let env = Env::start_without_security(bulky_seed()).await;
    let c = bulky_grant(&env).await;
    let proxy = start_proxy_with(
        &env,
        "prod-search",
        TTL,
        ServerConfig {
            write_timeout: Duration::from_millis(300),
            max_connections_per_peer: 1,
            ..Default::default()
        },
    )
    .await;
    let to = addr(&proxy);

    let mut stalled = connect_from("127.0.0.1", to).await;
    stalled
        .write_all(get("/logs-bulky/_search?size=16", Some(&basic(&c))).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While it holds the peer's only slot, the same address is turned away...
    let mut second = connect_from("127.0.0.1", to).await;
    assert_eq!(served(&mut second).await, None, "the slot is held");
    // ...until the stalled write times out and the server lets it go.
    let waited = served_within("127.0.0.1", to, Duration::from_secs(20)).await;
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    // The stalled client, reading at last, finds its answer cut short.
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut got)).await;
    assert!(got.len() < 16 * 1024 * 1024, "{} bytes", got.len());
    let lines = proxy.audit.0.lock().unwrap().clone();
    let line: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["path"] == "/logs-bulky/_search")
        .expect("the cut exchange is audited");
    assert_eq!(line["decision"], "allow");
    assert!(line["bytes"].as_u64().unwrap() < 16 * 1024 * 1024, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_outlives_its_lifetime_however_busy() {
    let (_env, proxy) = without_grants(ServerConfig {
        connection_lifetime: Duration::from_secs(1),
        write_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut conn = connect_from("127.0.0.1", addr(&proxy)).await;
    let started = Instant::now();
    // A well-behaved keep-alive client that never stops asking: served until the lifetime ends.
    while served(&mut conn).await.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the connection outlived its lifetime"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let (_env, proxy) = without_grants(ServerConfig {
        header_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut conn = connect_from("127.0.0.1", addr(&proxy)).await;
    assert!(served(&mut conn).await.is_some(), "the first request");
    let idle = Instant::now();
    let mut rest = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "an idle connection stayed open: {read:?}"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(250),
        "{:?}",
        idle.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let (_env, proxy) = without_grants(ServerConfig {
        max_connections_per_peer: 2,
        max_connections: 16,
        ..Default::default()
    })
    .await;
    let to = addr(&proxy);
    // Two idle connections (a slow-loris opening), each accepted.
    let first = connect_from("127.0.0.1", to).await;
    let _second = connect_from("127.0.0.1", to).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect_from("127.0.0.1", to).await;
    assert_eq!(served(&mut third).await, None, "over the per-peer cap");
    // Another address is served all the while.
    served_within("127.0.0.2", to, Duration::from_secs(2)).await;
    // A closed connection gives its slot back.
    drop(first);
    served_within("127.0.0.1", to, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_request_line_makes_a_short_answer_and_a_short_audit_line() {
    let (_env, c, proxy) = with_a_grant(ServerConfig::default()).await;
    // Just under what an `http::Uri` holds (64 KiB; hyper answers longer ones itself).
    let long = format!("/{}/_search", "a".repeat(60_000));
    for auth in [None, Some(basic(&c))] {
        let mut conn = connect_from("127.0.0.1", addr(&proxy)).await;
        let request =
            get(&long, auth.as_deref()).replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let status = answer.lines().next().unwrap_or_default().to_string();
        assert!(status.contains(" 4"), "{status}");
        assert!(answer.len() < 4096, "answer of {} bytes", answer.len());
    }
    let lines = proxy.audit.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(l.len() < 4096, "audit line of {} bytes", l.len());
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["path"].as_str().unwrap().ends_with("..."), "{v}");
    }
}

/// A head is held in memory until it is whole, and for up to the header timeout: one much
/// larger than any client sends (Elasticsearch's own limits are a 4 KiB request line and 16 KiB
/// of headers) is refused at once, not buffered, before anything is authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_is_refused_not_buffered() {
    let (_env, proxy) = without_grants(ServerConfig::default()).await;
    let mut conn = connect_from("127.0.0.1", addr(&proxy)).await;
    // 40 headers (under hyper's count limit of 100) of 5000 bytes: 200 KB in all.
    let filler: String = (0..40)
        .map(|i| format!("x-filler-{i}: {}\r\n", "f".repeat(5000)))
        .collect();
    let request = get("/", None).replace("\r\n\r\n", &format!("\r\n{filler}\r\n"));
    // The server may stop reading (and close) before it has taken all of it.
    let _ = conn.write_all(request.as_bytes()).await;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut answer))
        .await
        .expect("answered at once")
        .unwrap_or(0);
    let status = String::from_utf8_lossy(&answer[..n]);
    assert!(
        status.starts_with("HTTP/1.1 431"),
        "a 200 KB head was read whole: {:?}",
        status.lines().next()
    );
    // An ordinary client on the next connection is unaffected.
    served_within("127.0.0.1", addr(&proxy), Duration::from_secs(2)).await;
}

/// The read buffer's bound holds heads, not bodies: a 4 MB body sent chunked with no
/// `Content-Length` is read whole, and requests pipelined behind it on the same connection are
/// answered in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_chunked_body_and_pipelined_requests_pass_the_head_bound() {
    let env = Env::start_without_security(bulky_seed()).await;
    let c = bulky_grant(&env).await;
    let proxy = start_proxy_with(&env, "prod-search", TTL, ServerConfig::default()).await;
    let mut conn = TcpStream::connect(addr(&proxy)).await.unwrap();
    let auth = basic(&c);
    // JSON allows any amount of whitespace: a valid search body far larger than the bound.
    let body = format!(r#"{{"size":0{}}}"#, " ".repeat(4 * 1024 * 1024));
    let mut wire = format!(
        "POST /logs-bulky/_search HTTP/1.1\r\nhost: proxy\r\nauthorization: {auth}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(100_000) {
        wire.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend(chunk);
        wire.extend(b"\r\n");
    }
    wire.extend(b"0\r\n\r\n");
    wire.extend(get("/logs-bulky/_search?size=0", Some(&auth)).as_bytes());
    wire.extend(
        get("/", None)
            .replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    );
    let (mut rd, mut wr) = conn.split();
    let (sent, answers) = tokio::join!(wr.write_all(&wire), async {
        let mut all = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut all))
            .await
            .expect("answered")
            .map(|_| all)
    });
    sent.unwrap();
    let answers = String::from_utf8_lossy(&answers.unwrap()).to_string();
    let statuses: Vec<&str> = answers
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 401 Unauthorized"
        ],
        "{}",
        &answers[..answers.len().min(2000)]
    );
}

/// Framing a proxy and a cluster could read two ways (RFC 9112 §6.3, request smuggling): each
/// shape is refused, or read one way with the connection closed behind it, so nothing queued
/// after it on the connection is ever answered. The proxy re-frames what it forwards (its own
/// `Content-Length`, an allowlist of headers), so no framing header reaches the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_framing_is_refused_or_read_one_way() {
    let (_env, c, proxy) = with_a_grant(ServerConfig::default()).await;
    let auth = basic(&c);
    let head = |framing: &str| {
        format!(
            "POST /logs-2026.11/_search HTTP/1.1\r\nhost: p\r\nauthorization: {auth}\r\n\
             content-type: application/json\r\n{framing}\r\n"
        )
    };
    let body = r#"{"size":0}"#;
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    // Unauthenticated: if it were answered, the connection had been kept after the ambiguity.
    let smuggled = "GET /secrets/_search HTTP/1.1\r\nhost: p\r\n\r\n";
    let cases = [
        (
            "TE then CL",
            format!(
                "{}{chunked}{smuggled}",
                head("content-length: 4\r\ntransfer-encoding: chunked\r\n")
            ),
            "200",
        ),
        (
            "CL then TE",
            format!(
                "{}{chunked}{smuggled}",
                head("transfer-encoding: chunked\r\ncontent-length: 4\r\n")
            ),
            "200",
        ),
        (
            "two lengths",
            format!(
                "{}{body}{smuggled}",
                head("content-length: 10\r\ncontent-length: 4\r\n")
            ),
            "400",
        ),
        (
            "unknown coding",
            format!(
                "{}{body}{smuggled}",
                head("transfer-encoding: xchunked\r\n")
            ),
            "400",
        ),
        (
            "HTTP/1.0 chunked",
            format!(
                "{}{chunked}{smuggled}",
                head("transfer-encoding: chunked\r\n").replace("HTTP/1.1", "HTTP/1.0")
            ),
            "400",
        ),
        (
            "obs-fold",
            format!(
                "{}{body}{smuggled}",
                head("content-length: 10\r\nx-a: b\r\n c\r\n")
            ),
            "400",
        ),
        (
            "space before colon",
            format!("{}{body}{smuggled}", head("content-length : 10\r\n")),
            "400",
        ),
    ];
    for (name, wire, status) in cases {
        let mut conn = TcpStream::connect(addr(&proxy)).await.unwrap();
        let _ = conn.write_all(wire.as_bytes()).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut out)).await;
        let out = String::from_utf8_lossy(&out);
        let statuses: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
            .map(|l| &l[..3])
            .collect();
        assert_eq!(statuses, [status], "{name}: {out}");
    }
}

/// A search of `logs-2026.11` whose body is `len` bytes (a valid body padded with whitespace),
/// as the request head and the body apart.
fn padded_search(auth: &str, len: usize) -> (String, Vec<u8>) {
    let head = format!(
        "POST /logs-2026.11/_search HTTP/1.1\r\nhost: p\r\nauthorization: {auth}\r\n\
         content-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    );
    let mut body = b"{\"size\":0".to_vec();
    body.resize(len - 1, b' ');
    body.push(b'}');
    (head, body)
}

/// The status of the answer on `conn`.
async fn status_of(conn: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    out.lines().next().unwrap_or_default().to_string()
}

/// Bodies are held until answered, each up to 16 MiB: without a shared bound, an authenticated
/// client with many connections (each trickling a body just inside the body timeout) holds
/// 16 MiB times the connection cap. Past the bound a body is a 503 at once, and the budget
/// comes back when the body holding it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_held_at_once_are_bounded_across_connections() {
    let (_env, c, proxy) = with_a_grant(ServerConfig {
        max_buffered_body_bytes: 2_621_440,
        ..Default::default()
    })
    .await;
    let auth = basic(&c);
    // A: 1.2 MB of a 1.5 MB body arrives; its buffer (2 MiB by doubling) is held.
    let (head, body) = padded_search(&auth, 1_500_000);
    let mut a = TcpStream::connect(addr(&proxy)).await.unwrap();
    a.write_all(head.as_bytes()).await.unwrap();
    a.write_all(&body[..1_200_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B: a 1 MB body would need 1 MiB more than is left.
    let (b_head, b_body) = padded_search(&auth, 1_000_000);
    let mut b = TcpStream::connect(addr(&proxy)).await.unwrap();
    b.write_all(b_head.as_bytes()).await.unwrap();
    let _ = b.write_all(&b_body).await;
    assert_eq!(status_of(&mut b).await, "HTTP/1.1 503 Service Unavailable");
    // A finishes and is served; then B's retry fits.
    a.write_all(&body[1_200_000..]).await.unwrap();
    assert_eq!(status_of(&mut a).await, "HTTP/1.1 200 OK");
    let mut retry = TcpStream::connect(addr(&proxy)).await.unwrap();
    retry.write_all(b_head.as_bytes()).await.unwrap();
    retry.write_all(&b_body).await.unwrap();
    assert_eq!(status_of(&mut retry).await, "HTTP/1.1 200 OK");
}

/// The Lambda front end streams: an answer of about 16 MB (over a buffered response's 6 MB,
/// which used to be refused with a 502) arrives whole, and its audit line counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_front_end_streams_answers_larger_than_a_buffered_response() {
    let env = Env::start_without_security(bulky_seed()).await;
    let c = bulky_grant(&env).await;
    let (proxy, audit) = build_proxy(&env, "prod-search", TTL).await;
    let mut ev: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event("proxy/search.json")).unwrap();
    ev.raw_path = Some("/logs-bulky/_search".into());
    ev.raw_query_string = Some("size=16".into());
    ev.headers
        .insert("authorization", basic(&c).parse().unwrap());
    let (status, body) = lambda_answer(&proxy, ev).await;
    assert_eq!(status, 200);
    assert!(body.len() > 16 * 1024 * 1024, "{} bytes", body.len());
    let hits: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(hits["hits"]["hits"].as_array().unwrap().len(), 16);
    let line: Value = serde_json::from_str(&audit.0.lock().unwrap()[0]).unwrap();
    assert_eq!(line["bytes"].as_u64(), Some(body.len() as u64));
}
