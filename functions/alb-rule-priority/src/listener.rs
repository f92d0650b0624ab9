//! The listener's rules, every page of them.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client;

use crate::error::Error;

/// DescribeRules' largest page.
const PAGE_SIZE: i32 = 400;

/// The priorities of every rule on the listener (the default rule has none).
pub async fn rule_priorities(elb: &Client, listener_arn: &str) -> Result<BTreeSet<u32>, Error> {
    let mut priorities = BTreeSet::new();
    let mut marker = None;
    loop {
        let page = elb
            .describe_rules()
            .listener_arn(listener_arn)
            .page_size(PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_listener_not_found_exception() => {
                    Error::NoListener(listener_arn.to_owned())
                }
                _ => Error::Aws {
                    action: "DescribeRules",
                    message: shared::aws::aws_error(&e),
                },
            })?;
        priorities.extend(
            page.rules()
                .iter()
                .filter_map(|r| r.priority())
                .filter_map(|p| p.parse::<u32>().ok()),
        );
        marker = page.next_marker;
        if marker.is_none() {
            return Ok(priorities);
        }
    }
}
