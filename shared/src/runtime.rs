//! The Lambda handler: one event in, exactly one answer out.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::{Instrument, error, info, warn};

use crate::deadline::Deadline;
use crate::destination::Destinations;
use crate::event::{self, Envelope, Request};
use crate::properties::{parse_lenient, parse_strict};
use crate::resource::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update};
use crate::response::{self, Answer, FAILED_CREATE_PREFIX, failed_create_id};
use crate::sender::{Sender, redact};

/// How long an aborted work task may take to unwind before the answer goes anyway.
const ABORT_GRACE: Duration = Duration::from_millis(500);

/// Runs the function: `resource` is the result of building it at start-up. If that failed,
/// every request is answered FAILED with the start-up error (and Deletes of failed Creates
/// still succeed), so no stack hangs on a broken deployment.
pub async fn run<R, E>(resource: Result<R, E>) -> Result<(), lambda_runtime::Error>
where
    R: CustomResource,
    E: Display,
{
    let resource = resource.map(Arc::new).map_err(|e| {
        let reason = format!("the function could not start: {e}");
        error!(%reason, "start-up failed");
        reason
    });
    let (destinations, warnings) = Destinations::from_env();
    for warning in warnings {
        error!(%warning, "response destinations");
    }
    let handler = Arc::new(Handler {
        resource,
        destinations,
        sender: Sender::new()?,
        log_hint: log_hint(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move {
            handler.handle(event).await;
            // Always success to Lambda: an asynchronous retry would run the work twice.
            Ok::<(), lambda_runtime::Error>(())
        }
    }))
    .await
}

struct Handler<R> {
    resource: Result<Arc<R>, String>,
    destinations: Destinations,
    sender: Sender,
    log_hint: String,
}

impl<R: CustomResource> Handler<R> {
    async fn handle(&self, event: LambdaEvent<Value>) {
        let deadline = Deadline::from_header_millis(event.context.deadline);
        let Some(envelope) = Envelope::read(&event.payload) else {
            let keys: Vec<&String> = event
                .payload
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            error!(
                ?keys,
                "the event has no ResponseURL: not a custom resource request, nothing to answer"
            );
            return;
        };
        let span = tracing::info_span!(
            "custom_resource",
            request_id = %envelope.echo.request_id,
            stack = %envelope.echo.stack_id,
            logical_id = %envelope.echo.logical_resource_id,
            request_type = %envelope.request_type,
        );
        // Only CloudFormation may receive an answer, and a request that cannot be answered
        // there is not CloudFormation's: nothing is done for it.
        if let Err(reason) = self.destinations.check(
            &envelope.response_url,
            &envelope.echo.stack_id,
            &envelope.echo.logical_resource_id,
        ) {
            span.in_scope(|| error!(%reason, "refused: nothing done, nothing sent"));
            return;
        }
        self.answer(event.payload, envelope, deadline)
            .instrument(span)
            .await;
    }

    async fn answer(&self, payload: Value, envelope: Envelope, deadline: Deadline) {
        info!(response_url = redact(&envelope.response_url), "received");
        // On a FAILED Create the marker id; otherwise the id CloudFormation knows.
        let fallback_id = match (
            &envelope.physical_resource_id,
            envelope.request_type.as_str(),
        ) {
            (Some(id), "Update" | "Delete") => id.clone(),
            _ => failed_create_id(&envelope.echo.request_id),
        };
        let answer = match event::parse(payload) {
            Ok(request) => self.dispatch(request, &fallback_id, deadline).await,
            Err(reason) => Answer::failed(&fallback_id, reason),
        };
        match &answer {
            Answer::Success {
                physical_resource_id,
                data,
                ..
            } => info!(
                physical_id = %physical_resource_id,
                attributes = ?data.keys().collect::<Vec<_>>(),
                "responding SUCCESS"
            ),
            Answer::Failed {
                physical_resource_id,
                reason,
            } => {
                warn!(physical_id = %physical_resource_id, %reason, "responding FAILED")
            }
        }
        let hint = if answer.is_success() {
            ""
        } else {
            &self.log_hint
        };
        let body = response::render(answer, &envelope.echo, &fallback_id, hint);
        match self
            .sender
            .send(&envelope.response_url, body, deadline.send_end())
            .await
        {
            Ok(attempts) => info!(attempts, "response delivered"),
            Err(error) => error!(error = %crate::error_chain(&error), "response NOT delivered"),
        }
    }

