//! What can go wrong, each saying which property or object and what to do.

use shared::parameter_name::InvalidName;
use shared::password::PasswordError;
use shared::secure_parameter::ParameterError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(
        "stack {stack} may not use Custom::AdminPassword: the admin password is the platform's, and the platform allows the stacks {allowed} (the custom-resources stack's parameter AdminPasswordStackNames); nothing was written"
    )]
    StackNotAllowed { stack: String, allowed: String },
    #[error("parameter {0} was written but could not be read back")]
    Vanished(String),
}
