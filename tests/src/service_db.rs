//! `Custom::ServiceDatabase` under test: the function with a platform of its own (an admin
//! password parameter, a KMS key, a cluster profile) and the test cluster's helpers.

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use serde_json::{Value, json};

use crate::events::unique;
use crate::{Harness, Invocation, aws_config, workspace_binary};

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub fn pg(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through tests/run.sh, which starts PostgreSQL")
    })
}

pub struct Env {
    pub h: Harness,
    pub ssm: aws_sdk_ssm::Client,
    pub admin_parameter: String,
    pub key: String,
    /// The function's CLUSTER_PROFILE_PATH.
    pub profile_path: String,
    /// The test cluster's profile, under `profile_path`.
    pub cluster: String,
}

pub async fn env() -> Env {
    env_with(&[]).await
}

pub async fn env_with(extra: &[(&str, &str)]) -> Env {
    let config = aws_config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let platform = format!("/test-platform/{}", unique());
    let admin_parameter = format!("{platform}/rds/admin");
    put(&ssm, &admin_parameter, &pg("PG_ADMIN_PASSWORD")).await;
    let key = crate::moto::new_key(&kms).await;
    let profile_path = format!("{platform}/clusters");
    let mut env = vec![("CLUSTER_PROFILE_PATH", profile_path.as_str())];
    env.extend_from_slice(extra);
    let e = Env {
        h: Harness::start(workspace_binary("service-database"), &env).await,
        ssm,
        admin_parameter,
        key,
        cluster: format!("{profile_path}/main"),
        profile_path,
    };
    e.register("main", e.profile(json!({}))).await;
    e
}

pub async fn put(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
}

pub fn service() -> String {
    format!("svc_{}", unique().replace('-', "_"))
}

impl Env {
    /// The test cluster's profile, with `changes` laid over it (null removes a property).
    pub fn profile(&self, changes: Value) -> Value {
        let mut profile = json!({
            "Host": pg("PGHOST"), "Port": pg("PGPORT").parse::<u16>().unwrap(),
            "AdminUsername": pg("PG_ADMIN_USER"),
            "AdminPasswordParameterName": self.admin_parameter,
            "SslMode": "require",
            "ConnectTimeoutSeconds": 5,
        });
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => profile.as_object_mut().unwrap().remove(name),
                _ => profile
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        profile
    }

    /// Registers a profile as the platform does: a String parameter under the profile path.
    pub async fn register(&self, name: &str, profile: Value) -> String {
        let full = format!("{}/{name}", self.profile_path);
        put_profile(&self.ssm, &full, &profile).await;
        full
    }

    /// Properties for one service's database on the test cluster.
    pub fn props(&self, service: &str) -> Value {
        json!({
            "Cluster": self.cluster,
            "DatabaseName": service,
            "PasswordParameterName": format!("/test-platform/{service}/db-password"),
            "KmsKeyId": self.key,
        })
    }

    /// Properties that drop everything on Delete, at RotationToken 1.
    pub fn droppable(&self, service: &str) -> Value {
        let mut props = self.props(service);
        props["OnDelete"] = json!("Drop");
        props["RotationToken"] = json!("1");
        props
    }

    pub async fn parameter_gone(&self, service: &str) -> bool {
        self.password(&format!("/test-platform/{service}/db-password"))
            .await
            .is_none()
    }

    /// The PhysicalResourceId of a service whose role and database share its name.
    pub fn id(&self, service: &str) -> String {
        format!(
            "{service}@{}/{service}#/test-platform/{service}/db-password",
            self.cluster
        )
    }

    pub async fn invoke(&self, event: Value) -> Invocation {
        self.h.invoke(event, TIMEOUT).await
    }

    pub async fn password(&self, name: &str) -> Option<String> {
        crate::moto::parameter(&self.ssm, name)
            .await
            .and_then(|p| p.value)
    }

    pub async fn service_password(&self, service: &str) -> String {
        self.password(&format!("/test-platform/{service}/db-password"))
            .await
            .expect("the service's password parameter")
    }
}

pub async fn put_profile(ssm: &aws_sdk_ssm::Client, name: &str, profile: &Value) {
    ssm.put_parameter()
        .name(name)
        .value(profile.to_string())
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

pub async fn connect(
    user: &str,
    password: &str,
    database: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(pg("PGHOST"))
        .port(pg("PGPORT").parse().unwrap())
        .user(user)
        .password(password)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The role logs in with `new` and no longer with `old`.
pub async fn password_changed(role: &str, new: &str, old: &str) {
    assert_ne!(new, old);
    connect(role, new, role)
        .await
        .expect("the new password works");
    assert!(
        connect(role, old, role).await.is_err(),
        "the old one does not"
    );
}

pub async fn admin() -> tokio_postgres::Client {
    connect(&pg("PG_ADMIN_USER"), &pg("PG_ADMIN_PASSWORD"), "postgres")
        .await
        .unwrap()
}

pub async fn exists(kind: &str, name: &str) -> bool {
    let query = match kind {
        "database" => "SELECT 1 FROM pg_database WHERE datname = $1",
        _ => "SELECT 1 FROM pg_roles WHERE rolname = $1",
    };
    admin()
        .await
        .query_opt(query, &[&name])
        .await
        .unwrap()
        .is_some()
}

pub fn server_log() -> String {
    std::fs::read_to_string(pg("PG_LOG_FILE")).unwrap()
}
