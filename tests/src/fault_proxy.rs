//! A proxy in front of moto that answers like a busy region: some calls throttled, some
//! answered 500, some applied but their answer lost (answered 500, or the connection closed
//! unanswered). It counts calls per API, so the
//! benchmark can print what one request costs.
//!
//! moto runs a DynamoDB transaction without a lock, snapshotting the whole table first and
//! restoring the snapshot when a condition fails, which undoes other clients' concurrent
//! writes. DynamoDB itself is atomic, so the proxy hands DynamoDB calls to moto one at a time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rand::RngExt;

use crate::http::{self, Request, Response};

/// How often each fault happens, as fractions of all calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub throttled: f64,
    pub server_error: f64,
    /// Forwarded to moto, then answered 500 or the connection closed without an answer.
    pub lost_answer: f64,
    /// Only calls whose API (`DynamoDB_20120810.TransactWriteItems`) contains this meet
    /// faults; `None`: every call.
    pub only: Option<&'static str>,
}

impl Faults {
    /// The busy region of the issues: 25% throttled, 5% 500, 5% applied but lost.
    pub const BUSY: Self = Self {
        throttled: 0.25,
        server_error: 0.05,
        lost_answer: 0.05,
        only: None,
    };
}

#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Calls per API (`Service.Operation`), faults included.
    pub calls: BTreeMap<String, u64>,
    pub throttled: u64,
    pub server_errors: u64,
    pub lost_answers: u64,
}

pub struct FaultProxy {
    pub url: String,
    counts: Arc<Mutex<Counts>>,
    faults: Arc<Mutex<Faults>>,
}

enum Fate {
    Throttle,
    ServerError,
    LoseAnswer,
    Pass,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (moto's URL) on a free loopback port.
    pub async fn start(upstream: &str, faults: Faults) -> Self {
        Self::start_with(upstream, faults, false).await
    }

    /// The same over HTTPS, with a certificate signed by the test CA (`PG_CA_FILE`).
    pub async fn start_tls(upstream: &str, faults: Faults) -> Self {
        Self::start_with(upstream, faults, true).await
    }

    async fn start_with(upstream: &str, faults: Faults, tls: bool) -> Self {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let faults = Arc::new(Mutex::new(faults));
        let client = reqwest::Client::new();
        let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (c, f) = (Arc::clone(&counts), Arc::clone(&faults));
        let handler: http::Handler = Arc::new(move |request: Request| {
            let (client, upstream, counts, faults, one_at_a_time) = (
                client.clone(),
                upstream.clone(),
                Arc::clone(&c),
                Arc::clone(&f),
                Arc::clone(&one_at_a_time),
            );
            Box::pin(async move {
                let json = request.header("x-amz-target").is_some();
                let dynamodb = request
                    .header("x-amz-target")
                    .is_some_and(|t| t.starts_with("DynamoDB_"));
                let _turn = if dynamodb {
                    Some(one_at_a_time.lock().await)
                } else {
                    None
                };
                let fate = {
                    let faults = *faults.lock().unwrap();
                    let roll: f64 = rand::rng().random();
                    let mut counts = counts.lock().unwrap();
                    let api = operation(&request);
                    let targeted = faults.only.is_none_or(|only| api.contains(only));
                    *counts.calls.entry(api).or_default() += 1;
                    if !targeted {
                        Fate::Pass
                    } else if roll < faults.throttled {
                        counts.throttled += 1;
                        Fate::Throttle
                    } else if roll < faults.throttled + faults.server_error {
                        counts.server_errors += 1;
                        Fate::ServerError
                    } else if roll < faults.throttled + faults.server_error + faults.lost_answer {
                        counts.lost_answers += 1;
                        Fate::LoseAnswer
                    } else {
                        Fate::Pass
                    }
                };
                match fate {
                    Fate::Throttle => error(json, 400, "ThrottlingException", "Throttling"),
                    Fate::ServerError => error(json, 500, "InternalServerError", "InternalFailure"),
                    Fate::LoseAnswer => {
                        let _ = forward(&client, &upstream, request).await;
                        if rand::rng().random_bool(0.5) {
                            error(json, 500, "InternalServerError", "InternalFailure")
                        } else {
                            Response::status(Response::DROPPED)
                        }
                    }
                    Fate::Pass => forward(&client, &upstream, request)
                        .await
                        .unwrap_or_else(|_| Response::status(502)),
                }
            })
        });
        let (address, scheme) = if tls {
            (http::serve_tls(handler, 0).await, "https")
        } else {
            (http::serve(handler, 0).await, "http")
        };
        Self {
            url: format!("{scheme}://{address}"),
            counts,
            faults,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }

    pub fn reset_counts(&self) {
        *self.counts.lock().unwrap() = Counts::default();
    }
}

/// `AmazonSSM.GetParameter`, `DynamoDB_20120810.Query`, or `Action=DescribeRules` for the
/// query protocol.
fn operation(request: &Request) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.to_owned();
    }
    let body = String::from_utf8_lossy(&request.body);
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map_or_else(|| "unknown".to_owned(), |a| format!("elbv2.{a}"))
}

/// An error in the protocol's own shape: JSON for `x-amz-target` calls, XML otherwise.
fn error(json: bool, status: u16, json_code: &str, xml_code: &str) -> Response {
    let (content_type, body) = if json {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{json_code}","message":"injected by the fault proxy"}}"#),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{xml_code}</Code><Message>injected by the fault proxy</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    };
    Response {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.into_bytes(),
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    request: Request,
) -> Result<Response, reqwest::Error> {
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut builder = client.request(method, format!("{upstream}{}", request.path_and_query));
    for (name, value) in &request.headers {
        if !matches!(
            name.to_ascii_lowercase().as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            builder = builder.header(name, value);
        }
    }
    let answer = builder.body(request.body).send().await?;
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            )
        })
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = answer.bytes().await?.to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}
