//! The events CloudFormation sends to a custom resource.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::CfnEndpoint;
use crate::cfn_endpoint::response_url;

/// The IAM role a team deploys its stacks with (CloudFormation's `RoleARN`).
pub const TEAM_ROLE: &str = "arn:aws:iam::123456789012:role/orders-team-deployer";

/// A value unique within this machine's test runs.
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:x}-{:x}-{}",
        nanos,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A ResponseURL in CloudFormation's own shape for one request.
pub fn cloudformation_url(stack_id: &str, logical_id: &str, request_id: &str) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261204T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261204%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={}",
        encode(&format!("{stack_id}|{logical_id}|{request_id}")),
        crate::cfn_endpoint::signature_for(request_id)
    )
}

/// Builds the events of one resource in one stack.
pub struct EventBuilder {
    stack_id: String,
    logical_id: String,
    endpoint_base: String,
}

impl EventBuilder {
    pub fn new(endpoint: &CfnEndpoint, logical_id: &str) -> Self {
        Self::in_stack(endpoint, &format!("test-{}", unique()), logical_id)
    }

    /// A resource in a new stack named `stack_name` (a deployment of that stack: each has
    /// its own stack id).
    pub fn in_stack(endpoint: &CfnEndpoint, stack_name: &str, logical_id: &str) -> Self {
        Self {
            stack_id: format!(
                "arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/{}",
                unique()
            ),
            logical_id: logical_id.to_owned(),
            endpoint_base: endpoint.base().to_owned(),
        }
    }

    /// The stack is deployed with the IAM role `role` (as CloudFormation says to `endpoint`'s
    /// functions): the proof a later deployment of the same name gives that it is the same
    /// team's.
    pub fn deployed_by(self, endpoint: &CfnEndpoint, role: &str) -> Self {
        endpoint.cloudformation().set_role(&self.stack_id, role);
        self
    }

    /// The same resource, its answers going to another function's endpoint.
    pub fn answered_at(&self, endpoint: &CfnEndpoint) -> Self {
        Self {
            stack_id: self.stack_id.clone(),
            logical_id: self.logical_id.clone(),
            endpoint_base: endpoint.base().to_owned(),
        }
    }

    pub fn stack_id(&self) -> &str {
        &self.stack_id
    }

    fn base(&self, request_type: &str, properties: Value) -> Value {
        let request_id = unique();
        let mut properties = properties;
        if let Some(map) = properties.as_object_mut() {
            map.insert(
                "ServiceToken".into(),
                json!("arn:aws:lambda:us-east-1:123456789012:function:under-test"),
            );
        }
        json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:under-test",
            "ResponseURL": response_url(&self.endpoint_base, &request_id),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": "Custom::UnderTest",
            "ResourceProperties": properties,
        })
    }

    /// The same event, its answer addressed as CloudFormation addresses it: its response
    /// bucket for us-east-1, the object named after this stack, resource and request. The
    /// host is not reached from here: a function that answers it fails to send.
    pub fn from_cloudformation(&self, mut event: Value) -> Value {
        let request_id = event["RequestId"].as_str().unwrap_or_default().to_owned();
        event["ResponseURL"] = json!(cloudformation_url(
            &self.stack_id,
            &self.logical_id,
            &request_id
        ));
        event
    }

    pub fn create(&self, properties: Value) -> Value {
        self.base("Create", properties)
    }

    pub fn update(&self, physical_id: &str, properties: Value, old: Value) -> Value {
        let mut event = self.base("Update", properties);
        event["PhysicalResourceId"] = json!(physical_id);
        event["OldResourceProperties"] = old;
        event
    }

    pub fn delete(&self, physical_id: &str, properties: Value) -> Value {
        let mut event = self.base("Delete", properties);
        event["PhysicalResourceId"] = json!(physical_id);
        event
    }
}
