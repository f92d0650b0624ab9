//! Helpers beside the framework for what resources on AWS share: the SDK configuration and
//! its errors, CloudFormation's view of its stacks, SecureString parameters owned by one resource, and passwords.

pub mod aws;
pub mod parameter_name;
pub mod password;
pub mod retained;
mod sdk_http;
pub mod secure_parameter;
pub mod stacks;
