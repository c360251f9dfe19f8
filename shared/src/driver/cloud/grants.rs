//! Provisioning and revoking grants in an Elastic Cloud organization.
//!
//! A member (found by email) gets each missing assignment added one at a time, so a failure
//! half-way reports exactly what was added; an assignment the member already holds is left
//! unrecorded, so revoke never takes away access that predates the grant. Anyone else gets one
//! invitation carrying all of the grant's assignments.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{CloudClient, error_code, segment};
use super::roles::{self, Assignment, Held};
use crate::driver::{DriverError, GrantPlan, ProvisionFailure, Provisioned, RevokePlan};
use crate::model::{ResolvedPermission, TargetObject};

const SECONDS_PER_DAY: i64 = 86_400;

/// An invitation's `expires_in`: whole days, rounded up, at least one. Every public client sends
/// days (`"7d"` elastic/terraform-provider-ec `ec/ecresource/organizationresource/create.go`,
/// `"3d"` elastic/cloud-sdk-go's organization tests and Elastic's docs); nothing shows seconds
/// being accepted. The invitation may so outlive the grant by up to a day: the grant's revoke
/// deletes it at the grant's end.
pub fn invitation_expires_in(seconds: i64) -> String {
    let days = (seconds.max(1) + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY;
    format!("{days}d")
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub user_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role_assignments: Held,
}

#[derive(Deserialize)]
struct Members {
    members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
struct Invitation {
    token: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    accepted_at: Option<Value>,
}

#[derive(Deserialize)]
struct Invitations {
    invitations: Vec<Invitation>,
}

fn members_path(organization_id: &str) -> String {
    format!("/organizations/{}/members", segment(organization_id))
}

fn invitations_path(organization_id: &str) -> String {
    format!("/organizations/{}/invitations", segment(organization_id))
}

fn role_assignments_path(user_id: &str) -> String {
    format!("/users/{}/role_assignments", segment(user_id))
}

pub async fn members(
    cloud: &CloudClient,
    organization_id: &str,
) -> Result<Vec<Member>, DriverError> {
    let path = members_path(organization_id);
    let body = cloud.json(Method::GET, &path, None, true).await?;
    serde_json::from_value::<Members>(body)
        .map(|m| m.members)
        .map_err(|e| cloud.protocol("GET /organizations/{id}/members", e.to_string()))
}

fn member_by_email<'a>(members: &'a [Member], email: &str) -> Option<&'a Member> {
    members.iter().find(|m| {
        m.email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
    })
}

/// The grant's assignments, one per resource, checked against the role's scope.
fn assignments(plan: &GrantPlan, organization_id: &str) -> Result<Vec<Assignment>, DriverError> {
    let ResolvedPermission::CloudRole { role_id, scope } = &plan.permission else {
        return Err(DriverError::Refused {
            reason: "an Elastic Cloud grant needs an Elastic Cloud role".into(),
        });
    };
    if plan.resources.is_empty() {
        return Err(DriverError::Refused {
            reason: "an Elastic Cloud grant needs at least one resource".into(),
        });
    }
    let mut out: Vec<Assignment> = Vec::new();
    for resource in &plan.resources {
        if *scope == crate::model::CloudRoleScope::Organization && resource != organization_id {
            return Err(DriverError::Refused {
                reason: format!(
                    "the organization role [{role_id}] applies only to the organization \
                     [{organization_id}], not to [{resource}]"
                ),
            });
        }
        let a = Assignment::new(role_id, *scope, resource);
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

pub async fn provision(
    cloud: &CloudClient,
    organization_id: &str,
    plan: &GrantPlan,
) -> Result<Provisioned, ProvisionFailure> {
    let fail = |error: DriverError, created: &[TargetObject]| ProvisionFailure {
        error,
        created: created.to_vec(),
    };
    let wanted = assignments(plan, organization_id).map_err(|e| fail(e, &[]))?;
    let email = plan
        .requester
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            fail(
                DriverError::Refused {
                    reason: "Elastic Cloud access is given to the organization member with the \
                             requester's email, and the requester's identity carries no email \
                             claim; configure the identity provider to send one"
                        .into(),
                },
                &[],
            )
        })?;

    // At most twice: someone who joins between the members read and the invitation is then
    // found as a member.
    for attempt in 0..2 {
        let current = members(cloud, organization_id)
            .await
            .map_err(|e| fail(e, &[]))?;
        if let Some(member) = member_by_email(&current, email) {
            return add_to_member(cloud, organization_id, member, &wanted)
                .await
                .map(|objects| Provisioned {
                    objects,
                    ..Provisioned::default()
                })
                .map_err(|(error, created)| fail(error, &created));
        }
        match invite(cloud, organization_id, email, &wanted, plan).await {
            Ok(objects) => {
                return Ok(Provisioned {
                    objects,
                    ..Provisioned::default()
                });
            }
            Err(e)
                if attempt == 0
                    && error_code(&e) == Some("organization.user_organization_already_belongs") => {
            }
            Err(e) => return Err(fail(e, &[])),
        }
    }
    Err(fail(
        DriverError::Refused {
            reason: "the requester is neither found as a member nor invitable".into(),
        },
        &[],
    ))
}

