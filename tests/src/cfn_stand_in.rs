//! A stand-in for CloudFormation's `DescribeStackResource`, `DescribeStacks` and
//! `DescribeStackEvents` (the query
//! protocol, as the SDK speaks it), because moto cannot model a stack in progress. The
//! response endpoint serves it: the functions reach it through
//! `AWS_ENDPOINT_URL_CLOUDFORMATION`. The harness records, for each event it delivers,
//! the state CloudFormation is in when it sends that event; a test can set any other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::http::{Request, Response};

/// One resource as CloudFormation shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    pub status: String,
    pub physical_id: Option<String>,
}

impl ResourceState {
    pub fn new(status: &str, physical_id: Option<&str>) -> Self {
        Self {
            status: status.to_owned(),
            physical_id: physical_id.map(str::to_owned),
        }
    }
}

#[derive(Default)]
struct Stacks {
    resources: HashMap<(String, String), ResourceState>,
    stacks: HashMap<String, String>,
    /// The role each stack is deployed with (`RoleARN`), where it has one.
    roles: HashMap<String, String>,
    /// Resource events, oldest first: stack, logical id, physical id, status.
    events: Vec<[String; 4]>,
    /// Answer every call with a 500 (CloudFormation unreachable).
    down: bool,
    /// Calls seen, by action.
    calls: HashMap<String, u64>,
}

/// The stand-in's state; cloned handles share it.
#[derive(Clone, Default)]
pub struct CfnStandIn {
    state: Arc<Mutex<Stacks>>,
}

impl CfnStandIn {
    /// Sets what CloudFormation shows of `logical_id` in `stack_id`.
    pub fn set_resource(&self, stack_id: &str, logical_id: &str, state: ResourceState) {
        let key = (stack_id.to_owned(), logical_id.to_owned());
        self.state.lock().unwrap().resources.insert(key, state);
    }

    /// Forgets the resource: CloudFormation then says it does not exist.
    pub fn remove_resource(&self, stack_id: &str, logical_id: &str) {
        let key = (stack_id.to_owned(), logical_id.to_owned());
        self.state.lock().unwrap().resources.remove(&key);
    }

    pub fn set_stack(&self, stack_id: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        state.stacks.insert(stack_id.to_owned(), status.to_owned());
    }

    /// The stack is deployed with the IAM role `role`.
    pub fn set_role(&self, stack_id: &str, role: &str) {
        let mut state = self.state.lock().unwrap();
        state.roles.insert(stack_id.to_owned(), role.to_owned());
    }

    /// A resource event, newer than all before it.
    pub fn add_event(&self, stack_id: &str, logical_id: &str, physical_id: &str, status: &str) {
        let event = [stack_id, logical_id, physical_id, status].map(str::to_owned);
        self.state.lock().unwrap().events.push(event);
    }

    /// While set, every call is answered 500.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// How many calls of `action` the stand-in answered.
    pub fn calls(&self, action: &str) -> u64 {
        let state = self.state.lock().unwrap();
        state.calls.get(action).copied().unwrap_or_default()
    }

    /// What CloudFormation is in when it sends `event` (a Create, Update or Delete).
    pub fn record_sent(&self, event: &serde_json::Value) {
        let Some((kind, stack, logical)) = request_of(event) else {
            return;
        };
        let physical = event["PhysicalResourceId"].as_str();
        let (resource, stack_status) = match kind {
            "Create" => ("CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS"),
            "Update" => ("UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"),
            _ => ("DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS"),
        };
        self.set_resource(stack, logical, ResourceState::new(resource, physical));
        self.set_stack(stack, stack_status);
        if let Some(physical) = physical {
            self.add_event(stack, logical, physical, resource);
        }
    }

    /// What CloudFormation is in once it has `event`'s answer: the resource complete (or
    /// failed) under the physical id answered. Without an accepted answer, as it was.
    pub fn record_answered(&self, event: &serde_json::Value, responses: &[crate::Received]) {
        let Some((kind, stack, logical)) = request_of(event) else {
            return;
        };
        let Some(answer) = responses
            .iter()
            .filter(|r| r.status == 200)
            .find_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        else {
            return;
        };
        let success = answer["Status"] == "SUCCESS";
        let physical = answer["PhysicalResourceId"].as_str();
        let status = match (kind, success) {
            ("Create", true) => "CREATE_COMPLETE",
            ("Create", false) => "CREATE_FAILED",
            ("Update", true) => "UPDATE_COMPLETE",
            ("Update", false) => "UPDATE_FAILED",
            (_, true) => "DELETE_COMPLETE",
            (_, false) => "DELETE_FAILED",
        };
        self.set_resource(stack, logical, ResourceState::new(status, physical));
        self.set_stack(stack, &status.replace("FAILED", "COMPLETE"));
        if let Some(physical) = physical {
            self.add_event(stack, logical, physical, status);
        }
    }

