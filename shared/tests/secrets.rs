//! The Secrets Manager seam against moto's server (or `AWS_ENDPOINT_URL`).

use std::time::Duration;

use shared::secrets::{
    AWSCURRENT, AWSPENDING, SecretStore, SecretValue, SecretsError, SecretsManager,
};

async fn manager(ttl: Duration) -> SecretsManager {
    let config = test_harness::aws_config().await;
    SecretsManager::with_ttl(aws_sdk_secretsmanager::Client::new(&config), ttl)
}

#[tokio::test]
async fn create_read_write_stage_and_delete() {
    let sm = manager(Duration::from_secs(0)).await;
    let name = test_harness::unique_name("connector");
    let arn = sm
        .create(
            &name,
            &SecretValue::new(r#"{"username":"c","password":"one-1"}"#),
            "test",
            &[("managed-by", "elastic-jit")],
        )
        .await
        .unwrap();
    assert!(arn.starts_with("arn:aws:secretsmanager:"));
    assert_eq!(
        sm.get(&arn, AWSCURRENT).await.unwrap().expose(),
        r#"{"username":"c","password":"one-1"}"#
    );

    // A pending version, written idempotently under a token, is readable by its stage only.
    let token = uuid_like();
    let v2 = sm
        .put(&arn, &SecretValue::new("two"), Some(&token), &[AWSPENDING])
        .await
        .unwrap();
    let again = sm
        .put(&arn, &SecretValue::new("two"), Some(&token), &[AWSPENDING])
        .await
        .unwrap();
    assert_eq!(v2, again);
    assert_eq!(sm.get(&arn, AWSPENDING).await.unwrap().expose(), "two");
    assert_eq!(
        sm.get(&arn, AWSCURRENT).await.unwrap().expose(),
        r#"{"username":"c","password":"one-1"}"#
    );

    let described = sm.describe(&arn).await.unwrap();
    let current = described
        .versions_to_stages
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == AWSCURRENT))
        .map(|(v, _)| v.clone())
        .unwrap();
    sm.move_stage(&arn, AWSCURRENT, &v2, Some(&current))
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "two");

    sm.delete(&arn, true).await.unwrap();
    assert!(matches!(
        sm.get(&arn, AWSCURRENT).await,
        Err(SecretsError::NotFound { .. })
    ));
    sm.delete(&arn, true)
        .await
        .expect("deleting what is gone is done");
}

#[tokio::test]
async fn reads_are_cached_briefly_and_writes_invalidate() {
    let sm = manager(Duration::from_secs(300)).await;
    let config = test_harness::aws_config().await;
    let raw = aws_sdk_secretsmanager::Client::new(&config);
    let name = test_harness::unique_name("cached");
    let arn = sm
        .create(&name, &SecretValue::new("v1"), "test", &[])
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v1");
    // Changed behind the cache's back: the cached value is served until the TTL passes.
    raw.put_secret_value()
        .secret_id(&arn)
        .secret_string("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v1");
    // Our own write forgets the cached value at once.
    sm.put(&arn, &SecretValue::new("v3"), None, &[])
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v3");
}

#[tokio::test]
async fn a_rejected_value_is_forgotten_and_stageless_versions_stay_readable() {
    let sm = manager(Duration::from_secs(300)).await;
    let config = test_harness::aws_config().await;
    let raw = aws_sdk_secretsmanager::Client::new(&config);
    let arn = sm
        .create(
            &test_harness::unique_name("window"),
            &SecretValue::new("v1"),
            "test",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v1");
    // Another process rotates: the cache still serves v1 until the target rejects it.
    raw.put_secret_value()
        .secret_id(&arn)
        .secret_string("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v1");
    sm.invalidate(&arn);
    assert_eq!(sm.get(&arn, AWSCURRENT).await.unwrap().expose(), "v2");

    // A version whose AWSPENDING was cleared keeps its value, found by listing and by id.
    let token = uuid_like();
    sm.put(
        &arn,
        &SecretValue::new("abandoned"),
        Some(&token),
        &[AWSPENDING],
    )
    .await
    .unwrap();
    sm.remove_stage(&arn, AWSPENDING, &token).await.unwrap();
    let versions = sm.versions(&arn).await.unwrap();
    let stageless = versions.iter().find(|v| v.id == token).expect("listed");
    assert!(stageless.stages.is_empty(), "{versions:?}");
    assert!(
        versions
            .iter()
            .any(|v| v.stages.iter().any(|s| s == AWSCURRENT))
    );
    assert_eq!(
        sm.read_version(&arn, &token).await.unwrap().expose(),
        "abandoned"
    );
}

#[tokio::test]
async fn missing_secrets_and_bad_json_give_typed_errors_without_values() {
    let sm = manager(Duration::from_secs(30)).await;
    let err = sm
        .get(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf",
            AWSCURRENT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
    let name = test_harness::unique_name("badjson");
    let arn = sm
        .create(
            &name,
            &SecretValue::new("{\"password\": \"s3cr3t-value"),
            "t",
            &[],
        )
        .await
        .unwrap();
    let v = sm.get(&arn, AWSCURRENT).await.unwrap();
    let err = v.parse_json::<serde_json::Value>().unwrap_err();
    assert!(!format!("{err} {err:?} {v:?}").contains("s3cr3t"));
}

fn uuid_like() -> String {
    // Secrets Manager tokens are 32–64 characters.
    format!(
        "{}{}",
        test_harness::unique_name("tok"),
        "0123456789abcdef0123456789"
    )
}
