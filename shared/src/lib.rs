//! A framework for Lambda-backed CloudFormation custom resources whose one promise is:
//! **CloudFormation always gets its answer.**
//!
//! A function implements [`CustomResource`] (create / update / delete over typed properties)
//! and calls `run` (or [`serve`] with a [`confirm::StackReader`] of its own). The framework parses and validates the event, enforces the deadline,
//! catches errors and panics, keeps the response body valid for CloudFormation and PUTs it
//! to the ResponseURL with bounded retries. Lambda itself is always told "success", so an
//! asynchronous retry can never run the work twice.

#![deny(missing_docs)]

mod framework;
#[cfg(feature = "aws-helpers")]
mod helpers;

pub use framework::destination::ALLOWED_RESPONSE_HOSTS;
pub use framework::errors::error_chain;
pub use framework::properties::Lenient;
pub use framework::resource::{
    Create, CustomResource, Delete, Outcome, Owner, Progress, Update, utc_now,
};
pub use framework::response::{FAILED_CREATE_PREFIX, MAX_BODY_BYTES, MAX_PHYSICAL_ID_BYTES};
pub use framework::runtime::serve;
pub use framework::stack_names::StackNames;
pub use framework::trust::tls_config;
pub use framework::{confirm, logging, properties};
#[cfg(feature = "aws-helpers")]
pub use helpers::stacks::run;
#[cfg(feature = "aws-helpers")]
pub use helpers::{aws, parameter_name, password, retained, secure_parameter, stacks};

/// What [`run`] returns when the Lambda runtime itself cannot go on.
pub type RunError = lambda_runtime::Error;