    async fn dispatch(&self, request: Request, fallback_id: &str, deadline: Deadline) -> Answer {
        if let Request::Delete(delete) = &request
            && delete
                .physical_resource_id
                .starts_with(FAILED_CREATE_PREFIX)
            && (!R::CLEANS_UP_FAILED_CREATES || self.resource.is_err())
        {
            info!("the Create failed, so there is nothing to delete");
            return success(Outcome::new(&delete.physical_resource_id), false);
        }
        let resource = match &self.resource {
            Ok(resource) => Arc::clone(resource),
            Err(reason) => return Answer::failed(fallback_id, reason),
        };
        let progress = Progress::new(
            "reading the properties",
            deadline.undo_start(),
            deadline.work_end(),
        );
        let work: std::pin::Pin<Box<dyn Future<Output = Result<Outcome, R::Error>> + Send>> =
            match request {
                Request::Create(r) => {
                    let owner = owner(&r.stack_id, &r.logical_resource_id);
                    let properties = match parse_strict(Some(r.resource_properties)) {
                        Ok(p) => p,
                        Err(e) => return Answer::failed(fallback_id, e.to_string()),
                    };
                    let progress = progress.clone();
                    Box::pin(async move {
                        resource
                            .create(
                                Create {
                                    owner,
                                    request_id: r.request_id,
                                    properties,
                                },
                                &progress,
                            )
                            .await
                    })
                }
                Request::Update(r) => {
                    let owner = owner(&r.stack_id, &r.logical_resource_id);
                    let properties = match parse_strict(Some(r.resource_properties)) {
                        Ok(p) => p,
                        Err(e) => return Answer::failed(fallback_id, e.to_string()),
                    };
                    let request = Update {
                        owner,
                        request_id: r.request_id,
                        physical_resource_id: r.physical_resource_id,
                        properties,
                        old_properties: parse_lenient(Some(r.old_resource_properties)),
                    };
                    let progress = progress.clone();
                    Box::pin(async move { resource.update(request, &progress).await })
                }
                Request::Delete(r) => {
                    let id = r.physical_resource_id.clone();
                    let request = Delete {
                        owner: owner(&r.stack_id, &r.logical_resource_id),
                        request_id: r.request_id,
                        physical_resource_id: r.physical_resource_id,
                        properties: parse_lenient(Some(r.resource_properties)),
                    };
                    let progress = progress.clone();
                    Box::pin(async move {
                        resource
                            .delete(request, &progress)
                            .await
                            .map(|()| Outcome::new(id))
                    })
                }
                _ => return Answer::failed(fallback_id, "unknown RequestType"),
            };

        // The work's log lines carry the request's fields too.
        let mut task = tokio::spawn(work.instrument(tracing::Span::current()));
        match tokio::time::timeout_at(deadline.work_end(), &mut task).await {
            Ok(Ok(Ok(outcome))) => success(outcome, R::NO_ECHO),
            Ok(Ok(Err(error))) => Answer::failed(fallback_id, crate::error_chain(&error)),
            Ok(Err(join_error)) => {
                let message = panic_message(join_error);
                error!(panic = %message, step = %progress.current(), "the work panicked");
                Answer::failed(
                    fallback_id,
                    format!("internal error while {}: {message}", progress.current()),
                )
            }
            Err(_elapsed) => {
                // Cancel first, so nothing the work does can follow the answer.
                task.abort();
                let _ = tokio::time::timeout(ABORT_GRACE, task).await;
                let seconds = deadline.start.elapsed().as_secs_f64();
                Answer::failed(
                    fallback_id,
                    format!(
                        "timed out after {seconds:.0} s while {}; raise the function's timeout or check what that step waits on",
                        progress.current()
                    ),
                )
            }
        }
    }
}

fn owner(stack_id: &str, logical_resource_id: &str) -> Owner {
    Owner {
        stack_id: stack_id.to_owned(),
        logical_resource_id: logical_resource_id.to_owned(),
    }
}

fn success(outcome: Outcome, no_echo: bool) -> Answer {
    Answer::Success {
        physical_resource_id: outcome.physical_resource_id,
        data: outcome.data,
        no_echo,
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the function panicked".to_owned()),
        Err(error) => error.to_string(),
    }
}

/// Where a person finds the details of a FAILED: the CloudWatch log stream.
fn log_hint() -> String {
    match std::env::var("AWS_LAMBDA_LOG_STREAM_NAME") {
        Ok(stream) if !stream.is_empty() => format!("(details in CloudWatch log stream {stream})"),
        _ => String::new(),
    }
}
