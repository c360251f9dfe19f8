//! A local HTTP API that behaves as API Gateway's HTTP API configured by `infra/template.yaml`:
//! routes from the template, the JWT authorizer on every route, the payload 2.0 event to the
//! route's function, its response back; CORS only as the template configures it.
//!
//! Answers the gateway itself gives, as API Gateway gives them: `404 {"message":"Not Found"}`
//! for no route, `401 {"message":"Unauthorized"}` (with `www-authenticate`) for a bad token,
//! `413 {"message":"Request Entity Too Large"}` over the 10 MB payload limit, and
//! `500 {"message":"Internal Server Error"}` when the function fails or answers nonsense.

pub mod authorizer;
pub mod event;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri};
use serde_json::json;

use crate::invoke::Invoker;
use crate::template::{Cors, Route};
pub use authorizer::{Denied, JwtAuthorizer};

/// HTTP API's payload limit (API Gateway quotas: 10 MB).
pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

pub struct Gateway {
    routes: Vec<Route>,
    cors: Option<Cors>,
    authorizer: JwtAuthorizer,
    invoker: Arc<dyn Invoker>,
}

/// Match `path` against a route template; the path parameters (still encoded) if it matches.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    // A greedy last segment (`{proxy+}`) takes one or more whole segments, as API Gateway's.
    if let Some(name) = t
        .last()
        .and_then(|s| s.strip_prefix('{'))
        .and_then(|s| s.strip_suffix("+}"))
    {
        let fixed = t.len() - 1;
        let rest = p.get(fixed..).map(|r| r.join("/")).unwrap_or_default();
        if p.len() <= fixed || rest.is_empty() || path.ends_with('/') {
            return None;
        }
        let mut params = match_path(
            &format!("/{}", t[..fixed].join("/")),
            &format!("/{}", p[..fixed].join("/")),
        )?;
        params.insert(name.to_string(), rest);
        return Some(params);
    }
    if t.len() != p.len() || (path.len() > 1 && path.ends_with('/')) {
        return None;
    }
    let mut params = BTreeMap::new();
    for (ts, ps) in t.iter().zip(&p) {
        if let Some(name) = ts.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            params.insert(name.to_string(), (*ps).to_string());
        } else if ts != ps {
            return None;
        }
    }
    Some(params)
}

impl Gateway {
    pub fn new(
        routes: Vec<Route>,
        cors: Option<Cors>,
        authorizer: JwtAuthorizer,
        invoker: Arc<dyn Invoker>,
    ) -> Self {
        Self {
            routes,
            cors,
            authorizer,
            invoker,
        }
    }

    /// The route for a request: the most specific match (API Gateway prefers literal segments
    /// over `{param}` ones).
    pub fn route(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter(|r| r.method == method || r.method == "ANY")
            .filter_map(|r| match_path(&r.path, path).map(|p| (r, p)))
            .min_by_key(|(r, p)| (p.len(), r.method == "ANY"))
    }

