//! Secrets Manager behind a narrow trait. Values live in [`SecretValue`], whose `Debug` and
//! `Display` never show the value; reads are cached in-process for a short time.
//!
//! The cache is written here rather than taken from `aws_secretsmanager_caching`: that crate
//! builds its own client from `aws-config`/`aws-sdk-secretsmanager` with default features,
//! which pulls in a second, legacy TLS stack, and it caches by secret id only, while rotation
//! must read specific version stages.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// A secret's plaintext. Cloning is cheap enough; printing is impossible by accident.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The only way to the plaintext: callers must name the exposure.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Parse a JSON secret into `T` without the value leaking into the error text.
    pub fn parse_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, SecretsError> {
        serde_json::from_str(self.expose()).map_err(|e| SecretsError::Malformed {
            reason: format!(
                "not the expected JSON shape ({:?} at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Errors never carry a secret's value, only its id and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {id} was not found (or has no version in stage {stage})")]
    NotFound { id: String, stage: String },
    #[error("access to secret {id} was denied")]
    AccessDenied { id: String },
    #[error("secret {id} already exists")]
    AlreadyExists { id: String },
    #[error("secret {id} has no string value")]
    NotAString { id: String },
    #[error("secret value is malformed: {reason}")]
    Malformed { reason: String },
    #[error("Secrets Manager call {op} failed: {code}")]
    Backend { op: &'static str, code: String },
    /// `id` looks like an ARN but is not the complete ARN of the secret Secrets Manager found
    /// for it: a partial ARN (without the `-XXXXXX` suffix) of a secret whose name merely
    /// extends the one the ARN seems to carry. The value is not used.
    #[error(
        "secret {id} is not the complete ARN of a secret (Secrets Manager resolved it as a \
         partial ARN of another secret)"
    )]
    NotExactArn { id: String },
}

impl SecretsError {
    /// Worth retrying: throttling or a service-side fault, not a missing or forbidden secret.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Backend { code, .. }
            if code.contains("Throttl") || code.contains("InternalService") || code == "dispatch")
    }
}

/// The result of asking Secrets Manager to rotate a secret now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationStart {
    /// Rotation started; `version_id` is the token the steps will carry.
    Started { version_id: String },
    /// The secret has no rotation Lambda configured.
    NotConfigured,
    /// Secrets Manager refused (e.g. a previous rotation is still in progress).
    Rejected { reason: String },
}

/// One version of a secret, as `ListSecretVersionIds` reports it (deprecated ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub id: String,
    pub stages: Vec<String>,
    /// Seconds since the epoch; orders versions newest first.
    pub created: i64,
}

/// What rotation needs from a secret's description.
#[derive(Debug, Clone, Default)]
pub struct SecretDescription {
    pub arn: String,
    pub name: String,
    pub rotation_enabled: bool,
    pub versions_to_stages: HashMap<String, Vec<String>>,
}

/// The narrow seam the functions depend on.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Read the version in `stage` (always explicit: `AWSCURRENT` unless rotating).
    async fn get(&self, id: &str, stage: &str) -> Result<SecretValue, SecretsError>;
    /// Create a secret and return its ARN.
    async fn create(
        &self,
        name: &str,
        value: &SecretValue,
        description: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, SecretsError>;
    /// Write a new version. With a token the write is idempotent; `stages` defaults to AWSCURRENT.
    async fn put(
        &self,
        id: &str,
        value: &SecretValue,
        token: Option<&str>,
        stages: &[&str],
    ) -> Result<String, SecretsError>;
    /// Delete (with `force`, immediately; otherwise with the default recovery window).
    /// A secret that is already gone counts as deleted.
    async fn delete(&self, id: &str, force: bool) -> Result<(), SecretsError>;
    async fn describe(&self, id: &str) -> Result<SecretDescription, SecretsError>;
    /// Move `stage` to `to_version`, removing it from `from_version`.
    async fn move_stage(
        &self,
        id: &str,
        stage: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<(), SecretsError>;

    /// Read one version by id, which must carry `stage` (rotation reads AWSPENDING this way).
    /// Never cached: rotation must see what is stored now.
    async fn get_version(
        &self,
        id: &str,
        version_id: &str,
        stage: &str,
    ) -> Result<SecretValue, SecretsError> {
        let _ = (version_id, stage);
        Err(unsupported("GetSecretValue", id))
    }

    /// Remove `stage` from `from_version` without moving it anywhere (e.g. AWSPENDING once
    /// a rotation has been promoted).
    async fn remove_stage(
        &self,
        id: &str,
        stage: &str,
        from_version: &str,
    ) -> Result<(), SecretsError> {
        let _ = (stage, from_version);
        Err(unsupported("UpdateSecretVersionStage", id))
    }

    /// The rotation Lambda configured on the secret, if any (`RotationLambdaARN`).
    async fn rotation_lambda(&self, id: &str) -> Result<Option<String>, SecretsError> {
        Err(unsupported("DescribeSecret", id))
    }

    /// Start a rotation now (`RotateSecret` with `RotateImmediately`), through the rotation
    /// Lambda already configured on the secret. A secret without one is not rotated.
    async fn start_rotation(&self, id: &str) -> Result<RotationStart, SecretsError> {
        Err(unsupported("RotateSecret", id))
    }

    /// Read one version by id whatever its stages, deprecated ones included (rotation looks
    /// for the credential an abandoned rotation left on the target). Never cached.
    async fn read_version(&self, id: &str, version_id: &str) -> Result<SecretValue, SecretsError> {
        let _ = version_id;
        Err(unsupported("GetSecretValue", id))
    }

    /// Every version of the secret, deprecated ones (without a stage) included.
    async fn versions(&self, id: &str) -> Result<Vec<SecretVersion>, SecretsError> {
        Err(unsupported("ListSecretVersionIds", id))
    }

    /// Forget any cached value of the secret: the target rejected it, so the next read must
    /// see what is stored now (a rotation may have moved the stages since it was cached).
    fn invalidate(&self, id: &str) {
        let _ = id;
    }
}

/// What a store that does not implement an optional call answers.
fn unsupported(op: &'static str, _id: &str) -> SecretsError {
    SecretsError::Backend {
        op,
        code: "NotSupportedByThisStore".into(),
    }
}

/// Secrets Manager with a per-process cache keyed by (secret, stage).
pub struct SecretsManager {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<(String, String), (Instant, SecretValue)>>,
}

impl SecretsManager {
    pub fn new(client: Client) -> Self {
        Self::with_ttl(client, DEFAULT_CACHE_TTL)
    }

    pub fn with_ttl(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &str, stage: &str) -> Option<SecretValue> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&(id.to_string(), stage.to_string()))
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Any write may change what any stage points at, so forget the whole secret.
    fn forget(&self, id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _), _| k != id);
    }
}

