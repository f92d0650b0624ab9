//! CloudFormation asked about a request's resource, through the AWS SDK: the framework's
//! [`StackReader`](crate::confirm::StackReader) for the functions.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::Stack;

use crate::confirm::{Lookup, ResourceState, StackReader};

/// CloudFormation's own view of its stacks, over the function's SDK configuration
/// (`AWS_ENDPOINT_URL_CLOUDFORMATION` points a local run at a stand-in).
#[derive(Clone, Debug)]
pub struct CloudFormationStacks {
    cloudformation: Client,
}

impl CloudFormationStacks {
    /// A client for the SDK configuration, with its retry policy.
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self {
            cloudformation: Client::new(config),
        }
    }
}

/// How many pages of a stack's events (100 each, newest first) a cleanup is looked for in:
/// a cleanup's events are the stack's newest, after its whole update.
const EVENT_PAGES: usize = 10;

/// CloudFormation says `ValidationError` for a stack or resource that does not exist.
fn missing<E: ProvideErrorMetadata>(error: &E) -> Option<String> {
    (error.code() == Some("ValidationError")).then(|| error.message().unwrap_or("").to_owned())
}

impl StackReader for CloudFormationStacks {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Lookup, String> {
        let asked = self
            .cloudformation
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await;
        let detail = match asked {
            Ok(output) => output.stack_resource_detail,
            Err(error) => {
                let error = error.into_service_error();
                return match missing(&error) {
                    Some(why) => Ok(Lookup::Missing(why)),
                    None => Err(format!(
                        "DescribeStackResource: {}",
                        super::aws::aws_error(&error)
                    )),
                };
            }
        };
        let Some(detail) = detail else {
            return Ok(Lookup::Missing("no StackResourceDetail".into()));
        };
        Ok(Lookup::Found(ResourceState {
            stack_id: detail.stack_id().unwrap_or_default().to_owned(),
            status: detail
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            physical_resource_id: detail
                .physical_resource_id()
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        }))
    }

    /// The newest pages only: a cleanup's events are the stack's latest.
    async fn latest_event(
        &self,
        stack_id: &str,
        logical_id: &str,
        physical_id: &str,
    ) -> Result<Option<String>, String> {
        let mut pages = self
            .cloudformation
            .describe_stack_events()
            .stack_name(stack_id)
            .into_paginator()
            .send();
        for _ in 0..EVENT_PAGES {
            let Some(page) = pages.next().await else {
                break;
            };
            let page = page.map_err(|e| {
                format!(
                    "DescribeStackEvents: {}",
                    super::aws::aws_error(&e.into_service_error())
                )
            })?;
            let found = page.stack_events().iter().find(|e| {
                e.logical_resource_id() == Some(logical_id)
                    && e.physical_resource_id() == Some(physical_id)
            });
            if let Some(event) = found {
                return Ok(event.resource_status().map(|s| s.as_str().to_owned()));
            }
        }
        Ok(None)
    }

    async fn stack_status(&self, stack_id: &str) -> Result<Option<String>, String> {
        Ok(self
            .stack(stack_id)
            .await?
            .and_then(|s| s.stack_status().map(|s| s.as_str().to_owned())))
    }
}

impl CloudFormationStacks {
    /// The IAM role CloudFormation deploys the stack with (`RoleARN`), if it has one:
    /// only whoever may pass that role deploys with it.
    pub async fn deployment_role(&self, stack_id: &str) -> Result<Option<String>, String> {
        Ok(self
            .stack(stack_id)
            .await?
            .and_then(|s| s.role_arn().filter(|r| !r.is_empty()).map(str::to_owned)))
    }

    /// The stack (`DescribeStacks`), `None` when there is no such stack.
    async fn stack(&self, stack_id: &str) -> Result<Option<Stack>, String> {
        let asked = self
            .cloudformation
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await;
        match asked {
            Ok(output) => Ok(output.stacks.and_then(|s| s.into_iter().next())),
            Err(error) => {
                let error = error.into_service_error();
                match missing(&error) {
                    Some(_) => Ok(None),
                    None => Err(format!("DescribeStacks: {}", super::aws::aws_error(&error))),
                }
            }
        }
    }
}

/// Runs the function as [`crate::serve`] does, every request confirmed with CloudFormation
/// through the SDK configuration `config` before anything is done for it.
pub async fn run<R, E>(
    config: &aws_types::SdkConfig,
    resource: Result<R, E>,
) -> Result<(), lambda_runtime::Error>
where
    R: crate::CustomResource,
    E: std::fmt::Display,
{
    crate::serve(resource, CloudFormationStacks::from_config(config)).await
}
