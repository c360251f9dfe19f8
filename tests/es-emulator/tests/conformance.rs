//! Conformance suite: each module follows an Elasticsearch YAML REST test group or one
//! emulator feature. Every test runs its own emulator on a free port.

#[path = "conformance/common.rs"]
mod common;

#[path = "conformance/api_key.rs"]
mod api_key;
#[path = "conformance/applications.rs"]
mod applications;
#[path = "conformance/authenticate.rs"]
mod authenticate;
#[path = "conformance/authz.rs"]
mod authz;
#[path = "conformance/change_password.rs"]
mod change_password;
#[path = "conformance/control.rs"]
mod control;
#[path = "conformance/data.rs"]
mod data;
#[path = "conformance/discovery.rs"]
mod discovery;
#[path = "conformance/document_security.rs"]
mod document_security;
#[path = "conformance/media.rs"]
mod media;
#[path = "conformance/remote_indices.rs"]
mod remote_indices;
#[path = "conformance/roles.rs"]
mod roles;
#[path = "conformance/security_query.rs"]
mod security_query;
#[path = "conformance/users.rs"]
mod users;
