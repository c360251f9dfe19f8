//! API keys: create, grant, get, query and invalidate, and authentication with them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::authn::{self, ApiKeyInfo, Principal, Realm};
use crate::authz::{KeyScope, Permission, api_key_scope, deny_cluster, require_cluster};
use crate::ctx::Ctx;
use crate::errors::{
    ApiResponse, ApiResult, action_validation, illegal_argument, parse_exception, unauthorized,
    x_content_parse,
};
use crate::glob;
use crate::ids;
use crate::request::Req;
use crate::roles::{RoleDescriptor, parse_role};
use crate::security_query::PagedQuery;

const A_CREATE: &str = "cluster:admin/xpack/security/api_key/create";
const A_GRANT: &str = "cluster:admin/xpack/security/api_key/grant";
const A_GET: &str = "cluster:admin/xpack/security/api_key/get";
const A_INVALIDATE: &str = "cluster:admin/xpack/security/api_key/invalidate";
const A_QUERY: &str = "cluster:admin/xpack/security/api_key/query";

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub creation: i64,
    pub expiration: Option<i64>,
    pub invalidated: bool,
    pub invalidation: Option<i64>,
    pub username: String,
    pub realm: String,
    pub realm_type: String,
    pub metadata: Map<String, Value>,
    pub role_descriptors: Vec<(String, RoleDescriptor)>,
    pub limited_by: Vec<(String, RoleDescriptor)>,
    pub owner_full_name: Option<String>,
    pub owner_email: Option<String>,
    pub owner_metadata: Map<String, Value>,
}

fn descriptors_json(rds: &[(String, RoleDescriptor)]) -> Value {
    let mut o = Map::new();
    for (n, rd) in rds {
        o.insert(n.clone(), rd.to_json());
    }
    Value::Object(o)
}

impl ApiKey {
    pub fn principal(&self) -> Principal {
        let limited: Vec<RoleDescriptor> = self.limited_by.iter().map(|(_, r)| r.clone()).collect();
        let own: Vec<RoleDescriptor> = self
            .role_descriptors
            .iter()
            .map(|(_, r)| r.clone())
            .collect();
        // An empty descriptor map means "the owner's privileges": only the snapshot applies.
        let layers = if own.is_empty() {
            vec![limited]
        } else {
            vec![own, limited]
        };
        let snapshot = if self.role_descriptors.is_empty() {
            self.limited_by.clone()
        } else {
            self.role_descriptors.clone()
        };
        Principal {
            username: self.username.clone(),
            roles: Vec::new(),
            full_name: self.owner_full_name.clone(),
            email: self.owner_email.clone(),
            metadata: self.owner_metadata.clone(),
            realm: Realm {
                name: authn::API_KEY_REALM.into(),
                kind: authn::API_KEY_REALM.into(),
            },
            api_key: Some(ApiKeyInfo {
                id: self.id.clone(),
                name: self.name.clone(),
                owner_realm: self.realm.clone(),
            }),
            effective_roles: Vec::new(),
            missing_roles: Vec::new(),
            permission: Permission { layers },
            role_snapshot: snapshot,
        }
    }

    pub fn to_json(&self, with_limited_by: bool) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("name".into(), json!(self.name));
        o.insert("type".into(), json!("rest"));
        o.insert("creation".into(), json!(self.creation));
        if let Some(e) = self.expiration {
            o.insert("expiration".into(), json!(e));
        }
        o.insert("invalidated".into(), json!(self.invalidated));
        if let Some(i) = self.invalidation {
            o.insert("invalidation".into(), json!(i));
        }
        o.insert("username".into(), json!(self.username));
        o.insert("realm".into(), json!(self.realm));
        o.insert("realm_type".into(), json!(self.realm_type));
        o.insert("metadata".into(), Value::Object(self.metadata.clone()));
        o.insert(
            "role_descriptors".into(),
            descriptors_json(&self.role_descriptors),
        );
        if with_limited_by {
            o.insert(
                "limited_by".into(),
                json!([descriptors_json(&self.limited_by)]),
            );
        }
        Value::Object(o)
    }

    fn is_active(&self, now: i64) -> bool {
        !self.invalidated && self.expiration.is_none_or(|e| e > now)
    }

    fn owned_by(&self, p: &Principal) -> bool {
        self.username == p.username && self.realm == p.owner_realm()
    }

    /// The fields `_query/api_key` can search, as a JSON document.
    fn query_doc(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": "rest",
            "creation": self.creation,
            "expiration": self.expiration,
            "invalidated": self.invalidated,
            "invalidation": self.invalidation,
            "username": self.username,
            "realm_name": self.realm,
            "metadata": self.metadata,
        })
    }
}

