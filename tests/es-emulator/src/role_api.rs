//! The role APIs (`/_security/role…`).

use serde_json::{Map, Value, json};

use crate::authz::require_cluster;
use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, action_validation, illegal_argument};
use crate::roles::{
    RESERVED_ROLE_NAMES, is_reserved_role, parse_role, reserved_role, role_name_error,
};

const A_PUT: &str = "cluster:admin/xpack/security/role/put";
const A_GET: &str = "cluster:admin/xpack/security/role/get";
const A_DELETE: &str = "cluster:admin/xpack/security/role/delete";

pub fn put_role(ctx: &mut Ctx, name: &str) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    let body = Value::Object(ctx.req.json_object()?);
    let rd = parse_role(name, &body, false)?;
    let mut errors = Vec::new();
    if let Some(e) = role_name_error(name, false) {
        errors.push(e);
    }
    errors.extend(rd.validation_errors());
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }
    require_cluster(ctx.principal, A_PUT)?;
    rd.check_role_queries()?;
    // `NativeRolesStore.putRole`: a role restricting documents or fields needs the licence.
    if rd.uses_document_security() && !ctx.state.license.allows_document_security() {
        return Err(crate::license::dls_compliance_exception());
    }
    let created = ctx.state.roles.insert(name.to_string(), rd).is_none();
    Ok(ApiResponse::ok(json!({"role": {"created": created}})))
}

pub fn get_roles(ctx: &mut Ctx, names: Option<&str>) -> ApiResult {
    require_cluster(ctx.principal, A_GET)?;
    let mut out = Map::new();
    match names {
        None => {
            for r in RESERVED_ROLE_NAMES {
                if let Some(rd) = reserved_role(r) {
                    out.insert(r.to_string(), rd.to_json());
                }
            }
            for (n, rd) in &ctx.state.roles {
                out.insert(n.clone(), rd.to_json());
            }
            Ok(ApiResponse::ok(Value::Object(out)))
        }
        Some(list) => {
            for n in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if let Some(rd) = ctx.state.role(n) {
                    out.insert(n.to_string(), rd.to_json());
                }
            }
            let status = if out.is_empty() { 404 } else { 200 };
            Ok(ApiResponse::new(status, Value::Object(out)))
        }
    }
}

pub fn delete_role(ctx: &mut Ctx, name: &str) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    require_cluster(ctx.principal, A_DELETE)?;
    if is_reserved_role(name) {
        return Err(illegal_argument(&format!(
            "role [{name}] is reserved and cannot be deleted"
        )));
    }
    let found = ctx.state.roles.remove(name).is_some();
    Ok(ApiResponse::new(
        if found { 200 } else { 404 },
        json!({"found": found}),
    ))
}
