//! The PostgreSQL cluster, as its admin sees it: connection (TLS as asked), and the few
//! statements this resource runs. Identifiers and values reach SQL only through the server's
//! own `format('%I', '%L')` with bound parameters.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use shared::Owner;
use shared::password::Secret;
use tokio_postgres::Client;
use tokio_postgres::config::ChannelBinding;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::auth_guard::{Guarded, GuardedTls};

/// How often a statement is tried when PostgreSQL says "busy, try again".
const ATTEMPTS: u32 = 8;
/// No statement is started with less time left than this.
const MIN_STATEMENT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum SslMode {
    /// TLS, the certificate checked against the profile's CaCertificates and the host name.
    #[default]
    #[serde(rename = "verify-full")]
    VerifyFull,
    /// TLS, the server's certificate not checked (libpq's `require`).
    #[serde(rename = "require")]
    Require,
    /// No TLS: for local clusters only.
    #[serde(rename = "disable")]
    Disable,
}

/// Where the cluster is and how to reach it, from its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub admin_user: String,
    pub admin_database: String,
    pub ssl_mode: SslMode,
    /// PEM, for verify-full.
    pub ca_certificates: Option<String>,
    pub connect_timeout: Duration,
}

impl Target {
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("could not connect to {endpoint} as {user}: {cause}")]
    Connect {
        endpoint: String,
        user: String,
        cause: String,
    },
    #[error("cluster profile property CaCertificates: {0}")]
    Tls(String),
    #[error(
        "{step} did not finish on {endpoint} in the time the function had left; this request's changes were taken back where time allowed (the log names any that were not): try again, raise the function's timeout, or check what blocks it there"
    )]
    OutOfTime { step: String, endpoint: String },
    #[error("{step} failed on {endpoint}: {message}")]
    Sql {
        step: String,
        endpoint: String,
        message: String,
        /// The SQLSTATE, where the server gave one.
        code: Option<String>,
    },
}

impl ClusterError {
    fn has_code(&self, sqlstate: &str) -> bool {
        matches!(self, Self::Sql { code: Some(code), .. } if code == sqlstate)
    }

    /// The object to create exists already (another delivery of the request, or someone
    /// else, made it): a role (42710) or a database (42P04); or one made at the same moment,
    /// which the catalog's unique index turns away (23505) once its maker commits.
    pub fn already_exists(&self) -> bool {
        self.has_code("42710") || self.has_code("42P04") || self.has_code("23505")
    }
}

/// The comment that marks a role or database as this resource's, naming the generation
/// (PhysicalResourceId) that uses it now.
pub fn mark(owner: &Owner, physical_id: &str) -> String {
    format!("{}{physical_id}", mark_prefix(owner))
}

fn mark_prefix(owner: &Owner) -> String {
    format!(
        "managed by CloudFormation: stack {} resource {} id ",
        owner.stack_id, owner.logical_resource_id
    )
}

/// The comment of an object a retaining Delete let go: a later resource of the same stack
/// name and logical id, with the same physical id (so naming the same password parameter),
/// may adopt it.
pub fn released_mark(owner: &Owner, physical_id: &str) -> String {
    format!(
        "{}{}",
        released_prefix(owner, physical_id),
        shared::utc_now()
    )
}

fn released_prefix(owner: &Owner, physical_id: &str) -> String {
    format!(
        "released by CloudFormation: stack {} resource {} id {physical_id} at ",
        owner.stack_name(),
        owner.logical_resource_id
    )
}

/// Whether a comment says the object was released by this resource's stack name and logical
/// id (an earlier deployment of the same stack) from the generation `physical_id`.
pub fn released_for(comment: &str, owner: &Owner, physical_id: &str) -> bool {
    comment.starts_with(&released_prefix(owner, physical_id))
}

/// Whether a comment marks the object as this resource's (any generation).
pub fn owned_by(comment: &str, owner: &Owner) -> bool {
    comment.starts_with(&mark_prefix(owner))
}

/// Whether an object's comment (as `role_comment` / `database_comment` read it: `None` when
/// the object is gone) marks it as used by this generation.
pub fn comment_used_by(comment: Option<Option<String>>, owner: &Owner, physical_id: &str) -> bool {
    comment
        .flatten()
        .is_some_and(|c| used_by(&c, owner, physical_id))
}

/// Whether a comment marks the object as this resource's, used by this generation.
pub fn used_by(comment: &str, owner: &Owner, physical_id: &str) -> bool {
    comment == mark(owner, physical_id)
}

