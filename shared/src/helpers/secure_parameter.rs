//! SecureString parameters owned by one CloudFormation resource: the KMS key checked first,
//! never overwritten unless ours, tagged with the owning stack and logical id.

use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};

use super::password::Secret;
use crate::Owner;

/// The AWS-managed key SSM uses when KmsKeyId is not given.
pub const DEFAULT_KMS_KEY: &str = "alias/aws/ssm";
/// The owning stack's id, on every parameter a resource makes.
pub const STACK_TAG: &str = "custom-resource:stack-id";
/// The owning resource's logical id, on every parameter a resource makes.
pub const LOGICAL_ID_TAG: &str = "custom-resource:logical-id";
/// Which generation of the resource (its PhysicalResourceId) uses the parameter now, for
/// resources whose replacement may keep the same parameter.
pub const PHYSICAL_ID_TAG: &str = "custom-resource:physical-id";
/// When and by whom a retained parameter was let go (empty: held). A later resource of the
/// same stack name and logical id may adopt it; no one else may.
pub const RELEASED_TAG: &str = "custom-resource:released";
/// The resource's record of the properties it is in and was in before (see
/// `shared::CustomResource::recorded_properties`).
pub const PROPERTIES_TAG: &str = "custom-resource:properties";

#[derive(Debug, thiserror::Error)]
/// What went wrong with a parameter or its key.
pub enum ParameterError {
    #[error("KmsKeyId {key}: {why}")]
    /// The KMS key cannot encrypt SecureStrings.
    Key {
        /// The key as given.
        key: String,
        /// Why it cannot.
        why: String,
    },
    #[error(
        "parameter {name} already exists and is not this resource's ({holder}); it was left untouched: choose another name, or delete it if it is stale"
    )]
    /// A parameter of that name exists and is someone else's.
    NotOurs {
        /// The parameter.
        name: String,
        /// Whose it is.
        holder: String,
    },
    #[error("{action} {name} failed: {message}")]
    /// An AWS call failed.
    Aws {
        /// The API action.
        action: &'static str,
        /// The parameter or key it was about.
        name: String,
        /// The service's words.
        message: String,
    },
}

/// A stored parameter, read back.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The decrypted value.
    pub value: Secret,
    /// Its version.
    pub version: i64,
    /// Its ARN.
    pub arn: String,
}

/// The checked KMS key.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key's ARN.
    pub arn: String,
}

#[derive(Clone, Debug)]
/// SecureString parameters, each owned by one resource, and their KMS keys.
pub struct SecureParameters {
    ssm: aws_sdk_ssm::Client,
    kms: aws_sdk_kms::Client,
}

impl SecureParameters {
    /// Over these clients.
    pub fn new(ssm: aws_sdk_ssm::Client, kms: aws_sdk_kms::Client) -> Self {
        Self { ssm, kms }
    }

