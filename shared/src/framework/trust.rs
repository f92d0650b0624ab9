//! The one TLS client configuration every HTTPS client of the function shares (the
//! response's and the AWS SDK's), built once at start-up.
//!
//! The CA certificates are Mozilla's, compiled in as parsed trust anchors: nothing is read
//! or parsed at a cold start. `SSL_CERT_FILE` names a bundle to trust instead (a private CA,
//! a test's). `SSL_CERT_DIR`, a proxy in the environment (a TLS-inspecting proxy's CA is
//! usually in the system store), or a region outside the partitions known to chain to them,
//! hands trust back to each client's own loading of the system store, so that both clients
//! always trust the same roots.

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

/// The shared TLS client configuration; `None` when the system store applies (`SSL_CERT_DIR`
/// or a proxy set, or a region outside the partitions whose endpoints Mozilla's roots are
/// known to cover): then each client loads it in its own way.
pub fn tls_config() -> Option<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_default();
            let system = std::env::var_os("SSL_CERT_DIR").is_some()
                || proxied()
                || !public_roots_cover(&region);
            let file = std::env::var_os("SSL_CERT_FILE");
            let (roots, trusted) = roots(file.as_deref().map(Path::new), system);
            let config = roots.and_then(config);
            let trusted = if config.is_some() {
                trusted
            } else {
                Trusted::System
            };
            tracing::info!(trusted = trusted.describe(), region, "TLS trust");
            config
        })
        .clone()
}

/// Where the trust anchors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trusted {
    System,
    Bundle,
    Compiled,
    /// `SSL_CERT_FILE` names no usable certificate: nothing is trusted, as the system
    /// loaders would have it (the variable replaces the trust, it does not add to it).
    Nothing,
}

impl Trusted {
    fn describe(self) -> &'static str {
        match self {
            Trusted::System => "the system store, loaded by each client",
            Trusted::Bundle => "the bundle named by SSL_CERT_FILE",
            Trusted::Compiled => "the compiled-in CA certificates",
            Trusted::Nothing => "nothing: SSL_CERT_FILE names no usable certificate",
        }
    }
}

/// Whether Mozilla's roots are known to cover the AWS endpoints of `region`'s partition:
/// `aws` (also when no region is set: a local run) and `aws-us-gov`, whose endpoints and S3
/// chain to Amazon Trust Services. The isolated partitions (`us-iso-`, `us-isob-`,
/// `eu-isoe-`, ...) serve theirs under CAs of their own, and `aws-cn`'s chains are not
/// Amazon's own; they, and any partition not listed here, get the region's system store.
fn public_roots_cover(region: &str) -> bool {
    const AWS: [&str; 9] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];
    let word = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric());
    let number = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    match region.split('-').collect::<Vec<_>>().as_slice() {
        [""] => true,
        [area, name, n] => AWS.contains(area) && word(name) && number(n),
        ["us", "gov", name, n] => word(name) && number(n),
        _ => false,
    }
}

/// Whether the environment names a proxy (as the clients read it, in either case).
fn proxied() -> bool {
    ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"]
        .iter()
        .flat_map(|name| [name.to_string(), name.to_lowercase()])
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The trust anchors: none when the system store applies (its loaders read `SSL_CERT_FILE`
/// themselves), else the bundle named by `SSL_CERT_FILE`, else the compiled-in set. A named
/// bundle with no usable certificate trusts nothing, as the system loaders have it, and
/// says so.
fn roots(cert_file: Option<&Path>, system: bool) -> (Option<RootCertStore>, Trusted) {
    if system {
        return (None, Trusted::System);
    }
    let Some(file) = cert_file else {
        let compiled = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        return (Some(compiled), Trusted::Compiled);
    };
    match read(file) {
        Some(bundle) => (Some(bundle), Trusted::Bundle),
        None => {
            tracing::error!(
                file = %file.display(),
                "SSL_CERT_FILE names no usable certificate, so no server is trusted and every HTTPS call fails, the answer to CloudFormation included: name a PEM bundle of CA certificates, or unset it"
            );
            (Some(RootCertStore::empty()), Trusted::Nothing)
        }
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
        // Named, yet unusable: nothing is trusted, never the compiled-in set.
        let (nothing, trusted) = roots(Some(&empty), false);
        assert_eq!(trusted, Trusted::Nothing);
        assert!(nothing.unwrap().is_empty());
        let (nothing, trusted) = roots(Some(Path::new("/nonexistent/bundle.pem")), false);
        assert_eq!(trusted, Trusted::Nothing);
        assert!(nothing.unwrap().is_empty());
    }

    #[test]
    fn the_compiled_in_anchors_apply_unless_a_bundle_or_the_system_store_is_asked_for() {
        let (compiled, trusted) = roots(None, false);
        let compiled = compiled.expect("the compiled-in anchors");
        assert_eq!(trusted, Trusted::Compiled);
        assert_eq!(compiled.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(compiled.len() > 100);
        let named = bundle("named.pem", CA.as_bytes());
        let (bundled, trusted) = roots(Some(&named), false);
        assert_eq!(trusted, Trusted::Bundle);
        assert_eq!(bundled.expect("the named bundle").len(), 1);
        assert!(matches!(roots(None, true), (None, Trusted::System)));
        assert!(matches!(roots(Some(&named), true), (None, Trusted::System)));
    }

    #[test]
    fn isolated_and_unknown_partitions_trust_the_system_store() {
        for region in [
            "",
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "mx-central-1",
            "us-gov-west-1",
            "us-gov-east-1",
        ] {
            assert!(public_roots_cover(region), "{region}");
        }
        for region in [
            "cn-north-1",
            "cn-northwest-1",
            "us-iso-east-1",
            "us-iso-west-1",
            "us-isob-east-1",
            "us-isof-south-1",
            "eu-isoe-west-1",
            "eusc-de-east-1",
            "xx-east-1",
            "us-east",
            "us-east-1-",
            "garbage",
        ] {
            assert!(!public_roots_cover(region), "{region}");
        }
    }

    #[test]
    fn only_the_sdks_cipher_suites_are_offered() {
        let config = config(roots(None, false).0.unwrap()).unwrap();
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
