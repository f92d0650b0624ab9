//! The response body, always one CloudFormation accepts.

use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse as Body,
    CloudFormationCustomResourceResponseStatus as Status,
};

/// CloudFormation rejects response bodies larger than this.
pub const MAX_BODY_BYTES: usize = 4096;
/// CloudFormation rejects longer PhysicalResourceIds.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;
/// Starts the PhysicalResourceId of a Create that failed: its Delete then touches nothing.
pub const FAILED_CREATE_PREFIX: &str = "create-failed:";

/// The fields echoed from the request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Echo {
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Success {
        physical_resource_id: String,
        data: BTreeMap<String, String>,
        no_echo: bool,
    },
    Failed {
        physical_resource_id: String,
        reason: String,
    },
}

impl Answer {
    pub fn failed(physical_resource_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Answer::Failed {
            physical_resource_id: physical_resource_id.into(),
            reason: reason.into(),
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Answer::Success { .. })
    }
}

/// The marker PhysicalResourceId for a Create that failed.
pub(crate) fn failed_create_id(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{}", truncate(request_id, 256))
}

/// Serializes the answer into a body that fits CloudFormation's limits. An answer that cannot
/// fit becomes a FAILED that says why; a Reason is sanitized and shortened to fit.
/// `fallback_id` is the PhysicalResourceId to use if the answer's own one is unusable.
pub(crate) fn render(answer: Answer, echo: &Echo, fallback_id: &str, log_hint: &str) -> Vec<u8> {
    match answer {
        Answer::Success {
            physical_resource_id,
            data,
            no_echo,
        } => match render_success(echo, &physical_resource_id, &data, no_echo) {
            Ok(bytes) => bytes,
            // Data too large keeps the id it came with; an unusable id is replaced.
            Err(reason) => render_failed(
                echo,
                id_or(&physical_resource_id, fallback_id),
                &reason,
                log_hint,
            ),
        },
        Answer::Failed {
            physical_resource_id,
            reason,
        } => render_failed(
            echo,
            id_or(&physical_resource_id, fallback_id),
            &reason,
            log_hint,
        ),
    }
}

fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_PHYSICAL_ID_BYTES
}

/// `id` if CloudFormation can take it, else the fallback (cut to fit).
fn id_or<'a>(id: &'a str, fallback: &'a str) -> &'a str {
    if usable_id(id) {
        id
    } else {
        truncate(fallback, MAX_PHYSICAL_ID_BYTES)
    }
}

/// A SUCCESS body, or why there can be none.
fn render_success(
    echo: &Echo,
    physical_resource_id: &str,
    data: &BTreeMap<String, String>,
    no_echo: bool,
) -> Result<Vec<u8>, String> {
    if !usable_id(physical_resource_id) {
        return Err(format!(
            "the function returned a PhysicalResourceId of {} bytes; CloudFormation needs 1 to {MAX_PHYSICAL_ID_BYTES}",
            physical_resource_id.len()
        ));
    }
    let body = body(
        echo,
        Status::Success,
        None,
        physical_resource_id,
        data,
        no_echo,
    );
    serialize(&body).ok_or_else(|| {
        format!(
            "the response would be {} bytes with its Data ({} attributes), over CloudFormation's limit of {MAX_BODY_BYTES} bytes; the attributes must be made smaller",
            serialize_unbounded(&body).len(),
            data.len()
        )
    })
}

/// A FAILED body, its reason sanitized and shortened until it fits.
fn render_failed(echo: &Echo, physical_resource_id: &str, reason: &str, log_hint: &str) -> Vec<u8> {
    let reason = sanitize(reason);
    let hint = sanitize(log_hint);
    let failed = |echo: &Echo, room: usize| {
        let mut text = shorten_to(&reason, room);
        if !hint.is_empty() {
            text = format!("{text} {hint}");
        }
        let body = body(
            echo,
            Status::Failed,
            Some(text),
            physical_resource_id,
            &BTreeMap::new(),
            false,
        );
        serialize_unbounded(&body)
    };
    let mut room = reason.len();
    loop {
        let bytes = failed(echo, room);
        if bytes.len() <= MAX_BODY_BYTES {
            return bytes;
        }
        if room == 0 {
            break;
        }
        room = room.saturating_sub(bytes.len() - MAX_BODY_BYTES);
    }
    // Only a malformed event's oversized ids can get here: shorten those too.
    let echo = Echo {
        request_id: truncate(&echo.request_id, 256).to_owned(),
        stack_id: truncate(&echo.stack_id, 1024).to_owned(),
        logical_resource_id: truncate(&echo.logical_resource_id, 256).to_owned(),
    };
    failed(&echo, 512)
}