    fn cors_headers(&self, headers: &HeaderMap, out: &mut HeaderMap) {
        let Some(c) = &self.cors else { return };
        let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
            return;
        };
        let allowed = c.allow_origins.iter().any(|o| o == "*" || o == origin);
        if !allowed {
            return;
        }
        let value = if c.allow_origins.iter().any(|o| o == "*") && !c.allow_credentials {
            "*"
        } else {
            origin
        };
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert("access-control-allow-origin", v);
        }
        if c.allow_credentials {
            out.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
        }
        if !c.expose_headers.is_empty()
            && let Ok(v) = HeaderValue::from_str(&c.expose_headers.join(","))
        {
            out.insert("access-control-expose-headers", v);
        }
    }

    /// A CORS preflight, answered by the gateway itself when CORS is configured (API Gateway
    /// does not send preflights to the authorizer or the function).
    fn preflight(&self, headers: &HeaderMap) -> Option<Response<Body>> {
        let c = self.cors.as_ref()?;
        headers.get("access-control-request-method")?;
        let mut out = HeaderMap::new();
        self.cors_headers(headers, &mut out);
        if out.contains_key("access-control-allow-origin") {
            let join = |v: &[String]| v.join(",");
            if let Ok(v) = HeaderValue::from_str(&join(&c.allow_methods)) {
                out.insert("access-control-allow-methods", v);
            }
            if let Ok(v) = HeaderValue::from_str(&join(&c.allow_headers)) {
                out.insert("access-control-allow-headers", v);
            }
            if let Some(age) = c.max_age {
                out.insert("access-control-max-age", HeaderValue::from(age));
            }
        }
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        *r.headers_mut() = out;
        Some(r)
    }

    pub async fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<Body> {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let mut resp = self
            .answer(&method, &uri, &headers, &body, &request_id)
            .await;
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("apigw-requestid", v);
        }
        let mut cors = HeaderMap::new();
        self.cors_headers(&headers, &mut cors);
        resp.headers_mut().extend(cors);
        resp
    }

    async fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        request_id: &str,
    ) -> Response<Body> {
        if method == Method::OPTIONS
            && let Some(r) = self.preflight(headers)
        {
            return r;
        }
        let path = uri.path();
        let Some((route, params)) = self.route(method.as_str(), path) else {
            return message(StatusCode::NOT_FOUND, "Not Found");
        };
        let auth = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let verdict = if route.authorized {
            self.authorizer.authorize(auth).await.map(Some)
        } else {
            // `Authorizer: NONE`: API Gateway neither checks nor passes any identity.
            Ok(None)
        };
        let claims = match verdict {
            Ok(c) => c,
            Err(denied) => {
                let mut r = message(StatusCode::UNAUTHORIZED, "Unauthorized");
                if let Ok(v) = HeaderValue::from_str(&denied.challenge()) {
                    r.headers_mut().insert("www-authenticate", v);
                }
                return r;
            }
        };
        if body.len() > MAX_PAYLOAD {
            return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let incoming = event::Incoming {
            method: method.as_str(),
            raw_path: path,
            raw_query: uri.query().unwrap_or(""),
            headers,
            body,
            host,
            request_id,
        };
        let mut ev = event::build(&incoming, route, &params, &claims.unwrap_or_default());
        if !route.authorized
            && let Some(ctx) = ev.get_mut("requestContext").and_then(|c| c.as_object_mut())
        {
            ctx.remove("authorizer");
        }
        let result = match self.invoker.invoke(&route.function, &ev).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(route = %route.key(), error = %e, "integration failed");
                return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        let Some(out) = event::read_response(&result) else {
            tracing::error!(route = %route.key(), "the function returned a malformed response");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let mut r = Response::new(Body::from(out.body));
        *r.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::BAD_GATEWAY);
        for (k, v) in out.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                r.headers_mut().append(k, v);
            }
        }
        r
    }
}

fn message(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(json!({ "message": text }).to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn serve_any(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    gw.handle(method, uri, headers, body).await
}

/// The gateway serving on a loopback port until dropped.
pub struct RunningGateway {
    pub url: String,
    pub gateway: Arc<Gateway>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningGateway {
    pub async fn start(gateway: Gateway) -> std::io::Result<Self> {
        Self::start_on(gateway, "127.0.0.1:0").await
    }

    /// On a given loopback address (the stack's public URL is known before it starts).
    pub async fn start_on(gateway: Gateway, addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let gateway = Arc::new(gateway);
        // Bodies up to the payload limit reach the handler, which answers 413 above it.
        let app = Router::new()
            .fallback(serve_any)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_PAYLOAD + 1))
            .with_state(gateway.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "gateway stopped");
            }
        });
        Ok(Self { url, gateway, task })
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_route_templates() {
        assert!(match_path("/requests", "/requests").is_some());
        assert!(match_path("/requests", "/requests/").is_none());
        let p = match_path("/requests/{id}/approve", "/requests/abc/approve").unwrap();
        assert_eq!(p["id"], "abc");
        assert!(match_path("/requests/{id}", "/requests/").is_none());
        assert!(match_path("/requests/{id}", "/requests/a/b").is_none());
        assert!(match_path("/integrations/{name}", "/flows/x").is_none());
        let p = match_path("/portal/{proxy+}", "/portal/js/app.js").unwrap();
        assert_eq!(p["proxy"], "js/app.js");
        assert!(match_path("/portal/{proxy+}", "/portal").is_none());
        assert!(match_path("/portal/{proxy+}", "/portal/").is_none());
        assert!(match_path("/portal/{proxy+}", "/portalx/a").is_none());
        assert!(match_path("/portal", "/portal").is_some());
    }
}
