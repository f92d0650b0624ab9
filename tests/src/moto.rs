//! Fixtures in moto.

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum, RuleCondition,
};

use crate::events::unique;
use crate::moto_endpoint;

/// The subnet ids of moto's default VPC (a load balancer needs two), read with one EC2
/// Query API call rather than a whole EC2 SDK.
pub async fn default_subnets() -> Vec<String> {
    let body = reqwest::Client::new()
        .post(moto_endpoint())
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("Action=DescribeSubnets&Version=2016-11-15")
        .send()
        .await
        .expect("moto answers DescribeSubnets")
        .text()
        .await
        .expect("text");
    body.split("<subnetId>")
        .skip(1)
        .filter_map(|s| s.split("</subnetId>").next())
        .map(str::to_owned)
        .collect()
}

/// A parameter as stored, decrypted; `None` if it does not exist.
pub async fn parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
) -> Option<aws_sdk_ssm::types::Parameter> {
    ssm.get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter)
}

/// A new symmetric KMS key; returns its ARN.
pub async fn new_key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key()
        .send()
        .await
        .ok()
        .and_then(|k| k.key_metadata)
        .and_then(|m| m.arn)
        .expect("moto creates the key")
}

fn fixed_response() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("200")
                .build(),
        )
        .build()
}

/// A new load balancer with an HTTP listener and rules at the given priorities.
pub async fn listener_with_rules(elb: &Elb, priorities: impl IntoIterator<Item = u32>) -> String {
    let subnets = default_subnets().await;
    let name = format!("lb-{}", &unique().replace('-', "")[..20]);
    let lb = elb
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(subnets[..2].to_vec()))
        .send()
        .await
        .expect("moto creates the load balancer")
        .load_balancers
        .and_then(|mut l| l.pop())
        .and_then(|l| l.load_balancer_arn)
        .expect("a load balancer ARN");
    let listener = elb
        .create_listener()
        .load_balancer_arn(lb)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(fixed_response())
        .send()
        .await
        .expect("moto creates the listener")
        .listeners
        .and_then(|mut l| l.pop())
        .and_then(|l| l.listener_arn)
        .expect("a listener ARN");
    for priority in priorities {
        add_rule(elb, &listener, priority)
            .await
            .expect("moto creates the rule");
    }
    listener
}

/// A ListenerRule at `priority`; the error names what ELBv2 said (e.g. PriorityInUse).
pub async fn add_rule(elb: &Elb, listener: &str, priority: u32) -> Result<(), String> {
    elb.create_rule()
        .listener_arn(listener)
        .priority(priority as i32)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .values(format!("/{priority}/*"))
                .build(),
        )
        .actions(fixed_response())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{:?}", e.into_service_error()))
}

/// A new, empty priority ledger table shaped as template.yaml defines it.
pub async fn ledger_table(dynamo: &aws_sdk_dynamodb::Client) -> String {
    let name = format!("ledger-{}", crate::events::unique());
    create_ledger_table(dynamo, &name).await;
    name
}

/// Creates the ledger table `name`.
pub async fn create_ledger_table(dynamo: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("Listener", ScalarAttributeType::S))
        .attribute_definitions(attribute("Priority", ScalarAttributeType::N))
        .key_schema(key("Listener", KeyType::Hash))
        .key_schema(key("Priority", KeyType::Range))
        .send()
        .await
        .expect("ledger table");
}

/// The ledger's entries on a listener: (priority, owner).
pub async fn ledger_entries(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    listener: &str,
) -> Vec<(u32, String)> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let out = dynamo
        .query()
        .table_name(table)
        .key_condition_expression("Listener = :l")
        .expression_attribute_values(":l", AttributeValue::S(listener.to_owned()))
        .send()
        .await
        .expect("query the ledger");
    out.items()
        .iter()
        .map(|item| {
            (
                item["Priority"].as_n().unwrap().parse().unwrap(),
                item["Owner"].as_s().unwrap().clone(),
            )
        })
        .collect()
}

/// Writes a resource's record of its properties on parameter `name`, as an earlier release
/// would have: the digests of `current`, then of `before`.
pub async fn set_properties_record(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    current: &serde_json::Value,
    before: &serde_json::Value,
) {
    let record = format!(
        "{} {}",
        shared::properties::digest(Some(current)),
        shared::properties::digest(Some(before))
    );
    ssm.add_tags_to_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .tags(
            aws_sdk_ssm::types::Tag::builder()
                .key("custom-resource:properties")
                .value(record)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("tag the parameter");
}

/// The platform's hand-over of a retained parameter to the resource `stack_and_logical_id`
/// (`<stack name> <logical id>`): a tag only the platform may write.
pub async fn hand_over(ssm: &aws_sdk_ssm::Client, parameter: &str, stack_and_logical_id: &str) {
    ssm.add_tags_to_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(parameter)
        .tags(
            aws_sdk_ssm::types::Tag::builder()
                .key(shared::retained::HAND_OVER_TAG)
                .value(stack_and_logical_id)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}