fn backend<E: ProvideErrorMetadata>(op: &'static str, id: &str, err: &E) -> SecretsError {
    let code = err.code().unwrap_or("dispatch").to_string();
    match code.as_str() {
        "ResourceNotFoundException" => SecretsError::NotFound {
            id: id.to_string(),
            stage: String::new(),
        },
        "AccessDeniedException" => SecretsError::AccessDenied { id: id.to_string() },
        "ResourceExistsException" => SecretsError::AlreadyExists { id: id.to_string() },
        _ => SecretsError::Backend { op, code },
    }
}

#[async_trait]
impl SecretStore for SecretsManager {
    async fn get(&self, id: &str, stage: &str) -> Result<SecretValue, SecretsError> {
        if let Some(v) = self.cached(id, stage) {
            return Ok(v);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| match backend("GetSecretValue", id, &e) {
                SecretsError::NotFound { id, .. } => SecretsError::NotFound {
                    id,
                    stage: stage.to_string(),
                },
                other => other,
            })?;
        // Secrets Manager also resolves partial ARNs, so `…:secret:conn/prod-search` (another
        // secret's partial ARN) passes for secret `conn/prod` with the suffix `search`: only
        // the ARN Secrets Manager answers with says which secret was read.
        if id.starts_with("arn:") && out.arn() != Some(id) {
            return Err(SecretsError::NotExactArn { id: id.to_string() });
        }
        let value = SecretValue::new(
            out.secret_string()
                .ok_or_else(|| SecretsError::NotAString { id: id.to_string() })?,
        );
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(
            (id.to_string(), stage.to_string()),
            (Instant::now(), value.clone()),
        );
        Ok(value)
    }

    async fn create(
        &self,
        name: &str,
        value: &SecretValue,
        description: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, SecretsError> {
        let mut req = self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(value.expose());
        for (k, v) in tags {
            req = req.tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build(),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| backend("CreateSecret", name, &e))?;
        out.arn().map(str::to_string).ok_or(SecretsError::Backend {
            op: "CreateSecret",
            code: "missing ARN in response".into(),
        })
    }

    async fn put(
        &self,
        id: &str,
        value: &SecretValue,
        token: Option<&str>,
        stages: &[&str],
    ) -> Result<String, SecretsError> {
        let mut req = self
            .client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value.expose());
        if let Some(t) = token {
            req = req.client_request_token(t);
        }
        for s in stages {
            req = req.version_stages(*s);
        }
        let out = req
            .send()
            .await
            .map_err(|e| backend("PutSecretValue", id, &e));
        self.forget(id);
        Ok(out?.version_id().unwrap_or_default().to_string())
    }