/// Elasticsearch `TimeValue.parseTimeValue` (elastic/elasticsearch
/// `libs/core/src/main/java/org/elasticsearch/core/TimeValue.java`): units are matched on the
/// lower-cased value, except `m` (minutes), which is case-sensitive because `M` would mean
/// months; `-1` and `0` need no unit; fractions and other negatives are refused with their own
/// messages.
pub fn parse_duration_millis(field: &str, value: &str) -> Result<i64, ApiResponse> {
    let normalized = value.to_lowercase();
    let normalized = normalized.trim();
    let unit = |suffix: &str, factor: f64| -> Result<i64, ApiResponse> {
        let number = normalized[..normalized.len() - suffix.len()].trim();
        match number.parse::<i64>() {
            Ok(n) if n < -1 => Err(parse_exception(&format!(
                "failed to parse setting [{field}] with value [{value}] as a time value: negative durations are not supported"
            ))),
            Ok(n) => Ok((n as f64 * factor) as i64),
            Err(_) if number.parse::<f64>().is_ok() => Err(parse_exception(&format!(
                "failed to parse [{value}], fractional time values are not supported"
            ))),
            Err(_) => Err(parse_exception(&format!("failed to parse [{value}]"))),
        }
    };
    if normalized.ends_with("nanos") {
        unit("nanos", 1e-6)
    } else if normalized.ends_with("micros") {
        unit("micros", 1e-3)
    } else if normalized.ends_with("ms") {
        unit("ms", 1.0)
    } else if normalized.ends_with('s') {
        unit("s", 1000.0)
    } else if value.ends_with('m') {
        unit("m", 60_000.0)
    } else if normalized.ends_with('h') {
        unit("h", 3_600_000.0)
    } else if normalized.ends_with('d') {
        unit("d", 86_400_000.0)
    } else if normalized.trim_start_matches('-').trim_start_matches('0') == "1"
        && normalized.starts_with('-')
    {
        Ok(-1)
    } else if !normalized.is_empty() && normalized.bytes().all(|b| b == b'0') {
        Ok(0)
    } else {
        Err(parse_exception(&format!(
            "failed to parse setting [{field}] with value [{value}] as a time value: unit is missing or unrecognized"
        )))
    }
}

/// The `api_key` request body shared by create and grant.
struct KeyRequest {
    name: Option<String>,
    expiration: Option<i64>,
    role_descriptors: Option<Vec<(String, RoleDescriptor)>>,
    metadata: Map<String, Value>,
}

fn parse_key_request(
    req: &Req,
    parser: &str,
    body: &Map<String, Value>,
) -> Result<KeyRequest, ApiResponse> {
    let mut out = KeyRequest {
        name: None,
        expiration: None,
        role_descriptors: None,
        metadata: Map::new(),
    };
    for (k, v) in body {
        match k.as_str() {
            "name" => out.name = v.as_str().map(str::to_string),
            "expiration" => {
                if let Some(s) = v.as_str() {
                    out.expiration = Some(parse_duration_millis("expiration", s)?);
                }
            }
            "role_descriptors" => {
                let Value::Object(map) = v else {
                    return Err(x_content_parse(&format!(
                        "{} [{parser}] failed to parse field [role_descriptors]",
                        req.location_of("role_descriptors")
                    )));
                };
                let mut rds = Vec::new();
                for (name, rd) in map {
                    rds.push((name.clone(), parse_role(name, rd, true)?));
                }
                out.role_descriptors = Some(rds);
            }
            "metadata" => out.metadata = v.as_object().cloned().unwrap_or_default(),
            "type" if v.as_str() == Some("rest") => {}
            other => {
                return Err(x_content_parse(&format!(
                    "{} [{parser}] unknown field [{other}]",
                    req.location_of(other)
                )));
            }
        }
    }
    Ok(out)
}

fn key_request_errors(r: &KeyRequest) -> Vec<String> {
    let mut errors = Vec::new();
    match r.name.as_deref() {
        None | Some("") => errors.push("api key name is required".to_string()),
        Some(n) => {
            if n.chars().count() > 256 {
                errors.push("api key name may not be more than [256] characters long".into());
            }
            if n != n.trim() {
                errors.push("api key name may not begin or end with whitespace".into());
            }
            if n.starts_with('_') {
                errors.push("api key name may not begin with an underscore".into());
            }
        }
    }
    if r.metadata.keys().any(|k| k.starts_with('_')) {
        errors.push("API key metadata keys may not start with [_]".into());
    }
    for (_, rd) in r.role_descriptors.iter().flatten() {
        errors.extend(rd.validation_errors());
    }
    errors
}

