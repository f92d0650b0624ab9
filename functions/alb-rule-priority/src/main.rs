//! `Custom::AlbRulePriority`: listener rule priorities unique on the listener, even when
//! many stacks deploy at once.

mod alb_rule_priority;
mod choice;
mod error;
mod ledger;
mod listener;
mod places;
mod properties;

use ledger::Ledger;

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init(env!("CARGO_CRATE_NAME"));
    // Endpoints and region come from the environment (AWS_ENDPOINT_URL for local runs).
    let config = shared::aws::load_config().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    // Without a ledger table every request is answered FAILED, saying so.
    let resource =
        Ledger::from_env(dynamo).map(|ledger| alb_rule_priority::AlbRulePriority::new(elb, ledger));
    shared::run(&config, resource).await
}
