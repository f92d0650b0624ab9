//! Keeps the admin password from leaving in clear. tokio-postgres answers a server that asks
//! for a cleartext or MD5 password by sending it; this stream sits between the connection
//! (after TLS, where there is TLS) and tokio-postgres, reads the server's authentication
//! requests as they arrive, and fails the read on any request but SCRAM, before tokio-postgres
//! sees it. It also refuses a SCRAM exchange that would make the password cheap to guess
//! (fewer than 4096 iterations) and, where channel binding is required, a server that does
//! not offer it. After authentication it passes bytes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

/// An authentication message never gets this large; a larger one is not PostgreSQL.
const MAX_STARTUP_MESSAGE: usize = 64 * 1024;
/// RFC 7677's minimum and PostgreSQL's default: a server asking for fewer makes the proof
/// the client sends cheap to turn back into the password.
pub const MIN_SCRAM_ITERATIONS: u32 = 4096;
const SCRAM_PLUS: &[u8] = b"SCRAM-SHA-256-PLUS";

/// What the server asked for, as PostgreSQL's AuthenticationRequest codes.
const AUTH_OK: u32 = 0;
const AUTH_CLEARTEXT: u32 = 3;
const AUTH_MD5: u32 = 5;
const AUTH_SASL: u32 = 10;
const AUTH_SASL_CONTINUE: u32 = 11;
const AUTH_SASL_FINAL: u32 = 12;

/// A stream whose server may ask for SCRAM only.
pub struct Guarded<S> {
    inner: S,
    /// Startup-phase bytes not yet scanned as whole messages; `None` once authenticated.
    pending: Option<Vec<u8>>,
    /// Why the server was refused: every later read fails too.
    refused: Option<String>,
    /// The server must offer SCRAM-SHA-256-PLUS.
    binding_required: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, binding_required: bool) -> Self {
        Self {
            inner,
            pending: Some(Vec::new()),
            refused: None,
            binding_required,
        }
    }
}

/// Scans the server's startup messages in `pending`, keeping any incomplete tail. `Ok(true)`
/// once authentication is over (or the server reported an error, which tokio-postgres shows).
fn scan(pending: &mut Vec<u8>, binding_required: bool) -> Result<bool, String> {
    let mut at = 0;
    let done = loop {
        let rest = &pending[at..];
        if rest.len() < 5 {
            break false;
        }
        let kind = rest[0];
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if !(4..=MAX_STARTUP_MESSAGE).contains(&length) {
            return Err(format!(
                "the server sent a {length}-byte message during authentication; not PostgreSQL"
            ));
        }
        if rest.len() < 1 + length {
            break false;
        }
        match kind {
            b'R' if length >= 8 => {
                let code = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
                let body = &rest[9..1 + length];
                match code {
                    AUTH_OK => break true,
                    AUTH_SASL if binding_required => offers_binding(body)?,
                    AUTH_SASL_CONTINUE => enough_iterations(body)?,
                    AUTH_SASL | AUTH_SASL_FINAL => {}
                    AUTH_CLEARTEXT => return Err(refusal("the password in clear text")),
                    AUTH_MD5 => return Err(refusal("an MD5 hash of the password")),
                    other => return Err(refusal(&format!("authentication method {other}"))),
                }
            }
            b'R' => return Err("malformed authentication request from the server".into()),
            // An error ends the startup: tokio-postgres reports it.
            b'E' => break true,
            // NegotiateProtocolVersion, notices: nothing to decide.
            _ => {}
        }
        at += 1 + length;
    };
    pending.drain(..at);
    Ok(done)
}

/// The SASL mechanisms the server offers (NUL-terminated names) include channel binding.
fn offers_binding(mechanisms: &[u8]) -> Result<(), String> {
    if mechanisms.split(|b| *b == 0).any(|m| m == SCRAM_PLUS) {
        return Ok(());
    }
    Err("the server does not offer SCRAM-SHA-256-PLUS (channel binding); refused, no password proof sent: under SslMode require the certificate is not checked, so only channel binding stops a relay. Set SslMode verify-full with the cluster's CaCertificates in the profile".into())
}

/// The server's first SCRAM message (`r=...,s=...,i=N`) asks for enough iterations.
fn enough_iterations(message: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(message);
    let iterations = text
        .split(',')
        .find_map(|field| field.strip_prefix("i="))
        .and_then(|n| n.parse::<u32>().ok());
    match iterations {
        Some(n) if n >= MIN_SCRAM_ITERATIONS => Ok(()),
        Some(n) => Err(format!(
            "the server asked for SCRAM with {n} iterations, under the {MIN_SCRAM_ITERATIONS} that make the proof costly to guess from; refused, no password proof sent"
        )),
        None => Err("the server's SCRAM message names no iteration count; not PostgreSQL".into()),
    }
}

