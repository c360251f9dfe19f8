//! Native and reserved users, and the user APIs (`/_security/user…`).

use serde_json::{Map, Value, json};

use crate::authz::{deny_cluster, require_cluster};
use crate::ctx::Ctx;
use crate::errors::{
    ApiResponse, ApiResult, action_validation, illegal_argument, parse_exception,
    validation_exception,
};
use crate::ids;
use crate::roles::role_name_error;
use crate::validation;

const A_PUT: &str = "cluster:admin/xpack/security/user/put";
const A_GET: &str = "cluster:admin/xpack/security/user/get";
const A_DELETE: &str = "cluster:admin/xpack/security/user/delete";
const A_SET_ENABLED: &str = "cluster:admin/xpack/security/user/set_enabled";
const A_CHANGE_PASSWORD: &str = "cluster:admin/xpack/security/user/change_password";

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub metadata: Map<String, Value>,
    pub enabled: bool,
    pub reserved: bool,
}

/// Built-in users and their roles. They exist without a password (so cannot log in)
/// until one is set, except `elastic`, whose password comes from the command line.
pub static RESERVED_USERS: &[(&str, &[&str])] = &[
    ("elastic", &["superuser"]),
    ("kibana", &["kibana_system"]),
    ("kibana_system", &["kibana_system"]),
    ("logstash_system", &["logstash_system"]),
    ("beats_system", &["beats_system"]),
    ("apm_system", &["apm_system"]),
    (
        "remote_monitoring_user",
        &["remote_monitoring_collector", "remote_monitoring_agent"],
    ),
];

/// Users internal to Elasticsearch that the API refuses to touch.
const INTERNAL_USERS: &[&str] = &[
    "_system",
    "_xpack",
    "_xpack_security",
    "_async_search",
    "_security_profile",
    "_storage",
    "_synonyms",
    "_data_stream_lifecycle",
];

pub fn is_reserved_user(name: &str) -> bool {
    RESERVED_USERS.iter().any(|(n, _)| *n == name)
}

fn is_internal_user(name: &str) -> bool {
    INTERNAL_USERS.contains(&name)
}

impl User {
    pub fn reserved(name: &str, roles: &[&str], password: Option<&str>) -> Self {
        User {
            username: name.to_string(),
            password_hash: password.map(ids::hash_password),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            full_name: None,
            email: None,
            metadata: Map::new(),
            enabled: true,
            reserved: true,
        }
    }

    pub fn metadata_json(&self) -> Map<String, Value> {
        let mut m = self.metadata.clone();
        if self.reserved {
            m.insert("_reserved".into(), json!(true));
            if self.username == "kibana" {
                m.insert("_deprecated".into(), json!(true));
                m.insert(
                    "_deprecated_reason".into(),
                    json!("Please use the [kibana_system] user instead."),
                );
            }
        }
        m
    }

    pub fn to_json(&self) -> Value {
        json!({
            "username": self.username,
            "roles": self.roles,
            "full_name": self.full_name,
            "email": self.email,
            "metadata": self.metadata_json(),
            "enabled": self.enabled,
        })
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn wrong_type(field: &str, expected: &str, v: &Value) -> ApiResponse {
    parse_exception(&format!(
        "expected field [{field}] to be of type {expected}, but found [{}] instead",
        json_type(v)
    ))
}

fn optional_string(field: &str, v: &Value) -> Result<Option<String>, ApiResponse> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(wrong_type(field, "string", v)),
    }
}

/// Password rules applied while parsing, before request validation.
fn check_password(password: &str) -> Result<(), ApiResponse> {
    if password.chars().count() < validation::MIN_PASSWORD_LENGTH {
        return Err(validation_exception(&validation::password_too_short()));
    }
    Ok(())
}

fn unsupported_hash() -> ApiResponse {
    illegal_argument(&format!(
        "The provided password hash is not a hash or it could not be resolved to a supported hash algorithm. The supported password hash algorithms are [{}]",
        ids::HASH_PREFIX
    ))
}

struct PutUserBody {
    password_hash: Option<String>,
    roles: Option<Vec<String>>,
    full_name: Option<String>,
    email: Option<String>,
    metadata: Option<Map<String, Value>>,
    enabled: bool,
}