async fn add_to_member(
    cloud: &CloudClient,
    organization_id: &str,
    member: &Member,
    wanted: &[Assignment],
) -> Result<Vec<TargetObject>, (DriverError, Vec<TargetObject>)> {
    let mut created = Vec::new();
    let path = role_assignments_path(&member.user_id);
    for a in wanted {
        if member.role_assignments.holds(a, organization_id) {
            tracing::info!(user_id = %member.user_id, role_id = %a.role_id, resource = ?a.resource_id(), "role already held; left unrecorded");
            continue;
        }
        // Adding is idempotent on Elastic Cloud, so a retried add cannot duplicate anything.
        if let Err(e) = cloud
            .json(Method::POST, &path, Some(&a.body(organization_id)), true)
            .await
        {
            return Err((e, created));
        }
        tracing::info!(user_id = %member.user_id, role_id = %a.role_id, resource = ?a.resource_id(), "role assignment added");
        created.push(a.recorded_assignment(&member.user_id));
    }
    Ok(created)
}

async fn invite(
    cloud: &CloudClient,
    organization_id: &str,
    email: &str,
    wanted: &[Assignment],
    plan: &GrantPlan,
) -> Result<Vec<TargetObject>, DriverError> {
    let body = json!({
        "emails": [email],
        "expires_in": invitation_expires_in((plan.ends_at - plan.now).num_seconds()),
        "role_assignments": roles::body(wanted, organization_id),
    });
    // Not idempotent: a retried create after a lost answer fails on the pending invitation.
    let answer = cloud
        .json(
            Method::POST,
            &invitations_path(organization_id),
            Some(&body),
            false,
        )
        .await?;
    let created: Invitations = serde_json::from_value(answer)
        .map_err(|e| cloud.protocol("POST /organizations/{id}/invitations", e.to_string()))?;
    let invitation = created
        .invitations
        .iter()
        .find(|i| {
            i.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .or_else(|| created.invitations.first())
        .ok_or_else(|| {
            cloud.protocol(
                "POST /organizations/{id}/invitations",
                "the answer lists no invitation",
            )
        })?;
    tracing::info!(roles = wanted.len(), "invitation created for a non-member");
    Ok(wanted
        .iter()
        .map(|a| a.recorded_invitation(&invitation.token, email))
        .collect())
}

/// Remove what the plan names. Assignments go with a `DELETE` carrying exactly the recorded
/// assignment; invitations are deleted while pending, and once accepted the carried roles are
/// taken off the member the invitee became.
pub async fn revoke(
    cloud: &CloudClient,
    organization_id: &str,
    plan: &RevokePlan,
) -> Result<(), DriverError> {
    for o in &plan.objects {
        if let TargetObject::CloudRoleAssignment {
            user_id,
            role_id,
            resource_id,
        } = o
        {
            let a = Assignment::from_recorded(role_id, resource_id.as_deref());
            remove_assignment(cloud, organization_id, user_id, &a).await?;
        }
    }

    let invited: Vec<(&str, &str, Assignment)> = plan
        .objects
        .iter()
        .filter_map(|o| match o {
            TargetObject::CloudInvitation {
                token,
                email,
                role_id,
                resource_id,
            } => Some((
                token.as_str(),
                email.as_str(),
                Assignment::from_recorded(role_id, resource_id.as_deref()),
            )),
            _ => None,
        })
        .collect();
    if invited.is_empty() {
        return Ok(());
    }

    let listed = cloud
        .json(Method::GET, &invitations_path(organization_id), None, true)
        .await?;
    let listed: Invitations = serde_json::from_value(listed)
        .map_err(|e| cloud.protocol("GET /organizations/{id}/invitations", e.to_string()))?;
    let mut tokens: Vec<&str> = invited.iter().map(|(t, _, _)| *t).collect();
    tokens.sort_unstable();
    tokens.dedup();
    for token in tokens {
        let unaccepted = listed
            .invitations
            .iter()
            .any(|i| i.token == token && i.accepted_at.as_ref().is_none_or(Value::is_null));
        if unaccepted {
            let path = format!("{}/{}", invitations_path(organization_id), segment(token));
            match cloud.json(Method::DELETE, &path, None, true).await {
                Ok(_) => tracing::info!("pending invitation deleted"),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }

    // Read after the deletes: an invitation accepted just before its delete still made its
    // invitee a member holding the carried roles.
    let current = members(cloud, organization_id).await?;
    for (_, email, a) in &invited {
        if let Some(member) = member_by_email(&current, email)
            && member.role_assignments.holds(a, organization_id)
        {
            remove_assignment(cloud, organization_id, &member.user_id, a).await?;
        }
    }
    Ok(())
}

async fn remove_assignment(
    cloud: &CloudClient,
    organization_id: &str,
    user_id: &str,
    a: &Assignment,
) -> Result<(), DriverError> {
    // Removing is a no-op for an assignment that is already absent, so it is safe to retry.
    match cloud
        .json(
            Method::DELETE,
            &role_assignments_path(user_id),
            Some(&a.body(organization_id)),
            true,
        )
        .await
    {
        Ok(_) => {
            tracing::info!(user_id, role_id = %a.role_id, resource = ?a.resource_id(), "role assignment removed");
            Ok(())
        }
        // The user left the organization (or never finished joining): leaving takes every
        // assignment with it, so nothing of the grant is left.
        Err(e)
            if e.is_not_found()
                || error_code(&e) == Some("role_assignments.invalid_target_user_id") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::invitation_expires_in;

    #[test]
    fn invitations_expire_in_whole_days_rounded_up() {
        assert_eq!(invitation_expires_in(3600), "1d");
        assert_eq!(invitation_expires_in(86_400), "1d");
        assert_eq!(invitation_expires_in(86_401), "2d");
        assert_eq!(invitation_expires_in(7 * 86_400), "7d");
        assert_eq!(invitation_expires_in(0), "1d", "a grant about to end");
        assert_eq!(invitation_expires_in(-5), "1d");
    }
}
