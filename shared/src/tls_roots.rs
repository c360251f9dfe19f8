//! One trust store per process. The system's CA roots are read from disk once, on first use
//! (`rustls-native-certs`, the loader both the AWS SDK and `rustls-platform-verifier` use), and
//! serve both the AWS SDK's HTTPS client and every target client. Left alone, each would load
//! and parse them itself, most of a cold start's init time, and the target client even in
//! functions or routes that never call a target.

use std::sync::{Arc, LazyLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use base64::Engine;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

struct Roots {
    store: Arc<RootCertStore>,
    /// The same certificates as PEM, the only form the SDK's trust store takes.
    pem: Vec<u8>,
}

static ROOTS: LazyLock<Roots> = LazyLock::new(load);

fn load() -> Roots {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = found.errors.len(), "some system CA roots could not be read");
    }
    let mut store = RootCertStore::empty();
    let mut pem = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for cert in found.certs {
        // Only what parses as a trust anchor goes on: the SDK refuses (panics on) a PEM
        // certificate it cannot add, where its own native loading would skip it.
        if store.add(cert.clone()).is_ok() {
            pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let body = b64.encode(cert.as_ref());
            for line in body.as_bytes().chunks(64) {
                pem.extend_from_slice(line);
                pem.push(b'\n');
            }
            pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
    }
    Roots {
        store: Arc::new(store),
        pem,
    }
}

/// The AWS SDK's HTTPS client as the SDK builds its default one (rustls with aws-lc, the
/// proxy from the environment), trusting the shared roots. Connectors are made on the first
/// call, so the roots are read then, not at init.
pub fn aws_http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let trust = TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(ROOTS.pem.clone());
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap_or_default();
        let mut builder = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context);
        builder.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            builder.set_sleep_impl(c.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

/// A target client's TLS configuration: the shared roots, plus `extra_pem` (an integration's
/// own CA) when given. `Err` names why the extra certificates were refused.
pub fn client_config(extra_pem: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let roots = match extra_pem {
        None => ROOTS.store.clone(),
        Some(pem) => {
            let mut store = (*ROOTS.store).clone();
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the CA certificate could not be parsed: {e}"))?;
            if certs.is_empty() {
                return Err("the CA certificate could not be parsed: no certificate found".into());
            }
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| format!("the CA certificate could not be parsed: {e}"))?;
            }
            Arc::new(store)
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_gets_the_same_roots_the_targets_trust() {
        let pem_certs = CertificateDer::pem_slice_iter(&ROOTS.pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("the PEM form parses");
        assert_eq!(pem_certs.len(), ROOTS.store.len());
        let mut again = RootCertStore::empty();
        let (added, refused) = again.add_parsable_certificates(pem_certs);
        assert_eq!((added, refused), (ROOTS.store.len(), 0));
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn an_integrations_ca_is_added_to_the_shared_roots_or_refused() {
        let refused = client_config(Some(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        ))
        .expect_err("not a certificate");
        assert!(refused.starts_with("the CA certificate could not be parsed"), "{refused}");
        let none = client_config(Some("no PEM here")).expect_err("nothing to trust");
        assert!(none.contains("no certificate found"), "{none}");
        // Any system root stands in for a private CA: it parses and is trusted on top.
        if let Some(first) = std::str::from_utf8(&ROOTS.pem)
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .filter(|p| p.contains("BEGIN"))
        {
            assert!(client_config(Some(first)).is_ok());
        }
    }
}
