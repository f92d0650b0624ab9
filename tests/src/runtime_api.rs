//! The Lambda Runtime API, as the Lambda service serves it to a custom runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::http::{self, Request, Response};

/// What the handler told the Lambda service.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeResult {
    Success(Value),
    Error(String),
    /// The process died or never asked for the event before the deadline.
    NoResult,
}

struct Queued {
    request_id: String,
    deadline_ms: u64,
    payload: Value,
}

#[derive(Default)]
struct Shared {
    waiting: HashMap<String, oneshot::Sender<RuntimeResult>>,
    polls: u32,
    init_error: Option<String>,
}

pub struct RuntimeApi {
    address: std::net::SocketAddr,
    queue: mpsc::UnboundedSender<Queued>,
    shared: Arc<Mutex<Shared>>,
    polled: Arc<Notify>,
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    pub async fn start() -> Self {
        let (queue, receiver) = mpsc::unbounded_channel::<Queued>();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let polled = Arc::new(Notify::new());
        let (state, notify) = (Arc::clone(&shared), Arc::clone(&polled));
        let address = http::serve(
            Arc::new(move |request: Request| {
                let receiver = Arc::clone(&receiver);
                let state = Arc::clone(&state);
                let notify = Arc::clone(&notify);
                Box::pin(async move {
                    let path = request.path_and_query.clone();
                    if request.method == "GET" && path == format!("{PREFIX}/invocation/next") {
                        state.lock().unwrap().polls += 1;
                        notify.notify_waiters();
                        let Some(next) = receiver.lock().await.recv().await else {
                            return Response::status(500);
                        };
                        return Response {
                            status: 200,
                            headers: vec![
                                ("Lambda-Runtime-Aws-Request-Id".into(), next.request_id),
                                (
                                    "Lambda-Runtime-Deadline-Ms".into(),
                                    next.deadline_ms.to_string(),
                                ),
                                (
                                    "Lambda-Runtime-Invoked-Function-Arn".into(),
                                    "arn:aws:lambda:us-east-1:123456789012:function:under-test"
                                        .into(),
                                ),
                                (
                                    "Lambda-Runtime-Trace-Id".into(),
                                    "Root=1-00000000-000000000000000000000000".into(),
                                ),
                                ("Content-Type".into(), "application/json".into()),
                            ],
                            body: serde_json::to_vec(&next.payload).unwrap_or_default(),
                        };
                    }
                    if request.method == "POST" && path == format!("{PREFIX}/init/error") {
                        state.lock().unwrap().init_error =
                            Some(String::from_utf8_lossy(&request.body).into());
                        return Response::status(202);
                    }
                    let rest = path
                        .strip_prefix(&format!("{PREFIX}/invocation/"))
                        .unwrap_or_default();
                    let result = if let Some(id) = rest.strip_suffix("/response") {
                        Some((
                            id,
                            RuntimeResult::Success(
                                serde_json::from_slice(&request.body).unwrap_or(Value::Null),
                            ),
                        ))
                    } else {
                        rest.strip_suffix("/error").map(|id| {
                            (
                                id,
                                RuntimeResult::Error(String::from_utf8_lossy(&request.body).into()),
                            )
                        })
                    };
                    match result {
                        Some((id, result)) => {
                            if let Some(waiter) = state.lock().unwrap().waiting.remove(id) {
                                let _ = waiter.send(result);
                            }
                            Response::status(202)
                        }
                        None => Response::status(404),
                    }
                })
            }),
            0,
        )
        .await;
        Self {
            address,
            queue,
            shared,
            polled,
        }
    }

    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Waits until the function has asked for its first event; returns how many polls so far.
    pub async fn wait_for_poll(&self, timeout: Duration) -> bool {
        let notified = self.polled.notified();
        if self.shared.lock().unwrap().polls > 0 {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok()
    }

    pub fn init_error(&self) -> Option<String> {
        self.shared.lock().unwrap().init_error.clone()
    }

    /// Delivers an event with a deadline `timeout` from now; waits for the handler's result
    /// (or the deadline plus a second). Returns the result and the deadline.
    pub async fn invoke(&self, payload: Value, timeout: Duration) -> (RuntimeResult, Instant) {
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + timeout.as_millis() as u64;
        self.invoke_with_header(payload, timeout, deadline_ms).await
    }

    /// As `invoke`, with the deadline header's value given: `cargo lambda watch` sends the
    /// milliseconds left rather than an epoch time.
    pub async fn invoke_with_header(
        &self,
        payload: Value,
        timeout: Duration,
        deadline_ms: u64,
    ) -> (RuntimeResult, Instant) {
        let request_id = format!("lambda-{}", crate::events::unique());
        let deadline = Instant::now() + timeout;
        let (sender, receiver) = oneshot::channel();
        self.shared
            .lock()
            .unwrap()
            .waiting
            .insert(request_id.clone(), sender);
        self.queue
            .send(Queued {
                request_id,
                deadline_ms,
                payload,
            })
            .expect("runtime queue open");
        let result = tokio::time::timeout(timeout + Duration::from_secs(1), receiver)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(RuntimeResult::NoResult);
        (result, deadline)
    }
}
