//! The AWS SDK's HTTP client over the function's one TLS configuration
//! ([`crate::tls_config`]): the SDK's own client would load and parse the trust roots again,
//! at every client's construction and again at its first call.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
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
    client: Client<HttpsConnector<TcpConnector>, SdkBody>,
    /// Until the response's head has arrived.
    read_timeout: Option<Duration>,
}

impl Connector {
    fn new(tls: &Arc<rustls::ClientConfig>, (connect, read): Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(tls))
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(https);
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
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
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

/// Which failures the SDK's retry policy may retry: a connection that failed, broke or was
/// closed, or an answer cut short, is transient; a request the client refused is not.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper = find::<hyper::Error>(&error);
    let timed_out = hyper.is_some_and(hyper::Error::is_timeout);
    let refused = hyper.is_some_and(hyper::Error::is_user);
    let cut_short = hyper.is_some_and(hyper::Error::is_incomplete_message);
    let broken = error.is_connect()
        || hyper.is_some_and(|e| e.is_closed() || e.is_canceled())
        || find::<std::io::Error>(&error).is_some();
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
