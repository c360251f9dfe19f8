//! Answering CloudFormation: an HTTPS PUT of the JSON response to the request's presigned S3
//! `ResponseURL`, and nowhere else.
//!
//! Anyone able to invoke the function could send a custom resource event, so its `ResponseURL`
//! is untrusted input: the only URLs ever contacted are https URLs of an S3 endpoint under
//! `amazonaws.com` or `amazonaws.com.cn` (where CloudFormation's presigned URLs point). Any
//! other URL — an EC2 or load balancer name under `amazonaws.com`, a private address, the
//! instance metadata service — is refused before a connection is made. Tests answer to a
//! loopback server only through [`ResponseUrls::allow_loopback_http`], which the template never
//! sets.

use std::time::Duration;

use aws_lambda_events::cloudformation::CloudFormationCustomResourceResponse;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use shared::driver::DriverError;
use shared::driver::http::HttpClients;
use url::{Host, Url};

/// CloudFormation refuses a response body larger than this.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// The environment variable that lets tests receive responses on a loopback http URL.
pub const ALLOW_LOOPBACK_ENV: &str = "CUSTOM_RESOURCE_ALLOW_LOOPBACK_HTTP";

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// The URL is not one CloudFormation gives out: it was not contacted. The URL itself is
    /// not repeated (a presigned URL carries a signature).
    #[error("ResponseURL refused: {0}")]
    Refused(&'static str),
    /// Not Create, Update or Delete: nothing is done and nobody is answered.
    #[error("a custom resource request type CloudFormation does not send")]
    UnknownRequestType,
    #[error("the response could not be delivered: {0}")]
    Delivery(String),
}

/// Which response URLs may be contacted, and the client that contacts them.
pub struct ResponseUrls {
    http: HttpClients,
    allow_loopback_http: bool,
}

/// PUT attempts: S3 may answer 5xx or drop a connection now and then; the object is the same
/// each time, so repeating is harmless.
const ATTEMPTS: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_millis(300);

impl ResponseUrls {
    /// Production: https S3 endpoints only. The client is built at the first response, so
    /// invocations that never answer a custom resource pay nothing for it.
    pub fn new() -> Result<Self, DriverError> {
        Ok(Self {
            http: HttpClients::new()?,
            allow_loopback_http: false,
        })
    }

    /// Tests only: also plain http to a loopback IP address.
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// The URL to answer to, if it is one CloudFormation could have sent.
    pub fn check(&self, raw: &str) -> Result<Url, ResponseError> {
        let url = Url::parse(raw).map_err(|_| ResponseError::Refused("not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ResponseError::Refused("a URL with credentials"));
        }
        match (url.scheme(), url.host()) {
            ("https", Some(Host::Domain(host))) if url.port().is_none() && is_s3_host(host) => {
                Ok(url)
            }
            ("https", _) => Err(ResponseError::Refused(
                "not an Amazon S3 endpoint under amazonaws.com or amazonaws.com.cn",
            )),
            // Only the IP forms, never a name such as `localhost`.
            ("http", Some(Host::Ipv4(ip))) if self.allow_loopback_http && ip.is_loopback() => {
                Ok(url)
            }
            ("http", Some(Host::Ipv6(ip))) if self.allow_loopback_http && ip.is_loopback() => {
                Ok(url)
            }
            _ => Err(ResponseError::Refused("not https")),
        }
    }

    /// PUT `response` to `url` (checked by [`Self::check`]) with an empty Content-Type, as S3
    /// presigned URLs signed without one require.
    pub async fn send(
        &self,
        url: &Url,
        response: &CloudFormationCustomResourceResponse,
    ) -> Result<(), ResponseError> {
        let body = serde_json::to_vec(response)
            .map_err(|e| ResponseError::Delivery(format!("could not encode: {e}")))?;
        let client = self
            .http
            .client(None)
            .map_err(|e| ResponseError::Delivery(e.to_string()))?;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .put(url.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static(""))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if !(r.status().is_server_error() || r.status().as_u16() == 429) => {
                    return Err(ResponseError::Delivery(format!(
                        "the response URL answered {}",
                        r.status().as_u16()
                    )));
                }
                // Errors without the URL: it carries a signature.
                Ok(r) => last = format!("the response URL answered {}", r.status().as_u16()),
                Err(e) => last = format!("could not reach the response URL ({})", kind_of(&e)),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(RETRY_DELAY * attempt).await;
            }
        }
        Err(ResponseError::Delivery(last))
    }
}

fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// An S3 endpoint, path-style or virtual-hosted: `s3.amazonaws.com`, `s3.<region>.amazonaws.com`,
/// `s3-<region>.amazonaws.com`, `s3-external-1.amazonaws.com`, `s3.dualstack.<region>...`, with
/// an optional bucket in front, under `amazonaws.com` or `amazonaws.com.cn`. Only region and
/// `dualstack` labels may follow the `s3` label, so a name someone else chose under
/// `amazonaws.com` (`s3-x-1.us-east-1.elb.amazonaws.com`, `ec2-…compute.amazonaws.com`) is not one.
fn is_s3_host(host: &str) -> bool {
    let Some(prefix) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let labels: Vec<&str> = prefix.split('.').collect();
    let Some(s3) = labels
        .iter()
        .rposition(|l| *l == "s3" || l.strip_prefix("s3-").is_some_and(is_endpoint_suffix))
    else {
        return false;
    };
    let after = &labels[s3 + 1..];
    after.len() <= 2
        && after.iter().all(|l| *l == "dualstack" || is_region(l))
        && labels[..s3].iter().all(|l| is_dns_label(l))
}

/// What follows `s3-` in a legacy endpoint: a region, `external-1`, or `fips-<region>`.
fn is_endpoint_suffix(s: &str) -> bool {
    s == "external-1" || is_region(s) || s.strip_prefix("fips-").is_some_and(is_region)
}

/// `us-east-1`, `eu-central-2`, `cn-north-1`, `us-gov-west-1`, ...
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A response CloudFormation accepts: `reason` shortened so the body stays under
/// [`MAX_RESPONSE_BYTES`].
pub fn fit(
    mut response: CloudFormationCustomResourceResponse,
) -> CloudFormationCustomResourceResponse {
    let size = |r: &CloudFormationCustomResourceResponse| {
        serde_json::to_vec(r).map(|b| b.len()).unwrap_or(usize::MAX)
    };
    let over = size(&response).saturating_sub(MAX_RESPONSE_BYTES);
    if over > 0
        && let Some(reason) = response.reason.as_mut()
    {
        // Room for the ellipsis and for escapes the cut might not account for exactly.
        let keep = reason.len().saturating_sub(over + 64);
        let mut cut = keep;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push('…');
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::cloudformation::CloudFormationCustomResourceResponseStatus;

    #[test]
    fn only_s3_endpoints_of_aws_are_contacted() {
        let urls = ResponseUrls::new().unwrap();
        for ok in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x?AWSAccessKeyId=A&Expires=1&Signature=s",
            "https://cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com/k?X-Amz-Signature=s",
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/k",
            "https://s3.amazonaws.com/bucket/key",
            "https://bucket.s3-external-1.amazonaws.com/key",
            "https://bucket.s3.dualstack.us-east-1.amazonaws.com/key",
            "https://bucket.s3.cn-north-1.amazonaws.com.cn/key",
            "https://BUCKET.S3.AMAZONAWS.COM/key",
        ] {
            assert!(urls.check(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://bucket.s3.amazonaws.com/key",
            "https://bucket.s3.amazonaws.com:8443/key",
            "https://user:pw@bucket.s3.amazonaws.com/key",
            "https://evil.example.com/key",
            "https://s3.amazonaws.com.evil.example.com/key",
            "https://evil.example.com/#.s3.amazonaws.com",
            "https://evil.example.com\\@bucket.s3.amazonaws.com/",
            "https://amazonaws.com/key",
            "https://s3-evil-123.us-east-1.elb.amazonaws.com/key",
            "https://ec2-10-0-0-1.compute-1.amazonaws.com/key",
            "https://abc123.execute-api.us-east-1.amazonaws.com/key",
            "https://s3.amazonaws.com./key",
            "https://169.254.169.254/latest/meta-data",
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:9000/cfn",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(urls.check(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn loopback_http_only_when_allowed_and_only_as_an_ip() {
        let strict = ResponseUrls::new().unwrap();
        let tests = ResponseUrls::new().unwrap().allow_loopback_http(true);
        for url in ["http://127.0.0.1:9000/cfn", "http://[::1]:9000/cfn"] {
            assert!(strict.check(url).is_err(), "{url}");
            assert!(tests.check(url).is_ok(), "{url}");
        }
        for url in [
            "http://localhost:9000/cfn",
            "http://10.0.0.1/cfn",
            "http://169.254.169.254/latest",
        ] {
            assert!(tests.check(url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_long_reason_is_cut_to_fit() {
        let mut r = CloudFormationCustomResourceResponse::default();
        r.status = CloudFormationCustomResourceResponseStatus::Failed;
        r.reason = Some("é".repeat(5000));
        r.physical_resource_id = "x".into();
        let r = fit(r);
        let len = serde_json::to_vec(&r).unwrap().len();
        assert!(len <= MAX_RESPONSE_BYTES, "{len}");
        assert!(r.reason.unwrap().ends_with('…'));
    }
}
