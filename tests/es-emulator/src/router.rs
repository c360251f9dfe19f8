//! Maps method and path to a handler the way Elasticsearch's REST controller does,
//! including its 400 "no handler" and 405 "Incorrect HTTP method" answers.

use crate::ctx::Ctx;
use crate::errors::{ApiResponse, ApiResult, method_not_allowed, no_handler};
use crate::{account, api_keys, discovery, documents, role_api, security_query, users};

fn allow(ctx: &Ctx, allowed: &[&str]) -> Result<(), ApiResponse> {
    if allowed.contains(&ctx.req.method.as_str()) {
        Ok(())
    } else {
        Err(method_not_allowed(&ctx.req.uri(), &ctx.req.method, allowed))
    }
}

pub fn dispatch(ctx: &mut Ctx) -> ApiResponse {
    let segments = ctx.req.segments.clone();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut resp = match route(ctx, &s) {
        Ok(r) | Err(r) => r,
    };
    if resp.status < 300
        && let Some(expr) = s.first().filter(|e| !e.starts_with('_'))
    {
        let named = ctx.state.catalog.named_system_indices(expr);
        if !named.is_empty() {
            resp.headers.push((
                "Warning".into(),
                crate::catalog::system_index_warning(&named),
            ));
        }
    }
    resp
}

