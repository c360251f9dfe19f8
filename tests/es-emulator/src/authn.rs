//! Authentication of `Basic` and `ApiKey` credentials, producing the principal every
//! handler authorizes against.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::authz::Permission;
use crate::errors::{ApiResponse, unauthorized};
use crate::ids;
use crate::request::Req;
use crate::roles::RoleDescriptor;
use crate::state::State;

#[derive(Debug, Clone)]
pub struct Realm {
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    /// The owner's realm, which ownership checks compare against.
    pub owner_realm: String,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub username: String,
    /// Assigned roles (empty for API keys, as `_authenticate` shows).
    pub roles: Vec<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub metadata: Map<String, Value>,
    pub realm: Realm,
    pub api_key: Option<ApiKeyInfo>,
    pub effective_roles: Vec<String>,
    pub missing_roles: Vec<String>,
    pub permission: Permission,
    /// Named role descriptors this principal acts with; an API key created by it is
    /// limited by these, frozen at creation.
    pub role_snapshot: Vec<(String, RoleDescriptor)>,
}

impl Principal {
    /// The realm that owns this principal's API keys.
    pub fn owner_realm(&self) -> &str {
        match &self.api_key {
            Some(k) => &k.owner_realm,
            None => &self.realm.name,
        }
    }

    /// For the request log: the owner's username.
    pub fn log_name(&self) -> String {
        self.username.clone()
    }

    pub fn is_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    pub fn authenticate_json(&self) -> Value {
        let realm = json!({"name": self.realm.name, "type": self.realm.kind});
        let mut o = Map::new();
        o.insert("username".into(), json!(self.username));
        o.insert("roles".into(), json!(self.roles));
        o.insert("full_name".into(), json!(self.full_name));
        o.insert("email".into(), json!(self.email));
        o.insert("metadata".into(), Value::Object(self.metadata.clone()));
        o.insert("enabled".into(), json!(true));
        o.insert("authentication_realm".into(), realm.clone());
        o.insert("lookup_realm".into(), realm);
        match &self.api_key {
            Some(k) => {
                o.insert("authentication_type".into(), json!("api_key"));
                o.insert(
                    "api_key".into(),
                    json!({"id": k.id, "name": k.name, "managed_by": "elasticsearch", "internal": false}),
                );
            }
            None => {
                o.insert("authentication_type".into(), json!("realm"));
            }
        }
        Value::Object(o)
    }
}

pub const NATIVE_REALM: (&str, &str) = ("default_native", "native");
pub const RESERVED_REALM: (&str, &str) = ("reserved", "reserved");
pub const API_KEY_REALM: &str = "_es_api_key";

/// Resolves assigned role names to descriptors, noting which do not exist.
pub struct Resolved {
    pub permission: Permission,
    pub effective: Vec<String>,
    pub missing: Vec<String>,
    pub snapshot: Vec<(String, RoleDescriptor)>,
}

pub fn user_permission(state: &State, roles: &[String]) -> Resolved {
    let mut layer = Vec::new();
    let mut snapshot = Vec::new();
    let mut effective = Vec::new();
    let mut missing = Vec::new();
    for r in roles {
        match state.role(r) {
            Some(rd) => {
                layer.push(rd.clone());
                snapshot.push((r.clone(), rd));
                effective.push(r.clone());
            }
            None => missing.push(r.clone()),
        }
    }
    effective.sort();
    effective.dedup();
    missing.sort();
    missing.dedup();
    Resolved {
        permission: Permission {
            layers: vec![layer],
        },
        effective,
        missing,
        snapshot,
    }
}

fn missing_credentials(req: &Req) -> ApiResponse {
    unauthorized(
        &format!(
            "missing authentication credentials for REST request [{}]",
            req.uri()
        ),
        Map::new(),
    )
}

fn failed_user(user: &str, req: &Req) -> ApiResponse {
    unauthorized(
        &format!(
            "unable to authenticate user [{user}] for REST request [{}]",
            req.uri()
        ),
        Map::new(),
    )
}

/// API-key failures name the credential problem in `additional_unsuccessful_credentials`.
fn failed_api_key(detail: &str) -> ApiResponse {
    let mut extra = Map::new();
    extra.insert(
        "additional_unsuccessful_credentials".into(),
        json!(format!("API key: {detail}")),
    );
    unauthorized(
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
        extra,
    )
}

/// Checks a username and password against the user store (also used by grant).
pub fn authenticate_password(state: &State, username: &str, password: &str) -> Option<Principal> {
    let user = state.users.get(username)?;
    let ok = user.enabled
        && user
            .password_hash
            .as_deref()
            .is_some_and(|h| ids::verify_password(h, password));
    if !ok {
        return None;
    }
    let resolved = user_permission(state, &user.roles);
    let realm = if user.reserved {
        RESERVED_REALM
    } else {
        NATIVE_REALM
    };
    Some(Principal {
        username: user.username.clone(),
        roles: user.roles.clone(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        metadata: user.metadata_json(),
        realm: Realm {
            name: realm.0.into(),
            kind: realm.1.into(),
        },
        api_key: None,
        effective_roles: resolved.effective,
        missing_roles: resolved.missing,
        permission: resolved.permission,
        role_snapshot: resolved.snapshot,
    })
}

pub fn authenticate(state: &State, req: &Req) -> Result<Principal, ApiResponse> {
    let Some(header) = req.authorization.as_deref() else {
        return Err(missing_credentials(req));
    };
    let (scheme, value) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let value = value.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    unauthorized("invalid basic authentication header encoding", Map::new())
                })?;
            let (user, password) = decoded.split_once(':').ok_or_else(|| {
                unauthorized("invalid basic authentication header value", Map::new())
            })?;
            authenticate_password(state, user, password).ok_or_else(|| failed_user(user, req))
        }
        "apikey" => {
            let decoded = STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| failed_api_key("invalid ApiKey value"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| failed_api_key("invalid ApiKey value"))?;
            let key =
                state.api_keys.iter().find(|k| k.id == id).ok_or_else(|| {
                    failed_api_key(&format!("unable to find apikey with id {id}"))
                })?;
            if key.secret_hash != ids::sha256_hex(secret.as_bytes()) {
                return Err(failed_api_key(&format!(
                    "invalid credentials for API key [{id}]"
                )));
            }
            if key.invalidated {
                return Err(failed_api_key(&format!(
                    "api key [{id}] has been invalidated"
                )));
            }
            if key.expiration.is_some_and(|e| e <= state.now_millis()) {
                return Err(failed_api_key("api key is expired"));
            }
            Ok(key.principal())
        }
        // Tokens and JWTs are not issued by the emulator, so none can be valid.
        "bearer" => Err(unauthorized(
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            Map::new(),
        )),
        _ => Err(missing_credentials(req)),
    }
}
