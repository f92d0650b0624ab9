//! `Custom::ServiceDatabase`: a PostgreSQL database and login role per service.

mod cluster;
mod identifiers;
mod properties;
mod service_database;

use shared::secure_parameter::SecureParameters;

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init();
    // Endpoints and region come from the environment (AWS_ENDPOINT_URL for local runs).
    let config = aws_config::load_from_env().await;
    let parameters = SecureParameters::from_config(&config);
    // The CA bundle for SslMode verify-full, e.g. the RDS bundle shipped in the package.
    let ca_bundle = std::env::var_os("DATABASE_CA_BUNDLE")
        .filter(|path| !path.is_empty())
        .map(Into::into);
    let resource = service_database::ServiceDatabase::new(parameters, ca_bundle);
    shared::run(Ok::<_, std::convert::Infallible>(resource)).await
}
