//! Contract tests: `infra/template.yaml` and `infra/openapi.yaml` checked against what the code
//! defines (the table schema, the request and spec types, the error body) and serves (the route
//! tables the functions dispatch on). One test binary; each module is one concern.

mod common;
mod errors;
mod functions;
mod iam;
mod routes;
mod schemas;
mod table;
mod views;
