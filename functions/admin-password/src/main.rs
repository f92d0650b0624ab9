//! `Custom::AdminPassword`: generates the RDS admin password into an SSM SecureString.

mod admin_password;
mod error;
mod properties;

use shared::secure_parameter::SecureParameters;

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init(env!("CARGO_CRATE_NAME"));
    // Endpoints and region come from the environment (AWS_ENDPOINT_URL for local runs).
    let config = shared::aws::load_config().await;
    let parameters = SecureParameters::from_config(&config);
    // The platform's stacks (template parameter AdminPasswordStackNames); unset: none.
    let allowed = std::env::var("ALLOWED_STACK_NAMES").unwrap_or_default();
    let allowed = shared::StackNames::parse_list(&allowed);
    let stacks = shared::stacks::CloudFormationStacks::from_config(&config);
    let resource = admin_password::AdminPassword::new(parameters, allowed, stacks);
    shared::run(&config, Ok::<_, std::convert::Infallible>(resource)).await
}
