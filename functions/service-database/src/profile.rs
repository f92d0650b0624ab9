//! A cluster profile: what the platform registered about one cluster (where it is, how to
//! reach it, where its admin credentials live), as JSON in a plain SSM String parameter under
//! the function's `CLUSTER_PROFILE_PATH`. A service stack only names a profile; nothing it
//! writes decides where admin credentials go.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use shared::parameter_name::validate_name;
use shared::properties::{optional_number, shorten};
use shared::{Owner, StackNames};

use crate::cluster::{SslMode, Target};

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 10;
const MAX_CONNECT_TIMEOUT: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "Cluster {name:?} is not a cluster this function serves: name a profile under {path}/ (the platform's cluster profiles)"
    )]
    OutsidePath { name: String, path: String },
    #[error(
        "Cluster {0}: no such cluster profile; the platform registers one per cluster (see the README)"
    )]
    Missing(String),
    #[error("Cluster {name}: {why}")]
    Invalid { name: String, why: String },
    #[error(
        "Cluster {name} may be used only by stacks named {allowed}; stack {stack} may not use it"
    )]
    NotAllowed {
        name: String,
        allowed: String,
        stack: String,
    },
    #[error("reading cluster profile {name} failed: {message}")]
    Aws { name: String, message: String },
}

/// Where the admin credentials live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminSource {
    /// A SecureString holding the password; the user is the profile's `AdminUsername`.
    Parameter { name: String, user: String },
    /// A Secrets Manager secret with `username` and `password`, e.g. the RDS-managed master
    /// secret.
    Secret { arn: String },
}

/// The profile as the platform writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Document {
    host: String,
    #[serde(default, deserialize_with = "optional_number")]
    port: Option<u16>,
    #[serde(default)]
    admin_username: Option<String>,
    #[serde(default)]
    admin_password_parameter_name: Option<String>,
    #[serde(default)]
    admin_secret_arn: Option<String>,
    #[serde(default)]
    admin_database: Option<String>,
    #[serde(default)]
    ssl_mode: Option<SslMode>,
    #[serde(default)]
    ca_certificates: Option<String>,
    #[serde(default, deserialize_with = "optional_number")]
    connect_timeout_seconds: Option<u64>,
    #[serde(default)]
    allowed_stack_names: Option<Vec<String>>,
}

/// A checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub target: Target,
    pub admin: AdminSource,
    allowed_stack_names: Option<StackNames>,
}

/// The profiles this function may read: parameters under one path.
#[derive(Debug, Clone)]
pub struct Profiles {
    ssm: aws_sdk_ssm::Client,
    path: String,
}

impl Profiles {
    pub fn new(ssm: aws_sdk_ssm::Client, path: &str) -> Self {
        Self {
            ssm,
            path: path.trim_end_matches('/').to_owned(),
        }
    }

    /// Whether `name` could be a profile here; checked before any AWS call.
    pub fn check_name(&self, name: &str) -> Result<(), ProfileError> {
        let outside = || ProfileError::OutsidePath {
            name: shorten(name),
            path: self.path.clone(),
        };
        let below = name
            .strip_prefix(self.path.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(outside)?;
        if below.is_empty() || validate_name("Cluster", name).is_err() {
            return Err(outside());
        }
        Ok(())
    }

    /// Reads and checks the profile named `name`.
    pub async fn load(&self, name: &str) -> Result<Profile, ProfileError> {
        self.check_name(name)?;
        let got = self.ssm.get_parameter().name(name).send().await;
        let parameter = match got {
            Ok(out) => out
                .parameter
                .ok_or_else(|| ProfileError::Missing(name.into()))?,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                return Err(ProfileError::Missing(name.into()));
            }
            Err(e) => {
                return Err(ProfileError::Aws {
                    name: name.into(),
                    message: shared::aws::aws_error(&e),
                });
            }
        };
        let invalid = |why: String| ProfileError::Invalid {
            name: name.into(),
            why,
        };
        // A SecureString is no profile (and its ciphertext is no one's business).
        if parameter.r#type != Some(aws_sdk_ssm::types::ParameterType::String) {
            return Err(invalid(
                "a profile is a plain String parameter holding JSON".into(),
            ));
        }
        Profile::parse(name, parameter.value.as_deref().unwrap_or_default()).map_err(invalid)
    }
}

