//! The Lambda handler: one event in, exactly one answer out.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::{Instrument, error, info, warn};

use super::confirm::{Claim, StackReader, Verdict, confirm};
use super::deadline::Deadline;
use super::destination::Destinations;
use super::event::{self, Envelope, Request};
use super::properties::{digest, parse_lenient, parse_tolerant, parse_valid};
use super::resource::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update};
use super::response::{self, Answer, FAILED_CREATE_PREFIX, failed_create_id};
use super::sender::{Sender, redact};

/// How long an aborted work task may take to unwind before the answer goes anyway.
const ABORT_GRACE: Duration = Duration::from_millis(500);

/// Runs the function: `resource` is the result of building it at start-up. If that failed,
/// every request is answered FAILED with the start-up error (and Deletes of failed Creates
/// still succeed), so no stack hangs on a broken deployment. Every request is confirmed
/// with CloudFormation through `stacks` before anything else is done for it.
pub async fn serve<R, E, S>(resource: Result<R, E>, stacks: S) -> Result<(), lambda_runtime::Error>
where
    R: CustomResource,
    E: Display,
    S: StackReader,
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
        stacks,
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

struct Handler<R, S> {
    resource: Result<Arc<R>, String>,
    stacks: S,
    destinations: Destinations,
    sender: Sender,
    log_hint: String,
}

impl<R: CustomResource, S: StackReader> Handler<R, S> {
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
        let function_arn = event.context.invoked_function_arn.clone();
        self.answer(event.payload, envelope, &function_arn, deadline)
            .instrument(span)
            .await;
    }

    async fn answer(
        &self,
        payload: Value,
        envelope: Envelope,
        function_arn: &str,
        deadline: Deadline,
    ) {
        info!(response_url = redact(&envelope.response_url), "received");
        // On a FAILED Create the marker id; otherwise the id CloudFormation knows.
        let fallback_id = match (
            &envelope.physical_resource_id,
            envelope.request_type.as_str(),
        ) {
            (Some(id), "Update" | "Delete") => id.clone(),
            _ => failed_create_id(&envelope.echo.request_id),
        };
        // A malformed request does nothing whoever sent it; a well-formed one is confirmed
        // with CloudFormation before anything is done for it.
        let answer = match event::parse(payload) {
            Err(reason) => Answer::failed(&fallback_id, reason),
            Ok(request) => match self.confirm(&envelope, function_arn, deadline).await {
                Verdict::Confirmed => {
                    self.dispatch(request, function_arn, &fallback_id, deadline)
                        .await
                }
                Verdict::Failed(reason) => Answer::failed(&fallback_id, reason),
                Verdict::Refused(reason) => {
                    error!(%reason, "refused: nothing done, nothing sent");
                    return;
                }
            },
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
            Err(error) => {
                error!(error = %super::errors::error_chain(&error), "response NOT delivered")
            }
        }
    }

    /// Asks CloudFormation whether it is sending this request now, before anything is done.
    async fn confirm(
        &self,
        envelope: &Envelope,
        function_arn: &str,
        deadline: Deadline,
    ) -> Verdict {
        info!("confirming the request with CloudFormation");
        let claim = Claim {
            request_type: &envelope.request_type,
            stack_id: &envelope.echo.stack_id,
            logical_id: &envelope.echo.logical_resource_id,
            physical_id: envelope.physical_resource_id.as_deref(),
            function_arn,
        };
        let started = tokio::time::Instant::now();
        // Boxed: an SDK call's future is too deep to lay out inside the handler's.
        let verdict = Box::pin(confirm(&self.stacks, &claim, deadline.work_end())).await;
        info!(
            confirmed = verdict == Verdict::Confirmed,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "asked CloudFormation"
        );
        verdict
    }

    async fn dispatch(
        &self,
        request: Request,
        function_arn: &str,
        fallback_id: &str,
        deadline: Deadline,
    ) -> Answer {
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
        let work = {
            let (progress, function_arn) = (progress.clone(), function_arn.to_owned());
            async move { work(&*resource, request, function_arn, &progress).await }
        };
        // The work's log lines carry the request's fields too.
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        match finish(task, deadline, &progress).await {
            Ok(outcome) => success(outcome, R::NO_ECHO),
            Err(reason) => Answer::failed(fallback_id, reason),
        }
    }
}

