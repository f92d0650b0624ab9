//! Helpers beside the framework for what resources on AWS share: the SDK configuration and
//! its errors, SecureString parameters owned by one resource, and passwords.

pub mod aws;
pub mod parameter_name;
pub mod password;
mod sdk_http;
pub mod secure_parameter;