impl Profile {
    /// Parses and checks a profile's JSON; the error names the profile property.
    pub fn parse(name: &str, json: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("not JSON ({e})"))?;
        let document: Document = shared::properties::parse_strict(Some(value))
            .map_err(|e| e.to_string().replace("property ", "profile property "))?;
        document.check(name)
    }

    /// Whether a stack may use this cluster: `AllowedStackNames` lists names, or prefixes
    /// ending in `*`; without it every stack of the account may.
    pub fn allow(&self, owner: &Owner) -> Result<(), ProfileError> {
        let Some(names) = &self.allowed_stack_names else {
            return Ok(());
        };
        if names.allows(owner) {
            return Ok(());
        }
        Err(ProfileError::NotAllowed {
            name: self.name.clone(),
            allowed: names.describe(),
            stack: owner.stack_name().to_owned(),
        })
    }
}

impl Document {
    fn check(self, name: &str) -> Result<Profile, String> {
        check_host(&self.host)?;
        let port = self.port.unwrap_or(DEFAULT_PORT);
        if port == 0 {
            return Err("profile property Port: use 1 to 65535".into());
        }
        let timeout = self
            .connect_timeout_seconds
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        if !(1..=MAX_CONNECT_TIMEOUT).contains(&timeout) {
            return Err(format!(
                "profile property ConnectTimeoutSeconds: use 1 to {MAX_CONNECT_TIMEOUT} seconds, not {timeout}"
            ));
        }
        if let Some(user) = &self.admin_username
            && (user.is_empty() || user.len() > 63)
        {
            return Err("profile property AdminUsername: use 1 to 63 characters".into());
        }
        let admin = self.admin_source()?;
        let ssl_mode = self.ssl_mode.unwrap_or_default();
        if ssl_mode == SslMode::Disable && !is_loopback(&self.host) {
            return Err(format!(
                "profile property SslMode disable is for a cluster on the function's own machine only (Host 127.0.0.1, ::1 or localhost), not {:?}: the admin's login and every statement would cross the network in clear. Use verify-full with CaCertificates",
                shorten(&self.host)
            ));
        }
        let ca_certificates = ca_certificates(ssl_mode, self.ca_certificates)?;
        Ok(Profile {
            name: name.to_owned(),
            target: Target {
                host: self.host,
                port,
                admin_user: self.admin_username.unwrap_or_default(),
                admin_database: self.admin_database.unwrap_or_else(|| "postgres".into()),
                ssl_mode,
                ca_certificates,
                connect_timeout: Duration::from_secs(timeout),
            },
            admin,
            allowed_stack_names: self.allowed_stack_names.map(StackNames::new),
        })
    }

    /// Where the admin's password comes from: exactly one of the two sources.
    fn admin_source(&self) -> Result<AdminSource, String> {
        match (
            self.admin_password_parameter_name.clone(),
            self.admin_secret_arn.clone(),
            self.admin_username.clone(),
        ) {
            (Some(parameter), None, Some(user)) => {
                validate_name("AdminPasswordParameterName", &parameter)
                    .map_err(|e| format!("profile property {e}"))?;
                Ok(AdminSource::Parameter {
                    name: parameter,
                    user,
                })
            }
            (Some(_), None, None) => Err(
                "profile property AdminUsername is required with AdminPasswordParameterName"
                    .into(),
            ),
            (None, Some(arn), _) if arn.starts_with("arn:") && arn.contains(":secretsmanager:") => {
                Ok(AdminSource::Secret { arn })
            }
            (None, Some(arn), _) => Err(format!(
                "profile property AdminSecretArn {:?} is not a Secrets Manager secret ARN",
                shorten(&arn)
            )),
            _ => Err("name exactly one of the profile properties AdminPasswordParameterName (an SSM SecureString) and AdminSecretArn (a Secrets Manager secret with username and password, e.g. the RDS-managed master secret)".into()),
        }
    }
}

/// The CA certificates verify-full checks the cluster against: required with it, and must
/// parse.
fn ca_certificates(ssl_mode: SslMode, pem: Option<String>) -> Result<Option<String>, String> {
    match (ssl_mode, pem) {
        (SslMode::VerifyFull, None) => Err("profile property CaCertificates is required with SslMode verify-full (the default): the PEM of the CA that signed the cluster's certificate, e.g. the RDS root CA of its region".into()),
        (SslMode::VerifyFull, Some(pem)) => {
            crate::cluster::parse_certificates(&pem)
                .map_err(|why| format!("profile property CaCertificates: {why}"))?;
            Ok(Some(pem))
        }
        (_, _) => Ok(None),
    }
}

