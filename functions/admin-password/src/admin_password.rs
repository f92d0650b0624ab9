//! Create / update / delete of the admin password parameter.

use shared::parameter_name::validate_name;
use shared::password::{PasswordOptions, PasswordPolicy, Secret};
use shared::secure_parameter::{DEFAULT_KMS_KEY, Key, SecureParameters, parameter_arn};
use shared::stacks::CloudFormationStacks;
use shared::{Create, CustomResource, Delete, Outcome, Owner, Progress, StackNames, Update};

use crate::error::Error;
use crate::properties::{Properties, retain_on_delete};

pub struct AdminPassword {
    parameters: SecureParameters,
    /// The stacks that may use the function: the platform's (template parameter
    /// AdminPasswordStackNames).
    allowed: StackNames,
    /// Which role deploys a stack: a retained parameter passes only to the same one.
    stacks: CloudFormationStacks,
}

impl AdminPassword {
    pub fn new(
        parameters: SecureParameters,
        allowed: StackNames,
        stacks: CloudFormationStacks,
    ) -> Self {
        Self {
            parameters,
            allowed,
            stacks,
        }
    }

    /// The admin password is the platform's: a stack it does not list writes nothing.
    fn allow(&self, owner: &Owner) -> Result<(), Error> {
        if self.allowed.allows(owner) {
            return Ok(());
        }
        Err(Error::StackNotAllowed {
            stack: owner.stack_name().to_owned(),
            allowed: match self.allowed.is_empty() {
                true => "none yet".to_owned(),
                false => self.allowed.describe(),
            },
        })
    }

    /// Checks everything that can be checked before any change. In a rollback, a policy
    /// that today's rules refuse gives way to the default one: the rollback must not fail.
    async fn prepare(
        &self,
        properties: &Properties,
        rollback: bool,
        progress: &Progress,
    ) -> Result<(PasswordPolicy, Key), Error> {
        if !rollback {
            validate_name("ParameterName", &properties.parameter_name)?;
        }
        let policy = match PasswordPolicy::new(&properties.password_options()) {
            Err(error) if rollback => {
                tracing::warn!(%error, "rolling back to a policy refused today: the default applies");
                PasswordPolicy::new(&PasswordOptions::default())?
            }
            policy => policy?,
        };
        progress.step(format!("checking KMS key {}", properties.kms_key_id()));
        let key = self.parameters.check_key(properties.kms_key_id()).await?;
        Ok((policy, key))
    }

    /// Creates the parameter, or adopts it if this resource made it already or an earlier
    /// deployment of this stack released it. A new parameter is answered from what was
    /// written: no read back.
    async fn create_parameter(
        &self,
        properties: &Properties,
        owner: &Owner,
        (record, function_arn): (&str, &str),
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        self.allow(owner)?;
        let (policy, key) = self.prepare(properties, false, progress).await?;
        let name = &properties.parameter_name;
        let description = properties.description.as_deref();
        let password = policy.generate()?;
        progress.step(format!("creating parameter {name}"));
        let written = self
            .parameters
            .put_new(name, &password, &key, description, owner, record)
            .await?;
        if let (Some(version), Some(arn)) = (written, parameter_arn(function_arn, name)) {
            return Ok(answer(name, &arn, version, &key, &password));
        }
        if written.is_none()
            && self
                .parameters
                .adopt_released(name, owner, &key, &self.stacks)
                .await?
        {
            // Retained by an earlier deployment of this stack: taken over, with a fresh
            // password (the cluster takes it from this resource's answer).
            progress.step(format!("adopting parameter {name} with a new password"));
            self.parameters
                .overwrite(name, &password, &key, description)
                .await?;
            let token = properties.rotation_token.as_deref();
            self.parameters.restart_rotation_labels(name, token).await?;
            self.parameters.set_record(name, record).await?;
        } else if written.is_none() {
            self.parameters.ensure_ours(name, owner).await?;
            tracing::info!(parameter = %name, "the parameter is this resource's already: adopted");
        }
        let result = self.outcome(name, &key, progress).await;
        if result.is_err() && written.is_some() {
            // Leave nothing half-created behind.
            let _ = self.parameters.delete_if_ours(name, owner).await;
        }
        result
    }

    /// A new RotationToken: a new password, or the one in force under that token before (a
    /// rollback). The password in force now is kept under its token's label first.
    async fn rotate(
        &self,
        name: &str,
        policy: &PasswordPolicy,
        key: &Key,
        [old_token, new_token]: [Option<&str>; 2],
        description: Option<&str>,
        progress: &Progress,
    ) -> Result<(), Error> {
        progress.step(format!("rotating the password in {name}"));
        self.parameters.label_rotation(name, old_token).await?;
        self.parameters
            .tidy_rotation_labels(name, [old_token, new_token])
            .await?;
        let value = match self.parameters.read_rotation(name, new_token).await? {
            Some(earlier) => {
                progress.step(format!(
                    "restoring the password in force under RotationToken {}",
                    new_token.unwrap_or("(none)")
                ));
                earlier
            }
            None => policy.generate()?,
        };
        self.parameters
            .overwrite(name, &value, key, description)
            .await?;
        self.parameters.label_rotation(name, new_token).await?;
        Ok(())
    }

