//! The resource's properties, as CloudFormation sends them. Where the cluster is and how its
//! admin logs in come from the cluster's profile, never from here.

use serde::Deserialize;
use shared::parameter_name::validate_name;
use shared::password::PasswordPolicy;
use shared::properties::{PropertyError, Validate, lenient_string};

use crate::identifiers;
use shared::secure_parameter::DEFAULT_KMS_KEY;

/// An SSM tag value, where the PhysicalResourceId is kept, holds this many characters.
pub const MAX_PHYSICAL_ID: usize = 256;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum OnDelete {
    #[default]
    Retain,
    Drop,
}

shared::with_password_properties! {
    /// Create and Update: every name checked, strings accepted for numbers.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct Properties {
        /// The cluster's profile, e.g. `/platform/rds/orders`.
        pub cluster: String,
        pub database_name: String,
        #[serde(default)]
        pub role_name: Option<String>,
        pub password_parameter_name: String,
        #[serde(default)]
        pub kms_key_id: Option<String>,
        #[serde(default)]
        pub rotation_token: Option<String>,
        /// Checked here so a typo fails the Create; acted on at Delete, from [`Existing`].
        #[serde(default)]
        #[allow(dead_code)]
        pub on_delete: Option<OnDelete>,
    }
}

impl Validate for Properties {
    fn validate(&self) -> Result<(), PropertyError> {
        let invalid = |e: &dyn std::fmt::Display| PropertyError::Invalid(e.to_string());
        identifiers::database(&self.database_name).map_err(|e| invalid(&e))?;
        identifiers::role(self.role()).map_err(|e| invalid(&e))?;
        validate_name("PasswordParameterName", &self.password_parameter_name)
            .map_err(|e| invalid(&e))?;
        PasswordPolicy::new(&self.password_options()).map_err(|e| invalid(&e))?;
        Ok(())
    }
}

impl Properties {
    pub fn role(&self) -> &str {
        self.role_name.as_deref().unwrap_or(&self.database_name)
    }

    pub fn kms_key_id(&self) -> &str {
        self.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY)
    }

    /// The PhysicalResourceId: a new one whenever Cluster, DatabaseName, RoleName or
    /// PasswordParameterName change.
    pub fn physical_id(&self) -> String {
        physical_id(
            self.role(),
            &self.cluster,
            &self.database_name,
            &self.password_parameter_name,
        )
    }
}

fn physical_id(role: &str, cluster: &str, database: &str, parameter: &str) -> String {
    format!("{role}@{cluster}/{database}#{parameter}")
}

/// Delete and Update's old properties, read leniently.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Existing {
    #[serde(default, deserialize_with = "lenient_string")]
    pub cluster: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub database_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub password_parameter_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub kms_key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub rotation_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub on_delete: Option<String>,
}

impl Existing {
    /// The PhysicalResourceId these properties give, if they still name everything.
    pub fn physical_id(&self) -> Option<String> {
        Some(physical_id(
            self.role()?,
            self.cluster.as_deref()?,
            self.database_name.as_deref()?,
            self.password_parameter_name.as_deref()?,
        ))
    }

    /// Only an explicit `Drop` removes anything.
    pub fn on_delete(&self) -> OnDelete {
        match self.on_delete.as_deref().map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("drop") => OnDelete::Drop,
            _ => OnDelete::Retain,
        }
    }

    pub fn kms_key_id(&self) -> &str {
        self.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY)
    }

    pub fn role(&self) -> Option<&str> {
        self.role_name.as_deref().or(self.database_name.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::properties::{parse_lenient, parse_strict};

    fn minimal() -> serde_json::Value {
        json!({
            "Cluster": "/platform/rds/main", "DatabaseName": "orders",
            "PasswordParameterName": "/p/orders"
        })
    }

    #[test]
    fn defaults_and_the_physical_id() {
        let p: Properties = parse_strict(Some(minimal())).unwrap();
        assert_eq!(p.role(), "orders");
        assert_eq!(p.kms_key_id(), DEFAULT_KMS_KEY);
        assert_eq!(
            p.physical_id(),
            "orders@/platform/rds/main/orders#/p/orders"
        );
    }

    #[test]
    fn a_service_cannot_name_its_own_host_or_admin_credentials() {
        for (name, value) in [
            ("Host", json!("10.0.0.66")),
            ("Port", json!("5432")),
            ("AdminUsername", json!("platform_admin")),
            ("AdminPasswordParameterName", json!("/platform/rds/admin")),
            ("SslMode", json!("disable")),
        ] {
            let mut v = minimal();
            v[name] = value;
            let err = parse_strict::<Properties>(Some(v)).unwrap_err().to_string();
            assert!(
                err.contains(&format!("unknown property `{name}`")) && err.contains("Cluster"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_bad_on_delete_names_what_is_allowed() {
        let mut v = minimal();
        v["OnDelete"] = json!("Delete");
        let err = parse_strict::<Properties>(Some(v)).unwrap_err().to_string();
        assert!(
            err.contains("property OnDelete") && err.contains("Retain"),
            "{err}"
        );
    }

    #[test]
    fn only_an_explicit_drop_drops() {
        let e: Existing = parse_lenient(Some(json!({"OnDelete": "Drop"})));
        assert_eq!(e.on_delete(), OnDelete::Drop);
        for v in [
            json!({}),
            json!({"OnDelete": "Retain"}),
            json!({"OnDelete": "drop it"}),
        ] {
            let e: Existing = parse_lenient(Some(v));
            assert_eq!(e.on_delete(), OnDelete::Retain);
        }
    }
}
