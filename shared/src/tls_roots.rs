//! The target clients' trust store: the system's CA roots, read from disk once per process and
//! only when a target is first called (a route that never calls one never reads them).
//! `rustls-native-certs` is the loader `rustls-platform-verifier` (reqwest's default) and the AWS
//! SDK use, so targets trust what they trusted before. Each reqwest client used to load its own
//! copy eagerly, at init and again per CA bundle; now all share this one.
//!
//! The AWS SDK keeps its own copy: it takes extra roots only as PEM, which each of a function's
//! SDK clients parses again at init (measured: more init time than a second load costs).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

static ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(load);

fn load() -> Arc<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(
            errors = found.errors.len(),
            "some system CA roots could not be read"
        );
    }
    let mut store = RootCertStore::empty();
    // A bundle file and a hashed directory usually hold the same certificates: parse each once.
    let mut seen = HashSet::new();
    for cert in found.certs {
        if seen.insert(cert.as_ref().to_vec()) {
            // What does not parse as a trust anchor is skipped, as every loader does.
            let _ = store.add(cert);
        }
    }
    Arc::new(store)
}

/// A target client's TLS configuration: the shared roots, plus `extra_pem` (an integration's
/// own CA) when given. `Err` names why the extra certificates were refused.
pub fn client_config(extra_pem: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let roots = match extra_pem {
        None => ROOTS.clone(),
        Some(pem) => {
            let mut store = (**ROOTS).clone();
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

    /// Any system root, as PEM, stands in for a private CA.
    fn system_root_pem() -> Option<String> {
        use base64::Engine;
        let cert = rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .find(|c| RootCertStore::empty().add(c.clone()).is_ok())?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        Some(format!(
            "-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n"
        ))
    }

    #[test]
    fn the_shared_roots_are_loaded_once_and_deduplicated() {
        let found = rustls_native_certs::load_native_certs();
        let distinct: HashSet<Vec<u8>> = found.certs.iter().map(|c| c.as_ref().to_vec()).collect();
        assert!(ROOTS.len() <= distinct.len());
        assert!(Arc::ptr_eq(&ROOTS, &ROOTS.clone()));
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn an_integrations_ca_is_added_to_the_shared_roots_or_refused() {
        let refused = client_config(Some(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        ))
        .expect_err("not a certificate");
        assert!(
            refused.starts_with("the CA certificate could not be parsed"),
            "{refused}"
        );
        let none = client_config(Some("no PEM here")).expect_err("nothing to trust");
        assert!(none.contains("no certificate found"), "{none}");
        if let Some(pem) = system_root_pem() {
            assert!(client_config(Some(&pem)).is_ok());
        }
    }
}