fn refusal(what: &str) -> String {
    format!(
        "the server asked for {what}; refused, nothing sent: the admin password is only ever used through SCRAM-SHA-256. Check that the cluster profile's Host is the cluster and that the cluster stores SCRAM passwords (password_encryption = scram-sha-256)"
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        if let Some(reason) = &this.refused {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                reason.clone(),
            )));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if let Some(pending) = &mut this.pending {
            pending.extend_from_slice(&buf.filled()[before..]);
            match scan(pending, this.binding_required) {
                Ok(true) => this.pending = None,
                Ok(false) => {}
                Err(reason) => {
                    // The bytes never reach tokio-postgres, so it cannot answer them.
                    buf.set_filled(before);
                    this.refused = Some(reason.clone());
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        reason,
                    )));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for Guarded<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

/// A TLS connector whose streams are guarded; with `true`, channel binding is required.
pub struct GuardedTls<T>(pub T, pub bool);

impl<S, T> TlsConnect<S> for GuardedTls<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
    T::Stream: Unpin,
{
    type Stream = Guarded<T::Stream>;
    type Error = T::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, T::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let (connecting, binding) = (self.0.connect(stream), self.1);
        Box::pin(async move { connecting.await.map(|stream| Guarded::new(stream, binding)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
        let mut m = vec![b'R'];
        m.extend_from_slice(&(8 + extra.len() as u32).to_be_bytes());
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    #[test]
    fn scram_then_ok_passes() {
        let mut bytes = auth(AUTH_SASL, b"SCRAM-SHA-256\0\0");
        bytes.extend(auth(AUTH_SASL_CONTINUE, b"r=abc,s=c2FsdA==,i=4096"));
        bytes.extend(auth(AUTH_SASL_FINAL, b"v=xyz"));
        let mut pending = bytes.clone();
        assert_eq!(scan(&mut pending, false), Ok(false));
        assert!(pending.is_empty());
        let mut pending = auth(AUTH_OK, b"");
        pending.extend_from_slice(b"S\0\0\0\x05x");
        assert_eq!(scan(&mut pending, false), Ok(true));
    }

    #[test]
    fn cleartext_md5_and_unknown_methods_are_refused() {
        for (code, word) in [
            (AUTH_CLEARTEXT, "clear text"),
            (AUTH_MD5, "MD5"),
            (7, "method 7"),
        ] {
            let err = scan(&mut auth(code, b"salt"), false).unwrap_err();
            assert!(err.contains(word) && err.contains("SCRAM"), "{err}");
        }
    }

    #[test]
    fn a_request_split_across_reads_is_still_seen() {
        let whole = auth(AUTH_CLEARTEXT, b"");
        let mut pending = whole[..6].to_vec();
        assert_eq!(scan(&mut pending, false), Ok(false));
        pending.extend_from_slice(&whole[6..]);
        assert!(scan(&mut pending, false).is_err());
    }

    #[test]
    fn an_error_ends_the_watch_and_garbage_is_refused() {
        let mut pending = b"E\0\0\0\x08oops".to_vec();
        assert_eq!(scan(&mut pending, false), Ok(true));
        assert!(scan(&mut b"R\xff\xff\xff\xff".to_vec(), false).is_err());
    }

    #[test]
    fn a_low_iteration_count_is_refused() {
        for (message, refused) in [
            (&b"r=abc,s=c2FsdA==,i=4096"[..], false),
            (b"r=abc,s=c2FsdA==,i=600000", false),
            (b"r=abc,s=c2FsdA==,i=4095", true),
            (b"r=abc,s=c2FsdA==,i=1", true),
            (b"r=abc,s=c2FsdA==", true),
        ] {
            let result = scan(&mut auth(AUTH_SASL_CONTINUE, message), false);
            assert_eq!(result.is_err(), refused, "{result:?}");
        }
    }

    #[test]
    fn where_binding_is_required_a_server_without_scram_plus_is_refused() {
        let plain = auth(AUTH_SASL, b"SCRAM-SHA-256\0\0");
        let plus = auth(AUTH_SASL, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        let err = scan(&mut plain.clone(), true).unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
        assert_eq!(scan(&mut plus.clone(), true), Ok(false));
        assert_eq!(scan(&mut plain.clone(), false), Ok(false));
    }
}
