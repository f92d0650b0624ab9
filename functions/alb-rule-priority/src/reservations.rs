//! Reservations: one SSM parameter per listener and priority, created only if absent, so two
//! allocations can never both win a priority. Its value names the owner.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use shared::Owner;

use crate::alb_rule_priority::Error;

pub const PREFIX_VARIABLE: &str = "RESERVATION_PREFIX";

pub struct Reservations {
    ssm: Client,
    prefix: String,
}

/// What a reservation's value says, so ownership is one string comparison.
pub fn owner_value(owner: &Owner) -> String {
    format!(
        "stack={} logical-id={}",
        owner.stack_id, owner.logical_resource_id
    )
}

impl Reservations {
    pub fn from_env(ssm: Client) -> Result<Self, String> {
        let prefix = std::env::var(PREFIX_VARIABLE).unwrap_or_default();
        let prefix = prefix.trim_end_matches('/').to_owned();
        shared::parameter_name::validate_name(PREFIX_VARIABLE, &prefix)
            .map_err(|e| format!("{e} (the function's {PREFIX_VARIABLE} environment variable, e.g. /alb-rule-priority)"))?;
        if !prefix.starts_with('/') {
            return Err(format!(
                "{PREFIX_VARIABLE} must be a path starting with /, e.g. /alb-rule-priority"
            ));
        }
        Ok(Self { ssm, prefix })
    }

    /// The path of a listener's reservations: the prefix, then the listener's ARN resource
    /// part (`app/NAME/LB-ID/LISTENER-ID`).
    fn path(&self, listener_arn: &str) -> String {
        let resource = listener_arn
            .split_once(":listener/")
            .map_or(listener_arn, |(_, r)| r);
        let safe: String = resource
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-/".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}/{}", self.prefix, safe)
    }

    fn name(&self, listener_arn: &str, priority: u32) -> String {
        format!("{}/{priority}", self.path(listener_arn))
    }

    /// Every live reservation on the listener: (priority, owner value).
    pub async fn list(&self, listener_arn: &str) -> Result<Vec<(u32, String)>, Error> {
        let path = self.path(listener_arn);
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(&path)
                .recursive(false)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws("GetParametersByPath", &e))?;
            for parameter in page.parameters() {
                let priority = parameter
                    .name()
                    .and_then(|n| n.rsplit('/').next())
                    .and_then(|p| p.parse().ok());
                if let (Some(priority), Some(value)) = (priority, parameter.value()) {
                    found.push((priority, value.to_owned()));
                }
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    /// Claims a priority: `false` if another allocation holds it already.
    pub async fn claim(
        &self,
        listener_arn: &str,
        priority: u32,
        owner: &Owner,
    ) -> Result<bool, Error> {
        let put = self
            .ssm
            .put_parameter()
            .name(self.name(listener_arn, priority))
            .value(owner_value(owner))
            .r#type(ParameterType::String)
            .description(format!(
                "listener rule priority {priority} reserved for {}",
                owner.logical_resource_id
            ))
            .overwrite(false)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws("PutParameter", &e)),
        }
    }

    /// Releases a priority; one already released is fine.
    pub async fn release(&self, listener_arn: &str, priority: u32) -> Result<(), Error> {
        match self
            .ssm
            .delete_parameter()
            .name(self.name(listener_arn, priority))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("DeleteParameter", &e)),
        }
    }
}

fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &'static str,
    error: &aws_sdk_ssm::error::SdkError<E>,
) -> Error {
    Error::Aws {
        action,
        message: shared::aws_error(error),
    }
}
