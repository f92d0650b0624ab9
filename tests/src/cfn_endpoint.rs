//! Receives custom-resource responses and checks each the way CloudFormation does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::cfn_stand_in::CfnStandIn;
use crate::http::{self, Request, Response};

/// How the endpoint treats a request's responses.
#[derive(Debug, Clone, Default)]
pub struct EndpointMode {
    /// Answer this many attempts with 503 before accepting.
    pub fail_first: u32,
    /// Hold each attempt this long before answering.
    pub delay: Duration,
    /// Hold only the first this many attempts (0: every attempt).
    pub delay_first: u32,
}

/// One PUT as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path_and_query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The HTTP status the endpoint answered.
    pub status: u16,
    /// Why CloudFormation would reject this response; empty when it would accept it.
    pub problems: Vec<String>,
}

#[derive(Default)]
struct State {
    modes: HashMap<String, EndpointMode>,
    attempts: HashMap<String, u32>,
    received: Vec<Received>,
}

/// CloudFormation for the function under test: the response endpoint, and (for its POSTs)
/// the stand-in that answers what CloudFormation says of its stacks.
pub struct CfnEndpoint {
    base: String,
    state: Arc<Mutex<State>>,
    stand_in: CfnStandIn,
}

impl CfnEndpoint {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Over HTTPS, with a certificate signed by the test CA (`PG_CA_FILE`).
    pub async fn start_tls() -> Self {
        Self::start_with(0, true).await
    }

    /// On a given loopback port (0: any free one).
    pub async fn start_on(port: u16) -> Self {
        Self::start_with(port, false).await
    }

    async fn start_with(port: u16, tls: bool) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let stand_in = CfnStandIn::default();
        let cloudformation = stand_in.clone();
        let handler: http::Handler = Arc::new(move |request: Request| {
            let state = Arc::clone(&shared);
            let cloudformation = cloudformation.clone();
            Box::pin(async move {
                // The SDK's query-protocol calls; answers are PUTs.
                if request.method == "POST" && request.path_and_query == "/" {
                    return cloudformation.answer(&request);
                }
                // A local run telling the stand-in which event CloudFormation sends now.
                if request.method == "POST" && request.path_and_query == "/stand-in/sent" {
                    return match serde_json::from_slice::<Value>(&request.body) {
                        Ok(event) => {
                            cloudformation.record_sent(&event);
                            Response::status(204)
                        }
                        Err(_) => Response::status(400),
                    };
                }
                let key = request.path_and_query.clone();
                let (mode, attempt) = {
                    let mut s = state.lock().unwrap();
                    let attempt = s.attempts.entry(key.clone()).or_default();
                    *attempt += 1;
                    let attempt = *attempt;
                    (s.modes.get(&key).cloned().unwrap_or_default(), attempt)
                };
                if mode.delay_first == 0 || attempt <= mode.delay_first {
                    tokio::time::sleep(mode.delay).await;
                }
                let problems = check(&request);
                let status = if attempt <= mode.fail_first {
                    503
                } else if problems.is_empty() {
                    200
                } else {
                    400
                };
                state.lock().unwrap().received.push(Received {
                    path_and_query: key,
                    content_type: request.header("content-type").map(str::to_owned),
                    body: request.body.clone(),
                    status,
                    problems,
                });
                Response::status(status)
            })
        });
        let (address, scheme) = if tls {
            (http::serve_tls(handler, port).await, "https")
        } else {
            (http::serve(handler, port).await, "http")
        };
        Self {
            base: format!("{scheme}://{address}"),
            state,
            stand_in,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// What CloudFormation says of its stacks to the function (`DescribeStackResource`).
    pub fn cloudformation(&self) -> &CfnStandIn {
        &self.stand_in
    }

    pub fn set_mode(&self, url: &str, mode: EndpointMode) {
        let key = url.strip_prefix(&self.base).unwrap_or(url).to_owned();
        self.state.lock().unwrap().modes.insert(key, mode);
    }

    /// Every PUT received so far, in order.
    pub fn all_received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Every PUT received for `url`, in order.
    pub fn received_for(&self, url: &str) -> Vec<Received> {
        let key = url.strip_prefix(&self.base).unwrap_or(url);
        let state = self.state.lock().unwrap();
        state
            .received
            .iter()
            .filter(|r| r.path_and_query == key)
            .cloned()
            .collect()
    }
}

/// A presigned-looking S3 URL for one request, as CloudFormation gives them.
pub fn response_url(base: &str, request_id: &str) -> String {
    format!(
        "{}/cloudformation-custom-resource-response-useast1/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/test/{request_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261122T000000Z&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
        base,
        signature_for(request_id)
    )
}

/// The secret part of a test ResponseURL: it must never reach a log.
pub fn signature_for(request_id: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in request_id.bytes() {
        hash = (hash ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}5ec7e75160a7e7e5")
}

/// CloudFormation's rules for a response body, and S3's for the PUT that carries it.
fn check(request: &Request) -> Vec<String> {
    let mut problems = Vec::new();
    if request.method != "PUT" {
        problems.push(format!("method {} instead of PUT", request.method));
    }
    match request.header("content-type") {
        None | Some("") => {}
        Some(other) => problems.push(format!("Content-Type {other:?} instead of empty")),
    }
    match request.header("content-length").map(str::parse::<usize>) {
        Some(Ok(n)) if n == request.body.len() => {}
        other => problems.push(format!(
            "Content-Length {other:?} for {} bytes",
            request.body.len()
        )),
    }
    if request.body.len() > 4096 {
        problems.push(format!("body of {} bytes, over 4096", request.body.len()));
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("body is not JSON: {e}"));
            return problems;
        }
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let status = text("Status");
    if !matches!(status, Some("SUCCESS" | "FAILED")) {
        problems.push(format!("Status {status:?}"));
    }
    for name in ["RequestId", "StackId", "LogicalResourceId"] {
        if text(name).is_none_or(str::is_empty) {
            problems.push(format!("{name} missing"));
        }
    }
    // The request id is in the URL: the echoed one must match it.
    if let Some(id) = text("RequestId")
        && !request.path_and_query.contains(&format!("/{id}?"))
    {
        problems.push(format!("RequestId {id} does not match the URL"));
    }
    match text("PhysicalResourceId") {
        Some(p) if !p.is_empty() && p.len() <= 1024 => {}
        other => problems.push(format!("PhysicalResourceId {other:?} not 1 to 1024 bytes")),
    }
    if status == Some("FAILED") && text("Reason").is_none_or(str::is_empty) {
        problems.push("FAILED without a Reason".into());
    }
    if text("Reason").is_some_and(|r| r.chars().any(char::is_control)) {
        problems.push("Reason has control characters".into());
    }
    if let Some(data) = body.get("Data")
        && !data.is_null()
        && !data
            .as_object()
            .is_some_and(|d| d.values().all(Value::is_string))
    {
        problems.push("Data is not an object of strings".into());
    }
    if body.get("NoEcho").is_some_and(|v| !v.is_boolean()) {
        problems.push("NoEcho is not a boolean".into());
    }
    problems
}
