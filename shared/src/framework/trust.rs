//! The CA certificates every TLS client of the function trusts, read once at start-up and
//! shared: the response's and the AWS SDK's.

use std::path::PathBuf;
use std::sync::OnceLock;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Where Linux distributions keep their CA bundle. One file is read, never the certificate
/// directory beside it, which holds the same certificates one per file (hundreds of reads
/// at every cold start).
const BUNDLES: [&str; 4] = [
    // Amazon Linux 2023 (Lambda's provided.al2023), RHEL, Fedora.
    "/etc/pki/tls/certs/ca-bundle.crt",
    // Debian, Ubuntu.
    "/etc/ssl/certs/ca-certificates.crt",
    // Alpine.
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
];

/// The trusted CA certificates, each as PEM and as DER.
pub struct TrustRoots {
    /// The usable certificates as one PEM bundle.
    pub pem: Vec<u8>,
    /// The same certificates, DER-encoded.
    pub der: Vec<CertificateDer<'static>>,
}

/// The trusted CA certificates; `None` when `SSL_CERT_DIR` is set, when `SSL_CERT_FILE`
/// names nothing usable, or when no bundle holds a usable certificate: then each client
/// loads the system's store in its own way, as it would without this.
pub fn trust_roots() -> Option<&'static TrustRoots> {
    static ROOTS: OnceLock<Option<TrustRoots>> = OnceLock::new();
    ROOTS.get_or_init(find).as_ref()
}

fn find() -> Option<TrustRoots> {
    if std::env::var_os("SSL_CERT_DIR").is_some() {
        return None;
    }
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return read(&PathBuf::from(file));
    }
    BUNDLES.iter().find_map(|path| read(&PathBuf::from(path)))
}

/// The certificates of one bundle that a TLS client can use as trust anchors; a block that
/// does not parse is left out, as the system loaders do.
fn read(path: &PathBuf) -> Option<TrustRoots> {
    let bundle = std::fs::read(path).ok()?;
    let mut roots = TrustRoots {
        pem: Vec::new(),
        der: Vec::new(),
    };
    let mut anchors = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&bundle).flatten() {
        if anchors.add(certificate.clone()).is_ok() {
            roots.pem.extend_from_slice(&pem(&certificate));
            roots.der.push(certificate);
        }
    }
    (!roots.der.is_empty()).then_some(roots)
}

/// One certificate as a PEM block.
fn pem(der: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = Vec::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            encoded.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    for line in encoded.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_that_do_not_parse_are_left_out_and_none_usable_is_none() {
        let dir = std::env::temp_dir().join(format!("trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let Some(system) = BUNDLES.iter().find_map(|p| read(&PathBuf::from(p))) else {
            return; // no system bundle here to build from
        };
        let mut bundle =
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                .to_vec();
        bundle.extend_from_slice(&system.pem);
        let mixed = dir.join("mixed.pem");
        std::fs::write(&mixed, &bundle).unwrap();
        let read_back = read(&mixed).expect("the good certificates");
        assert_eq!(read_back.der.len(), system.der.len());
        // PEM written here reads back to the same certificates.
        assert_eq!(read_back.pem, system.pem);
        let empty = dir.join("none.pem");
        std::fs::write(&empty, b"no certificates in here\n").unwrap();
        assert!(read(&empty).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
