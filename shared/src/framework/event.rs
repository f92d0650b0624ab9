//! The invocation payload: a custom-resource request, or something that only looks like one.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;

use super::response::Echo;

pub(crate) type Request = CloudFormationCustomResourceRequest<Value, Value>;

/// What can be read of any payload that carries a ResponseURL.
pub(crate) struct Envelope {
    pub response_url: String,
    pub echo: Echo,
    pub physical_resource_id: Option<String>,
    pub request_type: String,
}

impl Envelope {
    /// `None` when the payload has no ResponseURL: then there is no one to answer.
    pub fn read(payload: &Value) -> Option<Self> {
        let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            response_url: text("ResponseURL").filter(|u| !u.is_empty())?,
            echo: Echo {
                request_id: text("RequestId").unwrap_or_default(),
                stack_id: text("StackId").unwrap_or_default(),
                logical_resource_id: text("LogicalResourceId").unwrap_or_default(),
            },
            physical_resource_id: text("PhysicalResourceId").filter(|p| !p.is_empty()),
            request_type: text("RequestType").unwrap_or_default(),
        })
    }
}

/// Parses the full request; the error says what is missing or wrong.
pub(crate) fn parse(payload: Value) -> Result<Request, String> {
    let request: Request = serde_json::from_value(payload)
        .map_err(|e| format!("malformed custom resource request: {e}"))?;
    let (request_id, stack_id, logical_id) = match &request {
        Request::Create(r) => (&r.request_id, &r.stack_id, &r.logical_resource_id),
        Request::Update(r) => (&r.request_id, &r.stack_id, &r.logical_resource_id),
        Request::Delete(r) => (&r.request_id, &r.stack_id, &r.logical_resource_id),
        _ => return Err("malformed custom resource request: unknown RequestType".into()),
    };
    for (name, value) in [
        ("RequestId", request_id),
        ("StackId", stack_id),
        ("LogicalResourceId", logical_id),
    ] {
        if value.is_empty() {
            return Err(format!(
                "malformed custom resource request: {name} is empty"
            ));
        }
    }
    if let Request::Update(r) = &request
        && r.physical_resource_id.is_empty()
    {
        return Err("malformed custom resource request: PhysicalResourceId is empty".into());
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create() -> Value {
        json!({
            "RequestType": "Create", "RequestId": "r", "ResponseURL": "http://x/y?sig=1",
            "StackId": "s", "LogicalResourceId": "L", "ResourceType": "Custom::X",
            "ResourceProperties": {"ServiceToken": "arn"}
        })
    }

    #[test]
    fn a_valid_create_parses() {
        assert!(matches!(parse(create()), Ok(Request::Create(_))));
    }

    #[test]
    fn a_missing_field_is_named() {
        let mut event = create();
        event.as_object_mut().unwrap().remove("StackId");
        let envelope = Envelope::read(&event).unwrap();
        assert_eq!(envelope.echo.request_id, "r");
        assert!(parse(event).unwrap_err().contains("StackId"));
    }

    #[test]
    fn an_unknown_request_type_is_malformed() {
        let mut event = create();
        event["RequestType"] = json!("Replace");
        assert!(parse(event).unwrap_err().contains("Replace"));
    }

    #[test]
    fn no_response_url_means_no_envelope() {
        assert!(Envelope::read(&json!({"RequestType": "Create"})).is_none());
        assert!(Envelope::read(&json!("text")).is_none());
    }
}
