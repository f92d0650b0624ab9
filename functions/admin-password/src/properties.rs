//! The resource's properties, as CloudFormation sends them.

use serde::Deserialize;
use shared::Lenient;
use shared::parameter_name::validate_name;
use shared::password::PasswordPolicy;
use shared::properties::{PropertyError, Validate, optional_boolean};
use shared::secure_parameter::DEFAULT_KMS_KEY;

shared::with_password_properties! {
    /// Every name checked, strings accepted for numbers and booleans; read leniently on
    /// Delete and as an Update's old properties.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct Properties {
        pub parameter_name: String,
        #[serde(default)]
        pub kms_key_id: Option<String>,
        #[serde(default)]
        pub description: Option<String>,
        #[serde(default)]
        pub rotation_token: Option<String>,
        #[serde(default, deserialize_with = "optional_boolean")]
        pub retain_on_delete: Option<bool>,
    }
}

impl Validate for Properties {
    fn validate(&self) -> Result<(), PropertyError> {
        let invalid = |e: &dyn std::fmt::Display| PropertyError::Invalid(e.to_string());
        validate_name("ParameterName", &self.parameter_name).map_err(|e| invalid(&e))?;
        PasswordPolicy::new(&self.password_options()).map_err(|e| invalid(&e))?;
        Ok(())
    }
}

impl Properties {
    pub fn kms_key_id(&self) -> &str {
        self.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY)
    }
}

/// Only an absent or explicit `false` deletes: a value that no longer parses keeps the
/// parameter, as losing a password is worse than leaving one behind.
pub fn retain_on_delete(properties: &Lenient<Properties>) -> bool {
    if let Some(p) = properties.get()
        && !properties.dropped("RetainOnDelete")
    {
        return p.retain_on_delete == Some(true);
    }
    // As given, when it (or the properties as a whole) no longer parse.
    properties
        .text("RetainOnDelete")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::properties::{parse_lenient, parse_strict};

    #[test]
    fn strings_from_cloudformation_parse() {
        let p: Properties = parse_strict(Some(json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:1:function:f",
            "ParameterName": "/p", "PasswordLength": "24", "ExcludePunctuation": "true",
            "RetainOnDelete": "false"
        })))
        .unwrap();
        assert_eq!(p.password_options().password_length, Some(24));
        assert_eq!(p.password_options().exclude_punctuation, Some(true));
        assert_eq!(p.retain_on_delete, Some(false));
        assert_eq!(p.kms_key_id(), "alias/aws/ssm");
    }

    #[test]
    fn unknown_property_is_rejected_by_name() {
        let err = parse_strict::<Properties>(Some(json!({"ParameterName": "/p", "Length": "24"})))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown property `Length`"),
            "{err}"
        );
    }

    #[test]
    fn retain_unless_explicitly_false_or_absent() {
        let read = |v: serde_json::Value| retain_on_delete(&parse_lenient(Some(v)));
        assert!(!read(json!({"ParameterName": "/p"})));
        assert!(!read(
            json!({"ParameterName": "/p", "RetainOnDelete": "False"})
        ));
        for v in [json!("true"), json!(true), json!("maybe")] {
            assert!(
                read(json!({"ParameterName": "/p", "RetainOnDelete": v})),
                "{v}"
            );
        }
        // Read as given even when the properties no longer parse as a whole.
        assert!(!read(json!({"RetainOnDelete": "false"})));
        assert!(read(json!({"RetainOnDelete": "yes"})));
    }
}
