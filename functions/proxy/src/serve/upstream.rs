//! The cluster as the proxy reaches it: its URL, the connector's `Authorization` (none for a
//! cluster without security) and one pooled HTTP client.

use std::time::Duration;

use http::HeaderValue;
use shared::driver::DriverError;
use shared::driver::elasticsearch::proxy::connector_authorization;
use shared::driver::http::HttpClients;
use shared::model::Integration;
use shared::secrets::SecretValue;

pub struct Upstream {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: Option<HeaderValue>,
    /// Whole-exchange bound for a forwarded request, streamed body included.
    pub timeout: Duration,
}

impl Upstream {
    pub fn new(
        clients: &HttpClients,
        integration: &Integration,
        connector_secret: &SecretValue,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        let base = integration
            .spec
            .url
            .as_deref()
            .ok_or_else(|| DriverError::Refused {
                reason: "the integration has no URL".into(),
            })?
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            http: clients.client(integration.spec.tls.ca_cert.as_deref())?,
            base,
            auth: connector_authorization(connector_secret)?,
            timeout,
        })
    }

    /// The same cluster reached the same way (URL and connector credentials).
    pub fn same_as(&self, other: &Upstream) -> bool {
        self.base == other.base && self.auth == other.auth && self.timeout == other.timeout
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .timeout(self.timeout);
        if let Some(a) = &self.auth {
            r = r.header(http::header::AUTHORIZATION, a.clone());
        }
        r
    }

    /// A JSON GET of the proxy's own (the catalog); the body is not kept in errors.
    pub async fn json(&self, path: &str) -> Result<serde_json::Value, String> {
        let resp = self
            .request(reqwest::Method::GET, path)
            .timeout(Duration::from_secs(10))
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot reach the cluster: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("the cluster answered {}", resp.status().as_u16()));
        }
        resp.json()
            .await
            .map_err(|e| format!("unreadable answer: {}", e.without_url()))
    }
}
