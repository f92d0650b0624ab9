//! The cluster admin's user and password, from where the cluster's profile says: an SSM
//! SecureString, or a Secrets Manager secret such as the RDS-managed master secret.

use std::sync::OnceLock;

use serde::Deserialize;
use shared::password::Secret;
use shared::secure_parameter::{ParameterError, SecureParameters};

use crate::profile::AdminSource;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "cluster profile {profile}: AdminPasswordParameterName {parameter}: no such parameter; the platform must store the admin password there"
    )]
    NoParameter { profile: String, parameter: String },
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error("cluster profile {profile}: reading AdminSecretArn {arn} failed: {message}")]
    Secret {
        profile: String,
        arn: String,
        message: String,
    },
    #[error(
        "cluster profile {profile}: the secret AdminSecretArn {arn} does not hold JSON with a username and a password"
    )]
    SecretShape { profile: String, arn: String },
}

#[derive(Debug)]
pub struct AdminCredentials {
    parameters: SecureParameters,
    secrets_config: aws_sdk_secretsmanager::Config,
    /// Built at the first secret read: a cluster whose admin password is a SecureString
    /// never needs it, and start-up stays shorter.
    secrets: OnceLock<aws_sdk_secretsmanager::Client>,
}

/// What the RDS-managed master secret holds (other keys are ignored).
#[derive(Deserialize)]
struct SecretDocument {
    username: String,
    password: String,
}

impl AdminCredentials {
    pub fn new(
        parameters: SecureParameters,
        secrets_config: aws_sdk_secretsmanager::Config,
    ) -> Self {
        Self {
            parameters,
            secrets_config,
            secrets: OnceLock::new(),
        }
    }

    fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        self.secrets
            .get_or_init(|| aws_sdk_secretsmanager::Client::from_conf(self.secrets_config.clone()))
    }

    /// `(user, password)` of the cluster whose profile is `profile`.
    pub async fn fetch(
        &self,
        profile: &str,
        source: &AdminSource,
    ) -> Result<(String, Secret), CredentialError> {
        match source {
            AdminSource::Parameter { name, user } => {
                let stored = self.parameters.read(name).await?.ok_or_else(|| {
                    CredentialError::NoParameter {
                        profile: profile.to_owned(),
                        parameter: name.clone(),
                    }
                })?;
                Ok((user.clone(), stored.value))
            }
            AdminSource::Secret { arn } => {
                let secrets = self.secrets();
                let out = secrets
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| CredentialError::Secret {
                        profile: profile.to_owned(),
                        arn: arn.clone(),
                        message: shared::aws::aws_error(&e),
                    })?;
                let shape = || CredentialError::SecretShape {
                    profile: profile.to_owned(),
                    arn: arn.clone(),
                };
                // serde's message could quote the secret: say only what is wrong.
                let document: SecretDocument =
                    serde_json::from_str(out.secret_string().ok_or_else(shape)?)
                        .map_err(|_| shape())?;
                if document.username.is_empty() || document.password.is_empty() {
                    return Err(shape());
                }
                Ok((document.username, Secret::new(document.password)))
            }
        }
    }
}