fn parse_put_user(username: &str, body: &Map<String, Value>) -> Result<PutUserBody, ApiResponse> {
    let mut out = PutUserBody {
        password_hash: None,
        roles: None,
        full_name: None,
        email: None,
        metadata: None,
        enabled: true,
    };
    let mut password: Option<String> = None;
    let mut hash: Option<String> = None;
    for (k, v) in body {
        match k.as_str() {
            "username" => {
                let given = v
                    .as_str()
                    .ok_or_else(|| wrong_type("username", "string", v))?;
                if given != username {
                    return Err(illegal_argument(&format!(
                        "[username] in source does not match the username provided [{username}]"
                    )));
                }
            }
            "password" => {
                let p = v
                    .as_str()
                    .ok_or_else(|| wrong_type("password", "string", v))?;
                check_password(p)?;
                password = Some(p.to_string());
            }
            "password_hash" => {
                let h = v
                    .as_str()
                    .ok_or_else(|| wrong_type("password_hash", "string", v))?;
                if !ids::is_supported_hash(h) {
                    return Err(unsupported_hash());
                }
                hash = Some(h.to_string());
            }
            "roles" => {
                out.roles = Some(match v {
                    Value::String(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| wrong_type("roles", "string", i))
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(wrong_type("roles", "string", v)),
                })
            }
            "full_name" => out.full_name = optional_string("full_name", v)?,
            "email" => out.email = optional_string("email", v)?,
            "metadata" => match v {
                Value::Object(m) => out.metadata = Some(m.clone()),
                Value::Null => {}
                _ => return Err(wrong_type("metadata", "object", v)),
            },
            "enabled" => {
                out.enabled = v
                    .as_bool()
                    .ok_or_else(|| wrong_type("enabled", "boolean", v))?
            }
            other => {
                return Err(parse_exception(&format!(
                    "failed to parse add user request. unexpected field [{other}]"
                )));
            }
        }
    }
    if password.is_some() && hash.is_some() {
        return Err(validation_exception("password_hash has already been set"));
    }
    out.password_hash = password.as_deref().map(ids::hash_password).or(hash);
    Ok(out)
}

pub fn put_user(ctx: &mut Ctx, username: &str) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    let body = ctx.req.json_object()?;
    let parsed = parse_put_user(username, &body)?;

    let mut errors = Vec::new();
    if !validation::is_valid_name(username) {
        errors.push(validation::name_rule_message("User names"));
    }
    match &parsed.roles {
        None => errors.push("roles are missing".into()),
        Some(roles) => {
            for r in roles {
                if let Some(e) = role_name_error(r, true) {
                    errors.push(e);
                }
            }
        }
    }
    if parsed
        .metadata
        .as_ref()
        .is_some_and(|m| m.keys().any(|k| k.starts_with('_')))
    {
        errors.push("metadata keys may not start with [_]".into());
    }
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }

    require_cluster(ctx.principal, A_PUT)?;

    if is_reserved_user(username) {
        return Err(action_validation(&[format!(
            "user [{username}] is reserved and only the password can be changed"
        )]));
    }
    if is_internal_user(username) {
        return Err(action_validation(&[format!(
            "user [{username}] is internal"
        )]));
    }

    let roles = parsed.roles.unwrap_or_default();
    let metadata = parsed.metadata.unwrap_or_default();
    match ctx.state.users.get_mut(username) {
        Some(existing) => {
            if let Some(h) = parsed.password_hash {
                existing.password_hash = Some(h);
            }
            existing.roles = roles;
            existing.full_name = parsed.full_name;
            existing.email = parsed.email;
            existing.metadata = metadata;
            existing.enabled = parsed.enabled;
            Ok(ApiResponse::ok(json!({"created": false})))
        }
        None => {
            let Some(hash) = parsed.password_hash else {
                return Err(validation_exception(
                    "password must be specified unless you are updating an existing user",
                ));
            };
            ctx.state.users.insert(
                username.to_string(),
                User {
                    username: username.to_string(),
                    password_hash: Some(hash),
                    roles,
                    full_name: parsed.full_name,
                    email: parsed.email,
                    metadata,
                    enabled: parsed.enabled,
                    reserved: false,
                },
            );
            Ok(ApiResponse::ok(json!({"created": true})))
        }
    }
}