    async fn outcome(&self, name: &str, key: &Key, progress: &Progress) -> Result<Outcome, Error> {
        progress.step(format!("reading parameter {name}"));
        let stored = self
            .parameters
            .read(name)
            .await?
            .ok_or_else(|| Error::Vanished(name.to_owned()))?;
        Ok(answer(
            name,
            &stored.arn,
            stored.version,
            key,
            &stored.value,
        ))
    }
}

impl AdminPassword {
    /// Marks the parameter released, naming the key that encrypts it; a key that cannot be
    /// checked any more is named by none, and then nothing can adopt the parameter.
    async fn release(&self, name: &str, request: &Delete<Properties>) -> Result<(), Error> {
        let key_id = request.properties.text("KmsKeyId");
        self.parameters
            .release(name, &request.owner, None, key_id.as_deref(), &self.stacks)
            .await?;
        Ok(())
    }
}

fn answer(name: &str, arn: &str, version: i64, key: &Key, password: &Secret) -> Outcome {
    Outcome::new(name)
        .with("ParameterName", name)
        .with("ParameterArn", arn)
        .with("ParameterVersion", version.to_string())
        .with("KmsKeyArn", &key.arn)
        .with("Password", password.expose())
}

impl CustomResource for AdminPassword {
    type Properties = Properties;
    type Error = Error;
    const NO_ECHO: bool = true;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let Create {
            properties,
            owner,
            record,
            function_arn,
            ..
        } = request;
        self.create_parameter(&properties, &owner, (&record, &function_arn), progress)
            .await
    }

    async fn update(
        &self,
        request: Update<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let Update {
            owner,
            physical_resource_id,
            properties: new,
            old_properties: old,
            record,
            rollback,
            function_arn,
            ..
        } = request;
        self.allow(&owner)?;
        let name = &new.parameter_name;
        if *name != physical_resource_id {
            // A new name is a new resource; CloudFormation deletes the old one afterwards.
            progress.step(format!(
                "replacing parameter {physical_resource_id} with {name}"
            ));
            return self
                .create_parameter(&new, &owner, (&record, &function_arn), progress)
                .await;
        }
        let (policy, key) = self.prepare(&new, rollback, progress).await?;
        progress.step(format!("checking that parameter {name} is this resource's"));
        if !self.parameters.ensure_ours(name, &owner).await? {
            tracing::warn!(parameter = %name, "the parameter is gone; creating it anew");
            return self
                .create_parameter(&new, &owner, (&record, &function_arn), progress)
                .await;
        }
        // Recorded before the change, so a rollback from a failure part-way is recognised.
        self.parameters.set_record(name, &record).await?;
        let description = new.description.as_deref();
        // Read as given: old properties that no longer parse as a whole still say these.
        let old_token = old.text("RotationToken");
        let old_key = old.text("KmsKeyId");
        let old_key = old_key.as_deref().unwrap_or(DEFAULT_KMS_KEY);
        let old_description = old.text("Description");
        if old_token.as_deref() != new.rotation_token.as_deref() {
            let tokens = [old_token.as_deref(), new.rotation_token.as_deref()];
            self.rotate(name, &policy, &key, tokens, description, progress)
                .await?;
        } else if old_key != new.kms_key_id() || old_description.as_deref() != description {
            progress.step(format!(
                "re-encrypting {name} with the new key or description"
            ));
            let stored = self.parameters.read(name).await?;
            let value = stored.ok_or_else(|| Error::Vanished(name.clone()))?.value;
            self.parameters
                .overwrite(name, &value, &key, description)
                .await?;
        }
        self.outcome(name, &key, progress).await
    }

    async fn recorded_properties(
        &self,
        request: &Update<(), Properties>,
    ) -> Result<Option<String>, Error> {
        // No check of the name: one refused today must still find its record.
        let name = &request.physical_resource_id;
        Ok(self.parameters.record(name, &request.owner, None).await?)
    }

    async fn delete(&self, request: Delete<Properties>, progress: &Progress) -> Result<(), Error> {
        let name = &request.physical_resource_id;
        if retain_on_delete(&request.properties) {
            progress.step(format!("retaining parameter {name} (RetainOnDelete)"));
            // Released for a later deployment of this stack that names the same key; a
            // failure keeps it all the same.
            if validate_name("ParameterName", name).is_ok()
                && let Err(error) = self.release(name, &request).await
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
