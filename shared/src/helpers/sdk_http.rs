//! The AWS SDK's HTTP client over the function's one TLS configuration
//! ([`crate::tls_config`]): the SDK's own client would load and parse the trust roots again,
//! at every client's construction and again at its first call.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper::Uri;
use hyper_rustls::MaybeHttpsStream;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{
    CaptureConnection, HttpConnector as TcpConnector, capture_connection,
};
use hyper_util::rt::TokioIo;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// An idle pooled connection is closed after this, as the SDK's own client does.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// HTTP/1.1 over rustls with the shared configuration; `http://` endpoints (a local
/// `AWS_ENDPOINT_URL`) are reached in clear.
#[derive(Debug)]
pub(crate) struct SdkHttpClient {
    tls: Arc<rustls::ClientConfig>,
    /// One connector per distinct timeout settings, built at its first use.
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl SdkHttpClient {
    pub(crate) fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            tls,
            connectors: Mutex::new(Vec::new()),
        }
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Connector::new(&self.tls, timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

#[derive(Debug, Clone)]
struct Connector {
    client: Client<Bounded, SdkBody>,
    /// Until the response's head has arrived.
    read_timeout: Option<Duration>,
}

impl Connector {
    fn new(tls: &Arc<rustls::ClientConfig>, (connect, read): Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(tls))
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let bounded = Bounded {
            inner: https,
            limit: connect,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(bounded);
        Self {
            client,
            read_timeout: read,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let mut request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let captured = capture_connection(&mut request);
            if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
                smithy.set_connection_retriever(move || poisonable(&captured));
            }
            let sent = client.request(request);
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => sent.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The connection an answer came on, for the SDK to close rather than reuse when it retries
/// after a transient error (a 5xx may come from a connection in a bad state).
fn poisonable(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    captured.connection_metadata().as_ref()?;
    let captured = captured.clone();
    let metadata = ConnectionMetadata::builder()
        .proxied(false)
        .poison_fn(move || {
            if let Some(connection) = captured.connection_metadata().as_ref() {
                connection.poison();
            }
        })
        .build();
    Some(metadata)
}

type BoxError = Box<dyn Error + Send + Sync>;
type Connecting = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;
type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// The HTTPS connector with the SDK's connect timeout over the whole set-up (name lookup,
/// TCP and the TLS handshake), as the SDK's own client bounds it; hyper's own connect
/// timeout covers TCP alone, shared out among the addresses.
#[derive(Debug, Clone)]
struct Bounded {
    inner: HttpsConnector<TcpConnector>,
    limit: Option<Duration>,
}

impl tower_service::Service<Uri> for Bounded {
    type Response = Stream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connecting.await,
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no connection within {limit:?}"),
                    )
                    .into()),
                },
            }
        })
    }
}

/// Which failures the SDK's retry policy may retry: a connection that failed, broke or was
/// closed, or an answer cut short, is transient; a request the client refused is not.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper = find::<hyper::Error>(&error);
    let io = find::<std::io::Error>(&error);
    // The connect timeout (`Bounded`) ends as a connect error of I/O kind `TimedOut`.
    let timed_out = hyper.is_some_and(hyper::Error::is_timeout)
        || (error.is_connect() && io.is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut));
    let refused = hyper.is_some_and(hyper::Error::is_user);
    let cut_short = hyper.is_some_and(hyper::Error::is_incomplete_message);
    let broken = error.is_connect()
        || hyper.is_some_and(|e| e.is_closed() || e.is_canceled())
        || io.is_some();
    let error = Box::new(error);
    if timed_out {
        ConnectorError::timeout(error)
    } else if refused {
        ConnectorError::user(error)
    } else if broken {
        ConnectorError::io(error)
    } else if cut_short {
        ConnectorError::other(error, Some(ErrorKind::TransientError))
    } else {
        ConnectorError::other(error, None)
    }
}

/// The first error of type `E` in `error`'s chain of causes.
fn find<'a, E: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Calls `url` and returns how the failure was classified.
    async fn failure(url: &str, timeouts: Timeouts) -> ConnectorError {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let connector = Connector::new(&Arc::new(tls), timeouts);
        let request = HttpRequest::get(url).unwrap();
        match connector.call(request).await {
            Ok(response) => panic!("answered {}", response.status()),
            Err(error) => error,
        }
    }

    fn retried(error: &ConnectorError) -> bool {
        error.is_io() || error.is_timeout() || error.as_other() == Some(ErrorKind::TransientError)
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = failure(&format!("http://{address}/"), (None, None)).await;
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
        });
        let error = failure(&format!("http://{address}/"), (None, None)).await;
        assert!(retried(&error), "{error:?}");
    }

    #[tokio::test]
    async fn a_tls_handshake_slower_than_the_connect_timeout_is_a_timeout() {
        // TCP connects at once; the server never says a word of TLS.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let held = tokio::spawn(async move { listener.accept().await });
        let limit = Some(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let error = failure(&format!("https://{address}/"), (limit, None)).await;
        assert!(error.is_timeout(), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(held);
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_read_timeout_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let held = tokio::spawn(async move { listener.accept().await });
        let limit = Some(Duration::from_millis(200));
        let error = failure(&format!("http://{address}/"), (None, limit)).await;
        assert!(error.is_timeout(), "{error:?}");
        drop(held);
    }
}
