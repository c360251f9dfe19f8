//! Conformance suite: one embedded emulator per test on 127.0.0.1:0, driven over HTTP.
//! A single test binary (modules under `conformance/`) keeps link time down.

#[path = "conformance/support.rs"]
mod support;

#[path = "conformance/auth.rs"]
mod auth;
#[path = "conformance/control.rs"]
mod control;
#[path = "conformance/deployments.rs"]
mod deployments;
#[path = "conformance/keys.rs"]
mod keys;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/organizations.rs"]
mod organizations;
#[path = "conformance/role_assignments.rs"]
mod role_assignments;
