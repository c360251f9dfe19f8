//! The library handle: start, shutdown, drop, and seed errors.

use std::time::Duration;

use cloud_emulator::{CloudConfig, RunningCloud, Seed};

use crate::support::{ORG, OWNER_KEY};

async fn refuses_connections(addr: std::net::SocketAddr) -> bool {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let cloud = RunningCloud::start(
        CloudConfig::new(ORG, OWNER_KEY),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("starts");
    let addr = cloud.addr();
    assert_eq!(cloud.url(), format!("http://{addr}"));
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    cloud.shutdown().await;
    assert!(refuses_connections(addr).await);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let cloud = RunningCloud::start(
        CloudConfig::new(ORG, OWNER_KEY),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("starts");
    let addr = cloud.addr();
    drop(cloud);
    assert!(refuses_connections(addr).await);
}

#[tokio::test]
async fn a_contradictory_seed_is_refused() {
    let seed =
        Seed::from_json(r#"{"api_keys": [{"key": "k", "user_id": "ghost"}]}"#).expect("parses");
    let config = CloudConfig::new(ORG, OWNER_KEY).with_seed(seed);
    let error = RunningCloud::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .err()
        .expect("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("ghost"));
    assert!(
        Seed::from_json(r#"{"deployment": []}"#).is_err(),
        "unknown fields are typos"
    );
}
