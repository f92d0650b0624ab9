//! The one TLS client configuration every HTTPS client of the function shares (the
//! response's and the AWS SDK's), built once at start-up.
//!
//! The CA certificates are Mozilla's, compiled in as parsed trust anchors: nothing is read
//! or parsed at a cold start. `SSL_CERT_FILE` names a bundle to trust instead (a private CA,
//! a test's); `SSL_CERT_DIR` hands trust back to each client's own loading of the system
//! store.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// The shared TLS client configuration; `None` when `SSL_CERT_DIR` is set or `SSL_CERT_FILE`
/// names no usable certificate: then each client loads the system's store in its own way.
pub fn tls_config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = roots(
                std::env::var_os("SSL_CERT_FILE").as_deref().map(Path::new),
                std::env::var_os("SSL_CERT_DIR").is_some(),
            )?;
            config(roots)
        })
        .clone()
}

/// The trust anchors: the bundle named by `SSL_CERT_FILE`, else the compiled-in set.
fn roots(cert_file: Option<&Path>, cert_dir: bool) -> Option<RootCertStore> {
    if cert_dir {
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
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

    /// A Debian-family machine's bundle: the unit tests run on one.
    const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

    #[test]
    fn blocks_that_do_not_parse_are_left_out_and_none_usable_is_none() {
        let dir = std::env::temp_dir().join(format!("trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let system = std::fs::read(SYSTEM_BUNDLE).expect("the system's CA bundle");
        let expected = read(Path::new(SYSTEM_BUNDLE)).unwrap().len();
        let mut bundle =
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                .to_vec();
        bundle.extend_from_slice(&system);
        let mixed = dir.join("mixed.pem");
        std::fs::write(&mixed, &bundle).unwrap();
        assert_eq!(read(&mixed).expect("the good certificates").len(), expected);
        let empty = dir.join("none.pem");
        std::fs::write(&empty, b"no certificates in here\n").unwrap();
        assert!(read(&empty).is_none());
        assert!(roots(Some(&empty), false).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_compiled_in_anchors_apply_unless_a_bundle_or_directory_is_named() {
        let compiled = roots(None, false).expect("the compiled-in anchors");
        assert_eq!(compiled.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(compiled.len() > 100);
        let named = roots(Some(Path::new(SYSTEM_BUNDLE)), false).expect("the named bundle");
        assert_eq!(named.len(), read(Path::new(SYSTEM_BUNDLE)).unwrap().len());
        assert!(roots(None, true).is_none());
        assert!(config(compiled).is_some());
    }
}