pub fn get_users(ctx: &mut Ctx, names: Option<&str>) -> ApiResult {
    ctx.req.allow_params(&["with_profile_uid"])?;
    require_cluster(ctx.principal, A_GET)?;
    let mut out = Map::new();
    match names {
        None => {
            for u in ctx.state.users.values() {
                out.insert(u.username.clone(), u.to_json());
            }
            Ok(ApiResponse::ok(Value::Object(out)))
        }
        Some(list) => {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if let Some(u) = ctx.state.users.get(name) {
                    out.insert(u.username.clone(), u.to_json());
                }
            }
            // Names were asked for and none exist: 404 with an empty object.
            let status = if out.is_empty() { 404 } else { 200 };
            Ok(ApiResponse::new(status, Value::Object(out)))
        }
    }
}

pub fn delete_user(ctx: &mut Ctx, username: &str) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    require_cluster(ctx.principal, A_DELETE)?;
    if is_reserved_user(username) {
        return Err(illegal_argument(&format!(
            "user [{username}] is reserved and cannot be deleted"
        )));
    }
    if is_internal_user(username) {
        return Err(illegal_argument(&format!("user [{username}] is internal")));
    }
    let found = ctx.state.users.remove(username).is_some();
    Ok(ApiResponse::new(
        if found { 200 } else { 404 },
        json!({"found": found}),
    ))
}

pub fn set_enabled(ctx: &mut Ctx, username: &str, enabled: bool) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    require_cluster(ctx.principal, A_SET_ENABLED)?;
    if is_internal_user(username) {
        return Err(illegal_argument(&format!("user [{username}] is internal")));
    }
    if username == ctx.principal.username {
        return Err(illegal_argument(
            "users may not update the enabled status of their own account",
        ));
    }
    match ctx.state.users.get_mut(username) {
        Some(u) => {
            u.enabled = enabled;
            Ok(ApiResponse::ok(json!({})))
        }
        None => Err(validation_exception(&format!(
            "only existing users can be {}",
            if enabled { "enabled" } else { "disabled" }
        ))),
    }
}

/// `username` is `None` for `/_security/user/_password` (the caller's own account).
pub fn change_password(ctx: &mut Ctx, username: Option<&str>) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    let body = ctx.req.json_object()?;
    let mut hash = None;
    let mut has_password = false;
    for (k, v) in &body {
        match k.as_str() {
            "password" => {
                let p = v
                    .as_str()
                    .ok_or_else(|| wrong_type("password", "string", v))?;
                check_password(p)?;
                hash = Some(ids::hash_password(p));
                has_password = true;
            }
            "password_hash" => {
                let h = v
                    .as_str()
                    .ok_or_else(|| wrong_type("password_hash", "string", v))?;
                if has_password {
                    return Err(validation_exception("password_hash has already been set"));
                }
                if !ids::is_supported_hash(h) {
                    return Err(unsupported_hash());
                }
                hash = Some(h.to_string());
            }
            other => {
                return Err(parse_exception(&format!(
                    "failed to parse change password request. unexpected field [{other}]"
                )));
            }
        }
    }
    let Some(hash) = hash else {
        return Err(action_validation(&["password is missing".into()]));
    };
    let target = username.unwrap_or(&ctx.principal.username).to_string();
    // Changing one's own password needs no privilege, but only for realm users.
    let same_user = target == ctx.principal.username && !ctx.principal.is_api_key();
    if !same_user && !ctx.principal.permission.cluster(A_CHANGE_PASSWORD) {
        return Err(deny_cluster(ctx.principal, A_CHANGE_PASSWORD));
    }
    if is_internal_user(&target) {
        return Err(illegal_argument(&format!("user [{target}] is internal")));
    }
    match ctx.state.users.get_mut(&target) {
        Some(u) => {
            u.password_hash = Some(hash);
            Ok(ApiResponse::ok(json!({})))
        }
        None => Err(validation_exception(
            "user must exist in order to change password",
        )),
    }
}
