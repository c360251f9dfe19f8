//! Who changes integrations and flows. The HTTP API and CloudFormation custom resources reach
//! the same handlers through this one type, so both get the same checks, audit and refusals.

use shared::api::{ApiError, Caller};

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
