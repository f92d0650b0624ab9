//! `Custom::ServiceDatabase`, its compiled binary run as Lambda runs it, against a real
//! PostgreSQL 15 (TLS on, statements logged, admin not a superuser) and moto.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::ParameterType;
use integration_tests::events::unique;
use integration_tests::{Harness, Invocation, aws_config, workspace_binary};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

fn pg(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through tests/run.sh, which starts PostgreSQL")
    })
}

struct Env {
    h: Harness,
    ssm: aws_sdk_ssm::Client,
    admin_parameter: String,
    key: String,
}

async fn env() -> Env {
    env_with(&[]).await
}

async fn env_with(extra: &[(&str, &str)]) -> Env {
    let config = aws_config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let admin_parameter = format!("/test-platform/{}/rds/admin", unique());
    put(&ssm, &admin_parameter, &pg("PG_ADMIN_PASSWORD")).await;
    let key = integration_tests::moto::new_key(&kms).await;
    Env {
        h: Harness::start(workspace_binary("service-database"), extra).await,
        ssm,
        admin_parameter,
        key,
    }
}

async fn put(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
}

fn service() -> String {
    format!("svc_{}", unique().replace('-', "_"))
}

impl Env {
    /// Properties for one service's database on the test cluster.
    fn props(&self, service: &str) -> Value {
        json!({
            "Host": pg("PGHOST"), "Port": pg("PGPORT"),
            "AdminUsername": pg("PG_ADMIN_USER"),
            "AdminPasswordParameterName": self.admin_parameter,
            "DatabaseName": service,
            "PasswordParameterName": format!("/test-platform/{service}/db-password"),
            "KmsKeyId": self.key,
            "ConnectTimeoutSeconds": "5",
        })
    }

    async fn invoke(&self, event: Value) -> Invocation {
        self.h.invoke(event, TIMEOUT).await
    }

    async fn password(&self, name: &str) -> Option<String> {
        integration_tests::moto::parameter(&self.ssm, name)
            .await
            .and_then(|p| p.value)
    }

    async fn service_password(&self, service: &str) -> String {
        self.password(&format!("/test-platform/{service}/db-password"))
            .await
            .expect("the service's password parameter")
    }
}

