//! The resource's properties, as CloudFormation sends them. Where the cluster is and how its
//! admin logs in come from the cluster's profile, never from here.

use serde::Deserialize;
use shared::Lenient;
use shared::parameter_name::validate_name;
use shared::password::PasswordPolicy;
use shared::properties::{PropertyError, Validate};

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
    /// Every name checked, strings accepted for numbers; read leniently on Delete and as
    /// an Update's old properties.
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
        #[serde(default)]
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
        format!(
            "{}@{}/{}#{}",
            self.role(),
            self.cluster,
            self.database_name,
            self.password_parameter_name
        )
    }
}

/// Only an explicit `Drop` removes anything.
pub fn on_delete(properties: &Lenient<Properties>) -> OnDelete {
    if let Some(choice) = properties.get().and_then(|p| p.on_delete) {
        return choice;
    }
    // As given, when it (or the properties as a whole) no longer parse.
    match properties.text("OnDelete") {
        Some(v) if v.trim().eq_ignore_ascii_case("drop") => OnDelete::Drop,
        _ => OnDelete::Retain,
    }
}

/// The names a Delete's properties give, as given (they may no longer parse as a whole):
/// cluster, database, role.
pub fn names(properties: &Lenient<Properties>) -> Option<(String, String, String)> {
    let database = properties.text("DatabaseName")?;
    let role = properties
        .text("RoleName")
        .unwrap_or_else(|| database.clone());
    Some((properties.text("Cluster")?, database, role))
}

/// The PhysicalResourceId those properties give, if they still name everything.
pub fn physical_id(properties: &Lenient<Properties>) -> Option<String> {
    let (cluster, database, role) = names(properties)?;
    let parameter = properties.text("PasswordParameterName")?;
    Some(format!("{role}@{cluster}/{database}#{parameter}"))
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
        let with = |changes: serde_json::Value| {
            let mut v = minimal();
            for (name, value) in changes.as_object().unwrap() {
                v[name] = value.clone();
            }
            on_delete(&parse_lenient(Some(v)))
        };
        assert_eq!(with(json!({"OnDelete": "Drop"})), OnDelete::Drop);
        for changes in [
            json!({}),
            json!({"OnDelete": "Retain"}),
            json!({"OnDelete": "drop it"}),
        ] {
            assert_eq!(with(changes), OnDelete::Retain);
        }
        // Read as given, also when the properties no longer parse as a whole.
        assert_eq!(
            on_delete(&parse_lenient(Some(json!({"OnDelete": "drop"})))),
            OnDelete::Drop
        );
    }
}