fn body(
    echo: &Echo,
    status: Status,
    reason: Option<String>,
    physical_resource_id: &str,
    data: &BTreeMap<String, String>,
    no_echo: bool,
) -> Body {
    let mut body = Body::default();
    body.status = status;
    body.reason = reason;
    body.physical_resource_id = physical_resource_id.to_owned();
    body.stack_id = echo.stack_id.clone();
    body.request_id = echo.request_id.clone();
    body.logical_resource_id = echo.logical_resource_id.clone();
    body.no_echo = no_echo;
    body.data = data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<HashMap<_, _>>();
    body
}

fn serialize(body: &Body) -> Option<Vec<u8>> {
    let bytes = serialize_unbounded(body);
    (bytes.len() <= MAX_BODY_BYTES).then_some(bytes)
}

fn serialize_unbounded(body: &Body) -> Vec<u8> {
    // A struct of strings, a bool and a string map always serializes.
    serde_json::to_vec(body).unwrap_or_default()
}

/// Control characters (newlines included) become spaces; runs of white space fold to one.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.trim().to_owned()
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Like `truncate`, but marks the cut with an ellipsis (within `max` bytes).
fn shorten_to(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", truncate(text, max.saturating_sub('…'.len_utf8())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn echo() -> Echo {
        Echo {
            request_id: "req-1".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            logical_resource_id: "Password".into(),
        }
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn failed_reason_of_any_length_fits_and_loses_control_characters() {
        let reason = format!("bad\nvalue\t{}", "é".repeat(10_000));
        let bytes = render(
            Answer::failed("id", reason),
            &echo(),
            "id",
            "(log stream x)",
        );
        assert!(bytes.len() <= MAX_BODY_BYTES, "{}", bytes.len());
        let body = parse(&bytes);
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.starts_with("bad value éé"), "{reason}");
        assert!(reason.ends_with("(log stream x)"), "{reason}");
        assert!(!reason.chars().any(char::is_control));
        assert_eq!(body["Status"], "FAILED");
    }

    #[test]
    fn oversized_data_turns_into_a_failed_that_says_so() {
        let mut data = BTreeMap::new();
        data.insert("Big".to_owned(), "x".repeat(5000));
        let answer = Answer::Success {
            physical_resource_id: "id".into(),
            data,
            no_echo: true,
        };
        let bytes = render(answer, &echo(), "fallback", "");
        let body = parse(&bytes);
        assert_eq!(body["Status"], "FAILED");
        assert!(
            body["Reason"]
                .as_str()
                .unwrap()
                .contains("over CloudFormation's limit of 4096")
        );
        assert_eq!(body["PhysicalResourceId"], "id");
        assert!(body["Data"].as_object().unwrap().is_empty());
    }

    #[test]
    fn empty_or_oversized_physical_id_fails_with_the_fallback() {
        for bad in [String::new(), "p".repeat(1025)] {
            let answer = Answer::Success {
                physical_resource_id: bad,
                data: BTreeMap::new(),
                no_echo: false,
            };
            let body = parse(&render(answer, &echo(), "create-failed:req-1", ""));
            assert_eq!(body["Status"], "FAILED");
            assert_eq!(body["PhysicalResourceId"], "create-failed:req-1");
        }
    }

    #[test]
    fn success_echoes_the_request_and_carries_no_echo() {
        let mut data = BTreeMap::new();
        data.insert("Password".to_owned(), "secret".to_owned());
        let answer = Answer::Success {
            physical_resource_id: "/p".into(),
            data,
            no_echo: true,
        };
        let body = parse(&render(answer, &echo(), "f", ""));
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["NoEcho"], true);
        assert_eq!(body["RequestId"], "req-1");
        assert_eq!(body["LogicalResourceId"], "Password");
        assert_eq!(body["Data"]["Password"], "secret");
    }

    #[test]
    fn malformed_event_with_huge_ids_still_fits() {
        let echo = Echo {
            request_id: "r".repeat(5000),
            stack_id: "s".repeat(5000),
            logical_resource_id: "l".repeat(5000),
        };
        let bytes = render(
            Answer::failed("", "malformed"),
            &echo,
            "create-failed:x",
            "",
        );
        assert!(bytes.len() <= MAX_BODY_BYTES, "{}", bytes.len());
        assert_eq!(parse(&bytes)["Status"], "FAILED");
    }
}