async fn connect(
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

async fn admin() -> tokio_postgres::Client {
    connect(&pg("PG_ADMIN_USER"), &pg("PG_ADMIN_PASSWORD"), "postgres")
        .await
        .unwrap()
}

async fn exists(kind: &str, name: &str) -> bool {
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

fn server_log() -> String {
    std::fs::read_to_string(pg("PG_LOG_FILE")).unwrap()
}

#[tokio::test]
async fn create_makes_a_login_role_that_owns_its_database_and_keeps_its_password_secret() {
    let e = env().await;
    let svc = service();
    let r = e.invoke(e.h.event("Database").create(e.props(&svc))).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let answer = r.answer();
    let endpoint = format!("{}:{}", pg("PGHOST"), pg("PGPORT"));
    assert_eq!(
        answer["PhysicalResourceId"],
        format!("{svc}@{endpoint}/{svc}").as_str()
    );
    let data = &answer["Data"];
    assert_eq!(data["DatabaseName"], svc.as_str());
    assert_eq!(data["RoleName"], svc.as_str());
    assert_eq!(data["Endpoint"], endpoint.as_str());
    assert_eq!(
        data["PasswordParameterName"],
        format!("/test-platform/{svc}/db-password").as_str()
    );
    assert!(
        data["PasswordParameterArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:ssm:")
    );

    let password = e.service_password(&svc).await;
    assert_eq!(password.len(), 32);
    let client = connect(&svc, &password, &svc)
        .await
        .expect("the role logs in with the SSM password");
    client
        .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY); INSERT INTO orders VALUES (1)")
        .await
        .unwrap();
    let owner: String = client
        .query_one("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, svc);

    assert!(
        !server_log().contains(&password),
        "the password reached the server log"
    );
    assert!(
        server_log().contains("SCRAM-SHA-256$"),
        "the role was created from a verifier"
    );
    assert!(
        !e.h.logs().await.contains(&password),
        "the password reached the function's log"
    );
}

#[tokio::test]
async fn services_cannot_reach_each_others_databases() {
    let e = env().await;
    let (a, b) = (service(), service());
    for svc in [&a, &b] {
        let r = e.invoke(e.h.event("Database").create(e.props(svc))).await;
        assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    }
    let (pa, pb) = (e.service_password(&a).await, e.service_password(&b).await);
    let Err(err) = connect(&a, &pa, &b).await else {
        panic!("a can connect to b's database")
    };
    assert_eq!(err.as_db_error().unwrap().code().code(), "42501", "{err}");
    assert!(
        connect(&b, &pb, &a).await.is_err(),
        "b cannot connect to a's database"
    );
    assert!(
        connect(&a, &pb, &a).await.is_err(),
        "b's password is not a's"
    );
}

#[tokio::test]
async fn hostile_or_reserved_names_are_refused_and_change_nothing() {
    let e = env().await;
    for (database, role, says) in [
        (
            "orders\"; DROP DATABASE postgres; --",
            None,
            "DatabaseName \"orders\\\"; DROP DATABASE postgres; --\" is not allowed",
        ),
        (
            "orders'; DROP ROLE x; --",
            None,
            "use 1 to 63 characters of a-z, 0-9 and _",
        ),
        ("template1", None, "belong to the cluster"),
        (
            "ok_name",
            Some("pg_admin"),
            "RoleName \"pg_admin\" is not allowed: names starting with pg_ or rds are reserved",
        ),
        (
            "ok_name",
            Some("Robert'); DROP TABLE students;--"),
            "RoleName",
        ),
    ] {
        let mut props = e.props(database);
        props["PasswordParameterName"] = json!(format!("/test-platform/{}/p", unique()));
        if let Some(role) = role {
            props["RoleName"] = json!(role);
        }
        let r = e.invoke(e.h.event("Database").create(props.clone())).await;
        assert_eq!(r.status(), "FAILED");
        assert!(r.reason().contains(says), "{}", r.reason());
        assert!(
            e.password(props["PasswordParameterName"].as_str().unwrap())
                .await
                .is_none()
        );
    }
    assert!(exists("database", "postgres").await);
    assert!(!exists("database", "ok_name").await);
}

#[tokio::test]
async fn a_redelivered_create_answers_the_same_and_keeps_the_password() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let first = e.invoke(events.create(e.props(&svc))).await;
    let password = e.service_password(&svc).await;
    let second = e.invoke(events.create(e.props(&svc))).await;
    assert_eq!(second.status(), "SUCCESS", "{}", second.reason());
    assert_eq!(first.answer()["Data"], second.answer()["Data"]);
    assert_eq!(
        first.answer()["PhysicalResourceId"],
        second.answer()["PhysicalResourceId"]
    );
    assert_eq!(e.service_password(&svc).await, password);
    connect(&svc, &password, &svc)
        .await
        .expect("same password still works");
}

#[tokio::test]
async fn someone_elses_database_or_role_is_left_untouched() {
    let e = env().await;
    let svc = service();
    admin()
        .await
        .batch_execute(&format!("CREATE DATABASE {svc}"))
        .await
        .unwrap();
    let r = e.invoke(e.h.event("Database").create(e.props(&svc))).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains(&format!("database {svc} already exists")),
        "{}",
        r.reason()
    );
    assert!(r.reason().contains("not this resource's"), "{}", r.reason());
    assert!(!exists("role", &svc).await, "no role was created");
    assert!(
        e.password(&format!("/test-platform/{svc}/db-password"))
            .await
            .is_none()
    );

    // Another stack's resource is someone else too.
    let other = service();
    e.invoke(e.h.event("Database").create(e.props(&other)))
        .await
        .answer();
    let r = e
        .invoke(e.h.event("Database").create(e.props(&other)))
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("its comment reads: managed by CloudFormation"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn a_failure_part_way_leaves_nothing_behind() {
    let e = env().await;
    // The parameter exists and is someone else's: nothing else may be created.
    let svc = service();
    put(
        &e.ssm,
        &format!("/test-platform/{svc}/db-password"),
        "theirs",
    )
    .await;
    let r = e.invoke(e.h.event("Database").create(e.props(&svc))).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("already exists and is not this resource's"),
        "{}",
        r.reason()
    );
    assert!(!exists("role", &svc).await && !exists("database", &svc).await);
    assert_eq!(e.service_password(&svc).await, "theirs");

    // An admin that may create roles but not databases: the role is made, then taken back.
    let limited = service();
    let limited_password = unique();
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {limited} LOGIN CREATEROLE PASSWORD '{limited_password}'"
        ))
        .await
        .unwrap();
    let limited_parameter = format!("/test-platform/{limited}/admin");
    put(&e.ssm, &limited_parameter, &limited_password).await;
    let svc = service();
    let mut props = e.props(&svc);
    props["AdminUsername"] = json!(limited);
    props["AdminPasswordParameterName"] = json!(limited_parameter);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().starts_with("CREATE DATABASE failed on"),
        "{}",
        r.reason()
    );
    assert!(
        r.reason().contains("permission denied to create database"),
        "{}",
        r.reason()
    );
    assert!(!exists("role", &svc).await, "the role was taken back");
    assert!(
        e.password(&format!("/test-platform/{svc}/db-password"))
            .await
            .is_none(),
        "the parameter was taken back"
    );
}

