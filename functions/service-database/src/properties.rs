//! The resource's properties, as CloudFormation sends them.

use std::time::Duration;

use serde::Deserialize;
use shared::properties::{lenient_string, optional_number};
use shared::secure_parameter::DEFAULT_KMS_KEY;

use crate::cluster::Target;

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 10;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum SslMode {
    /// TLS, the server's certificate not checked (libpq's `require`).
    #[default]
    #[serde(rename = "require")]
    Require,
    /// TLS, the certificate checked against DATABASE_CA_BUNDLE and the host name.
    #[serde(rename = "verify-full")]
    VerifyFull,
    /// No TLS: for local clusters only.
    #[serde(rename = "disable")]
    Disable,
}

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
        pub host: String,
        #[serde(default, deserialize_with = "optional_number")]
        pub port: Option<u16>,
        pub admin_username: String,
        pub admin_password_parameter_name: String,
        #[serde(default)]
        pub admin_database: Option<String>,
        pub database_name: String,
        #[serde(default)]
        pub role_name: Option<String>,
        pub password_parameter_name: String,
        #[serde(default)]
        pub kms_key_id: Option<String>,
        #[serde(default)]
        pub ssl_mode: Option<SslMode>,
        #[serde(default, deserialize_with = "optional_number")]
        pub connect_timeout_seconds: Option<u64>,
        #[serde(default)]
        pub rotation_token: Option<String>,
        /// Checked here so a typo fails the Create; acted on at Delete, from [`Existing`].
        #[serde(default)]
        #[allow(dead_code)]
        pub on_delete: Option<OnDelete>,
    }
}

impl Properties {
    pub fn role(&self) -> &str {
        self.role_name.as_deref().unwrap_or(&self.database_name)
    }

    pub fn kms_key_id(&self) -> &str {
        self.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY)
    }

    pub fn target(&self) -> Target {
        Target {
            host: self.host.clone(),
            port: self.port.unwrap_or(DEFAULT_PORT),
            admin_user: self.admin_username.clone(),
            admin_database: self
                .admin_database
                .clone()
                .unwrap_or_else(|| "postgres".into()),
            ssl_mode: self.ssl_mode.unwrap_or_default(),
            connect_timeout: Duration::from_secs(
                self.connect_timeout_seconds
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ),
        }
    }

    /// The PhysicalResourceId: a new one whenever Host, Port, DatabaseName or RoleName change.
    pub fn physical_id(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.role(),
            self.host,
            self.port.unwrap_or(DEFAULT_PORT),
            self.database_name
        )
    }
}

/// Delete and Update's old properties, read leniently.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Existing {
    #[serde(default, deserialize_with = "lenient_string")]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub port: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub admin_username: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub admin_password_parameter_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub admin_database: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub database_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub password_parameter_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub kms_key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ssl_mode: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub connect_timeout_seconds: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub rotation_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub on_delete: Option<String>,
}

impl Existing {
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

    pub fn port(&self) -> u16 {
        self.port
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(DEFAULT_PORT)
    }

    /// Where the cluster is, if the properties still say.
    pub fn target(&self) -> Option<Target> {
        let ssl_mode = match self.ssl_mode.as_deref() {
            None | Some("require") => SslMode::Require,
            Some("verify-full") => SslMode::VerifyFull,
            Some("disable") => SslMode::Disable,
            Some(_) => return None,
        };
        Some(Target {
            host: self.host.clone()?,
            port: self.port(),
            admin_user: self.admin_username.clone()?,
            admin_database: self
                .admin_database
                .clone()
                .unwrap_or_else(|| "postgres".into()),
            ssl_mode,
            connect_timeout: Duration::from_secs(
                self.connect_timeout_seconds
                    .as_deref()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::properties::{parse_lenient, parse_strict};

    fn minimal() -> serde_json::Value {
        json!({
            "Host": "db.internal", "AdminUsername": "admin",
            "AdminPasswordParameterName": "/p/admin", "DatabaseName": "orders",
            "PasswordParameterName": "/p/orders"
        })
    }

    #[test]
    fn defaults_and_strings() {
        let mut v = minimal();
        v["Port"] = json!("6432");
        v["ConnectTimeoutSeconds"] = json!("3");
        v["SslMode"] = json!("verify-full");
        v["OnDelete"] = json!("Drop");
        let p: Properties = parse_strict(Some(v)).unwrap();
        assert_eq!(p.role(), "orders");
        let t = p.target();
        assert_eq!(
            (t.port, t.ssl_mode, t.connect_timeout.as_secs()),
            (6432, SslMode::VerifyFull, 3)
        );
        assert_eq!(p.physical_id(), "orders@db.internal:6432/orders");
        let p: Properties = parse_strict(Some(minimal())).unwrap();
        assert_eq!(p.target().ssl_mode, SslMode::Require);
        assert_eq!(p.target().admin_database, "postgres");
    }

    #[test]
    fn a_bad_ssl_mode_or_on_delete_names_what_is_allowed() {
        let mut v = minimal();
        v["SslMode"] = json!("prefer");
        let err = parse_strict::<Properties>(Some(v)).unwrap_err().to_string();
        assert!(
            err.contains("property SslMode") && err.contains("verify-full"),
            "{err}"
        );
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
