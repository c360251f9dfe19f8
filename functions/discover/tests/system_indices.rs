//! Discovery against system and hidden indices as a real cluster reports them: `.tasks` and
//! Kibana's indices are `[hidden, open, system]` (the emulator marks them so, as Elasticsearch's
//! `SystemIndices` does), and discovery leaves them out unless a pattern names them.

use chrono::Utc;
use es_emulator::{EmulatorConfig, RunningEmulator, Seed};
use serde_json::json;
use shared::driver::Driver;
use shared::driver::elasticsearch::EsDriver;
use shared::driver::http::HttpClients;
use shared::model::{DiscoverySelection, Integration, IntegrationKind, IntegrationSpec, TlsConfig};
use shared::secrets::SecretValue;

async fn emulator() -> RunningEmulator {
    let seed: Seed = serde_json::from_value(json!({
        "indices": [
            {"name": "logs-1"},
            {"name": ".tasks"},
            {"name": ".kibana_9.1.0_001"},
            {"name": "internal-hidden", "hidden": true}
        ],
        "users": [{"username": "connector", "password": "connector-pw", "roles": ["jit_connector"]}],
        "roles": {"jit_connector": {"cluster": ["monitor", "manage_security"],
                                    "indices": [{"names": ["*"], "privileges": ["monitor", "view_index_metadata"]}]}}
    }))
    .expect("seed");
    RunningEmulator::start(
        EmulatorConfig::new("elastic-pw").with_seed(seed),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator")
}

fn integration(url: &str, include: &[&str]) -> Integration {
    Integration {
        name: "prod-search".into(),
        spec: IntegrationSpec {
            kind: IntegrationKind::Elasticsearch,
            url: Some(url.into()),
            allow_insecure_http: true,
            notifications: None,
            authorization: Default::default(),
            proxy_url: None,
            kibana_url: None,
            organization_id: None,
            secret_arn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:es".into(),
            tls: TlsConfig::default(),
            credential_rotation_days: None,
            user_cleanup_days: None,
            api_key_max_lifetime_days: None,
            custom_access_details: None,
            integration_owners: vec![],
            resource_owner: None,
            discovery: DiscoverySelection {
                include: include.iter().map(|s| s.to_string()).collect(),
                exclude: vec![],
            },
            user_prefix: None,
            custom_permissions: vec![],
        },
        version: 1,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        last_discovery_at: None,
        last_discovery_error: None,
        pending_retires: vec![],
        managed_by: None,
    }
}

async fn discovered(es: &RunningEmulator, include: &[&str]) -> Vec<String> {
    let secret =
        SecretValue::new(json!({"username": "connector", "password": "connector-pw"}).to_string());
    let driver = EsDriver::new(
        &HttpClients::new().expect("clients"),
        &integration(&es.url(), include),
        &secret,
    )
    .expect("driver");
    let mut names: Vec<String> = driver
        .discover()
        .await
        .expect("discovers")
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn system_and_hidden_indices_are_left_out_unless_named() {
    let es = emulator().await;
    // What the cluster says about them: hidden and system, as on a real cluster.
    let resolved: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/_resolve/index/*?expand_wildcards=all",
            es.url()
        ))
        .basic_auth("elastic", Some("elastic-pw"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let attributes = |name: &str| {
        resolved["indices"]
            .as_array()
            .expect("indices")
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["attributes"].clone())
    };
    assert_eq!(
        attributes(".tasks"),
        Some(json!(["hidden", "open", "system"]))
    );
    assert_eq!(
        attributes(".kibana_9.1.0_001"),
        Some(json!(["hidden", "open", "system"]))
    );

    assert_eq!(discovered(&es, &["*"]).await, ["logs-1"]);
    assert_eq!(
        discovered(&es, &[".kibana*", "internal-hidden"]).await,
        [".kibana_9.1.0_001", "internal-hidden"],
        "named explicitly, they are selected"
    );
}