/// Parses the request's properties and runs the resource's create, update or delete.
async fn work<R: CustomResource>(
    resource: &R,
    request: Request,
    function_arn: String,
    progress: &Progress,
) -> Result<Outcome, String> {
    let failed = |e: R::Error| super::errors::error_chain(&e);
    match request {
        Request::Create(r) => {
            let request = Create {
                owner: owner(&r.stack_id, &r.logical_resource_id),
                request_id: r.request_id,
                function_arn,
                record: digest(Some(&r.resource_properties)),
                properties: parse_valid(Some(r.resource_properties)).map_err(|e| e.to_string())?,
            };
            resource.create(request, progress).await.map_err(failed)
        }
        Request::Update(r) => {
            let request = Update {
                owner: owner(&r.stack_id, &r.logical_resource_id),
                request_id: r.request_id,
                physical_resource_id: r.physical_resource_id,
                function_arn,
                properties: (),
                record: String::new(),
                old_properties: parse_lenient(Some(r.old_resource_properties.clone())),
                rollback: false,
            };
            let request = read_update(
                resource,
                request,
                r.resource_properties,
                r.old_resource_properties,
            )
            .await?;
            resource.update(request, progress).await.map_err(failed)
        }
        Request::Delete(r) => {
            let id = r.physical_resource_id.clone();
            let request = Delete {
                owner: owner(&r.stack_id, &r.logical_resource_id),
                request_id: r.request_id,
                physical_resource_id: r.physical_resource_id,
                properties: parse_lenient(Some(r.resource_properties)),
            };
            resource.delete(request, progress).await.map_err(failed)?;
            Ok(Outcome::new(id))
        }
        _ => Err("unknown RequestType".to_owned()),
    }
}

/// Reads an Update's properties and what the resource is to record of them.
///
/// Properties that fail today's checks are taken, read leniently, only where the record
/// shows CloudFormation returning the resource to where it was: to the properties it is in,
/// or from those to the ones it was in just before. Failing there would leave the stack in
/// UPDATE_ROLLBACK_FAILED. The old properties join the record only when they pass today's
/// checks or are in the record already, so the record names nothing that was never
/// accepted.
async fn read_update<R: CustomResource>(
    resource: &R,
    mut request: Update<(), R::Properties>,
    new: Value,
    old: Value,
) -> Result<Update<R::Properties>, String> {
    let (new_digest, old_digest) = (digest(Some(&new)), digest(Some(&old)));
    let strict = parse_valid::<R::Properties>(Some(new.clone()));
    let old_valid = parse_valid::<R::Properties>(Some(old)).is_ok();
    let recorded = match (&strict, old_valid) {
        (Ok(_), true) => None,
        // Only to know whether the old properties were accepted once: not worth a FAILED.
        (Ok(_), false) => resource
            .recorded_properties(&request)
            .await
            .unwrap_or_else(|e| {
                let reason = super::errors::error_chain(&e);
                warn!(%reason, "this resource's record of its properties could not be read");
                None
            }),
        (Err(_), _) => resource.recorded_properties(&request).await.map_err(|e| {
            format!(
                "this resource's record of its properties could not be read: {}",
                super::errors::error_chain(&e)
            )
        })?,
    };
    let record: Vec<&str> = recorded
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let (current, before) = (record.first().copied(), record.get(1).copied());
    let returning = Some(new_digest.as_str()) == current
        || (Some(new_digest.as_str()) == before && Some(old_digest.as_str()) == current);
    let properties = match strict {
        Ok(properties) => properties,
        Err(invalid) if returning => {
            warn!(%invalid, "properties this resource was in: a rollback, read leniently");
            request.rollback = true;
            parse_tolerant(Some(new)).map_err(|_| invalid.to_string())?
        }
        Err(invalid) => return Err(invalid.to_string()),
    };
    let keep_old = old_valid || record.contains(&old_digest.as_str());
    request.record = if keep_old && old_digest != new_digest {
        format!("{new_digest} {old_digest}")
    } else {
        new_digest
    };
    Ok(request.with_properties(properties))
}

/// Waits for the work until the work deadline; past it, cancels it and says where it was.
async fn finish(
    mut task: tokio::task::JoinHandle<Result<Outcome, String>>,
    deadline: Deadline,
    progress: &Progress,
) -> Result<Outcome, String> {
    match tokio::time::timeout_at(deadline.work_end(), &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) => {
            let message = panic_message(join_error);
            error!(panic = %message, step = %progress.current(), "the work panicked");
            Err(format!(
                "internal error while {}: {message}",
                progress.current()
            ))
        }
        Err(_elapsed) => {
            // Cancel first, so nothing the work does can follow the answer.
            task.abort();
            let _ = tokio::time::timeout(ABORT_GRACE, task).await;
            let seconds = deadline.start.elapsed().as_secs_f64();
            Err(format!(
                "timed out after {seconds:.0} s while {}; raise the function's timeout or check what that step waits on",
                progress.current()
            ))
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
