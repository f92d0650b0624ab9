//! An impostor PostgreSQL server: it takes the startup message, asks for the password in
//! clear text (or as MD5), or for SCRAM without channel binding or with a cheap iteration
//! count, and records every byte the client sends afterwards, so a test can show that no
//! password (nor a SCRAM proof of it) ever reached it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the impostor asks for.
#[derive(Debug, Clone, Copy)]
pub enum Ask {
    Cleartext,
    Md5,
    /// SCRAM-SHA-256 only: no SCRAM-SHA-256-PLUS, so no channel binding.
    ScramWithoutBinding,
    /// SCRAM with channel binding offered, then one iteration asked for.
    ScramOneIteration,
}

/// PostgreSQL's SSLRequest code.
const SSL_REQUEST: u32 = 80_877_103;

#[derive(Default)]
struct Seen {
    connections: usize,
    after_ask: Vec<u8>,
}

pub struct FakePostgres {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl FakePostgres {
    /// Listens on 127.0.0.1. With `tls`, it accepts SSLRequest and does TLS with the test
    /// cluster's own certificate (PG_SERVER_CERT / PG_SERVER_KEY); otherwise it refuses TLS.
    pub async fn start(ask: Ask, tls: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let acceptor = tls.then(tls_acceptor);
        let shared = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                let seen = Arc::clone(&shared);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Some(code) = read_startup(&mut socket).await else {
                        return;
                    };
                    if code == SSL_REQUEST {
                        match acceptor {
                            Some(acceptor) => {
                                socket.write_all(b"S").await.ok();
                                let Ok(mut tls) = acceptor.accept(socket).await else {
                                    return;
                                };
                                if read_startup(&mut tls).await.is_some() {
                                    ask_and_record(&mut tls, ask, &seen).await;
                                }
                            }
                            None => {
                                socket.write_all(b"N").await.ok();
                                if read_startup(&mut socket).await.is_some() {
                                    ask_and_record(&mut socket, ask, &seen).await;
                                }
                            }
                        }
                    } else {
                        ask_and_record(&mut socket, ask, &seen).await;
                    }
                });
            }
        });
        Self { port, seen }
    }

    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }

    /// Every byte clients sent after being asked for a password.
    pub fn received_after_ask(&self) -> Vec<u8> {
        self.seen.lock().unwrap().after_ask.clone()
    }
}

/// Reads one length-prefixed startup packet; its first code (protocol or SSLRequest).
async fn read_startup<S: AsyncRead + Unpin>(socket: &mut S) -> Option<u32> {
    let length = socket.read_u32().await.ok()? as usize;
    if !(8..=10_000).contains(&length) {
        return None;
    }
    let mut body = vec![0; length - 4];
    socket.read_exact(&mut body).await.ok()?;
    Some(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
}

async fn ask_and_record<S: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut S,
    ask: Ask,
    seen: &Mutex<Seen>,
) {
    let request = match ask {
        Ask::Cleartext => authentication(3, b""),
        Ask::Md5 => authentication(5, b"salt"),
        Ask::ScramWithoutBinding => authentication(10, b"SCRAM-SHA-256\0\0"),
        Ask::ScramOneIteration => authentication(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
    };
    if socket.write_all(&request).await.is_err() {
        return;
    }
    let mut buffer = [0u8; 4096];
    let mut asked_iterations = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => {
                let received = {
                    let mut seen = seen.lock().unwrap();
                    seen.after_ask.extend_from_slice(&buffer[..n]);
                    seen.after_ask.clone()
                };
                if matches!(ask, Ask::ScramOneIteration) && !asked_iterations {
                    // The client's first message ends with its nonce: answer it, one iteration.
                    let Some(nonce) = client_nonce(&received) else {
                        continue;
                    };
                    let first = format!("r={nonce}impostor,s=c2FsdHNhbHRzYWx0,i=1");
                    asked_iterations = true;
                    if socket
                        .write_all(&authentication(11, first.as_bytes()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            _ => return,
        }
    }
}

/// An AuthenticationRequest message with `code` and `body`.
fn authentication(code: u32, body: &[u8]) -> Vec<u8> {
    let length = 8 + body.len() as u32;
    [
        b"R".as_slice(),
        &length.to_be_bytes(),
        &code.to_be_bytes(),
        body,
    ]
    .concat()
}

/// The nonce of a complete SASLInitialResponse (`...,r=NONCE`).
fn client_nonce(received: &[u8]) -> Option<String> {
    if received.len() < 5 || received[0] != b'p' {
        return None;
    }
    let length = u32::from_be_bytes([received[1], received[2], received[3], received[4]]) as usize;
    let message = received.get(5..1 + length)?;
    let text = String::from_utf8_lossy(message);
    text.rsplit_once("r=").map(|(_, nonce)| nonce.to_owned())
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    crate::http::test_cluster_tls()
}
