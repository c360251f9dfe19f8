//! Provisioning and revoking grants on Elasticsearch.
//!
//! `user` mode: one role per grant, then the account with its full role list (known from
//! state, so no read-modify-write): two requests. `api_key` mode adds one request: an API key
//! granted for the account, limited to the same role descriptor and expiring at the grant's
//! end, so Elasticsearch expires it even if every revoke fails.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::EsClient;
use crate::driver::{
    DriverError, GrantPlan, IssuedCredential, MANAGED_BY, ProvisionFailure, Provisioned, RevokePlan,
};
use crate::grant_scope::EsRole;
use crate::model::{Identity, TargetObject};

/// The role a grant creates: `<prefix>grant_<id>`.
pub fn role_name(prefix: &str, grant_id: &str) -> String {
    format!("{prefix}grant_{grant_id}")
}

pub(crate) fn path_segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn role_descriptor(plan: &GrantPlan) -> Result<Value, DriverError> {
    // The same role approvers were shown (`GET /requests/{id}`'s `grant_allows`). Its shape
    // is put-role's (specification `security/put_role`: `IndicesPrivileges` with `query` and
    // `field_security`, `RemoteIndicesPrivileges` for `remote_indices`; a templated query as
    // in Elasticsearch's "Templating a role query"); an API key's `role_descriptors` take the
    // same descriptor.
    let role = EsRole::for_permission(&plan.resources, &plan.permission).ok_or_else(|| {
        DriverError::Refused {
            reason: "an Elasticsearch grant needs index privileges".into(),
        }
    })?;
    if let Some(template) = role
        .indices
        .iter()
        .find_map(|i| i.security.query.as_ref()?.get("template"))
    {
        check_template_values(plan, &template.to_string())?;
    }
    let mut role = serde_json::to_value(role).map_err(|e| DriverError::Refused {
        reason: format!("the role descriptor could not be built: {e}"),
    })?;
    role["metadata"] = metadata(plan);
    Ok(role)
}

/// Elasticsearch substitutes the account's attributes into a templated query. Only values that
/// cannot change the query's meaning, whatever the template engine escapes, are let through:
/// an identity provider's subject or email with quotes or braces is refused rather than trusted.
fn check_template_values(plan: &GrantPlan, template: &str) -> Result<(), DriverError> {
    let reason = template_values_problem(
        template,
        &plan.principal.name,
        &plan.requester.sub,
        plan.requester.email.as_deref(),
    );
    reason.map_or(Ok(()), |reason| Err(DriverError::Refused { reason }))
}

fn template_values_problem(
    template: &str,
    username: &str,
    sub: &str,
    email: Option<&str>,
) -> Option<String> {
    // Mustache renders a missing value as "": `{"term": {"owner": ""}}` would show the
    // documents nobody owns (or whatever an empty value marks) instead of the requester's.
    if email.is_none() && template.contains("{{_user.email}}") {
        return Some(
            "the permission's document query uses the requester's email, and the requester \
             has no verified email"
                .into(),
        );
    }
    let mut values = vec![username, sub];
    values.extend(email);
    if values.into_iter().all(substitutes_safely) {
        None
    } else {
        Some(
            "the permission's document query uses the requester's attributes, and the \
             requester's username, subject or email holds characters that cannot be \
             substituted safely"
                .into(),
        )
    }
}

/// Letters, digits and the punctuation of usernames, subjects and addresses: nothing that
/// could close a JSON string or open a Mustache tag.
fn substitutes_safely(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@._+-|:".contains(c))
}

fn metadata(plan: &GrantPlan) -> Value {
    json!({
        "managed_by": MANAGED_BY,
        "grant_id": plan.grant_id,
        "integration": plan.integration,
        "requester": plan.requester.sub,
    })
}

/// A user document without a password: a put without one keeps the stored hash but replaces
/// every other field, so each put carries all of them.
pub(crate) fn user_body(
    owner: &Identity,
    integration: &str,
    roles: &[String],
    enabled: bool,
) -> Value {
    let mut user = json!({
        "roles": roles,
        "enabled": enabled,
        "full_name": owner.display(),
        "metadata": {"managed_by": MANAGED_BY, "integration": integration, "requester": owner.sub},
    });
    if let Some(email) = &owner.email {
        user["email"] = json!(email);
    }
    user
}