    /// Answers one query-protocol call.
    pub fn answer(&self, request: &Request) -> Response {
        let form = parse_form(&request.body);
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        let action = field("Action");
        let mut state = self.state.lock().unwrap();
        *state.calls.entry(action.clone()).or_default() += 1;
        if state.down {
            return error(500, "InternalFailure", "the stand-in is down");
        }
        let stack = field("StackName");
        match action.as_str() {
            "DescribeStackResource" => {
                let logical = field("LogicalResourceId");
                match state.resources.get(&(stack.clone(), logical.clone())) {
                    Some(resource) => xml(&describe_stack_resource(&stack, &logical, resource)),
                    None => error(
                        400,
                        "ValidationError",
                        &format!("Resource {logical} does not exist for stack {stack}"),
                    ),
                }
            }
            "DescribeStackEvents" => match state.stacks.get(&stack) {
                Some(_) => xml(&describe_stack_events(&stack, &state.events)),
                None => error(
                    400,
                    "ValidationError",
                    &format!("Stack with id {stack} does not exist"),
                ),
            },
            "DescribeStacks" => match state.stacks.get(&stack) {
                Some(status) => xml(&describe_stacks(&stack, status, state.roles.get(&stack))),
                None => error(
                    400,
                    "ValidationError",
                    &format!("Stack with id {stack} does not exist"),
                ),
            },
            other => error(
                400,
                "InvalidAction",
                &format!("{other} is not stood in for"),
            ),
        }
    }
}

/// An event's request type, stack id and logical id.
fn request_of(event: &serde_json::Value) -> Option<(&str, &str, &str)> {
    let text = |name: &str| event.get(name).and_then(|v| v.as_str());
    Some((
        text("RequestType")?,
        text("StackId")?,
        text("LogicalResourceId")?,
    ))
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let query = format!("http://x/?{}", String::from_utf8_lossy(body));
    reqwest::Url::parse(&query)
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn stack_name(stack_id: &str) -> &str {
    stack_id.split('/').nth(1).unwrap_or(stack_id)
}

fn describe_stack_resource(stack: &str, logical: &str, resource: &ResourceState) -> String {
    let physical = resource
        .physical_id
        .as_deref()
        .map(|p| format!("<PhysicalResourceId>{}</PhysicalResourceId>", escape(p)))
        .unwrap_or_default();
    format!(
        "<DescribeStackResourceResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStackResourceResult><StackResourceDetail><StackId>{}</StackId><StackName>{}</StackName><LogicalResourceId>{}</LogicalResourceId>{physical}<ResourceType>Custom::UnderTest</ResourceType><LastUpdatedTimestamp>2026-12-04T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>{}</ResourceStatus></StackResourceDetail></DescribeStackResourceResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStackResourceResponse>",
        escape(stack),
        escape(stack_name(stack)),
        escape(logical),
        escape(&resource.status)
    )
}

fn describe_stacks(stack: &str, status: &str, role: Option<&String>) -> String {
    let role = role
        .map(|r| format!("<RoleARN>{}</RoleARN>", escape(r)))
        .unwrap_or_default();
    format!(
        "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStacksResult><Stacks><member><StackId>{}</StackId><StackName>{}</StackName><CreationTime>2026-12-04T00:00:00Z</CreationTime><StackStatus>{}</StackStatus>{role}</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStacksResponse>",
        escape(stack),
        escape(stack_name(stack)),
        escape(status)
    )
}

/// The stack's events, newest first, on one page.
fn describe_stack_events(stack: &str, events: &[[String; 4]]) -> String {
    let members: String = events
        .iter()
        .rev()
        .filter(|[s, ..]| s == stack)
        .enumerate()
        .map(|(i, [s, logical, physical, status])| {
            format!(
                "<member><StackId>{}</StackId><EventId>{i}</EventId><StackName>{}</StackName><LogicalResourceId>{}</LogicalResourceId><PhysicalResourceId>{}</PhysicalResourceId><ResourceType>Custom::UnderTest</ResourceType><Timestamp>2026-12-04T00:00:00Z</Timestamp><ResourceStatus>{}</ResourceStatus></member>",
                escape(s),
                escape(stack_name(s)),
                escape(logical),
                escape(physical),
                escape(status)
            )
        })
        .collect();
    format!(
        "<DescribeStackEventsResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStackEventsResult><StackEvents>{members}</StackEvents></DescribeStackEventsResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStackEventsResponse>"
    )
}

fn xml(body: &str) -> Response {
    let mut response = Response::status(200);
    response
        .headers
        .push(("content-type".into(), "text/xml".into()));
    response.body = body.as_bytes().to_vec();
    response
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let mut response = xml(&format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>",
        escape(message)
    ));
    response.status = status;
    response
}
