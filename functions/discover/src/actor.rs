//! Who changes integrations and flows. The HTTP API and CloudFormation custom resources reach
//! the same handlers through this one type, so both get the same checks, audit and refusals.

use shared::api::{ApiError, Caller};

/// The code of [`Actor::require_owner`]'s refusal.
pub(crate) const NOT_MANAGED_BY_STACK: &str = "not_managed_by_stack";

pub(crate) enum Actor<'a> {
    /// A caller of the HTTP API, identified by the token the JWT authorizer verified.
    Api(&'a Caller),
    /// A CloudFormation stack's custom resource. Its rights are those of whoever may invoke the
    /// discover function directly: the template grants `lambda:InvokeFunction` on it to no
    /// principal, so only IAM identities given it by their own policies (stack deployers, who
    /// are elastic-jit administrators by that grant) reach this.
    Stack {
        stack_id: &'a str,
        logical_id: &'a str,
    },
}

impl Actor<'_> {
    pub(crate) fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Self::Api(caller) => caller.require_admin(),
            Self::Stack { .. } => Ok(()),
        }
    }

    /// The owner recorded on what this actor creates: a custom resource's own id, so that only
    /// it may change or delete it later; nobody in particular for the API.
    pub(crate) fn owner(&self) -> Option<String> {
        match self {
            Self::Api(_) => None,
            Self::Stack { .. } => Some(self.name()),
        }
    }

    /// A custom resource changes and deletes only what it created (`owner`): an integration or
    /// flow of the same name made through the API, by another stack, or by another resource of
    /// its own stack is refused with 409 `not_managed_by_stack`, so a stack never takes over
    /// nor deletes what someone else still declares. Administrators through the API may change
    /// anything, as before (the owner stays).
    pub(crate) fn require_owner(
        &self,
        owner: Option<&str>,
        noun: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        match self {
            Self::Api(_) => Ok(()),
            Self::Stack { .. } if owner == self.owner().as_deref() => Ok(()),
            Self::Stack { .. } => Err(ApiError::new(
                409,
                NOT_MANAGED_BY_STACK,
                format!(
                    "{noun} {name:?} exists and is not this resource's (it was made {}); choose \
                     another Name, or delete it first",
                    if owner.is_some() {
                        "by another CloudFormation resource"
                    } else {
                        "through the API"
                    }
                ),
            )),
        }
    }

    /// The actor recorded in audit events.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Api(caller) => caller.actor(),
            Self::Stack {
                stack_id,
                logical_id,
            } => format!("cloudformation:{stack_id}/{logical_id}"),
        }
    }
}