fn mint(ctx: &mut Ctx, owner: &Principal, r: KeyRequest) -> ApiResponse {
    let now = ctx.state.now_millis();
    let id = ids::random_id(20);
    let secret = ids::random_id(22);
    let name = r.name.unwrap_or_default();
    let expiration = r.expiration.map(|ms| now + ms);
    let realm_type = if owner.owner_realm() == authn::RESERVED_REALM.0 {
        authn::RESERVED_REALM.1
    } else {
        authn::NATIVE_REALM.1
    };
    let key = ApiKey {
        id: id.clone(),
        name: name.clone(),
        secret_hash: ids::sha256_hex(secret.as_bytes()),
        creation: now,
        expiration,
        invalidated: false,
        invalidation: None,
        username: owner.username.clone(),
        realm: owner.owner_realm().to_string(),
        realm_type: realm_type.to_string(),
        metadata: r.metadata,
        role_descriptors: r.role_descriptors.unwrap_or_default(),
        limited_by: owner.role_snapshot.clone(),
        owner_full_name: owner.full_name.clone(),
        owner_email: owner.email.clone(),
        owner_metadata: owner.metadata.clone(),
    };
    ctx.state.api_keys.push(key);
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("name".into(), json!(name));
    if let Some(e) = expiration {
        o.insert("expiration".into(), json!(e));
    }
    o.insert("api_key".into(), json!(secret));
    o.insert(
        "encoded".into(),
        json!(STANDARD.encode(format!("{id}:{secret}"))),
    );
    ApiResponse::ok(Value::Object(o))
}

pub fn create(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    let body = ctx.req.json_object()?;
    let r = parse_key_request(ctx.req, "api_key_request", &body)?;
    let errors = key_request_errors(&r);
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }
    require_cluster(ctx.principal, A_CREATE)?;
    if ctx.principal.is_api_key() {
        // A key may only mint keys that can do nothing, and must say so explicitly.
        let empty_explicit = r
            .role_descriptors
            .as_ref()
            .is_some_and(|rds| !rds.is_empty() && rds.iter().all(|(_, rd)| !rd.has_privileges()));
        if !empty_explicit {
            return Err(illegal_argument(
                "creating derived api keys requires an explicit role descriptor that is empty (has no privileges)",
            ));
        }
    }
    let owner = ctx.principal.clone();
    Ok(mint(ctx, &owner, r))
}

pub fn grant(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&["refresh"])?;
    let body = ctx.req.json_object()?;
    let mut grant_type = None;
    let mut username = None;
    let mut password = None;
    let mut access_token = None;
    let mut run_as = None;
    let mut key_body = None;
    for (k, v) in &body {
        match k.as_str() {
            "grant_type" => grant_type = v.as_str().map(str::to_string),
            "username" => username = v.as_str().map(str::to_string),
            "password" => password = v.as_str().map(str::to_string),
            "access_token" => access_token = v.as_str().map(str::to_string),
            "run_as" => run_as = v.as_str().map(str::to_string),
            "api_key" => key_body = v.as_object().cloned(),
            other => {
                return Err(x_content_parse(&format!(
                    "{} [grant_api_key_request] unknown field [{other}]",
                    ctx.req.location_of(other)
                )));
            }
        }
    }
    let key_req = match &key_body {
        Some(kb) => Some(parse_key_request(ctx.req, "api_key_request", kb)?),
        None => None,
    };
    let mut errors = Vec::new();
    match grant_type.as_deref() {
        None => errors.push("[grant_type] is required".to_string()),
        Some("password") => {
            if username.is_none() {
                errors.push("[username] is required for grant_type [password]".into());
            }
            if password.is_none() {
                errors.push("[password] is required for grant_type [password]".into());
            }
            if access_token.is_some() {
                errors.push("[access_token] is not supported for grant_type [password]".into());
            }
        }
        Some("access_token") => {
            if access_token.is_none() {
                errors.push("[access_token] is required for grant_type [access_token]".into());
            }
            if username.is_some() {
                errors.push("[username] is not supported for grant_type [access_token]".into());
            }
            if password.is_some() {
                errors.push("[password] is not supported for grant_type [access_token]".into());
            }
        }
        Some(other) => errors.push(format!("grant_type [{other}] is not supported")),
    }
    match &key_req {
        Some(kr) => errors.extend(key_request_errors(kr)),
        None => errors.push("api key name is required".into()),
    }
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }
    require_cluster(ctx.principal, A_GRANT)?;
    if run_as.is_some() {
        return Err(illegal_argument("[run_as] is not supported by es-emulator"));
    }
    let failed = |who: &str| {
        unauthorized(
            &format!("unable to authenticate user [{who}] for action [{A_GRANT}]"),
            Map::new(),
        )
    };
    let (Some(user), Some(pw)) = (username, password) else {
        // Access tokens are never issued by the emulator, so none can authenticate.
        return Err(failed(""));
    };
    let owner = authn::authenticate_password(ctx.state, &user, &pw).ok_or_else(|| failed(&user))?;
    let Some(key_req) = key_req else {
        return Err(action_validation(&["api key name is required".into()]));
    };
    Ok(mint(ctx, &owner, key_req))
}

