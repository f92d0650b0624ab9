//! A tiny HTTP/1 server for the harness's endpoints.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Status 0: the connection is closed without an answer, as when a network loses it.
    pub const DROPPED: u16 = 0;

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// Serves `handler` on a loopback port (0: any free one) until the process ends.
pub async fn serve(handler: Handler, port: u16) -> SocketAddr {
    serve_with(handler, port, None).await
}

/// The same over TLS, with the test cluster's certificate (for `localhost` and 127.0.0.1,
/// signed by the CA in `PG_CA_FILE`).
pub async fn serve_tls(handler: Handler, port: u16) -> SocketAddr {
    serve_with(handler, port, Some(test_cluster_tls())).await
}

/// A TLS acceptor with the test cluster's certificate (PG_SERVER_CERT / PG_SERVER_KEY).
pub fn test_cluster_tls() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run tests/run.sh"))
    };
    let certificates = CertificateDer::pem_file_iter(var("PG_SERVER_CERT"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(var("PG_SERVER_KEY")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve_with(
    handler: Handler,
    port: u16,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (handler, tls) = (Arc::clone(&handler), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => connection(stream, handler).await,
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            connection(stream, handler).await;
                        }
                    }
                }
            });
        }
    });
    address
}

/// A service error: hyper closes the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("the answer was dropped")]
struct AnswerDropped;

async fn connection<S>(stream: S, handler: Handler)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let handler = Arc::clone(&handler);
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            let request = Request {
                method: parts.method.to_string(),
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body,
            };
            let response = handler(request).await;
            if response.status == Response::DROPPED {
                return Err(AnswerDropped);
            }
            let mut builder = hyper::Response::builder().status(response.status);
            for (k, v) in response.headers {
                builder = builder.header(k, v);
            }
            Ok::<_, AnswerDropped>(
                builder
                    .body(Full::new(Bytes::from(response.body)))
                    .expect("response"),
            )
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