#[tokio::test]
async fn rotation_sets_a_new_password_as_a_new_parameter_version() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let mut v1 = e.props(&svc);
    v1["RotationToken"] = json!("1");
    e.invoke(events.create(v1.clone())).await.answer();
    let old = e.service_password(&svc).await;
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    let id = format!("{svc}@{}:{}/{svc}", pg("PGHOST"), pg("PGPORT"));
    let r = e.invoke(events.update(&id, v2.clone(), v1)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(r.answer()["PhysicalResourceId"], id.as_str());
    let new = e.service_password(&svc).await;
    assert_ne!(old, new);
    connect(&svc, &new, &svc)
        .await
        .expect("the new password works");
    assert!(
        connect(&svc, &old, &svc).await.is_err(),
        "the old one does not"
    );
    // Any other change converges without touching the password.
    let mut v3 = v2.clone();
    v3["ConnectTimeoutSeconds"] = json!("7");
    let r = e.invoke(events.update(&id, v3, v2)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(e.service_password(&svc).await, new);
    connect(&svc, &new, &svc).await.expect("unchanged");
    assert!(!server_log().contains(&new) && !server_log().contains(&old));
}

#[tokio::test]
async fn a_new_database_name_is_a_replacement_and_dropping_the_old_spares_the_new() {
    let e = env().await;
    let (old, new) = (service(), service());
    let events = e.h.event("Database");
    let mut v1 = e.props(&old);
    v1["OnDelete"] = json!("Drop");
    e.invoke(events.create(v1.clone())).await.answer();
    let old_id = format!("{old}@{}:{}/{old}", pg("PGHOST"), pg("PGPORT"));
    // Same parameter, new database and role.
    let mut v2 = v1.clone();
    v2["DatabaseName"] = json!(new);
    let r = e
        .invoke(events.update(&old_id, v2.clone(), v1.clone()))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let new_id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_id, old_id);
    // CloudFormation deletes the old one, with the old properties.
    let r = e.invoke(events.delete(&old_id, v1)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("database", &old).await && !exists("role", &old).await);
    let password = e.service_password(&old).await; // the parameter is shared and still there
    connect(&new, &password, &new)
        .await
        .expect("the new database and role work");
}

