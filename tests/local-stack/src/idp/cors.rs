//! CORS for browser clients (the portal): discovery, keys and the token endpoint answer
//! cross-origin reads from loopback origins, as an IdP answers the origins registered for a
//! single-page application. The login pages never carry CORS headers: they are navigated to,
//! not fetched.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Response, StatusCode};
use axum::middleware::Next;

const FETCHED: [&str; 3] = ["/.well-known/openid-configuration", "/jwks.json", "/token"];

/// `http://127.0.0.1:PORT`, `http://localhost:PORT` or `http://[::1]:PORT`, nothing else.
fn loopback_origin(origin: &str) -> bool {
    let Ok(u) = url::Url::parse(origin) else {
        return false;
    };
    let host_ok = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    u.scheme() == "http" && host_ok && u.path() == "/" && !origin.ends_with('/')
}

pub async fn for_browser_clients(req: Request, next: Next) -> Response<Body> {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .filter(|o| FETCHED.contains(&req.uri().path()) && loopback_origin(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let mut resp = if req.method() == Method::OPTIONS {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("content-type, authorization"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        r
    } else {
        next.run(req).await
    };
    resp.headers_mut()
        .insert("access-control-allow-origin", origin);
    resp.headers_mut()
        .append("vary", HeaderValue::from_static("origin"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_origins_may_read() {
        assert!(loopback_origin("http://127.0.0.1:8080"));
        assert!(loopback_origin("http://localhost:3000"));
        assert!(!loopback_origin("https://evil.example"));
        assert!(!loopback_origin("http://127.0.0.1.evil.example"));
        assert!(!loopback_origin("null"));
        assert!(!loopback_origin("http://127.0.0.1:8080/"));
    }
}