    async fn delete(&self, id: &str, force: bool) -> Result<(), SecretsError> {
        let mut req = self.client.delete_secret().secret_id(id);
        if force {
            req = req.force_delete_without_recovery(true);
        }
        let out = req.send().await;
        self.forget(id);
        match out {
            Ok(_) => Ok(()),
            Err(e) => match backend("DeleteSecret", id, &e) {
                SecretsError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn describe(&self, id: &str) -> Result<SecretDescription, SecretsError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| backend("DescribeSecret", id, &e))?;
        Ok(SecretDescription {
            arn: out.arn().unwrap_or_default().to_string(),
            name: out.name().unwrap_or_default().to_string(),
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            versions_to_stages: out.version_ids_to_stages().cloned().unwrap_or_default(),
        })
    }

    async fn move_stage(
        &self,
        id: &str,
        stage: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<(), SecretsError> {
        let mut req = self
            .client
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(stage)
            .move_to_version_id(to_version);
        if let Some(from) = from_version {
            req = req.remove_from_version_id(from);
        }
        let out = req.send().await;
        self.forget(id);
        out.map(|_| ())
            .map_err(|e| backend("UpdateSecretVersionStage", id, &e))
    }

    async fn get_version(
        &self,
        id: &str,
        version_id: &str,
        stage: &str,
    ) -> Result<SecretValue, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_id(version_id)
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| match backend("GetSecretValue", id, &e) {
                SecretsError::NotFound { id, .. } => SecretsError::NotFound {
                    id,
                    stage: stage.to_string(),
                },
                other => other,
            })?;
        out.secret_string()
            .map(SecretValue::new)
            .ok_or_else(|| SecretsError::NotAString { id: id.to_string() })
    }

    async fn remove_stage(
        &self,
        id: &str,
        stage: &str,
        from_version: &str,
    ) -> Result<(), SecretsError> {
        let out = self
            .client
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(stage)
            .remove_from_version_id(from_version)
            .send()
            .await;
        self.forget(id);
        out.map(|_| ())
            .map_err(|e| backend("UpdateSecretVersionStage", id, &e))
    }

    async fn rotation_lambda(&self, id: &str) -> Result<Option<String>, SecretsError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| backend("DescribeSecret", id, &e))?;
        Ok(out
            .rotation_lambda_arn()
            .filter(|a| !a.trim().is_empty())
            .map(str::to_string))
    }

    async fn read_version(&self, id: &str, version_id: &str) -> Result<SecretValue, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| backend("GetSecretValue", id, &e))?;
        out.secret_string()
            .map(SecretValue::new)
            .ok_or_else(|| SecretsError::NotAString { id: id.to_string() })
    }

    async fn versions(&self, id: &str) -> Result<Vec<SecretVersion>, SecretsError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_secret_version_ids()
                .secret_id(id)
                .include_deprecated(true)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| backend("ListSecretVersionIds", id, &e))?;
            for v in out.versions() {
                if let Some(vid) = v.version_id() {
                    all.push(SecretVersion {
                        id: vid.to_string(),
                        stages: v.version_stages().to_vec(),
                        created: v.created_date().map_or(0, |d| d.secs()),
                    });
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        all.sort_by_key(|v| std::cmp::Reverse(v.created));
        Ok(all)
    }

    fn invalidate(&self, id: &str) {
        self.forget(id);
    }

    /// Checks the configuration first: `RotateSecret` without a configured Lambda fails on AWS
    /// and, on some emulators, would stage an empty AWSCURRENT.
    async fn start_rotation(&self, id: &str) -> Result<RotationStart, SecretsError> {
        let Some(lambda) = self.rotation_lambda(id).await? else {
            return Ok(RotationStart::NotConfigured);
        };
        // Naming the configured Lambda again keeps the configuration as it is (some emulators
        // drop it when the parameter is omitted).
        let out = self
            .client
            .rotate_secret()
            .secret_id(id)
            .rotation_lambda_arn(lambda)
            .rotate_immediately(true)
            .send()
            .await;
        self.forget(id);
        match out {
            Ok(o) => Ok(RotationStart::Started {
                version_id: o.version_id().unwrap_or_default().to_string(),
            }),
            Err(e) if e.code() == Some("InvalidRequestException") => Ok(RotationStart::Rejected {
                reason: e
                    .message()
                    .unwrap_or("Secrets Manager refused to start a rotation")
                    .to_string(),
            }),
            Err(e) => Err(backend("RotateSecret", id, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_any_part_of_the_value() {
        let v = SecretValue::new("hunter2-very-secret");
        let shown = format!("{v:?} {v} {:?}", Some(v.clone()));
        for part in ["hunter2", "very", "secret-", "r2-v"] {
            assert!(!shown.contains(part), "{shown}");
        }
        assert!(shown.contains("REDACTED"));
        assert_eq!(v.expose(), "hunter2-very-secret");
    }

    #[test]
    fn malformed_json_errors_do_not_echo_the_value() {
        let v = SecretValue::new("{\"password\": \"p@ss-secret\"");
        let err = v.parse_json::<serde_json::Value>().unwrap_err().to_string();
        assert!(!err.contains("p@ss"), "{err}");
    }
}