pub struct Cluster {
    client: Client,
    endpoint: String,
    connection: tokio::task::JoinHandle<()>,
    /// No statement, lock wait or retry goes past this.
    until: std::sync::Mutex<tokio::time::Instant>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// The admin's login: SCRAM only (see `auth_guard`); channel binding required where the
/// certificate is not checked (`require`: it alone defeats a relay), else where offered.
/// The search path is set in the startup packet, before any statement: only `pg_catalog`
/// (and the session's own temporary schema, last), so nothing a role of the cluster
/// planted in `public` or elsewhere is ever found by name.
fn client_config(target: &Target, password: &Secret) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.admin_user)
        .password(password.expose())
        .dbname(&target.admin_database)
        .application_name("cfn-service-database")
        .options("-c search_path=pg_catalog,pg_temp")
        .channel_binding(match target.ssl_mode {
            SslMode::Require => ChannelBinding::Require,
            SslMode::VerifyFull | SslMode::Disable => ChannelBinding::Prefer,
        })
        .ssl_mode(match target.ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
    config
}

impl Cluster {
    /// Connects as the admin, within the target's connect timeout (TLS and login included).
    /// The password is used through SCRAM only (see `auth_guard`), with channel binding
    /// where the server offers it.
    /// Statements end by `until` (see [`Cluster::allow_until`]).
    pub async fn connect(
        target: &Target,
        password: &Secret,
        until: tokio::time::Instant,
    ) -> Result<Self, ClusterError> {
        let endpoint = target.endpoint();
        let failed = |cause: String| ClusterError::Connect {
            endpoint: endpoint.clone(),
            user: target.admin_user.clone(),
            cause,
        };
        let connecting = async {
            let socket = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| failed(e.to_string()))?;
            let _ = socket.set_nodelay(true);
            let config = client_config(target, password);
            let (client, connection) = if target.ssl_mode == SslMode::Disable {
                let (client, connection) = config
                    .connect_raw(Guarded::new(socket, false), tokio_postgres::NoTls)
                    .await
                    .map_err(|e| failed(describe(&e)))?;
                (client, spawn_connection(connection))
            } else {
                let tls = tls_config(target.ssl_mode, target.ca_certificates.as_deref())?;
                let tls = MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(
                    &mut MakeRustlsConnect::new(tls),
                    &target.host,
                )
                .map_err(|e| ClusterError::Tls(e.to_string()))?;
                let binding = target.ssl_mode == SslMode::Require;
                let (client, connection) = config
                    .connect_raw(socket, GuardedTls(tls, binding))
                    .await
                    .map_err(|e| failed(describe(&e)))?;
                (client, spawn_connection(connection))
            };
            Ok::<_, ClusterError>((client, connection))
        };
        let wait = target
            .connect_timeout
            .min(until.saturating_duration_since(tokio::time::Instant::now()));
        let (client, connection) = tokio::time::timeout(wait, connecting)
            .await
            .map_err(|_| {
                failed(format!(
                    "no answer within {} s (the profile's ConnectTimeoutSeconds, or the time left); check the host, port, security groups and routes",
                    wait.as_secs()
                ))
            })??;
        Ok(Self {
            client,
            endpoint,
            connection,
            until: std::sync::Mutex::new(until),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Moves the time limit, e.g. to the end of the grace period for taking changes back.
    pub fn allow_until(&self, until: tokio::time::Instant) {
        if let Ok(mut limit) = self.until.lock() {
            *limit = until;
        }
    }

    fn time_left(&self) -> Duration {
        let until = self
            .until
            .lock()
            .map(|u| *u)
            .unwrap_or_else(|e| *e.into_inner());
        until.saturating_duration_since(tokio::time::Instant::now())
    }

    /// `None` if the role does not exist, else its comment.
    pub async fn role_comment(&self, role: &str) -> Result<Option<Option<String>>, ClusterError> {
        self.comment(
            "looking up the role",
            "SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1",
            role,
        )
        .await
    }

    /// `None` if the database does not exist, else its comment.
    pub async fn database_comment(
        &self,
        database: &str,
    ) -> Result<Option<Option<String>>, ClusterError> {
        self.comment(
            "looking up the database",
            "SELECT pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) $1",
            database,
        )
        .await
    }

    /// `None` if the database does not exist, else the name of the role that owns it.
    pub async fn database_owner(&self, database: &str) -> Result<Option<String>, ClusterError> {
        let row = self
            .client
            .query_opt(
                "SELECT pg_catalog.pg_get_userbyid(datdba)::pg_catalog.text FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) $1",
                &[&database],
            )
            .await
            .map_err(|e| self.sql_error("looking up the database's owner", &e))?;
        Ok(row.map(|r| r.get::<_, String>(0)))
    }

    async fn comment(
        &self,
        step: &str,
        query: &str,
        name: &str,
    ) -> Result<Option<Option<String>>, ClusterError> {
        let row = self
            .client
            .query_opt(query, &[&name])
            .await
            .map_err(|e| self.sql_error(step, &e))?;
        Ok(row.map(|r| r.get::<_, Option<String>>(0)))
    }

    /// The password goes to the server as a SCRAM-SHA-256 verifier computed here, so the
    /// plain password never reaches the server's statement log. The role and its mark are one
    /// query, so one transaction: there is never an unmarked role that no retry could claim.
    pub async fn create_role(
        &self,
        role: &str,
        password: &Secret,
        mark: &str,
    ) -> Result<(), ClusterError> {
        let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
        self.execute(
            "CREATE ROLE",
            "CREATE ROLE %I WITH LOGIN PASSWORD %L; COMMENT ON ROLE %I IS %L",
            &[role, &verifier, role, mark],
        )
        .await
    }

    pub async fn set_password(&self, role: &str, password: &Secret) -> Result<(), ClusterError> {
        let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
        self.execute(
            "ALTER ROLE",
            "ALTER ROLE %I WITH LOGIN PASSWORD %L",
            &[role, &verifier],
        )
        .await
    }

    pub async fn comment_role(&self, role: &str, mark: &str) -> Result<(), ClusterError> {
        self.execute("COMMENT ON ROLE", "COMMENT ON ROLE %I IS %L", &[role, mark])
            .await
    }

    /// An admin that is not a superuser (the RDS master user) may create a database owned by
    /// another role only as a member of that role.
    pub async fn grant_to_admin(&self, role: &str) -> Result<(), ClusterError> {
        self.execute(
            "GRANT the role to the admin",
            "GRANT %I TO CURRENT_USER",
            &[role],
        )
        .await
    }

    pub async fn create_database(&self, database: &str, owner: &str) -> Result<(), ClusterError> {
        self.execute(
            "CREATE DATABASE",
            "CREATE DATABASE %I OWNER %I",
            &[database, owner],
        )
        .await
    }

    pub async fn set_owner(&self, database: &str, owner: &str) -> Result<(), ClusterError> {
        self.execute(
            "ALTER DATABASE OWNER",
            "ALTER DATABASE %I OWNER TO %I",
            &[database, owner],
        )
        .await
    }

    pub async fn comment_database(&self, database: &str, mark: &str) -> Result<(), ClusterError> {
        self.execute(
            "COMMENT ON DATABASE",
            "COMMENT ON DATABASE %I IS %L",
            &[database, mark],
        )
        .await
    }

    /// Only the owner (and the admin, a member of it) may connect or create temporary tables.
    pub async fn restrict(&self, database: &str) -> Result<(), ClusterError> {
        self.execute(
            "REVOKE CONNECT, TEMPORARY FROM PUBLIC",
            "REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC",
            &[database],
        )
        .await
    }

    /// Ends the database's sessions and drops it.
    pub async fn drop_database(&self, database: &str) -> Result<(), ClusterError> {
        self.execute(
            "DROP DATABASE",
            "DROP DATABASE IF EXISTS %I WITH (FORCE)",
            &[database],
        )
        .await
    }

    /// Drops what the role owns in the admin's database and revokes what was granted to it
    /// there, so that DROP ROLE is not blocked by them (its own database is gone already).
    pub async fn drop_owned(&self, role: &str) -> Result<(), ClusterError> {
        match self
            .execute("DROP OWNED", "DROP OWNED BY %I", &[role])
            .await
        {
            // The role is gone already (another Delete): so is what it owned.
            Err(error) if error.has_code("42704") => Ok(()),
            result => result,
        }
    }

    pub async fn drop_role(&self, role: &str) -> Result<(), ClusterError> {
        self.execute("DROP ROLE", "DROP ROLE IF EXISTS %I", &[role])
            .await
    }

    /// Builds the statement with the server's `format()` from bound parameters, then runs it
    /// with `statement_timeout` and `lock_timeout` set to the time left, so nothing it does
    /// can complete after the answer. PostgreSQL's transient errors (a busy template database,
    /// concurrent catalog updates, serialization failures) are retried with jittered backoff
    /// while time is left.
    async fn execute(&self, step: &str, template: &str, args: &[&str]) -> Result<(), ClusterError> {
        let out_of_time = || ClusterError::OutOfTime {
            step: step.to_owned(),
            endpoint: self.endpoint.clone(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = self.time_left();
            if left < MIN_STATEMENT {
                return Err(out_of_time());
            }
            let timeout = left.as_millis().to_string();
            let result = async {
                // One round trip: the statement, and the limits for the next one.
                let row = self
                    .client
                    .query_one(
                        "SELECT pg_catalog.format($1, VARIADIC $2::pg_catalog.text[]), pg_catalog.set_config('statement_timeout', $3, false), pg_catalog.set_config('lock_timeout', $3, false)",
                        &[&template, &args, &timeout],
                    )
                    .await?;
                let statement: String = row.get(0);
                self.client.batch_execute(&statement).await
            }
            .await;
            match result {
                Ok(()) if crate::failpoint::hit(step) => {
                    return Err(ClusterError::Sql {
                        step: step.to_owned(),
                        endpoint: self.endpoint.clone(),
                        message: crate::failpoint::message(step),
                        code: None,
                    });
                }
                Ok(()) => return Ok(()),
                Err(error) if is_timeout(&error) && self.time_left() < MIN_STATEMENT => {
                    return Err(out_of_time());
                }
                Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                    let pause = Duration::from_millis(
                        100 * 2u64.pow(attempt.min(5)) + rand::rng().random_range(0..100),
                    );
                    if pause + MIN_STATEMENT > self.time_left() {
                        return Err(out_of_time());
                    }
                    tracing::info!(step, attempt, error = %describe(&error), "transient; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(error) => return Err(self.sql_error(step, &error)),
            }
        }
    }

    fn sql_error(&self, step: &str, error: &tokio_postgres::Error) -> ClusterError {
        ClusterError::Sql {
            step: step.to_owned(),
            endpoint: self.endpoint.clone(),
            message: describe(error),
            code: error.as_db_error().map(|db| db.code().code().to_owned()),
        }
    }
}

/// The server's own words where there are some.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        // The detail says what blocks a DROP ROLE, for one.
        Some(db) => match db.detail() {
            Some(detail) => format!(
                "{} (SQLSTATE {}): {}",
                db.message(),
                db.code().code(),
                detail.replace('\n', "; ")
            ),
            None => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        },
        None => shared::error_chain(error),
    }
}

/// The statement was cancelled by `statement_timeout` or gave up on a lock.
fn is_timeout(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|db| matches!(db.code().code(), "57014" | "55P03"))
}

fn is_transient(error: &tokio_postgres::Error) -> bool {
    let Some(db) = error.as_db_error() else {
        return false;
    };
    match db.code().code() {
        // object in use (a template being copied), serialization failure, deadlock, lock not available
        "55006" | "40001" | "40P01" | "55P03" => true,
        "XX000" => db.message().contains("tuple concurrently"),
        _ => false,
    }
}

/// Runs the connection's I/O until the client goes.
fn spawn_connection<F>(connection: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(error = %describe(&error), "database connection ended");
        }
    })
}

