//! The CA certificates every TLS client of the function trusts, read once at start-up and
//! shared: the response's and the AWS SDK's.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where Linux distributions keep their CA bundle, after `SSL_CERT_FILE`. One file is read,
/// never the certificate directory beside it, which holds the same certificates one per
/// file (hundreds of reads at every cold start).
const BUNDLES: [&str; 4] = [
    // Amazon Linux 2023 (Lambda's provided.al2023), RHEL, Fedora.
    "/etc/pki/tls/certs/ca-bundle.crt",
    // Debian, Ubuntu.
    "/etc/ssl/certs/ca-certificates.crt",
    // Alpine.
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
];

/// The trusted CA certificates as PEM; `None` when no bundle is found, and then each client
/// loads the system's store in its own way.
pub fn trust_roots() -> Option<&'static [u8]> {
    static ROOTS: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let configured = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
            configured
                .into_iter()
                .chain(BUNDLES.iter().map(PathBuf::from))
                .find_map(|path| std::fs::read(path).ok().filter(|pem| !pem.is_empty()))
        })
        .as_deref()
}