/// A new account must not take over an existing user that is not this integration's: its
/// PUT would reset the password, replace the roles and hand both to the requester. Such a user
/// is another integration's account on the same cluster (same user prefix, same email), one
/// elastic-jit never made, or another requester's whose record is gone. A user this
/// integration made for this requester (left by a provision that was cut short) is taken back.
async fn ensure_not_taken(es: &EsClient, plan: &GrantPlan) -> Result<(), DriverError> {
    let name = &plan.principal.name;
    let path = format!("/_security/user/{}", path_segment(name));
    let users = match es.json(Method::GET, &path, None, true).await {
        Ok(users) => users,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(user) = users.get(name.as_str()) else {
        return Ok(());
    };
    let meta = &user["metadata"];
    if meta["managed_by"].as_str() == Some(MANAGED_BY)
        && meta["integration"].as_str() == Some(plan.integration.as_str())
        && meta["requester"].as_str() == Some(plan.requester.sub.as_str())
    {
        return Ok(());
    }
    Err(DriverError::Refused {
        reason: format!(
            "account_exists_on_target: an Elasticsearch user named [{name}] already exists and \
             is not this requester's account of integration [{}] (another integration on the \
             same cluster with the same user_prefix, a user elastic-jit did not create, or \
             another requester's); give each integration of a cluster its own user_prefix",
            plan.integration
        ),
    })
}

pub async fn provision(
    es: &EsClient,
    prefix: &str,
    plan: &GrantPlan,
) -> Result<Provisioned, ProvisionFailure> {
    let mut created = Vec::new();
    let fail = |error: DriverError, created: &Vec<TargetObject>| ProvisionFailure {
        error,
        created: created.clone(),
    };
    let role = role_name(prefix, &plan.grant_id);
    let descriptor = role_descriptor(plan).map_err(|e| fail(e, &created))?;
    if !plan.principal.exists {
        ensure_not_taken(es, plan)
            .await
            .map_err(|e| fail(e, &created))?;
    }
    es.json(
        Method::PUT,
        &format!("/_security/role/{}", path_segment(&role)),
        Some(&descriptor),
        true,
    )
    .await
    .map_err(|e| fail(e, &created))?;
    created.push(TargetObject::EsRole { name: role.clone() });

    let p = &plan.principal;
    let mut user = user_body(&plan.requester, &plan.integration, &p.roles_after, true);
    if !p.exists {
        // Only a new account gets a password here: re-putting one would replace it.
        let password = p.password.as_ref().ok_or_else(|| {
            fail(
                DriverError::Refused {
                    reason: "a new account needs a password".into(),
                },
                &created,
            )
        })?;
        user["password"] = json!(password.expose());
    }
    let put_user = es
        .raw(
            Method::PUT,
            &format!("/_security/user/{}", path_segment(&p.name)),
            Some(&user),
            true,
        )
        .await
        .map_err(|e| fail(e, &created))?;
    if !put_user.status.is_success() {
        return Err(fail(es.error(&put_user), &created));
    }
    if put_user.body["created"].as_bool() == Some(true) {
        created.push(TargetObject::EsUser {
            username: p.name.clone(),
        });
    }

    let mut credential = None;
    if plan.mode == crate::model::CredentialMode::ApiKey {
        let password = p.password.as_ref().ok_or_else(|| {
            fail(
                DriverError::Refused {
                    reason: "an api_key grant needs the account's password".into(),
                },
                &created,
            )
        })?;
        let key = grant_key(es, plan, &p.name, password, &role, &descriptor)
            .await
            .map_err(|e| fail(e, &created))?;
        created.push(TargetObject::EsApiKey {
            id: key.id.clone(),
            name: role.clone(),
        });
        credential = Some(key);
    }
    Ok(Provisioned {
        objects: created,
        credential,
        proxy: None,
    })
}

/// `POST /_security/api_key/grant` for the account: a key limited to `descriptor` that
/// Elasticsearch itself expires at the grant's end. Not idempotent: a retry mints another key,
/// which is why each key's name is recorded before it is asked for.
async fn grant_key(
    es: &EsClient,
    plan: &GrantPlan,
    account: &str,
    password: &crate::secrets::SecretValue,
    name: &str,
    descriptor: &Value,
) -> Result<IssuedCredential, DriverError> {
    let seconds = (plan.ends_at - plan.now).num_seconds().max(60);
    let body = json!({
        "grant_type": "password",
        "username": account,
        "password": password.expose(),
        "api_key": {
            "name": name,
            "expiration": format!("{seconds}s"),
            "role_descriptors": {"grant": descriptor},
            "metadata": metadata(plan),
        }
    });
    let key = es
        .json(Method::POST, "/_security/api_key/grant", Some(&body), false)
        .await?;
    let (Some(id), Some(encoded)) = (key["id"].as_str(), key["encoded"].as_str()) else {
        return Err(DriverError::Protocol {
            target: es.target().into(),
            operation: "POST /_security/api_key/grant".into(),
            reason: "the response has no id or encoded key".into(),
        });
    };
    Ok(IssuedCredential {
        id: id.to_string(),
        encoded: crate::secrets::SecretValue::new(encoded),
    })
}

/// Invalidate every live key named exactly `name` (`manage_security` may invalidate any key).
async fn invalidate_named(es: &EsClient, name: &str) -> Result<(), DriverError> {
    es.json(
        Method::DELETE,
        "/_security/api_key",
        Some(&json!({ "name": name })),
        true,
    )
    .await
    .map(|_| ())
}

/// A further key for an extended grant. Elasticsearch lets only a key's owner move its
/// expiration (`PUT /_security/api_key/{id}`), and the account's grant role has no
/// `manage_own_api_key`, so the connector grants a new key for the account instead; the old
/// one keeps working until its own expiration, so access is never interrupted. A key of the
/// same name from an attempt cut short is invalidated first, so at most one stays live.
pub async fn renew_api_key(
    es: &EsClient,
    plan: &GrantPlan,
    key_name: &str,
) -> Result<IssuedCredential, DriverError> {
    let password = plan
        .principal
        .password
        .as_ref()
        .ok_or_else(|| DriverError::Refused {
            reason: "an api_key grant needs the account's password".into(),
        })?;
    let descriptor = role_descriptor(plan)?;
    invalidate_named(es, key_name).await?;
    grant_key(
        es,
        plan,
        &plan.principal.name,
        password,
        key_name,
        &descriptor,
    )
    .await
}

/// Invalidate keys first (removing a role does not revoke a key), then take the role off the
/// account (disabling it when no grant is left), then delete the role.
pub async fn revoke(es: &EsClient, plan: &RevokePlan) -> Result<(), DriverError> {
    let keys: Vec<&str> = plan
        .objects
        .iter()
        .filter_map(|o| match o {
            TargetObject::EsApiKey { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    if !keys.is_empty() {
        es.json(
            Method::DELETE,
            "/_security/api_key",
            Some(&json!({ "ids": keys })),
            true,
        )
        .await?;
    }
    for name in &plan.key_names {
        invalidate_named(es, name).await?;
    }
    if let Some(p) = &plan.principal {
        let body = user_body(&p.owner, &p.integration, &p.roles_after, !p.disable);
        let resp = es
            .raw(
                Method::PUT,
                &format!("/_security/user/{}", path_segment(&p.name)),
                Some(&body),
                true,
            )
            .await?;
        // 400 "password must be specified unless you are updating an existing user": the
        // account is already gone, so nothing of the grant is left on it.
        let gone = resp.status.as_u16() == 400
            && resp.body["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("password must be specified"));
        if !resp.status.is_success() && !gone {
            return Err(es.error(&resp));
        }
    }
    for o in &plan.objects {
        if let TargetObject::EsRole { name } = o {
            match es
                .json(
                    Method::DELETE,
                    &format!("/_security/role/{}", path_segment(name)),
                    None,
                    true,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod template_value_tests {
    use super::{substitutes_safely, template_values_problem};

    #[test]
    fn a_query_on_the_email_needs_the_requester_to_have_one() {
        let on_email = r#"{"source":{"term":{"owner":"{{_user.email}}"}}}"#;
        let on_name = r#"{"source":{"term":{"owner":"{{_user.username}}"}}}"#;
        assert!(template_values_problem(on_email, "ejit_dev", "s-dev", None).is_some());
        assert!(
            template_values_problem(on_email, "ejit_dev", "s-dev", Some("dev@example.com"))
                .is_none()
        );
        assert!(template_values_problem(on_name, "ejit_dev", "s-dev", None).is_none());
        assert!(template_values_problem(on_name, "ejit_dev", "s\"dev", None).is_some());
    }

    #[test]
    fn only_values_that_cannot_change_a_query_are_substituted() {
        for ok in [
            "ejit_dev_example_com",
            "auth0|8a7b6c5d",
            "dev+jit@example.com",
        ] {
            assert!(substitutes_safely(ok), "{ok}");
        }
        for bad in ["a\"b", "x}}", "{{y", "a\\b", "a b", "é@example.com", "a\nb"] {
            assert!(!substitutes_safely(bad), "{bad:?}");
        }
    }
}
