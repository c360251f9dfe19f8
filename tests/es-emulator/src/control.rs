//! Test-control endpoints under `/_emulator/`: reset, request log, fault injection,
//! clock and read-only state dumps. They need no credentials and are never logged.

use serde_json::{Value, json};

use crate::errors::ApiResponse;
use crate::server::Shared;
use crate::state::Fault;

fn bad_request(msg: &str) -> ApiResponse {
    ApiResponse::new(400, json!({"error": msg}))
}

fn not_found(method: &str, path: &str) -> ApiResponse {
    ApiResponse::new(
        404,
        json!({"error": format!("unknown emulator control endpoint [{method} {path}]")}),
    )
}

fn parse_fault(body: &[u8]) -> Result<Fault, ApiResponse> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad_request(&format!("invalid JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| bad_request("fault must be a JSON object"))?;
    for k in o.keys() {
        if ![
            "method",
            "path",
            "count",
            "status",
            "body",
            "latency_ms",
            "drop_connection",
        ]
        .contains(&k.as_str())
        {
            return Err(bad_request(&format!("unknown fault field [{k}]")));
        }
    }
    let path = o
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("fault needs a [path] (glob with *)"))?;
    let status = match o.get("status") {
        None | Some(Value::Null) => None,
        Some(s) => Some(
            s.as_u64()
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| bad_request("[status] must be an HTTP status code"))?
                as u16,
        ),
    };
    let fault = Fault {
        method: o
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("*")
            .to_ascii_uppercase(),
        path: path.to_string(),
        remaining: o.get("count").and_then(Value::as_u64).unwrap_or(1) as u32,
        status,
        body: o.get("body").cloned().filter(|b| !b.is_null()),
        latency_ms: o.get("latency_ms").and_then(Value::as_u64).unwrap_or(0),
        drop_connection: o
            .get("drop_connection")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if fault.status.is_none() && fault.latency_ms == 0 && !fault.drop_connection {
        return Err(bad_request(
            "a fault needs [status], [latency_ms] or [drop_connection]",
        ));
    }
    if fault.remaining == 0 {
        return Err(bad_request("[count] must be at least 1"));
    }
    Ok(fault)
}

pub fn handle(shared: &Shared, method: &str, path: &str, body: &[u8]) -> ApiResponse {
    let rest = path.trim_start_matches("/_emulator").trim_matches('/');
    let mut state = shared.lock();
    match (method, rest) {
        ("POST", "reset") => match shared.fresh_state() {
            Ok(fresh) => {
                *state = fresh;
                ApiResponse::ok(json!({"acknowledged": true}))
            }
            Err(e) => ApiResponse::new(500, json!({"error": e.to_string()})),
        },
        ("GET", "requests") => ApiResponse::ok(json!({"requests": state.log})),
        ("DELETE", "requests") => {
            state.log.clear();
            ApiResponse::ok(json!({"acknowledged": true}))
        }
        ("PUT", "license") => match serde_json::from_slice::<crate::license::License>(body) {
            Ok(l) if l.is_known() => {
                state.license = l;
                ApiResponse::ok(json!({"acknowledged": true}))
            }
            _ => bad_request(
                "body must be {\"type\": basic|standard|gold|platinum|enterprise|trial, \"status\": active|expired|invalid}",
            ),
        },
        ("GET", "faults") => ApiResponse::ok(json!({"faults": state.faults})),
        ("POST", "faults") => match parse_fault(body) {
            Ok(f) => {
                state.faults.push(f);
                ApiResponse::ok(json!({"acknowledged": true}))
            }
            Err(e) => e,
        },
        ("DELETE", "faults") => {
            state.faults.clear();
            ApiResponse::ok(json!({"acknowledged": true}))
        }
        ("GET", "clock") => ApiResponse::ok(
            json!({"now_millis": state.now_millis(), "offset_millis": state.clock_offset_ms}),
        ),
        ("POST", "clock") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match v.get("advance_seconds").and_then(Value::as_i64) {
                Some(s) => {
                    state.clock_offset_ms += s * 1000;
                    ApiResponse::ok(
                        json!({"now_millis": state.now_millis(), "offset_millis": state.clock_offset_ms}),
                    )
                }
                None => bad_request("body must be {\"advance_seconds\": N}"),
            }
        }
        ("GET", "state/users") => {
            let users: Vec<Value> = state
                .users
                .values()
                .map(|u| {
                    let mut v = u.to_json();
                    v["password_hash"] = json!(u.password_hash);
                    v["reserved"] = json!(u.reserved);
                    v
                })
                .collect();
            ApiResponse::ok(json!({"users": users}))
        }
        ("GET", "state/roles") => {
            let roles: serde_json::Map<String, Value> = state
                .roles
                .iter()
                .map(|(n, r)| (n.clone(), r.to_json()))
                .collect();
            ApiResponse::ok(json!({"roles": roles}))
        }
        ("GET", "state/api_keys") => {
            let keys: Vec<Value> = state.api_keys.iter().map(|k| k.to_json(true)).collect();
            ApiResponse::ok(json!({"api_keys": keys}))
        }
        ("GET", "state/indices") => {
            let names: Vec<&String> = state.catalog.indices.keys().collect();
            ApiResponse::ok(json!({"count": names.len(), "indices": names}))
        }
        _ => not_found(method, path),
    }
}
