//! `Custom::AlbRulePriority`: listener rule priorities unique on the listener, even when
//! many stacks deploy at once.

mod alb_rule_priority;
mod choice;
mod listener;
mod properties;
mod reservations;

use reservations::Reservations;

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init(env!("CARGO_CRATE_NAME"));
    // Endpoints and region come from the environment (AWS_ENDPOINT_URL for local runs).
    let config = aws_config::load_from_env().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    // Without a prefix every request is answered FAILED, saying so.
    let resource =
        Reservations::from_env(ssm).map(|r| alb_rule_priority::AlbRulePriority::new(elb, r));
    shared::run(resource).await
}