#[tokio::test]
async fn retain_keeps_everything_and_drop_removes_only_this_resources_objects() {
    let e = env().await;
    let events = e.h.event("Database");
    let kept = service();
    e.invoke(events.create(e.props(&kept))).await.answer();
    let id = |svc: &str| format!("{svc}@{}:{}/{svc}", pg("PGHOST"), pg("PGPORT"));
    let r = e.invoke(events.delete(&id(&kept), e.props(&kept))).await;
    assert_eq!(r.status(), "SUCCESS");
    assert!(exists("database", &kept).await && exists("role", &kept).await);
    assert!(
        e.password(&format!("/test-platform/{kept}/db-password"))
            .await
            .is_some()
    );

    let dropped = service();
    let mut props = e.props(&dropped);
    props["OnDelete"] = json!("Drop");
    e.invoke(events.create(props.clone())).await.answer();
    // A session open in the database does not stop the drop.
    let session = connect(&dropped, &e.service_password(&dropped).await, &dropped)
        .await
        .unwrap();
    let r = e.invoke(events.delete(&id(&dropped), props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(
        session.simple_query("SELECT 1").await.is_err(),
        "the session was ended"
    );
    assert!(!exists("database", &dropped).await && !exists("role", &dropped).await);
    assert!(
        e.password(&format!("/test-platform/{dropped}/db-password"))
            .await
            .is_none()
    );
    // Already gone.
    assert_eq!(
        e.invoke(events.delete(&id(&dropped), props)).await.status(),
        "SUCCESS"
    );

    // Drop never touches a database that is not this resource's.
    let foreign = service();
    admin()
        .await
        .batch_execute(&format!("CREATE DATABASE {foreign}"))
        .await
        .unwrap();
    let mut props = e.props(&foreign);
    props["OnDelete"] = json!("Drop");
    assert_eq!(
        e.invoke(events.delete(&id(&foreign), props)).await.status(),
        "SUCCESS"
    );
    assert!(exists("database", &foreign).await);
}

#[tokio::test]
async fn connection_problems_fail_within_the_timeout_naming_host_and_cause() {
    let e = env().await;
    // Something that accepts connections and never speaks.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let mut props = e.props(&service());
    props["Port"] = json!(silent_port.to_string());
    props["ConnectTimeoutSeconds"] = json!("2");
    let started = Instant::now();
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains(&format!("could not connect to 127.0.0.1:{silent_port}")),
        "{}",
        r.reason()
    );
    assert!(
        r.reason().contains("no answer within 2 s"),
        "{}",
        r.reason()
    );

    // The wrong admin password.
    let wrong = format!("wrong-{}", unique());
    let parameter = format!("/test-platform/{}/bad-admin", unique());
    put(&e.ssm, &parameter, &wrong).await;
    let mut props = e.props(&service());
    props["AdminPasswordParameterName"] = json!(parameter);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("password authentication failed"),
        "{}",
        r.reason()
    );
    assert!(!r.reason().contains(&wrong) && !e.h.logs().await.contains(&wrong));

    // A missing admin password parameter.
    let mut props = e.props(&service());
    props["AdminPasswordParameterName"] = json!("/test-platform/none/admin");
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert!(
        r.reason()
            .starts_with("AdminPasswordParameterName /test-platform/none/admin: no such parameter"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn verify_full_checks_the_certificate_against_the_bundle() {
    let good = env_with(&[("DATABASE_CA_BUNDLE", &pg("PG_CA_FILE"))]).await;
    let svc = service();
    let mut props = good.props(&svc);
    props["SslMode"] = json!("verify-full");
    let r = good
        .invoke(good.h.event("Database").create(props.clone()))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // A bundle that does not hold the cluster's CA: the TLS handshake is refused.
    let bad = env_with(&[("DATABASE_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")]).await;
    let mut props = bad.props(&service());
    props["SslMode"] = json!("verify-full");
    let r = bad.invoke(bad.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("could not connect to"),
        "{}",
        r.reason()
    );
    assert!(
        r.reason().to_lowercase().contains("certificate"),
        "{}",
        r.reason()
    );

    // disable works against a cluster that allows it.
    let mut props = good.props(&service());
    props["SslMode"] = json!("disable");
    assert_eq!(
        good.invoke(good.h.event("Database").create(props))
            .await
            .status(),
        "SUCCESS"
    );
}

#[tokio::test]
async fn ten_services_created_at_once_all_succeed() {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        tasks.spawn(async {
            let e = env().await;
            let svc = service();
            let r = e.invoke(e.h.event("Database").create(e.props(&svc))).await;
            (svc, r.status(), r.reason())
        });
    }
    let mut created = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (svc, status, reason) = result.unwrap();
        assert_eq!(status, "SUCCESS", "{svc}: {reason}");
        created.push(svc);
    }
    for svc in created {
        assert!(exists("database", &svc).await);
    }
}
