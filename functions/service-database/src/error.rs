//! What can go wrong, each saying which property or object and what to do.

use shared::parameter_name::InvalidName;
use shared::password::PasswordError;
use shared::secure_parameter::ParameterError;

use crate::admin_credentials::CredentialError;
use crate::cluster::ClusterError;
use crate::identifiers::NameError;
use crate::profile::ProfileError;
use crate::properties::MAX_PHYSICAL_ID;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    ParameterName(#[from] InvalidName),
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(
        "RoleName, Cluster, DatabaseName and PasswordParameterName make the id {id:?} of {length} characters; at most {MAX_PHYSICAL_ID} fit (it is kept in an SSM tag): use shorter names"
    )]
    IdTooLong { id: String, length: usize },
    #[error(
        "{kind} {name} already exists on {endpoint} and is not this resource's ({found}); it was left untouched: choose another {property}, or drop it if it is stale"
    )]
    NotOurs {
        kind: &'static str,
        name: String,
        endpoint: String,
        found: String,
        property: &'static str,
    },
    #[error(
        "the database {database} and its role were retained by an earlier deployment of this stack together with the password parameter {parameter}, which is gone or not released to this resource: retained objects are handed over only with their parameter, under the same KMS key. Nothing was changed; restore the parameter first (README, Retained objects)"
    )]
    AdoptionWithoutParameter { parameter: String, database: String },
    #[error("parameter {0} was written but could not be read back")]
    Vanished(String),
}
