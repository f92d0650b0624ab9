//! The one TLS client configuration every HTTPS client of the function shares (the
//! response's and the AWS SDK's), built once at start-up.
//!
//! The CA certificates are Mozilla's, compiled in as parsed trust anchors: nothing is read
//! or parsed at a cold start. `SSL_CERT_FILE` names a bundle to trust instead (a private CA,
//! a test's). `SSL_CERT_DIR`, or a proxy in the environment (a TLS-inspecting proxy's CA is
//! usually in the system store), hands trust back to each client's own loading of the
//! system store, so that both clients always trust the same roots.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CipherSuite, ClientConfig, RootCertStore};

/// The TLS cipher suites offered: those the AWS SDK's own client offers.
const SUITES: [CipherSuite; 7] = [
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The shared TLS client configuration; `None` when `SSL_CERT_DIR` or a proxy is set, or
/// `SSL_CERT_FILE` names no usable certificate: then each client loads the system's store
/// in its own way.
pub fn tls_config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let system = std::env::var_os("SSL_CERT_DIR").is_some() || proxied();
            let file = std::env::var_os("SSL_CERT_FILE");
            let config = roots(file.as_deref().map(Path::new), system).and_then(config);
            let trusted = match (&config, &file) {
                (None, _) => "the system store, loaded by each client",
                (Some(_), Some(_)) => "the bundle named by SSL_CERT_FILE",
                (Some(_), None) => "the compiled-in CA certificates",
            };
            tracing::debug!(trusted, "TLS trust");
            config
        })
        .clone()
}

/// Whether the environment names a proxy (as the clients read it, in either case).
fn proxied() -> bool {
    ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"]
        .iter()
        .flat_map(|name| [name.to_string(), name.to_lowercase()])
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The trust anchors: none when the system store applies, else the bundle named by
/// `SSL_CERT_FILE`, else the compiled-in set.
fn roots(cert_file: Option<&Path>, system: bool) -> Option<RootCertStore> {
    if system {
        return None;
    }
    match cert_file {
        Some(file) => read(file),
        None => Some(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    }
}

fn config(roots: RootCertStore) -> Option<Arc<ClientConfig>> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|suite| SUITES.contains(&suite.suite()));
    let provider = Arc::new(provider);
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(Arc::new(config))
}

/// The certificates of one bundle that a TLS client can use as trust anchors; a block that
/// does not parse is left out, as the system loaders do. `None` when none is usable.
fn read(path: &Path) -> Option<RootCertStore> {
    let bundle = std::fs::read(path).ok()?;
    let mut anchors = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&bundle).flatten() {
        let _ = anchors.add(certificate);
    }
    (!anchors.is_empty()).then_some(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate made for this test.
    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBkjCCATegAwIBAgIUTSrSbao5ASvioRDgNSzzrlF4tOgwCgYIKoZIzj0EAwIw\nHTEbMBkGA1UEAwwSdHJ1c3QgdW5pdCB0ZXN0IENBMCAXDTI2MTEyMzE5Mjk1NFoY\nDzIxMjYxMDMwMTkyOTU0WjAdMRswGQYDVQQDDBJ0cnVzdCB1bml0IHRlc3QgQ0Ew\nWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATeDyIispHm7nxcZerRyAyCzIdPaT/a\nEbsPK1LPGzSHcx0CDJNU8iuBpmQsfZf5CfyLHvmiIPwGnWW/od107Mzvo1MwUTAd\nBgNVHQ4EFgQUBB0WUxHAaloKEr8ozxCRXAllx7kwHwYDVR0jBBgwFoAUBB0WUxHA\naloKEr8ozxCRXAllx7kwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG\nAiEA9rbtHYeLGXeifhGjx7mgIS1yzdbjUE0YOlNqgpdWao8CIQCltIe7dRoHgP6G\nsBTjQTqMsESSsTxqho+SiY8MB8Qo0g==\n-----END CERTIFICATE-----\n";

    fn bundle(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn blocks_that_do_not_parse_are_left_out_and_none_usable_is_none() {
        let mixed = format!(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n{CA}"
        );
        let mixed = bundle("mixed.pem", mixed.as_bytes());
        assert_eq!(read(&mixed).expect("the good certificate").len(), 1);
        let empty = bundle("none.pem", b"no certificates in here\n");
        assert!(read(&empty).is_none());
        assert!(roots(Some(&empty), false).is_none());
    }

    #[test]
    fn the_compiled_in_anchors_apply_unless_a_bundle_or_the_system_store_is_asked_for() {
        let compiled = roots(None, false).expect("the compiled-in anchors");
        assert_eq!(compiled.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(compiled.len() > 100);
        let named = bundle("named.pem", CA.as_bytes());
        assert_eq!(
            roots(Some(&named), false).expect("the named bundle").len(),
            1
        );
        assert!(roots(None, true).is_none());
        assert!(roots(Some(&named), true).is_none());
    }

    #[test]
    fn only_the_sdks_cipher_suites_are_offered() {
        let config = config(roots(None, false).unwrap()).unwrap();
        let offered: Vec<CipherSuite> = config
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert!(!offered.is_empty());
        assert!(offered.iter().all(|s| SUITES.contains(s)), "{offered:?}");
        assert!(!offered.contains(&CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
    }
}
