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
    #[error("parameter {0} was written but could not be read back")]
    Vanished(String),
}