    /// Clients for the SDK configuration (endpoints from `AWS_ENDPOINT_URL` when set).
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self::new(
            aws_sdk_ssm::Client::new(config),
            aws_sdk_kms::Client::new(config),
        )
    }

    /// The SSM client, for other parameter reads (one client per service is enough).
    pub fn ssm(&self) -> &aws_sdk_ssm::Client {
        &self.ssm
    }

    /// A SecureString write under `key`.
    fn put(
        &self,
        name: &str,
        value: &Secret,
        key: &Key,
        description: Option<&str>,
    ) -> aws_sdk_ssm::operation::put_parameter::builders::PutParameterFluentBuilder {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(ParameterType::SecureString)
            .key_id(&key.arn)
            .set_description(description.map(str::to_owned))
    }

    /// The key must exist, be enabled and be a symmetric encryption key.
    pub async fn check_key(&self, key_id: &str) -> Result<Key, ParameterError> {
        let key_error = |why: String| ParameterError::Key {
            key: crate::properties::shorten(key_id),
            why,
        };
        let described = self.kms.describe_key().key_id(key_id).send().await;
        let metadata = match described {
            Ok(out) => out.key_metadata,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                return Err(key_error(
                    "no such KMS key; give the key id, key ARN, alias name (alias/...) or alias ARN of a symmetric encryption key".into(),
                ));
            }
            Err(e) => {
                return Err(key_error(format!(
                    "could not be described: {}",
                    super::aws::aws_error(&e)
                )));
            }
        };
        let Some(metadata) = metadata else {
            return Err(key_error("KMS returned no key metadata".into()));
        };
        if metadata.key_state() != Some(&KeyState::Enabled) {
            let state = metadata
                .key_state()
                .map(|s| s.as_str())
                .unwrap_or("unknown");
            return Err(key_error(format!(
                "the key is {state}, not Enabled; enable it or choose another key"
            )));
        }
        let spec = metadata.key_spec().unwrap_or(&KeySpec::SymmetricDefault);
        let usage = metadata
            .key_usage()
            .unwrap_or(&KeyUsageType::EncryptDecrypt);
        if spec != &KeySpec::SymmetricDefault || usage != &KeyUsageType::EncryptDecrypt {
            return Err(key_error(format!(
                "the key is {} for {}; SecureString needs a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT",
                spec.as_str(),
                usage.as_str()
            )));
        }
        Ok(Key {
            arn: metadata.arn().unwrap_or(metadata.key_id()).to_owned(),
        })
    }

    /// Creates the parameter, tagged with its owner, never overwriting. If it exists and is
    /// this owner's (a redelivered Create), it is adopted as it is; if it is someone else's,
    /// [`ParameterError::NotOurs`] and nothing is changed. Returns `true` if it was created.
    pub async fn create(
        &self,
        name: &str,
        value: &Secret,
        key: &Key,
        description: Option<&str>,
        owner: &Owner,
        record: &str,
    ) -> Result<bool, ParameterError> {
        let written = self
            .put_new(name, value, key, description, owner, record)
            .await?;
        if written.is_none() {
            self.ensure_ours(name, owner).await?;
        }
        Ok(written.is_some())
    }

    /// Writes a new parameter tagged with its owner and record, never overwriting: the new
    /// version if written, `None` if one by that name exists already (whoever's it is).
    pub async fn put_new(
        &self,
        name: &str,
        value: &Secret,
        key: &Key,
        description: Option<&str>,
        owner: &Owner,
        record: &str,
    ) -> Result<Option<i64>, ParameterError> {
        let put = self
            .put(name, value, key, description)
            .overwrite(false)
            .tags(tag(STACK_TAG, &owner.stack_id)?)
            .tags(tag(LOGICAL_ID_TAG, &owner.logical_resource_id)?)
            .tags(tag(PROPERTIES_TAG, record)?)
            .send()
            .await;
        match put {
            Ok(out) => Ok(Some(out.version)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws("PutParameter", name, &e)),
        }
    }

    /// The parameter must carry this owner's tags; `Ok(false)` if it does not exist.
    pub async fn ensure_ours(&self, name: &str, owner: &Owner) -> Result<bool, ParameterError> {
        match self.owner_of(name).await? {
            None => Ok(false),
            Some(Some(found)) if &found == owner => Ok(true),
            Some(found) => Err(ParameterError::NotOurs {
                name: name.to_owned(),
                holder: match found {
                    Some(o) => format!(
                        "it belongs to {} in stack {}",
                        o.logical_resource_id, o.stack_id
                    ),
                    None => "it was not created by a custom resource".to_owned(),
                },
            }),
        }
    }

    /// Whether the parameter is this owner's and used by the generation `physical_id`.
    pub async fn used_by(
        &self,
        name: &str,
        owner: &Owner,
        physical_id: &str,
    ) -> Result<bool, ParameterError> {
        Ok(self
            .tags(name)
            .await?
            .is_some_and(|tags| held_by(&tags, owner, Some(physical_id))))
    }

    /// `None` if the parameter does not exist; `Some(None)` if it has no owner tags.
    async fn owner_of(&self, name: &str) -> Result<Option<Option<Owner>>, ParameterError> {
        Ok(self.tags(name).await?.map(|tags| owner_in(&tags)))
    }

    /// Records which generation of the resource uses the parameter now, and the resource's
    /// record of its properties.
    pub async fn set_physical_id(
        &self,
        name: &str,
        physical_id: &str,
        record: &str,
    ) -> Result<(), ParameterError> {
        self.add_tags(
            name,
            &[(PHYSICAL_ID_TAG, physical_id), (PROPERTIES_TAG, record)],
        )
        .await
    }

    /// Keeps the resource's record of its properties with the parameter.
    pub async fn set_record(&self, name: &str, record: &str) -> Result<(), ParameterError> {
        self.add_tags(name, &[(PROPERTIES_TAG, record)]).await
    }

    /// The record kept with this owner's parameter (with `physical_id`, only if that
    /// generation uses it now); `None` if there is none, or the parameter is gone or not
    /// this owner's.
    pub async fn record(
        &self,
        name: &str,
        owner: &Owner,
        physical_id: Option<&str>,
    ) -> Result<Option<String>, ParameterError> {
        let Some(tags) = self.tags(name).await? else {
            return Ok(None);
        };
        if !held_by(&tags, owner, physical_id) {
            return Ok(None);
        }
        Ok(find(&tags, PROPERTIES_TAG))
    }

    pub(super) async fn add_tags(
        &self,
        name: &str,
        tags: &[(&str, &str)],
    ) -> Result<(), ParameterError> {
        let mut call = self
            .ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name);
        for (key, value) in tags {
            call = call.tags(tag(key, value)?);
        }
        call.send()
            .await
            .map_err(|e| aws("AddTagsToResource", name, &e))?;
        Ok(())
    }

    /// Labels the latest version as the one in force under the rotation token `token` (the
    /// label moves there from any other version).
    pub async fn label_rotation(
        &self,
        name: &str,
        token: Option<&str>,
    ) -> Result<(), ParameterError> {
        self.ssm
            .label_parameter_version()
            .name(name)
            .labels(rotation_label(token))
            .send()
            .await
            .map_err(|e| aws("LabelParameterVersion", name, &e))?;
        Ok(())
    }

    /// For a parameter adopted from an earlier deployment, whose history is that deployment's:
    /// takes every rotation label off and labels the latest version (the fresh password) with
    /// `token`, so that no later rotation or rollback brings back a password it used.
    pub async fn restart_rotation_labels(
        &self,
        name: &str,
        token: Option<&str>,
    ) -> Result<(), ParameterError> {
        self.tidy_rotation_labels(name, [token, token]).await?;
        self.label_rotation(name, token).await
    }

    /// Takes the rotation labels off every version but those of the tokens in `keep`: a
    /// label on the oldest version would stop SSM from trimming the history at 100 versions.
    pub async fn tidy_rotation_labels(
        &self,
        name: &str,
        keep: [Option<&str>; 2],
    ) -> Result<(), ParameterError> {
        let kept = keep.map(rotation_label);
        let mut next = None;
        loop {
            let page = self
                .ssm
                .get_parameter_history()
                .name(name)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws("GetParameterHistory", name, &e))?;
            for version in page.parameters() {
                let stale: Vec<String> = version
                    .labels()
                    .iter()
                    .filter(|l| l.starts_with(ROTATION_LABEL) && !kept.contains(l))
                    .cloned()
                    .collect();
                if !stale.is_empty() {
                    self.ssm
                        .unlabel_parameter_version()
                        .name(name)
                        .parameter_version(version.version)
                        .set_labels(Some(stale))
                        .send()
                        .await
                        .map_err(|e| aws("UnlabelParameterVersion", name, &e))?;
                }
            }
            next = page.next_token;
            if next.is_none() {
                return Ok(());
            }
        }
    }

    /// The password that was in force under the rotation token `token`, if a version still
    /// carries its label.
    pub async fn read_rotation(
        &self,
        name: &str,
        token: Option<&str>,
    ) -> Result<Option<Secret>, ParameterError> {
        let selector = format!("{name}:{}", rotation_label(token));
        match self.read(&selector).await {
            Ok(found) => Ok(found.map(|s| s.value)),
            // No version carries the label (SSM says so in more than one way).
            Err(ParameterError::Aws { message, .. }) if message.contains("NotFound") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The parameter's tags; `None` if it does not exist.
    pub(super) async fn tags(&self, name: &str) -> Result<Option<Vec<Tag>>, ParameterError> {
        let listed = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await;
        match listed {
            Ok(out) => Ok(Some(out.tag_list.unwrap_or_default())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_resource_id()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws("ListTagsForResource", name, &e)),
        }
    }

    /// Reads and decrypts the parameter; `None` if it does not exist.
    pub async fn read(&self, name: &str) -> Result<Option<Stored>, ParameterError> {
        let got = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        let parameter = match got {
            Ok(out) => out.parameter,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws("GetParameter", name, &e)),
        };
        Ok(parameter.map(|p| Stored {
            value: Secret::new(p.value.unwrap_or_default()),
            version: p.version,
            arn: p.arn.unwrap_or_default(),
        }))
    }

    /// Writes a new version of a parameter this owner holds.
    pub async fn overwrite(
        &self,
        name: &str,
        value: &Secret,
        key: &Key,
        description: Option<&str>,
    ) -> Result<(), ParameterError> {
        self.put(name, value, key, description)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| aws("PutParameter", name, &e))?;
        Ok(())
    }

    /// Deletes the parameter if it is this owner's. Missing is fine; someone else's is left
    /// alone. Returns whether it was deleted.
    pub async fn delete_if_ours(&self, name: &str, owner: &Owner) -> Result<bool, ParameterError> {
        match self.ensure_ours(name, owner).await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(ParameterError::NotOurs { holder, .. }) => {
                tracing::warn!(parameter = name, %holder, "not this resource's parameter; left in place");
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        self.delete(name).await
    }

    /// Deletes the parameter only if it is this owner's and the generation recorded by
    /// [`Self::set_physical_id`] is `physical_id`: after a replacement that kept the
    /// parameter, the old generation's Delete leaves it to the new one.
    pub async fn delete_if_used_by(
        &self,
        name: &str,
        owner: &Owner,
        physical_id: &str,
    ) -> Result<bool, ParameterError> {
        let Some(tags) = self.tags(name).await? else {
            return Ok(false);
        };
        if !held_by(&tags, owner, Some(physical_id)) {
            tracing::info!(
                parameter = name,
                "not used by this resource now; left in place"
            );
            return Ok(false);
        }
        self.delete(name).await
    }

    /// Deletes the parameter; one already gone is fine.
    async fn delete(&self, name: &str) -> Result<bool, ParameterError> {
        match self.ssm.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws("DeleteParameter", name, &e)),
        }
    }
}

