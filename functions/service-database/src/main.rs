//! `Custom::ServiceDatabase`: a PostgreSQL database and login role per service.

mod admin_credentials;
mod auth_guard;
mod cluster;
mod error;
mod failpoint;
mod identifiers;
mod profile;
mod properties;
mod service_database;

use shared::secure_parameter::SecureParameters;

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init(env!("CARGO_CRATE_NAME"));
    // Endpoints and region come from the environment (AWS_ENDPOINT_URL for local runs).
    let config = shared::aws::load_config().await;
    let parameters = SecureParameters::from_config(&config);
    let secrets = aws_sdk_secretsmanager::Config::from(&config);
    let ssm = parameters.ssm().clone();
    let admin = admin_credentials::AdminCredentials::new(parameters.clone(), secrets);
    // Only profiles under the platform's path (template.yaml's ClusterProfilePath) are read.
    let resource = match std::env::var("CLUSTER_PROFILE_PATH") {
        Ok(path) if path.starts_with('/') && path.len() > 1 => {
            Ok(service_database::ServiceDatabase::new(
                parameters,
                profile::Profiles::new(ssm, &path),
                admin,
                shared::stacks::CloudFormationStacks::from_config(&config),
            ))
        }
        _ => Err(
            "CLUSTER_PROFILE_PATH must name the SSM path of the platform's cluster profiles, e.g. /platform/rds",
        ),
    };
    shared::run(&config, resource).await
}
