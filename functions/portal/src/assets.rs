//! The portal's files, embedded at compile time: `sam build` builds one binary and that binary is
//! the whole portal (no bucket, no second deploy step). Plain ES modules, no bundler; the one
//! third-party file is oidc-client-ts 3.5.0's browser build from npm (`assets/vendor/fetch.sh`
//! re-fetches it and checks its SHA-256).

/// One file the portal serves under `/portal/`.
pub struct Asset {
    /// The path after `/portal/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            body: include_str!(concat!("../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

pub const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/auth.js", JS),
    asset!("js/ui.js", JS),
    asset!("js/access-details.js", JS),
    asset!("js/request.js", JS),
    asset!("js/approve.js", JS),
    asset!("js/admin.js", JS),
    asset!("vendor/oidc-client-ts.min.js", JS),
];

/// The embedded file at `path` (after `/portal/`), if any. Exact names only: no directory
/// listing, no `..`, no index files other than the portal's own page.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}