/// The ARN of parameter `name`, as SSM gives it, in the partition, region and account of
/// `arn` (the function's own, where it writes); `None` if that is not an ARN.
pub fn parameter_arn(arn: &str, name: &str) -> Option<String> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(partition), Some(_), Some(region), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let slash = if name.starts_with('/') { "" } else { "/" };
    Some(format!(
        "arn:{partition}:ssm:{region}:{account}:parameter{slash}{name}"
    ))
}

/// Labels start with this; the rest is a hash of the rotation token (labels allow only
/// letters, digits, `.`, `-` and `_`).
const ROTATION_LABEL: &str = "rotation-";

fn rotation_label(token: Option<&str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token
        .unwrap_or("")
        .bytes()
        .chain([u8::from(token.is_some())])
    {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{ROTATION_LABEL}{hash:016x}")
}

/// The owner named by a parameter's tags, if both tags are there.
/// Whether the tags name `owner`, and with `physical_id` the generation that uses the
/// parameter now.
pub(super) fn held_by(tags: &[Tag], owner: &Owner, physical_id: Option<&str>) -> bool {
    owner_in(tags).as_ref() == Some(owner)
        && physical_id.is_none_or(|id| find(tags, PHYSICAL_ID_TAG).as_deref() == Some(id))
}

pub(super) fn owner_in(tags: &[Tag]) -> Option<Owner> {
    Some(Owner {
        stack_id: find(tags, STACK_TAG)?,
        logical_resource_id: find(tags, LOGICAL_ID_TAG)?,
    })
}

pub(super) fn find(tags: &[Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == key)
        .map(|t| t.value().to_owned())
}

fn tag(key: &str, value: &str) -> Result<Tag, ParameterError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| ParameterError::Aws {
            action: "tagging",
            name: key.to_owned(),
            message: e.to_string(),
        })
}

fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &'static str,
    name: &str,
    error: &aws_sdk_ssm::error::SdkError<E>,
) -> ParameterError {
    ParameterError::Aws {
        action,
        name: name.to_owned(),
        message: super::aws::aws_error(error),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_parameters_arn_follows_from_the_stacks_partition_region_and_account() {
        let stack = "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/orders/abc";
        assert_eq!(
            parameter_arn(stack, "/platform/db").as_deref(),
            Some("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/platform/db")
        );
        assert_eq!(
            parameter_arn(stack, "db").as_deref(),
            Some("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/db")
        );
        assert_eq!(parameter_arn("not-an-arn", "/db"), None);
    }
}
