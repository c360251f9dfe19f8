//! The authorizing proxy for Elasticsearch clusters without security (issue 20).
//!
//! [`authz`] is the authorization engine (a pure function of request, grant and the cluster's
//! names). [`serve`] is the proxy built on it: credentials, the catalog, forwarding, audit
//! lines. [`server`] and [`lambda`] are its two front ends; [`config`] builds it from the
//! environment.
#![forbid(unsafe_code)]

pub mod authz;
pub mod config;
pub mod lambda;
pub mod serve;
pub mod server;
pub mod text;