fn route(ctx: &mut Ctx, s: &[&str]) -> ApiResult {
    let m = ctx.req.method.clone();
    let m = m.as_str();
    match s {
        [] => {
            allow(ctx, &["GET", "HEAD"])?;
            account::info(ctx)
        }
        ["_security", "_authenticate"] => {
            allow(ctx, &["GET"])?;
            account::authenticate(ctx)
        }
        ["_security", "user"] => {
            allow(ctx, &["GET"])?;
            users::get_users(ctx, None)
        }
        ["_security", "user", "_has_privileges"] => {
            allow(ctx, &["GET", "POST"])?;
            account::has_privileges(ctx, None)
        }
        ["_security", "user", "_password"] => {
            allow(ctx, &["PUT", "POST"])?;
            users::change_password(ctx, None)
        }
        ["_security", "user", name] => match m {
            "GET" => users::get_users(ctx, Some(name)),
            "PUT" | "POST" => users::put_user(ctx, name),
            "DELETE" => users::delete_user(ctx, name),
            _ => Err(method_not_allowed(
                &ctx.req.uri(),
                m,
                &["GET", "PUT", "POST", "DELETE"],
            )),
        },
        ["_security", "user", name, "_password"] => {
            allow(ctx, &["PUT", "POST"])?;
            users::change_password(ctx, Some(name))
        }
        ["_security", "user", name, "_enable"] => {
            allow(ctx, &["PUT", "POST"])?;
            users::set_enabled(ctx, name, true)
        }
        ["_security", "user", name, "_disable"] => {
            allow(ctx, &["PUT", "POST"])?;
            users::set_enabled(ctx, name, false)
        }
        ["_security", "user", name, "_has_privileges"] => {
            allow(ctx, &["GET", "POST"])?;
            account::has_privileges(ctx, Some(name))
        }
        ["_security", "role"] => {
            allow(ctx, &["GET"])?;
            role_api::get_roles(ctx, None)
        }
        ["_security", "role", name] => match m {
            "GET" => role_api::get_roles(ctx, Some(name)),
            "PUT" | "POST" => role_api::put_role(ctx, name),
            "DELETE" => role_api::delete_role(ctx, name),
            _ => Err(method_not_allowed(
                &ctx.req.uri(),
                m,
                &["GET", "PUT", "POST", "DELETE"],
            )),
        },
        ["_security", "api_key"] => match m {
            "GET" => api_keys::get(ctx),
            "PUT" | "POST" => api_keys::create(ctx),
            "DELETE" => api_keys::invalidate(ctx),
            _ => Err(method_not_allowed(
                &ctx.req.uri(),
                m,
                &["GET", "PUT", "POST", "DELETE"],
            )),
        },
        ["_security", "api_key", "grant"] => {
            allow(ctx, &["POST"])?;
            api_keys::grant(ctx)
        }
        ["_security", "_query", "api_key"] => {
            allow(ctx, &["GET", "POST"])?;
            api_keys::query(ctx)
        }
        ["_security", "_query", "user"] => {
            allow(ctx, &["GET", "POST"])?;
            security_query::query_users(ctx)
        }
        ["_security", "_query", "role"] => {
            allow(ctx, &["GET", "POST"])?;
            security_query::query_roles(ctx)
        }
        ["_security", "privilege", "_builtin"] => {
            allow(ctx, &["GET"])?;
            account::builtin_privileges(ctx)
        }
        ["api", "spaces", "space"] => {
            allow(ctx, &["GET"])?;
            crate::kibana::list_spaces(ctx)
        }
        ["_license"] => {
            allow(ctx, &["GET"])?;
            crate::license::get_license(ctx)
        }
        ["_cluster", "health"] | ["_cluster", "health", _] => {
            allow(ctx, &["GET"])?;
            account::cluster_health(ctx)
        }
        ["_resolve", "index", expr] => {
            allow(ctx, &["GET", "POST"])?;
            discovery::resolve_index(ctx, expr)
        }
        ["_cat", "indices"] => {
            allow(ctx, &["GET"])?;
            discovery::cat_indices(ctx, None)
        }
        ["_cat", "indices", expr] => {
            allow(ctx, &["GET"])?;
            discovery::cat_indices(ctx, Some(expr))
        }
        ["_data_stream"] => {
            allow(ctx, &["GET"])?;
            discovery::get_data_streams(ctx, None)
        }
        ["_data_stream", expr] => {
            allow(ctx, &["GET"])?;
            discovery::get_data_streams(ctx, Some(expr))
        }
        ["_alias"] | ["_aliases"] => {
            allow(ctx, &["GET"])?;
            discovery::get_aliases(ctx, None, None)
        }
        ["_alias", name] => {
            allow(ctx, &["GET", "HEAD"])?;
            discovery::get_aliases(ctx, None, Some(name))
        }
        ["_mapping"] => {
            allow(ctx, &["GET"])?;
            discovery::get_mapping(ctx, None)
        }
        ["_search"] => {
            allow(ctx, &["GET", "POST"])?;
            documents::search(ctx, None)
        }
        [first, ..] if first.starts_with('_') => Err(no_handler(&ctx.req.uri(), m)),
        [index] => match m {
            "GET" | "HEAD" => discovery::get_index(ctx, index),
            "PUT" => documents::create_index(ctx, index),
            "DELETE" => documents::delete_index(ctx, index),
            _ => Err(method_not_allowed(
                &ctx.req.uri(),
                m,
                &["GET", "HEAD", "PUT", "DELETE"],
            )),
        },
        [index, "_mapping"] | [index, "_mappings"] => {
            allow(ctx, &["GET"])?;
            discovery::get_mapping(ctx, Some(index))
        }
        [index, "_alias"] | [index, "_aliases"] => {
            allow(ctx, &["GET"])?;
            discovery::get_aliases(ctx, Some(index), None)
        }
        [index, "_alias", name] => {
            allow(ctx, &["GET", "HEAD"])?;
            discovery::get_aliases(ctx, Some(index), Some(name))
        }
        [index, "_search"] => {
            allow(ctx, &["GET", "POST"])?;
            documents::search(ctx, Some(index))
        }
        [index, "_refresh"] => {
            allow(ctx, &["GET", "POST"])?;
            documents::refresh(ctx, index)
        }
        [index, "_doc"] => {
            allow(ctx, &["POST"])?;
            documents::index_doc(ctx, index, None, false)
        }
        [index, "_doc", id] => match m {
            "GET" | "HEAD" => documents::get_doc(ctx, index, id),
            "PUT" | "POST" => documents::index_doc(ctx, index, Some(id), false),
            "DELETE" => documents::delete_doc(ctx, index, id),
            _ => Err(method_not_allowed(
                &ctx.req.uri(),
                m,
                &["GET", "HEAD", "PUT", "POST", "DELETE"],
            )),
        },
        [index, "_create", id] => {
            allow(ctx, &["PUT", "POST"])?;
            documents::index_doc(ctx, index, Some(id), true)
        }
        _ => Err(no_handler(&ctx.req.uri(), m)),
    }
}