/// The certificates of a PEM bundle; an error when it holds none or one does not parse.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates ({e})"))?;
    if certificates.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certificates)
}

fn tls_config(mode: SslMode, ca_certificates: Option<&str>) -> Result<ClientConfig, ClusterError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Tls(e.to_string()))?;
    if mode != SslMode::VerifyFull {
        // `require` (as in libpq): encrypted, the certificate not checked.
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth());
    }
    let pem = ca_certificates
        .ok_or_else(|| ClusterError::Tls("required with SslMode verify-full".into()))?;
    let mut roots = RootCertStore::empty();
    for certificate in parse_certificates(pem).map_err(ClusterError::Tls)? {
        roots
            .add(certificate)
            .map_err(|e| ClusterError::Tls(e.to_string()))?;
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Accepts any server certificate, but still checks the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/orders/1".into(),
            logical_resource_id: "Database".into(),
        }
    }

    #[test]
    fn marks_tell_owner_and_generation() {
        let m = mark(&owner(), "orders@db:5432/orders");
        assert!(owned_by(&m, &owner()));
        assert!(used_by(&m, &owner(), "orders@db:5432/orders"));
        assert!(!used_by(&m, &owner(), "orders@db:5432/orders_v2"));
        let other = Owner {
            logical_resource_id: "Other".into(),
            ..owner()
        };
        assert!(!owned_by(&m, &other));
    }

    #[test]
    fn verify_full_without_certificates_says_what_to_set() {
        let err = tls_config(SslMode::VerifyFull, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CaCertificates"), "{err}");
        let err = tls_config(SslMode::VerifyFull, Some("junk"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
