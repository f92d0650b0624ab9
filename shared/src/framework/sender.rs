//! Delivers the response: one HTTPS PUT to the presigned ResponseURL, retried with jittered
//! exponential backoff on network errors and 5xx, never past the deadline.

use std::time::Duration;

use rand::RngExt;
use rustls::ClientConfig;
use tokio::time::Instant;

/// First backoff; doubled after each failed attempt up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// No attempt is started with less time left than this.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);
const MAX_ATTEMPT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("the response endpoint refused the response with HTTP {0}")]
    Refused(u16),
    #[error(
        "no attempt succeeded before the deadline after {attempts} attempts; last error: {last}"
    )]
    OutOfTime { attempts: u32, last: String },
}

#[derive(Clone)]
pub(crate) struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new() -> Result<Self, reqwest::Error> {
        // The TLS configuration every client shares, rather than the system store loaded again.
        if let Some(tls) = super::trust::tls_config() {
            match Self::builder()
                .tls_backend_preconfigured(ClientConfig::clone(&tls))
                .build()
            {
                Ok(client) => return Ok(Self { client }),
                Err(error) => {
                    tracing::warn!(error = %super::errors::error_chain(&error), "the shared TLS configuration is unusable; the system store applies")
                }
            }
        }
        Ok(Self {
            client: Self::builder().build()?,
        })
    }

    fn builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Lambda freezes the process between invocations: a connection left idle may be
            // dead when the next answer goes out, so none is kept.
            .pool_max_idle_per_host(0)
            // The answer goes only where the destination check allowed it.
            .redirect(reqwest::redirect::Policy::none())
    }

    /// PUTs `body` to `url` exactly as given. Returns the number of attempts on success.
    pub async fn send(
        &self,
        url: &str,
        body: Vec<u8>,
        deadline: Instant,
    ) -> Result<u32, SendError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        let cap = attempt_cap(deadline.saturating_duration_since(Instant::now()));
        let mut last = String::from("none started");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_ATTEMPT {
                return Err(SendError::OutOfTime { attempts, last });
            }
            attempts += 1;
            let request = self
                .client
                .put(url)
                // CloudFormation's presigned URL expects an empty Content-Type.
                .header(reqwest::header::CONTENT_TYPE, "")
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body.clone())
                .timeout(left.min(cap));
            match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(attempts),
                Ok(response) if is_retryable(response.status().as_u16()) => {
                    last = format!("HTTP {}", response.status().as_u16());
                }
                Ok(response) => return Err(SendError::Refused(response.status().as_u16())),
                // The error's text would carry the presigned URL: drop it.
                Err(error) => last = super::errors::error_chain(&error.without_url()),
            }
            tracing::warn!(attempt = attempts, error = %last, "response not delivered; retrying");
            // Equal jitter: half the backoff fixed, half random.
            let half = backoff / 2;
            let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
            let pause = half + Duration::from_millis(jitter);
            if Instant::now() + pause + MIN_ATTEMPT > deadline {
                return Err(SendError::OutOfTime { attempts, last });
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// How long one attempt may take, so that at least two fit in `window` (one hung connection
/// never takes the whole reserve).
fn attempt_cap(window: Duration) -> Duration {
    (window.saturating_sub(FIRST_BACKOFF) / 2).clamp(MIN_ATTEMPT, MAX_ATTEMPT)
}

fn is_retryable(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// The URL without its query string: the presigned signature never reaches a log.
pub(crate) fn redact(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_the_signature() {
        assert_eq!(
            redact("https://b.s3.amazonaws.com/arn%3A/x?X-Amz-Signature=abc&X-Amz-Credential=k"),
            "https://b.s3.amazonaws.com/arn%3A/x"
        );
        assert_eq!(redact("http://127.0.0.1:1/p"), "http://127.0.0.1:1/p");
    }

    #[test]
    fn two_attempts_always_fit_the_window() {
        for seconds in [1, 2, 4, 5, 19, 30] {
            let window = Duration::from_secs(seconds);
            let cap = attempt_cap(window);
            assert!(cap * 2 + FIRST_BACKOFF <= window.max(MIN_ATTEMPT * 2 + FIRST_BACKOFF));
        }
        assert_eq!(attempt_cap(Duration::from_secs(60)), MAX_ATTEMPT);
    }

    #[test]
    fn only_server_side_and_throttling_statuses_are_retried() {
        assert!(is_retryable(503) && is_retryable(500) && is_retryable(429));
        assert!(!is_retryable(403) && !is_retryable(400) && !is_retryable(404));
    }
}
