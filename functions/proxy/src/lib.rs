//! The authorizing proxy for Elasticsearch clusters without security (issue 20).
//!
//! Today this crate holds only the authorization engine ([`authz`]): a pure function of the
//! request, the grant and a snapshot of the cluster's names. The Lambda and server front ends,
//! credentials and audit lines are built on it later.
#![forbid(unsafe_code)]

pub mod authz;
