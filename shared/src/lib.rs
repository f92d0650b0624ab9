//! A framework for Lambda-backed CloudFormation custom resources whose one promise is:
//! **CloudFormation always gets its answer.**
//!
//! A function implements [`CustomResource`] (create / update / delete over typed properties)
//! and calls [`run`]. The framework parses and validates the event, enforces the deadline,
//! catches errors and panics, keeps the response body valid for CloudFormation and PUTs it
//! to the ResponseURL with bounded retries. Lambda itself is always told "success", so an
//! asynchronous retry can never run the work twice.

pub mod aws;
mod deadline;
mod destination;
mod event;
pub mod logging;
pub mod parameter_name;
pub mod password;
pub mod properties;
mod resource;
mod response;
mod runtime;
pub mod secure_parameter;
mod sender;

pub use destination::ALLOWED_RESPONSE_HOSTS;
pub use resource::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update, utc_now};
pub use response::{FAILED_CREATE_PREFIX, MAX_BODY_BYTES, MAX_PHYSICAL_ID_BYTES};
pub use runtime::run;

/// What [`run`] returns when the Lambda runtime itself cannot go on.
pub type RunError = lambda_runtime::Error;

/// An AWS SDK error in the service's own words (`Code: message`), else its chain of causes.
pub fn aws_error<E>(error: &E) -> String
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => error_chain(error),
    }
}

/// Formats an error with its chain of causes: `outer: cause: root cause`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // SDK errors repeat their cause's text; say each thing once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