pub fn get(ctx: &mut Ctx) -> ApiResult {
    let req = ctx.req;
    req.allow_params(&[
        "id",
        "name",
        "username",
        "realm_name",
        "owner",
        "with_limited_by",
        "active_only",
        "with_profile_uid",
    ])?;
    let id = req.param("id").filter(|s| !s.is_empty());
    let name = req.param("name").filter(|s| !s.is_empty());
    let username = req.param("username").filter(|s| !s.is_empty());
    let realm = req.param("realm_name").filter(|s| !s.is_empty());
    let owner = req.bool_param("owner", false)?;
    let with_limited_by = req.bool_param("with_limited_by", false)?;
    let active_only = req.bool_param("active_only", false)?;
    let mut errors = Vec::new();
    if (id.is_some() || name.is_some()) && (username.is_some() || realm.is_some()) {
        errors.push("username or realm name must not be specified when the api key id(s) or api key name are specified".to_string());
    }
    if owner && (username.is_some() || realm.is_some()) {
        errors.push(
            "realm name or username must not be specified when retrieving owned API keys".into(),
        );
    }
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }
    let p = ctx.principal;
    let self_lookup = p
        .api_key
        .as_ref()
        .is_some_and(|k| Some(k.id.as_str()) == id);
    let scope = api_key_scope(p, A_GET);
    let owns_request =
        owner || (username == Some(p.username.as_str()) && realm == Some(p.owner_realm()));
    let allowed = self_lookup
        || scope == Some(KeyScope::All)
        || (scope == Some(KeyScope::Own) && owns_request);
    if !allowed {
        return Err(deny_cluster(p, A_GET));
    }
    // An API key sees limited_by (even its own) only with manage_api_key or higher.
    if with_limited_by && p.is_api_key() && !p.permission.cluster(A_INVALIDATE) {
        return Err(deny_cluster(p, A_GET));
    }
    let now = ctx.state.now_millis();
    let keys: Vec<Value> = ctx
        .state
        .api_keys
        .iter()
        .filter(|k| id.is_none_or(|i| k.id == i))
        .filter(|k| name.is_none_or(|n| glob::matches(n, &k.name)))
        .filter(|k| username.is_none_or(|u| k.username == u))
        .filter(|k| realm.is_none_or(|r| k.realm == r))
        .filter(|k| !owner || k.owned_by(p))
        .filter(|k| !active_only || k.is_active(now))
        .map(|k| k.to_json(with_limited_by))
        .collect();
    let status = if keys.is_empty() && id.is_some() {
        404
    } else {
        200
    };
    Ok(ApiResponse::new(status, json!({"api_keys": keys})))
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

