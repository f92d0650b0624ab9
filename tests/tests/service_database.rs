//! `Custom::ServiceDatabase`, its compiled binary run as Lambda runs it, against a real
//! PostgreSQL 15 (TLS on, statements logged, admin not a superuser) and moto.

use std::time::{Duration, Instant};

use integration_tests::cfn_endpoint::signature_for;
use integration_tests::events::{TEAM_ROLE, unique};
use integration_tests::fake_postgres::{Ask, FakePostgres};
use integration_tests::service_db::*;
use integration_tests::{Harness, aws_config, workspace_binary};
use serde_json::{Value, json};

#[tokio::test]
async fn create_makes_a_login_role_that_owns_its_database_and_keeps_its_password_secret() {
    let e = env().await;
    let svc = service();
    let r = e.invoke(e.h.event("Database").create(e.props(&svc))).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let answer = r.answer();
    let endpoint = format!("{}:{}", pg("PGHOST"), pg("PGPORT"));
    assert_eq!(answer["PhysicalResourceId"], e.id(&svc).as_str());
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
    assert!(e.parameter_gone(&svc).await);

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
async fn a_database_someone_else_creates_at_the_same_moment_is_left_standing() {
    let e = env().await;
    let svc = service();
    let staging = service();
    let theirs = admin().await;
    for statement in [
        format!("CREATE DATABASE {staging}"),
        format!("COMMENT ON DATABASE {staging} IS 'theirs'"),
    ] {
        theirs.batch_execute(&statement).await.unwrap();
    }
    // Someone else's CREATE DATABASE between writing its row and committing: a rename in an
    // open transaction holds the name the same way, and the function cannot see it yet.
    theirs
        .batch_execute(&format!("BEGIN; ALTER DATABASE {staging} RENAME TO {svc}"))
        .await
        .unwrap();
    let create = e.invoke(e.h.event("Database").create(e.props(&svc)));
    let commit = async {
        let watcher = admin().await;
        let waiting = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE DATABASE%'";
        let started = Instant::now();
        while watcher.query_opt(waiting, &[]).await.unwrap().is_none() {
            assert!(
                started.elapsed() < TIMEOUT,
                "the function never reached CREATE DATABASE"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        theirs.batch_execute("COMMIT").await.unwrap();
    };
    let (r, ()) = tokio::join!(create, commit);
    assert_eq!(r.status(), "FAILED", "{}", r.reason());
    let comment = admin()
        .await
        .query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&svc],
        )
        .await
        .unwrap()
        .map(|row| row.get::<_, Option<String>>(0));
    assert_eq!(
        comment,
        Some(Some("theirs".to_owned())),
        "their database stands"
    );
    assert!(
        !exists("role", &svc).await,
        "this request's role was taken back"
    );
    assert!(e.parameter_gone(&svc).await);
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
    let profile = e.profile(
        json!({"AdminUsername": limited, "AdminPasswordParameterName": limited_parameter}),
    );
    props["Cluster"] = json!(e.register("limited", profile).await);
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
    assert!(e.parameter_gone(&svc).await, "the parameter was taken back");
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
    let id = e.id(&svc);
    let r = e.invoke(events.update(&id, v2.clone(), v1)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(r.answer()["PhysicalResourceId"], id.as_str());
    let new = e.service_password(&svc).await;
    password_changed(&svc, &new, &old).await;
    // Any other change converges without touching the password.
    let mut v3 = v2.clone();
    v3["OnDelete"] = json!("Retain");
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
    let old_id = e.id(&old);
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
    let id = |svc: &str| e.id(svc);
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
    let profile = e.profile(json!({"Port": silent_port, "ConnectTimeoutSeconds": 2}));
    props["Cluster"] = json!(e.register("silent", profile).await);
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
    let profile = e.profile(json!({ "AdminPasswordParameterName": parameter }));
    props["Cluster"] = json!(e.register("wrong", profile).await);
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
    let profile = e.profile(json!({"AdminPasswordParameterName": "/test-platform/none/admin"}));
    let cluster = e.register("none", profile).await;
    props["Cluster"] = json!(cluster);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert!(
        r.reason().starts_with(&format!(
            "cluster profile {cluster}: AdminPasswordParameterName /test-platform/none/admin: no such parameter"
        )),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn verify_full_checks_the_certificate_against_the_profiles_ca() {
    let e = env().await;
    let ca = std::fs::read_to_string(pg("PG_CA_FILE")).unwrap();
    let mut props = e.props(&service());
    let profile = e.profile(json!({"SslMode": null, "CaCertificates": ca}));
    props["Cluster"] = json!(e.register("verified", profile).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // A CA that did not sign the cluster's certificate: the TLS handshake is refused.
    let system = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let end = "-----END CERTIFICATE-----";
    let other = &system[..system.find(end).unwrap() + end.len()];
    let mut props = e.props(&service());
    let profile = e.profile(json!({"SslMode": "verify-full", "CaCertificates": other}));
    props["Cluster"] = json!(e.register("other-ca", profile).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
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

    // verify-full (the default) without a CA fails naming the profile property.
    let mut props = e.props(&service());
    let profile = e.profile(json!({ "SslMode": null }));
    props["Cluster"] = json!(e.register("no-ca", profile).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert!(r.reason().contains("CaCertificates"), "{}", r.reason());

    // disable works against a cluster that allows it.
    let mut props = e.props(&service());
    let profile = e.profile(json!({"SslMode": "disable"}));
    props["Cluster"] = json!(e.register("plain", profile).await);
    assert_eq!(
        e.invoke(e.h.event("Database").create(props)).await.status(),
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

/// The same event, its answer addressed to a host the function does not allow (the harness's
/// endpoint under another name, so anything sent would still be caught).
fn forged(mut event: Value) -> Value {
    let url = event["ResponseURL"]
        .as_str()
        .unwrap()
        .replacen("127.0.0.1", "localhost", 1);
    event["ResponseURL"] = json!(url);
    event
}

#[tokio::test]
async fn a_forged_request_answered_off_cloudformation_changes_nothing_and_sends_nothing() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    e.invoke(events.create(v1.clone())).await.answer();
    let password = e.service_password(&svc).await;
    let sent = e.h.endpoint.all_received().len();

    // A Create for another service.
    let other = service();
    let r = e.invoke(forged(events.create(e.props(&other)))).await;
    assert!(r.responses.is_empty());
    assert!(!exists("role", &other).await && !exists("database", &other).await);
    assert!(
        e.password(&format!("/test-platform/{other}/db-password"))
            .await
            .is_none()
    );

    // A rotation of the existing service's password.
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    e.invoke(forged(events.update(&e.id(&svc), v2, v1.clone())))
        .await;
    assert_eq!(e.service_password(&svc).await, password);
    connect(&svc, &password, &svc)
        .await
        .expect("the password in force is unchanged");

    // A Delete that would drop it.
    e.invoke(forged(events.delete(&e.id(&svc), v1))).await;
    assert!(exists("database", &svc).await && exists("role", &svc).await);

    assert_eq!(e.h.endpoint.all_received().len(), sent, "nothing was sent");
    let logs = e.h.logs().await;
    assert_eq!(logs.matches("refused: nothing done").count(), 3, "{logs}");
    assert!(!logs.contains("X-Amz-Credential"), "{logs}");
}

#[tokio::test]
async fn a_service_stack_cannot_point_the_function_at_a_server_of_its_own() {
    let e = env().await;
    let impostor = FakePostgres::start(Ask::Cleartext, false).await;

    // Its own host and the platform's admin password, as properties.
    let mut props = e.props(&service());
    props["Host"] = json!("127.0.0.1");
    props["Port"] = json!(impostor.port.to_string());
    props["AdminPasswordParameterName"] = json!(e.admin_parameter);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("unknown property `") && r.reason().contains("`Cluster`"),
        "{}",
        r.reason()
    );
    assert_eq!(impostor.connections(), 0);

    // A profile of its own, outside the platform's path.
    let own = format!("/test-platform/{}/clusters/mine", unique());
    let impostor_profile = e.profile(json!({"Port": impostor.port, "SslMode": "disable"}));
    put_profile(&e.ssm, &own, &impostor_profile).await;
    let mut props = e.props(&service());
    props["Cluster"] = json!(own);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("is not a cluster this function serves"),
        "{}",
        r.reason()
    );
    assert_eq!(impostor.connections(), 0);

    // A registered cluster reserved for other stacks.
    let mut reserved = impostor_profile.clone();
    reserved["AllowedStackNames"] = json!(["billing-*"]);
    let mut props = e.props(&service());
    props["Cluster"] = json!(e.register("billing", reserved).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("may be used only by stacks named billing-*"),
        "{}",
        r.reason()
    );
    assert_eq!(impostor.connections(), 0, "no connection was made");
}

#[tokio::test]
async fn a_registered_server_asking_for_a_cleartext_or_md5_password_receives_none() {
    let e = env().await;
    let admin_password = pg("PG_ADMIN_PASSWORD");
    for (ask, tls) in [
        (Ask::Cleartext, false),
        (Ask::Cleartext, true),
        (Ask::Md5, true),
    ] {
        let impostor = FakePostgres::start(ask, tls).await;
        let mode = if tls { "require" } else { "disable" };
        let profile = e.profile(json!({"Port": impostor.port, "SslMode": mode}));
        let mut props = e.props(&service());
        props["Cluster"] = json!(
            e.register(&format!("impostor-{}", impostor.port), profile)
                .await
        );
        let r = e.invoke(e.h.event("Database").create(props)).await;
        assert_eq!(r.status(), "FAILED", "{ask:?} tls={tls}");
        assert!(
            r.reason().contains("refused, nothing sent") && r.reason().contains("SCRAM"),
            "{}",
            r.reason()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(impostor.connections(), 1, "{ask:?} tls={tls}");
        let received = impostor.received_after_ask();
        let has = |needle: &[u8]| received.windows(needle.len()).any(|w| w == needle);
        assert!(
            !has(admin_password.as_bytes()) && !has(b"md5") && received.first() != Some(&b'p'),
            "{ask:?} tls={tls}: the impostor received {received:?}"
        );
    }
}

#[tokio::test]
async fn at_trace_level_no_log_line_carries_the_signature_or_a_secret() {
    let e = env_with(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    let create = events.create(v1.clone());
    let mut signatures = vec![signature_for(create["RequestId"].as_str().unwrap())];
    assert_eq!(e.invoke(create).await.status(), "SUCCESS");
    let first = e.service_password(&svc).await;
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    let update = events.update(&e.id(&svc), v2.clone(), v1);
    signatures.push(signature_for(update["RequestId"].as_str().unwrap()));
    assert_eq!(e.invoke(update).await.status(), "SUCCESS");
    let second = e.service_password(&svc).await;
    let delete = events.delete(&e.id(&svc), v2);
    signatures.push(signature_for(delete["RequestId"].as_str().unwrap()));
    assert_eq!(e.invoke(delete).await.status(), "SUCCESS");

    let logs = e.h.logs().await;
    assert!(logs.lines().count() > 10, "{logs}");
    for secret in signatures
        .iter()
        .chain([&first, &second, &pg("PG_ADMIN_PASSWORD")])
    {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the log: {logs}"
        );
    }
    assert!(!logs.contains("X-Amz-Credential"), "{logs}");
}

#[tokio::test]
async fn admin_credentials_can_come_from_the_rds_managed_secret() {
    let e = env().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws_config().await);
    let secret = secrets
        .create_secret()
        .name(format!("rds!cluster-{}", unique()))
        .secret_string(
            json!({"username": pg("PG_ADMIN_USER"), "password": pg("PG_ADMIN_PASSWORD")})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let profile = e.profile(json!({
        "AdminUsername": null, "AdminPasswordParameterName": null,
        "AdminSecretArn": secret.arn().unwrap(),
    }));
    let svc = service();
    let mut props = e.props(&svc);
    props["Cluster"] = json!(e.register("managed", profile).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    connect(&svc, &e.service_password(&svc).await, &svc)
        .await
        .expect("the service logs in");

    // A secret without the expected shape fails naming the profile property, quoting nothing.
    let bad = secrets
        .create_secret()
        .name(format!("rds!cluster-{}", unique()))
        .secret_string("{\"password\": \"hunter2-not-json-shaped\"}")
        .send()
        .await
        .unwrap();
    let profile = e.profile(json!({
        "AdminUsername": null, "AdminPasswordParameterName": null,
        "AdminSecretArn": bad.arn().unwrap(),
    }));
    let mut props = e.props(&service());
    props["Cluster"] = json!(e.register("bad-secret", profile).await);
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("AdminSecretArn") && !r.reason().contains("hunter2"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn an_id_too_long_for_its_tag_fails_up_front_reading_nothing() {
    let e = env().await;
    let svc = service();
    let mut props = e.props(&svc);
    // A profile name that does not exist: the id check comes before any read.
    props["Cluster"] = json!(format!("{}/{}", e.profile_path, "c".repeat(200)));
    let r = e.invoke(e.h.event("Database").create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("at most 256 fit") && r.reason().contains("shorter names"),
        "{}",
        r.reason()
    );
    assert!(!exists("role", &svc).await);
}

#[tokio::test]
async fn in_a_busy_region_every_step_succeeds_and_the_role_logs_in_with_the_stored_password() {
    use integration_tests::fault_proxy::{FaultProxy, Faults};
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::BUSY).await;
    let e = env_with(&[("AWS_ENDPOINT_URL", &proxy.url)]).await;
    for cycle in 0..6 {
        let svc = service();
        let events = e.h.event("Database");
        let v1 = e.droppable(&svc);
        let r = e.invoke(events.create(v1.clone())).await;
        assert_eq!(r.status(), "SUCCESS", "cycle {cycle}: {}", r.reason());
        connect(&svc, &e.service_password(&svc).await, &svc)
            .await
            .unwrap_or_else(|err| panic!("cycle {cycle}: login after Create: {err}"));
        let mut v2 = v1.clone();
        v2["RotationToken"] = json!("2");
        let r = e.invoke(events.update(&e.id(&svc), v2.clone(), v1)).await;
        assert_eq!(r.status(), "SUCCESS", "cycle {cycle}: {}", r.reason());
        connect(&svc, &e.service_password(&svc).await, &svc)
            .await
            .unwrap_or_else(|err| panic!("cycle {cycle}: login after rotation: {err}"));
        let r = e.invoke(events.delete(&e.id(&svc), v2)).await;
        assert_eq!(r.status(), "SUCCESS", "cycle {cycle}: {}", r.reason());
        assert!(!exists("role", &svc).await && !exists("database", &svc).await);
    }
    let counts = proxy.counts();
    assert!(
        counts.throttled > 0 && counts.lost_answers > 0,
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_create_database_blocked_past_the_deadline_leaves_nothing_behind() {
    let e = env().await;
    // A session on template1 blocks CREATE DATABASE (PostgreSQL waits 5 s, then says busy,
    // and the function retries): longer than a 12 s function leaves for the work.
    let blocker = connect(&pg("PG_ADMIN_USER"), &pg("PG_ADMIN_PASSWORD"), "template1")
        .await
        .unwrap();
    let svc = service();
    let started = Instant::now();
    let r =
        e.h.invoke(
            e.h.event("Database").create(e.props(&svc)),
            Duration::from_secs(12),
        )
        .await;
    drop(blocker);
    assert!(started.elapsed() < Duration::from_secs(12));
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("CREATE DATABASE did not finish on")
            && r.reason().contains("were taken back"),
        "{}",
        r.reason()
    );
    // Give a statement that outlived the answer the chance to land: none may.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(!exists("role", &svc).await, "the role was taken back");
    assert!(
        !exists("database", &svc).await,
        "no database appeared later"
    );
    assert!(e.parameter_gone(&svc).await, "the parameter was taken back");
}

#[tokio::test]
async fn drop_takes_the_roles_grants_and_objects_with_it_and_names_what_still_blocks() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let mut props = e.props(&svc);
    props["OnDelete"] = json!("Drop");
    e.invoke(events.create(props.clone())).await.answer();
    // Someone granted the role another database of the admin's.
    let granted = service();
    let a = admin().await;
    a.batch_execute(&format!("CREATE DATABASE {granted}"))
        .await
        .unwrap();
    a.batch_execute(&format!("GRANT CONNECT ON DATABASE {granted} TO {svc}"))
        .await
        .unwrap();
    let r = e.invoke(events.delete(&e.id(&svc), props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("role", &svc).await && !exists("database", &svc).await);

    // A grant in another database blocks DROP ROLE: the reason says where.
    let svc = service();
    let mut props = e.props(&svc);
    props["OnDelete"] = json!("Drop");
    e.invoke(events.create(props.clone())).await.answer();
    let other = service();
    admin()
        .await
        .batch_execute(&format!("CREATE DATABASE {other}"))
        .await
        .unwrap();
    connect(&pg("PG_ADMIN_USER"), &pg("PG_ADMIN_PASSWORD"), &other)
        .await
        .unwrap()
        .batch_execute(&format!(
            "CREATE TABLE t (id int); GRANT SELECT ON t TO {svc}"
        ))
        .await
        .unwrap();
    let r = e.invoke(events.delete(&e.id(&svc), props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("DROP ROLE failed") && r.reason().contains(&other),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn a_new_parameter_name_is_a_replacement_that_keeps_the_password_until_cleanup() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    e.invoke(events.create(v1.clone())).await.answer();
    let password = e.service_password(&svc).await;
    let renamed = format!("/test-platform/{}/renamed", unique());
    let mut v2 = v1.clone();
    v2["PasswordParameterName"] = json!(renamed);
    let r = e.invoke(events.update(&e.id(&svc), v2, v1.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let new_id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_id, e.id(&svc), "a replacement");
    // Both parameters hold the role's password while CloudFormation finishes the update.
    assert_eq!(
        e.password(&renamed).await.as_deref(),
        Some(password.as_str())
    );
    assert_eq!(e.service_password(&svc).await, password);
    connect(&svc, &password, &svc)
        .await
        .expect("the password is unchanged");
    // The cleanup Delete of the old id removes the old parameter and nothing else.
    let r = e.invoke(events.delete(&e.id(&svc), v1)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(e.parameter_gone(&svc).await, "the old parameter went");
    assert!(exists("role", &svc).await && exists("database", &svc).await);
    assert_eq!(
        e.password(&renamed).await.as_deref(),
        Some(password.as_str())
    );
    connect(&svc, &password, &svc)
        .await
        .expect("the service still logs in");
}

#[tokio::test]
async fn retained_objects_are_adopted_by_the_same_stack_deployed_again_and_by_no_one_else() {
    use integration_tests::EventBuilder;
    let e = env().await;
    let svc = service();
    let stack = format!("orders-{}", unique());
    let mut props = e.props(&svc); // OnDelete: Retain, the default
    let first = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    assert_eq!(
        e.invoke(first.create(props.clone())).await.status(),
        "SUCCESS"
    );
    // Rotated once, so the history holds passwords under both tokens.
    let mut rotated = props.clone();
    rotated["RotationToken"] = json!("2");
    let r = e
        .invoke(first.update(&e.id(&svc), rotated.clone(), props))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    props = rotated;
    let old = e.service_password(&svc).await;
    let r = e.invoke(first.delete(&e.id(&svc), props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // Another stack naming the same objects: refused, nothing touched.
    for (stack_name, logical_id) in [
        (format!("billing-{}", unique()), "Database"),
        (stack.clone(), "Other"),
    ] {
        let other = EventBuilder::in_stack(&e.h.endpoint, &stack_name, logical_id);
        let r = e.invoke(other.create(props.clone())).await;
        assert_eq!(r.status(), "FAILED", "{stack_name} {logical_id}");
        assert!(
            r.reason().contains("is not this resource's"),
            "{}",
            r.reason()
        );
        assert_eq!(e.service_password(&svc).await, old);
    }

    // The same stack name and logical id, deployed again: adopted with a fresh password.
    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let r = e.invoke(again.create(props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    password_changed(&svc, &e.service_password(&svc).await, &old).await;
    // It is the new stack's now: its Delete with Drop removes it.
    let mut drop = props.clone();
    drop["OnDelete"] = json!("Drop");
    let r = e.invoke(again.delete(&e.id(&svc), drop)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("role", &svc).await && !exists("database", &svc).await);
    assert!(e.parameter_gone(&svc).await);
}

#[tokio::test]
async fn a_create_stopped_while_adopting_leaves_what_was_retained_for_the_next_deployment() {
    use integration_tests::EventBuilder;
    let e = env().await;
    let svc = service();
    let stack = format!("orders-{}", unique());
    let retain = e.props(&svc);
    let first = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    succeeds(&e, first.create(retain.clone())).await;
    let service_data = connect(&svc, &e.service_password(&svc).await, &svc)
        .await
        .unwrap();
    service_data
        .batch_execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (7)")
        .await
        .unwrap();
    drop(service_data);
    succeeds(&e, first.delete(&e.id(&svc), retain.clone())).await;

    // Deployed again, now with Drop: the Create stops at its last step, before it could take
    // anything back, and CloudFormation deletes what it answered.
    let mut dropping = retain.clone();
    dropping["OnDelete"] = json!("Drop");
    let h = failing_after(&e, "reading parameter!").await;
    let again =
        EventBuilder::in_stack(&h.endpoint, &stack, "Database").deployed_by(&h.endpoint, TEAM_ROLE);
    let r = h.invoke(again.create(dropping.clone()), TIMEOUT).await;
    assert_eq!(r.status(), "FAILED", "{}", r.reason());
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("create-failed:"), "{id}");
    let r = h.invoke(again.delete(&id, dropping), TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(exists("role", &svc).await && exists("database", &svc).await);
    assert!(
        !e.parameter_gone(&svc).await,
        "the parameter was retained too"
    );

    // The next deployment adopts it all, the service's data with it.
    let third = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    succeeds(&e, third.create(retain)).await;
    let kept: i32 = connect(&svc, &e.service_password(&svc).await, &svc)
        .await
        .unwrap()
        .query_one("SELECT id FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 7);
}

#[tokio::test]
async fn after_an_adoption_no_rotation_brings_back_a_password_the_earlier_deployment_used() {
    use integration_tests::EventBuilder;
    let e = env().await;
    let svc = service();
    let stack = format!("orders-{}", unique());
    let plain = e.props(&svc); // no RotationToken, OnDelete: Retain
    let mut rotated = plain.clone();
    rotated["RotationToken"] = json!("2");
    let first = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    succeeds(&e, first.create(plain.clone())).await;
    let before_rotation = e.service_password(&svc).await;
    succeeds(
        &e,
        first.update(&e.id(&svc), rotated.clone(), plain.clone()),
    )
    .await;
    let retired = [before_rotation, e.service_password(&svc).await];
    succeeds(&e, first.delete(&e.id(&svc), rotated.clone())).await;

    // Deployed again without a token: adopted with a fresh password.
    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    succeeds(&e, again.create(plain.clone())).await;
    let adopted = e.service_password(&svc).await;
    assert!(!retired.contains(&adopted));
    // Rotated to the token the earlier deployment had used: a new password, not its.
    succeeds(
        &e,
        again.update(&e.id(&svc), rotated.clone(), plain.clone()),
    )
    .await;
    let new = e.service_password(&svc).await;
    assert!(
        !retired.contains(&new) && new != adopted,
        "a fresh password"
    );
    // Rolled back: the adopted one, not the earlier deployment's first.
    succeeds(&e, again.update(&e.id(&svc), plain, rotated)).await;
    assert_eq!(e.service_password(&svc).await, adopted);
    connect(&svc, &adopted, &svc)
        .await
        .expect("the role has it again");
}

/// Invokes and asserts SUCCESS.
async fn succeeds(e: &Env, event: Value) {
    let r = e.invoke(event).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
}

/// The function with a step made to fail right after it took effect.
async fn failing_after(e: &Env, step: &str) -> Harness {
    Harness::start(
        workspace_binary("service-database"),
        &[
            ("CLUSTER_PROFILE_PATH", e.profile_path.as_str()),
            ("SERVICE_DATABASE_FAIL_AFTER", step),
        ],
    )
    .await
}

#[tokio::test]
async fn a_create_failing_after_any_step_leaves_nothing_behind() {
    let e = env().await;
    for step in [
        "CREATE ROLE",
        "GRANT the role to the admin",
        "CREATE DATABASE",
        "COMMENT ON DATABASE",
        "REVOKE CONNECT, TEMPORARY FROM PUBLIC",
        "reading parameter",
    ] {
        let h = failing_after(&e, step).await;
        let svc = service();
        let r = h
            .invoke(h.event("Database").create(e.props(&svc)), TIMEOUT)
            .await;
        assert_eq!(r.status(), "FAILED", "{step}");
        assert!(
            r.reason().contains("failure injected"),
            "{step}: {}",
            r.reason()
        );
        assert!(!exists("role", &svc).await, "{step}: the role was left");
        assert!(
            !exists("database", &svc).await,
            "{step}: the database was left"
        );
        assert!(
            e.parameter_gone(&svc).await,
            "{step}: the parameter was left"
        );
    }
}

#[tokio::test]
async fn a_rotation_failing_after_any_step_leaves_role_and_parameter_agreeing() {
    let e = env().await;
    for step in [
        "ALTER ROLE",
        "COMMENT ON ROLE",
        "GRANT the role to the admin",
        "ALTER DATABASE OWNER",
        "COMMENT ON DATABASE",
        "REVOKE CONNECT, TEMPORARY FROM PUBLIC",
        "reading parameter",
    ] {
        let svc = service();
        let events = e.h.event("Database");
        let v1 = e.droppable(&svc);
        e.invoke(events.create(v1.clone())).await.answer();
        let before = e.service_password(&svc).await;
        let mut v2 = v1.clone();
        v2["RotationToken"] = json!("2");
        let h = failing_after(&e, step).await;
        let r = h
            .invoke(
                events.answered_at(&h.endpoint).update(&e.id(&svc), v2, v1),
                TIMEOUT,
            )
            .await;
        assert_eq!(r.status(), "FAILED", "{step}");
        assert!(
            r.reason().contains("failure injected"),
            "{step}: {}",
            r.reason()
        );
        let stored = e.service_password(&svc).await;
        assert_eq!(
            stored, before,
            "{step}: the parameter holds the old password again"
        );
        connect(&svc, &stored, &svc)
            .await
            .unwrap_or_else(|err| panic!("{step}: the role and the parameter disagree: {err}"));
    }
}

#[tokio::test]
async fn a_rolled_back_rotation_restores_the_password_in_force_under_the_earlier_token() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    e.invoke(events.create(v1.clone())).await.answer();
    let first = e.service_password(&svc).await;
    let r = e
        .invoke(events.update(&e.id(&svc), v2.clone(), v1.clone()))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let second = e.service_password(&svc).await;
    assert_ne!(first, second);
    // CloudFormation rolls the update back: an Update to the old properties.
    let r = e.invoke(events.update(&e.id(&svc), v1.clone(), v2)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(
        e.service_password(&svc).await,
        first,
        "the earlier password, not a third one"
    );
    connect(&svc, &first, &svc)
        .await
        .expect("the role has it again");
}

#[tokio::test]
async fn after_a_failed_and_rolled_back_rotation_the_next_one_makes_a_new_password() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    e.invoke(events.create(v1.clone())).await.answer();
    let first = e.service_password(&svc).await;
    // The rotation fails after the parameter was overwritten: its undo writes the first back.
    let h = failing_after(&e, "ALTER ROLE").await;
    let r = h
        .invoke(
            events
                .answered_at(&h.endpoint)
                .update(&e.id(&svc), v2.clone(), v1.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED", "{}", r.reason());
    // CloudFormation rolls it back.
    let r = e
        .invoke(events.update(&e.id(&svc), v1.clone(), v2.clone()))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(e.service_password(&svc).await, first);
    // Deployed again, RotationToken 2 rotates.
    let r = e.invoke(events.update(&e.id(&svc), v2, v1)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let rotated = e.service_password(&svc).await;
    assert_ne!(
        rotated, first,
        "the password RotationToken 2 was to replace"
    );
    connect(&svc, &rotated, &svc)
        .await
        .expect("the role has the new password");
}

#[tokio::test]
async fn a_create_stopped_before_it_could_take_back_is_cleaned_up_by_its_delete() {
    let e = env().await;
    let svc = service();
    let mut props = e.props(&svc);
    props["OnDelete"] = json!("Drop");
    // The work stops right after CREATE DATABASE: no undo runs.
    let h = failing_after(&e, "COMMENT ON DATABASE!").await;
    let events = h.event("Database");
    let r = h.invoke(events.create(props.clone()), TIMEOUT).await;
    assert_eq!(r.status(), "FAILED");
    assert!(exists("role", &svc).await && exists("database", &svc).await);
    // CloudFormation deletes the failed resource by the id its answer carried.
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("create-failed:"), "{id}");
    let r = h.invoke(events.delete(&id, props), TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("role", &svc).await && !exists("database", &svc).await);
    assert!(e.parameter_gone(&svc).await);

    // A Create that failed for a cluster with no profile stays deletable.
    let mut props = e.props(&service());
    props["Cluster"] = json!(format!("{}/missing", e.profile_path));
    let events = e.h.event("Database");
    let r = e.invoke(events.create(props.clone())).await;
    assert_eq!(r.status(), "FAILED");
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        e.invoke(events.delete(&id, props)).await.status(),
        "SUCCESS"
    );
}

#[tokio::test]
async fn a_rollback_to_a_property_removed_since_restores_the_earlier_password_if_it_was_in_force() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let earlier = e.droppable(&svc);
    let mut current = earlier.clone();
    current["RotationToken"] = json!("2");
    // As before cluster profiles: the stack itself set how long to wait for the cluster.
    let mut legacy = earlier.clone();
    legacy["ConnectTimeoutSeconds"] = json!("5");
    e.invoke(events.create(earlier.clone())).await.answer();
    let first = e.service_password(&svc).await;
    let r = e
        .invoke(events.update(&e.id(&svc), current.clone(), earlier))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // The resource was never in those properties: refused like any bad Update.
    let r = e
        .invoke(events.update(&e.id(&svc), legacy.clone(), current.clone()))
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("unknown property `ConnectTimeoutSeconds`"),
        "{}",
        r.reason()
    );

    // Had an earlier release created it with them, its record would say so, and
    // CloudFormation's rollback to them must not fail.
    integration_tests::moto::set_properties_record(
        &e.ssm,
        &format!("/test-platform/{svc}/db-password"),
        &current,
        &legacy,
    )
    .await;
    let r = e.invoke(events.update(&e.id(&svc), legacy, current)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(e.service_password(&svc).await, first);
    connect(&svc, &first, &svc)
        .await
        .expect("the role has the earlier password again");
}
