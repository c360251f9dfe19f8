//! Attacks on identity that need no target: each worked on the code the identity branches
//! merged.

use std::time::Duration;

use serde_json::json;
use shared::grants::{es_username, principal_name};
use shared::model::{Identity, Integration, secret_bound_to};
use shared::secrets::{AWSCURRENT, SecretStore, SecretValue, SecretsError, SecretsManager};

const ISS: &str = "https://idp.example.com";

fn person(sub: &str, email: &str) -> Identity {
    Identity {
        sub: sub.into(),
        issuer: Some(ISS.into()),
        email: Some(email.into()),
        email_verified: true,
        groups: vec![],
    }
}

fn cloud_integration() -> Integration {
    serde_json::from_value(json!({
        "name": "cloud", "version": 1,
        "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
        "spec": {"kind": "elastic_cloud", "organization_id": "org-1",
                 "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c-AbC123"}
    }))
    .expect("integration")
}

/// `\u{212A}` (KELVIN SIGN) lowercases to ASCII `k` under Unicode rules, so a verified
/// `\u{212A}ate@example.com` (another mailbox, another person) was mapped to kate's account
/// name: squatted first, kate was refused with 409 for good; on Elastic Cloud the roles the
/// squatter asked for went to kate's membership. Only ASCII letters may be folded: anything
/// else stays as it is and is refused as unsafe.
#[test]
fn an_email_that_folds_to_anothers_only_under_unicode_rules_is_not_their_account() {
    let kate = person("u-kate", "kate@example.com");
    let squatter = person("u-squatter", "\u{212A}ate@example.com");
    assert_eq!(
        es_username("ejit_", &kate).as_deref(),
        Ok("ejit_kate@example.com")
    );
    let theirs = es_username("ejit_", &squatter);
    assert!(
        theirs.is_err(),
        "{:?} named kate's Elasticsearch user",
        theirs
    );
    let cloud = cloud_integration();
    assert_eq!(
        principal_name(&cloud, &kate).as_deref(),
        Ok("kate@example.com")
    );
    let theirs = principal_name(&cloud, &squatter);
    assert!(
        theirs.is_err(),
        "{:?} named kate's Cloud membership",
        theirs
    );
    // They are not the same human either: no confusion in self-approval checks.
    assert!(!kate.may_be_same_human(&squatter));
}

/// The partial ARN of secret `<prefix>prod-search` passes the name binding of an integration
/// called `prod` (it reads as `<prefix>prod` plus the suffix `search`), and Secrets Manager
/// resolves it to prod-search's secret: the read must refuse it, whatever the binding said.
#[tokio::test]
async fn a_partial_arn_is_never_read_as_the_secret_it_seems_to_name() {
    let config = test_harness::aws_config().await;
    let sm = SecretsManager::with_ttl(
        aws_sdk_secretsmanager::Client::new(&config),
        Duration::from_secs(0),
    );
    let prefix = format!("{}/", test_harness::unique_name("connectors"));
    let full = sm
        .create(
            &format!("{prefix}prod-search"),
            &SecretValue::new(r#"{"username":"connector","password":"prod-search-pw"}"#),
            "test",
            &[],
        )
        .await
        .unwrap();
    let partial = &full[..full.len() - 7];
    assert!(secret_bound_to(partial, "prod", &prefix), "the premise");
    match sm.get(partial, AWSCURRENT).await {
        Err(SecretsError::NotExactArn { id }) => assert_eq!(id, partial),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("prod-search's secret was read through a partial ARN"),
    }
    // The complete ARN still reads.
    assert!(sm.get(&full, AWSCURRENT).await.is_ok());
}
