//! The proxy's authorization engine: what an Elasticsearch REST request does ([`classify`]) and
//! whether a grant allows it, with wildcards narrowed to what the grant may see ([`authorize`]).
//!
//! Modelled on Elasticsearch security's `RBACEngine` and `IndicesAndAliasesResolver`: the same
//! action names, the same privilege-to-action mapping, the same wildcard narrowing and the same
//! 403 `security_exception` text, so clients behave as against a secured cluster.

mod authorize;
mod body;
mod classify;
mod expr;
mod index_admin;
mod privilege;
mod refusal;

pub use authorize::{
    AUTO_CREATE, AliasInfo, Allowed, CatalogError, Decision, Denial, Grant, GrantEntry, GrantError,
    IndexCatalog, ResolvedTarget, authorize,
};
pub use classify::{Expand, MAX_BODY_BYTES, Origin, Request, Target, classify};
pub use expr::{ExprError, IndexExpr};
pub use refusal::{Refusal, RefusalCode};