pub fn invalidate(ctx: &mut Ctx) -> ApiResult {
    ctx.req.allow_params(&[])?;
    let body = ctx.req.json_object()?;
    let mut ids_req: Option<Vec<String>> = None;
    let mut name = None;
    let mut username = None;
    let mut realm = None;
    let mut owner = false;
    for (k, v) in &body {
        match k.as_str() {
            "ids" => ids_req = Some(string_list(v).unwrap_or_default()),
            "id" => {
                if let Some(s) = v.as_str() {
                    ids_req = Some(vec![s.to_string()]);
                }
            }
            "name" => name = v.as_str().filter(|s| !s.is_empty()).map(str::to_string),
            "username" => username = v.as_str().filter(|s| !s.is_empty()).map(str::to_string),
            "realm_name" => realm = v.as_str().filter(|s| !s.is_empty()).map(str::to_string),
            "owner" => owner = v.as_bool().unwrap_or(false),
            other => {
                return Err(x_content_parse(&format!(
                    "{} [invalidate_api_key_request] unknown field [{other}]",
                    ctx.req.location_of(other)
                )));
            }
        }
    }
    let mut errors = Vec::new();
    if ids_req.is_none() && name.is_none() && username.is_none() && realm.is_none() && !owner {
        errors.push("One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false".to_string());
    }
    if (ids_req.is_some() || name.is_some()) && (username.is_some() || realm.is_some()) {
        errors.push("username or realm name must not be specified when the api key id(s) or api key name are specified".into());
    }
    if owner && (username.is_some() || realm.is_some()) {
        errors.push(
            "realm name or username must not be specified when invalidating owned API keys".into(),
        );
    }
    if let Some(list) = &ids_req {
        if list.is_empty() {
            errors.push("Field [ids] cannot be an empty array".into());
        } else if let Some(pos) = list.iter().position(|i| i.trim().is_empty()) {
            errors.push(format!(
                "Field [ids] must not contain blank id, but got blank id at index position: [{pos}]"
            ));
        }
    }
    if !errors.is_empty() {
        return Err(action_validation(&errors));
    }
    let p = ctx.principal;
    let scope = api_key_scope(p, A_INVALIDATE);
    let self_invalidation = p
        .api_key
        .as_ref()
        .is_some_and(|k| ids_req.as_deref() == Some(std::slice::from_ref(&k.id)));
    let owns_request = owner
        || (username.as_deref() == Some(p.username.as_str())
            && realm.as_deref() == Some(p.owner_realm()));
    let allowed = self_invalidation
        || scope == Some(KeyScope::All)
        || (scope == Some(KeyScope::Own) && owns_request);
    if !allowed {
        return Err(deny_cluster(p, A_INVALIDATE));
    }
    let now = ctx.state.now_millis();
    let p = p.clone();
    let mut invalidated = Vec::new();
    for k in ctx.state.api_keys.iter_mut() {
        // Already-invalidated keys are not matched, as in Elasticsearch 7.x–9.x, so
        // `previously_invalidated_api_keys` stays empty.
        if k.invalidated {
            continue;
        }
        let matches = ids_req.as_ref().is_none_or(|l| l.contains(&k.id))
            && name.as_deref().is_none_or(|n| glob::matches(n, &k.name))
            && username.as_deref().is_none_or(|u| k.username == u)
            && realm.as_deref().is_none_or(|r| k.realm == r)
            && (!owner || k.owned_by(&p));
        if matches {
            k.invalidated = true;
            k.invalidation = Some(now);
            invalidated.push(k.id.clone());
        }
    }
    Ok(ApiResponse::ok(json!({
        "invalidated_api_keys": invalidated,
        "previously_invalidated_api_keys": [],
        "error_count": 0
    })))
}

/// The fields `_query/api_key` may query and sort by: the public ones other than `id`
/// (elastic/elasticsearch `x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/
/// support/FieldNameTranslators.java`, `API_KEY_FIELD_NAME_TRANSLATORS`). `metadata` is a
/// flattened field: itself and any dotted sub-field.
fn queryable_field(f: &str) -> bool {
    const FIELDS: [&str; 9] = [
        "username",
        "realm_name",
        "name",
        "type",
        "creation",
        "expiration",
        "invalidated",
        "invalidation",
        "metadata",
    ];
    FIELDS.contains(&f) || f.starts_with("metadata.")
}

/// A sort value for `_doc`: the key's position in the store, as a Lucene doc id would be.
const DOC_SORT: &str = "_doc";

pub fn query(ctx: &mut Ctx) -> ApiResult {
    ctx.req
        .allow_params(&["with_limited_by", "with_profile_uid", "typed_keys"])?;
    let with_limited_by = ctx.req.bool_param("with_limited_by", false)?;
    let q = PagedQuery::parse(ctx, "query_api_key_request", &["aggs", "aggregations"])?;
    let p = ctx.principal;
    let scope = api_key_scope(p, A_QUERY).ok_or_else(|| deny_cluster(p, A_QUERY))?;
    q.check_fields(&queryable_field)?;
    // Each key's position in the store stands for its Lucene doc id (`_doc`).
    let mut keys: Vec<(usize, &ApiKey)> = ctx
        .state
        .api_keys
        .iter()
        .enumerate()
        .filter(|(_, k)| scope == KeyScope::All || k.owned_by(p))
        .collect();
    if q.sort.is_empty() {
        keys.sort_by_key(|(_, k)| k.creation);
    }
    let docs = keys
        .into_iter()
        .map(|(position, k)| {
            let mut doc = k.query_doc();
            doc[DOC_SORT] = json!(position);
            (k.to_json(with_limited_by), doc)
        })
        .collect();
    q.answer(docs, "api_keys")
}
