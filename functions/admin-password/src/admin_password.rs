//! Create / update / delete of the admin password parameter.

use shared::parameter_name::{InvalidName, validate_name};
use shared::password::{PasswordError, PasswordPolicy, Secret};
use shared::secure_parameter::{Key, ParameterError, SecureParameters};
use shared::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update};

use crate::properties::{Existing, Properties};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("parameter {0} was written but could not be read back")]
    Vanished(String),
}

pub struct AdminPassword {
    parameters: SecureParameters,
}

impl AdminPassword {
    pub fn new(parameters: SecureParameters) -> Self {
        Self { parameters }
    }

    /// Checks everything that can be checked before any change.
    async fn prepare(
        &self,
        properties: &Properties,
        progress: &Progress,
    ) -> Result<(PasswordPolicy, Key), Error> {
        validate_name("ParameterName", &properties.parameter_name)?;
        let policy = PasswordPolicy::new(&properties.password_options())?;
        progress.step(format!("checking KMS key {}", properties.kms_key_id()));
        let key = self.parameters.check_key(properties.kms_key_id()).await?;
        Ok((policy, key))
    }

    /// Creates the parameter, or adopts it if this resource made it already.
    async fn create_parameter(
        &self,
        properties: &Properties,
        owner: &Owner,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let (policy, key) = self.prepare(properties, progress).await?;
        let name = &properties.parameter_name;
        let password = policy.generate()?;
        if self.parameters.adopt_released(name, owner).await? {
            // Retained by an earlier deployment of this stack: taken over, with a fresh
            // password (the cluster takes it from this resource's answer).
            progress.step(format!("adopting parameter {name} with a new password"));
            self.parameters
                .overwrite(name, &password, &key, properties.description.as_deref())
                .await?;
            return self.outcome(name, &key, progress).await;
        }
        progress.step(format!("creating parameter {name}"));
        let created = self
            .parameters
            .create(
                name,
                &password,
                &key,
                properties.description.as_deref(),
                owner,
            )
            .await?;
        if !created {
            tracing::info!(parameter = %name, "the parameter is this resource's already: adopted");
        }
        match self.outcome(name, &key, progress).await {
            Err(error) if created => {
                // Leave nothing half-created behind.
                let _ = self.parameters.delete_if_ours(name, owner).await;
                Err(error)
            }
            result => result,
        }
    }

    async fn outcome(&self, name: &str, key: &Key, progress: &Progress) -> Result<Outcome, Error> {
        progress.step(format!("reading parameter {name}"));
        let stored = self
            .parameters
            .read(name)
            .await?
            .ok_or_else(|| Error::Vanished(name.to_owned()))?;
        Ok(Outcome::new(name)
            .with("ParameterName", name)
            .with("ParameterArn", stored.arn)
            .with("ParameterVersion", stored.version.to_string())
            .with("KmsKeyArn", &key.arn)
            .with("Password", stored.value.expose()))
    }
}

impl CustomResource for AdminPassword {
    type Properties = Properties;
    type ExistingProperties = Existing;
    type Error = Error;
    const NO_ECHO: bool = true;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        self.create_parameter(&request.properties, &request.owner, progress)
            .await
    }

    async fn update(
        &self,
        request: Update<Properties, Existing>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let Update {
            owner,
            physical_resource_id,
            properties: new,
            old_properties: old,
            ..
        } = request;
        let name = &new.parameter_name;
        if *name != physical_resource_id {
            // A new name is a new resource; CloudFormation deletes the old one afterwards.
            progress.step(format!(
                "replacing parameter {physical_resource_id} with {name}"
            ));
            return self.create_parameter(&new, &owner, progress).await;
        }
        let (policy, key) = self.prepare(&new, progress).await?;
        progress.step(format!("checking that parameter {name} is this resource's"));
        if !self.parameters.ensure_ours(name, &owner).await? {
            tracing::warn!(parameter = %name, "the parameter is gone; creating it anew");
            return self.create_parameter(&new, &owner, progress).await;
        }
        let rotate = old.rotation_token != new.rotation_token;
        let rewrite = old.kms_key_id() != new.kms_key_id() || old.description != new.description;
        let (old_token, new_token) = (old.rotation_token.as_deref(), new.rotation_token.as_deref());
        if rotate || rewrite {
            let value: Secret = if rotate {
                progress.step(format!("rotating the password in {name}"));
                // The password in force now is kept under its token's label, so a rollback
                // (an Update back to that token) restores it rather than making a third one.
                self.parameters.label_rotation(name, old_token).await?;
                self.parameters
                    .tidy_rotation_labels(name, [old_token, new_token])
                    .await?;
                match self.parameters.read_rotation(name, new_token).await? {
                    Some(earlier) => {
                        progress.step(format!(
                            "restoring the password in force under RotationToken {}",
                            new_token.unwrap_or("(none)")
                        ));
                        earlier
                    }
                    None => policy.generate()?,
                }
            } else {
                progress.step(format!(
                    "re-encrypting {name} with the new key or description"
                ));
                self.parameters
                    .read(name)
                    .await?
                    .ok_or_else(|| Error::Vanished(name.clone()))?
                    .value
            };
            self.parameters
                .overwrite(name, &value, &key, new.description.as_deref())
                .await?;
            if rotate {
                self.parameters.label_rotation(name, new_token).await?;
            }
        }
        self.outcome(name, &key, progress).await
    }

    async fn delete(&self, request: Delete<Existing>, progress: &Progress) -> Result<(), Error> {
        let name = &request.physical_resource_id;
        if request.properties.retain_on_delete() {
            progress.step(format!("retaining parameter {name} (RetainOnDelete)"));
            // Released for a later deployment of this stack; a failure keeps it all the same.
            if validate_name("ParameterName", name).is_ok()
                && let Err(error) = self.parameters.release(name, &request.owner, None).await
            {
                tracing::warn!(error = %error, "kept, but not marked as released");
            }
            return Ok(());
        }
        if validate_name("ParameterName", name).is_err() {
            // Not a parameter name: nothing of ours can be there.
            return Ok(());
        }
        progress.step(format!("deleting parameter {name}"));
        let deleted = self.parameters.delete_if_ours(name, &request.owner).await?;
        tracing::info!(parameter = %name, deleted, "delete finished");
        Ok(())
    }
}