/// Whether the host is this machine: TLS would protect nothing there.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A DNS name (RFC 1123 labels) or an IP address.
fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() <= 253 && host.split('.').all(label_ok) {
        return Ok(());
    }
    Err(format!(
        "profile property Host {:?} is not a host name or IP address",
        shorten(host)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Profile, String> {
        Profile::parse("/platform/rds/orders", &value.to_string())
    }

    fn minimal() -> serde_json::Value {
        json!({"Host": "db.internal", "AdminUsername": "admin",
               "AdminPasswordParameterName": "/platform/rds/orders/admin", "SslMode": "require"})
    }

    #[test]
    fn a_minimal_profile_has_defaults() {
        let p = parse(minimal()).unwrap();
        assert_eq!(
            (
                p.target.port,
                p.target.connect_timeout.as_secs(),
                p.target.admin_database.as_str()
            ),
            (5432, 10, "postgres")
        );
        assert_eq!(
            p.admin,
            AdminSource::Parameter {
                name: "/platform/rds/orders/admin".into(),
                user: "admin".into()
            }
        );
    }

    #[test]
    fn bad_profiles_name_the_property() {
        for (change, word) in [
            (json!({"Host": "evil host"}), "Host"),
            (json!({"Host": "-x.example"}), "Host"),
            (json!({"ConnectTimeoutSeconds": 0}), "ConnectTimeoutSeconds"),
            (json!({"Port": 0}), "Port"),
            (json!({"SslMode": "verify-full"}), "CaCertificates"),
            (
                json!({"AdminSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:rds!x"}),
                "exactly one",
            ),
            (json!({"Extra": 1}), "Extra"),
        ] {
            let mut v = minimal();
            for (k, val) in change.as_object().unwrap() {
                v[k] = val.clone();
            }
            let err = parse(v).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
        assert!(
            parse(json!({"Host": "db", "SslMode": "disable"}))
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(Profile::parse("/p", "{").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn verify_full_is_the_default_and_needs_certificates_that_parse() {
        let mut v = minimal();
        v.as_object_mut().unwrap().remove("SslMode");
        assert!(parse(v.clone()).unwrap_err().contains("CaCertificates"));
        v["CaCertificates"] = json!("not a certificate");
        assert!(parse(v).unwrap_err().contains("CaCertificates"));
    }

    #[test]
    fn a_secret_profile_takes_the_user_from_the_secret() {
        let p = parse(json!({"Host": "10.0.0.5", "SslMode": "require",
            "AdminSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:rds!cluster-1"}))
        .unwrap();
        assert!(matches!(p.admin, AdminSource::Secret { .. }));
    }

    #[test]
    fn names_outside_the_path_are_refused_before_any_call() {
        let config = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .build();
        let profiles = Profiles::new(aws_sdk_ssm::Client::from_conf(config), "/platform/rds/");
        assert!(profiles.check_name("/platform/rds/orders").is_ok());
        for name in [
            "/platform/rdsx/orders",
            "/platform/rds",
            "/platform/rds/",
            "/attacker/p",
            "platform/rds/x",
        ] {
            let err = profiles.check_name(name).unwrap_err().to_string();
            assert!(err.contains("under /platform/rds/"), "{name}: {err}");
        }
    }

    #[test]
    fn ssl_mode_disable_is_refused_off_the_loopback() {
        for (host, allowed) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("localhost", true),
            ("10.0.0.5", false),
            ("db.internal", false),
            ("localhost.evil.example", false),
        ] {
            let mut v = minimal();
            v["Host"] = json!(host);
            v["SslMode"] = json!("disable");
            let result = parse(v);
            assert_eq!(result.is_ok(), allowed, "{host}: {:?}", result.err());
            if let Err(err) = result {
                assert!(
                    err.contains("SslMode") && err.contains("verify-full"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn allowed_stack_names_are_names_or_prefixes() {
        let mut v = minimal();
        v["AllowedStackNames"] = json!(["orders-*", "billing"]);
        let p = parse(v).unwrap();
        let id = |n: &str| Owner {
            stack_id: format!("arn:aws:cloudformation:us-east-1:1:stack/{n}/abc"),
            logical_resource_id: "Db".into(),
        };
        assert!(p.allow(&id("orders-api")).is_ok());
        assert!(p.allow(&id("billing")).is_ok());
        let err = p.allow(&id("billing-2")).unwrap_err().to_string();
        assert!(
            err.contains("billing-2") && err.contains("orders-*"),
            "{err}"
        );
        assert!(parse(minimal()).unwrap().allow(&id("anyone")).is_ok());
    }
}
