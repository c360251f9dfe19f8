//! Secrets Manager rotation, as the service drives a rotation Lambda: when a rotation is
//! requested (`RotateSecret`, or the rotate function's `POST /integrations/{name}/rotate`), moto
//! stages an `AWSPENDING` version for the request token but runs no function. For each secret
//! whose rotation Lambda is the one standing for the stack's rotate function, a version that is
//! `AWSPENDING` and not `AWSCURRENT` is a rotation in progress: the four steps are delivered in
//! order with that token (`{"Step","SecretId","ClientRequestToken"}`), stopping at the first
//! failure. After `finishSecret` succeeds, `AWSPENDING` is removed from the version, as Secrets
//! Manager does when a rotation completes. A failed rotation is retried on later polls, at most
//! [`MAX_ATTEMPTS`] times per token.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use chrono::Utc;
use serde_json::json;

use super::{Fired, FiredLog, Trigger};
use crate::invoke::Invoker;

pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Default)]
pub struct Rotations {
    attempts: HashMap<String, u32>,
}

impl Rotations {
    pub async fn tick(
        &mut self,
        sm: &Client,
        lambda_arn: &str,
        function: &str,
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) {
        let mut pending: Vec<(String, String)> = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = match sm.list_secrets().set_next_token(next.clone()).send().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_secretsmanager::error::DisplayErrorContext(e), "listing secrets");
                    return;
                }
            };
            for s in page.secret_list() {
                if s.rotation_lambda_arn() != Some(lambda_arn) {
                    continue;
                }
                let Some(arn) = s.arn() else { continue };
                for (version, stages) in s.secret_versions_to_stages().into_iter().flatten() {
                    let pending_only = stages.iter().any(|x| x == "AWSPENDING")
                        && !stages.iter().any(|x| x == "AWSCURRENT");
                    if pending_only {
                        pending.push((arn.to_string(), version.clone()));
                    }
                }
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        for (secret, token) in pending {
            let n = self.attempts.entry(token.clone()).or_default();
            if *n >= MAX_ATTEMPTS {
                continue;
            }
            *n += 1;
            let mut ok = true;
            for step in STEPS {
                let event = json!({
                    "Step": step,
                    "SecretId": secret,
                    "ClientRequestToken": token,
                });
                let outcome = invoker
                    .invoke(function, &event)
                    .await
                    .map_err(|e| e.to_string());
                ok = outcome.is_ok();
                log.push(Fired {
                    at: Utc::now(),
                    trigger: Trigger::Rotation {
                        secret: secret.clone(),
                        token: token.clone(),
                        step: step.into(),
                    },
                    function: function.into(),
                    outcome,
                });
                if !ok {
                    break;
                }
            }
            if ok {
                let cleared = sm
                    .update_secret_version_stage()
                    .secret_id(&secret)
                    .version_stage("AWSPENDING")
                    .remove_from_version_id(&token)
                    .send()
                    .await;
                if let Err(e) = cleared {
                    tracing::warn!(secret = %secret, error = %aws_sdk_secretsmanager::error::DisplayErrorContext(e), "clearing AWSPENDING after rotation");
                }
            }
        }
    }
}

/// Register a Lambda function in moto to stand for the rotate function, so `RotateSecret`
/// accepts it as a secret's rotation Lambda; returns its ARN. moto would run the function in
/// Docker (absent here) when a rotation starts: its Docker-less Lambda answers at once instead,
/// and this glue delivers the steps to the real function.
pub async fn register_rotation_lambda(
    http: &reqwest::Client,
    endpoint: &str,
    name: &str,
) -> Result<String, String> {
    // A zip archive holding one file, `bootstrap` (moto stores it; it never runs).
    const BOOTSTRAP_ZIP: &str = "UEsDBBQAAAAAAOIid12DFtyMAQAAAAEAAAAJAAAAYm9vdHN0cmFweFBLAQIUAxQAAAAAAOIid12DFtyMAQAAAAEAAAAJAAAAAAAAAAAAAACAAQAAAABib290c3RyYXBQSwUGAAAAAAEAAQA3AAAAKAAAAAAA";
    let auth = |service: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        )
    };
    let fail =
        |what: &str, e: String| format!("registering the rotation Lambda in moto ({what}): {e}");
    let _ = http
        .post(format!("{endpoint}/moto-api/config"))
        .json(&json!({"lambda": {"use_docker": false}}))
        .send()
        .await;
    let role = format!("{name}-role");
    let r = http
        .post(format!("{endpoint}/"))
        .header("Authorization", auth("iam"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={role}&AssumeRolePolicyDocument=%7B%7D"
        ))
        .send()
        .await
        .map_err(|e| fail("CreateRole", e.to_string()))?;
    let status = r.status();
    if !status.is_success() {
        return Err(fail("CreateRole", format!("{status}")));
    }
    let r = http
        .post(format!("{endpoint}/2015-03-31/functions"))
        .header("Authorization", auth("lambda"))
        .json(&json!({
            "FunctionName": name,
            "Runtime": "provided.al2023",
            "Role": format!("arn:aws:iam::123456789012:role/{role}"),
            "Handler": "bootstrap",
            "Code": {"ZipFile": BOOTSTRAP_ZIP},
        }))
        .send()
        .await
        .map_err(|e| fail("CreateFunction", e.to_string()))?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(fail("CreateFunction", format!("{status} {body}")));
    }
    body["FunctionArn"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| fail("CreateFunction", "no FunctionArn".into()))
}
