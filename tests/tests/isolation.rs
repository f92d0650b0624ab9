//! Tenant isolation, tried as another team of the same platform would: requests invoked
//! directly with CloudFormation-shaped answers, a stack re-using a deleted stack's name, and
//! functions planted in the cluster. Each attack must change nothing of the victim's.

use std::time::Duration;

use integration_tests::cfn_stand_in::ResourceState;
use integration_tests::events::{TEAM_ROLE, unique};
use integration_tests::fake_postgres::{Ask, FakePostgres};
use integration_tests::service_db::*;
use integration_tests::{EventBuilder, Harness, Invocation, aws_config, workspace_binary};
use serde_json::{Value, json};

/// Delivers `event` as a direct invocation would: CloudFormation shows the resource as the
/// victim's last deployment left it, and the answer is addressed to CloudFormation's bucket.
async fn forge(h: &Harness, events: &EventBuilder, event: Value) -> Invocation {
    h.invoke_directly(events.from_cloudformation(event), TIMEOUT)
        .await
}

/// Nothing answered, and each forged request logged as refused before any work; only the
/// `legitimate` requests before them were answered.
async fn refused_all(h: &Harness, forged: &[Invocation], legitimate: usize) {
    for r in forged {
        assert!(r.responses.is_empty(), "{:?}", r.responses);
    }
    let logs = h.logs().await;
    let refused = logs
        .lines()
        .filter(|l| l.contains("refused: nothing done") && l.contains("CloudFormation shows"))
        .count();
    assert_eq!(refused, forged.len(), "{logs}");
    let answered = logs.matches("\"message\":\"responding ").count();
    assert_eq!(answered, legitimate, "{logs}");
    assert!(!logs.contains("X-Amz-Signature="), "{logs}");
}

#[tokio::test]
async fn forged_service_database_requests_change_nothing_of_the_victims() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    let v1 = e.droppable(&svc);
    e.invoke(events.create(v1.clone())).await.answer();
    let password = e.service_password(&svc).await;

    let other = service();
    // A rotation whose new password would land in a parameter the attacker names.
    let stolen = format!("/test-platform/attacker-{}/db-password", unique());
    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    v2["PasswordParameterName"] = json!(stolen);
    let forged = [
        forge(&e.h, &events, events.create(e.props(&other))).await,
        forge(&e.h, &events, events.update(&e.id(&svc), v2, v1.clone())).await,
        forge(&e.h, &events, events.delete(&e.id(&svc), v1)).await,
    ];
    refused_all(&e.h, &forged, 1).await;
    assert!(!exists("role", &other).await && !exists("database", &other).await);
    assert!(e.password(&stolen).await.is_none());
    assert_eq!(e.service_password(&svc).await, password);
    assert!(exists("database", &svc).await);
    connect(&svc, &password, &svc)
        .await
        .expect("the victim's password still works");
}

#[tokio::test]
async fn forged_admin_password_requests_change_nothing_of_the_platforms() {
    let h = Harness::start(
        workspace_binary("admin-password"),
        &[("ALLOWED_STACK_NAMES", "*")],
    )
    .await;
    let ssm = aws_sdk_ssm::Client::new(&aws_config().await);
    let name = format!("/test-platform/{}/rds/admin-password", unique());
    let events = h.event("AdminPassword");
    let v1 = json!({"ParameterName": name, "RotationToken": "1"});
    let created = h.invoke(events.create(v1.clone()), TIMEOUT).await;
    assert_eq!(created.status(), "SUCCESS", "{}", created.reason());
    let stored = || integration_tests::moto::parameter(&ssm, &name);
    let before = stored().await.unwrap();

    let mut v2 = v1.clone();
    v2["RotationToken"] = json!("2");
    let forged = [
        forge(&h, &events, events.update(&name, v2, v1.clone())).await,
        forge(&h, &events, events.delete(&name, v1)).await,
    ];
    refused_all(&h, &forged, 1).await;
    let after = stored().await.expect("the parameter is still there");
    assert_eq!((after.value, after.version), (before.value, before.version));
}

#[tokio::test]
async fn forged_priority_requests_change_nothing_of_the_victims() {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws_config().await);
    let dynamo = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let listener = integration_tests::moto::listener_with_rules(&elb, 1..=3).await;
    let table = integration_tests::moto::ledger_table(&dynamo).await;
    let h = Harness::start(
        workspace_binary("alb-rule-priority"),
        &[("LEDGER_TABLE", table.as_str())],
    )
    .await;
    let events = h.event("Priority");
    let props = json!({"ListenerArn": listener});
    let r = h.invoke(events.create(props.clone()), TIMEOUT).await;
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = integration_tests::moto::ledger_entries(&dynamo, &table, &listener).await;
    assert_eq!(before.len(), 1, "{before:?}");

    let forged = [
        forge(
            &h,
            &events,
            events.create(json!({"ListenerArn": listener, "Count": 5})),
        )
        .await,
        forge(&h, &events, events.delete(&id, props)).await,
    ];
    refused_all(&h, &forged, 1).await;
    let after = integration_tests::moto::ledger_entries(&dynamo, &table, &listener).await;
    assert_eq!(after, before, "the ledger is as it was");
}

#[tokio::test]
async fn a_cleanup_delete_after_a_replacement_runs_and_the_current_resource_stays() {
    let e = env().await;
    let (old, new) = (service(), service());
    let events = e.h.event("Database");
    let v1 = e.droppable(&old);
    e.invoke(events.create(v1.clone())).await.answer();
    let mut v2 = v1.clone();
    v2["DatabaseName"] = json!(new);
    let r = e
        .invoke(events.update(&e.id(&old), v2.clone(), v1.clone()))
        .await;
    let new_id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    // CloudFormation's cleanup: the stack cleans up, the resource is the new one, complete.
    let cloudformation = e.h.endpoint.cloudformation();
    let stack = events.stack_id();
    cloudformation.set_stack(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
    cloudformation.set_resource(
        stack,
        "Database",
        ResourceState::new("UPDATE_COMPLETE", Some(&new_id)),
    );
    cloudformation.add_event(stack, "Database", &e.id(&old), "DELETE_IN_PROGRESS");
    // A Delete of the current resource is not a cleanup, nor one of an id CloudFormation
    // is not deleting (a "failed Create" naming the current objects): refused.
    let mut failed_create = v2.clone();
    failed_create["OnDelete"] = json!("Drop");
    for forged in [
        events.delete(&new_id, v2.clone()),
        events.delete("create-failed:forged", failed_create),
    ] {
        let r = forge(&e.h, &events, forged).await;
        assert!(r.responses.is_empty());
    }
    assert!(exists("database", &new).await && exists("role", &new).await);
    // The old one's is: it runs (its answer goes to the harness's endpoint).
    let r =
        e.h.invoke_directly(events.delete(&e.id(&old), v1), TIMEOUT)
            .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("database", &old).await && !exists("role", &old).await);
    assert!(exists("database", &new).await && exists("role", &new).await);
}

#[tokio::test]
async fn when_cloudformation_cannot_be_asked_the_request_fails_and_nothing_is_done() {
    let e = env().await;
    let svc = service();
    e.h.endpoint.cloudformation().set_down(true);
    let r =
        e.h.invoke(
            e.h.event("Database").create(e.props(&svc)),
            Duration::from_secs(8),
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("CloudFormation") && r.reason().contains("nothing was done"),
        "{}",
        r.reason()
    );
    assert!(!exists("role", &svc).await && e.parameter_gone(&svc).await);
}

/// A service's table with one row, written as the service.
async fn write_row(role: &str, password: &str) {
    let client = connect(role, password, role).await.unwrap();
    client
        .batch_execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (42)")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stack_reusing_a_deleted_stacks_name_gets_none_of_its_retained_data() {
    let e = env().await;
    let svc = service();
    let stack = format!("orders-{}", unique());
    let props = e.props(&svc); // OnDelete: Retain, the default
    let owner = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    e.invoke(owner.create(props.clone())).await.answer();
    let password = e.service_password(&svc).await;
    write_row(&svc, &password).await;
    let r = e.invoke(owner.delete(&e.id(&svc), props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // Another team, same stack name, logical id and database: their own parameter and key,
    // the owner's parameter under their own key, or the owner's parameter and key (no proof
    // of being the owner's team: deployed with no role, or a role of their own).
    let theirs = format!("/test-platform/{}/db-password", unique());
    let their_key =
        integration_tests::moto::new_key(&aws_sdk_kms::Client::new(&aws_config().await)).await;
    let mut own_parameter = props.clone();
    own_parameter["PasswordParameterName"] = json!(theirs);
    own_parameter["KmsKeyId"] = json!(their_key);
    let mut own_key = props.clone();
    own_key["KmsKeyId"] = json!(their_key);
    for (attempt, role) in [
        (own_parameter, None),
        (own_key, None),
        (props.clone(), None),
        (
            props.clone(),
            Some("arn:aws:iam::123456789012:role/billing-deployer"),
        ),
    ] {
        let mut stranger = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
        if let Some(role) = role {
            stranger = stranger.deployed_by(&e.h.endpoint, role);
        }
        let r = e.invoke(stranger.create(attempt.clone())).await;
        assert_eq!(r.status(), "FAILED", "{attempt}");
        assert!(r.reason().contains("not this resource's"), "{}", r.reason());
        assert_eq!(e.service_password(&svc).await, password, "{attempt}");
        assert!(e.password(&theirs).await.is_none());
        connect(&svc, &password, &svc)
            .await
            .expect("the retained password still works");
    }

    // The owner deploys again with its role, naming the same parameter and key: its data
    // comes back.
    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let r = e.invoke(again.create(props)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let fresh = e.service_password(&svc).await;
    password_changed(&svc, &fresh, &password).await;
    let row = connect(&svc, &fresh, &svc)
        .await
        .unwrap()
        .query_one("SELECT id FROM orders", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
}

#[tokio::test]
async fn functions_planted_in_public_are_never_run_by_the_admin() {
    let e = env().await;
    // The planter: a service whose role may create in the admin database's public schema
    // (every cluster made on PostgreSQL 14 or earlier lets PUBLIC do so).
    let planter = service();
    let props = e.droppable(&planter);
    let planting = e.h.event("Database");
    e.invoke(planting.create(props.clone())).await.answer();
    let password = e.service_password(&planter).await;
    let calls = format!("planted_calls_{planter}");
    let client = connect(&planter, &password, "postgres").await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE public.{calls} (what text);
             GRANT INSERT ON public.{calls} TO PUBLIC;
             CREATE FUNCTION public.format(text, VARIADIC text[]) RETURNS text LANGUAGE sql
               AS $$ INSERT INTO public.{calls} VALUES ('format'); SELECT pg_catalog.format($1, VARIADIC $2) $$;
             CREATE FUNCTION public.shobj_description(oid, text) RETURNS text LANGUAGE sql
               AS $$ INSERT INTO public.{calls} VALUES ('shobj_description'); SELECT pg_catalog.shobj_description($1, $2::name) $$;
             CREATE FUNCTION public.set_config(text, text, boolean) RETURNS text LANGUAGE sql
               AS $$ INSERT INTO public.{calls} VALUES ('set_config'); SELECT pg_catalog.set_config($1, $2, $3) $$;"
        ))
        .await
        .unwrap();

    // The next team's Create runs as the admin, in that database.
    let next = service();
    let r = e.invoke(e.h.event("Database").create(e.props(&next))).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let ran = client
        .query_one(&format!("SELECT count(*) FROM public.{calls}"), &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(ran, 0, "a planted function ran as the admin");
    drop(client);
    // The planter's Drop takes its functions with it.
    let r = e.invoke(planting.delete(&e.id(&planter), props)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(!exists("role", &planter).await);
}

#[tokio::test]
async fn under_require_a_server_that_weakens_scram_receives_no_proof_of_the_password() {
    let e = env().await;
    for ask in [Ask::ScramWithoutBinding, Ask::ScramOneIteration] {
        let impostor = FakePostgres::start(ask, true).await;
        let profile = e.profile(json!({"Port": impostor.port, "SslMode": "require"}));
        let mut props = e.props(&service());
        props["Cluster"] = json!(
            e.register(&format!("impostor-{}", impostor.port), profile)
                .await
        );
        let r = e.invoke(e.h.event("Database").create(props)).await;
        assert_eq!(r.status(), "FAILED", "{ask:?}");
        let reason = r.reason();
        let named = match ask {
            Ask::ScramWithoutBinding => {
                reason.contains("SCRAM-SHA-256-PLUS") && reason.contains("verify-full")
            }
            _ => reason.contains("1 iterations"),
        };
        assert!(
            named && reason.contains("no password proof sent"),
            "{reason}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let received = impostor.received_after_ask();
        let has = |needle: &[u8]| received.windows(needle.len()).any(|w| w == needle);
        assert!(
            !has(b",p="),
            "{ask:?}: the impostor received a proof: {received:?}"
        );
        if matches!(ask, Ask::ScramWithoutBinding) {
            assert!(received.is_empty(), "{received:?}");
        }
    }
}

#[tokio::test]
async fn an_undo_leaves_standing_a_database_another_stack_made_under_the_name() {
    let e = env().await;
    // A session on template1 keeps this Create's CREATE DATABASE waiting until its
    // statement time runs out (an 8 s function stops its work at 4.8 s).
    let blocker = connect(&pg("PG_ADMIN_USER"), &pg("PG_ADMIN_PASSWORD"), "template1")
        .await
        .unwrap();
    let svc = service();
    let mut props = e.props(&svc);
    props["RoleName"] = json!(format!("{svc}_a"));
    let creating =
        e.h.invoke(e.h.event("Database").create(props), Duration::from_secs(8));
    // Meanwhile another stack's database of that name appears (from template0, which no
    // session holds), marked as theirs.
    let theirs = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let admin = admin().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {svc} TEMPLATE template0"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!(
                "COMMENT ON DATABASE {svc} IS 'managed by CloudFormation: stack other resource Db id x'"
            ))
            .await
            .unwrap();
    };
    let (r, ()) = tokio::join!(creating, theirs);
    drop(blocker);
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("CREATE DATABASE did not finish"),
        "{}",
        r.reason()
    );
    assert!(
        exists("database", &svc).await,
        "the other stack's database stands"
    );
    assert!(
        !exists("role", &format!("{svc}_a")).await,
        "this Create's role went"
    );
    admin()
        .await
        .batch_execute(&format!("DROP DATABASE {svc}"))
        .await
        .unwrap();
}

/// A service that the stack `stack` (deployed with `role`) created and then deleted with
/// `OnDelete: Retain`: its name, properties and retained password.
async fn retained(e: &Env, stack: &str, role: Option<&str>) -> (String, Value, String) {
    let svc = service();
    let props = e.props(&svc);
    let mut owner = EventBuilder::in_stack(&e.h.endpoint, stack, "Database");
    if let Some(role) = role {
        owner = owner.deployed_by(&e.h.endpoint, role);
    }
    e.invoke(owner.create(props.clone())).await.answer();
    let password = e.service_password(&svc).await;
    let r = e.invoke(owner.delete(&e.id(&svc), props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    (svc, props, password)
}

#[tokio::test]
async fn retained_objects_whose_parameter_is_gone_pass_to_no_one() {
    let e = env().await;
    let stack = format!("orders-{}", unique());
    let (svc, props, password) = retained(&e, &stack, Some(TEAM_ROLE)).await;
    // The parameter is deleted by hand; a stranger names it, under a key of theirs.
    let parameter = props["PasswordParameterName"].as_str().unwrap();
    e.ssm
        .delete_parameter()
        .name(parameter)
        .send()
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&aws_config().await);
    let mut theirs = props.clone();
    theirs["KmsKeyId"] = json!(integration_tests::moto::new_key(&kms).await);
    let stranger = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
    let r = e.invoke(stranger.create(theirs)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("handed over only with their parameter"),
        "{}",
        r.reason()
    );
    assert!(e.password(parameter).await.is_none(), "nothing was written");
    connect(&svc, &password, &svc)
        .await
        .expect("the retained password still works");
}

#[tokio::test]
async fn the_platform_hands_retained_objects_to_a_redeployment_without_a_role() {
    let e = env().await;
    let stack = format!("orders-{}", unique());
    // Deployed with the deployer's own credentials: no role to prove anything later.
    let (svc, props, password) = retained(&e, &stack, None).await;
    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
    let r = e.invoke(again.create(props.clone())).await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("hand-over"), "{}", r.reason());
    assert_eq!(e.service_password(&svc).await, password);
    // The owner's stack of that name exists (deployed without the resource); the platform
    // hands the objects over to that very stack, and its next update adds the resource.
    let third = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
    let parameter = props["PasswordParameterName"].as_str().unwrap();
    let to = shared::retained::hand_over_value(&shared::Owner {
        stack_id: third.stack_id().to_owned(),
        logical_resource_id: "Database".into(),
    });
    integration_tests::moto::hand_over(&e.ssm, parameter, &to).await;
    // A stack of the same name but another id (whoever created one first) is not it.
    let squatter = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
    let r = e.invoke(squatter.create(props.clone())).await;
    assert_eq!(r.status(), "FAILED");
    let r = e.invoke(third.create(props)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    password_changed(&svc, &e.service_password(&svc).await, &password).await;
}

#[tokio::test]
async fn a_create_naming_the_resources_objects_under_another_id_is_refused() {
    let e = env().await;
    let svc = service();
    let events = e.h.event("Database");
    e.invoke(events.create(e.props(&svc))).await.answer();
    let password = e.service_password(&svc).await;
    // The same resource, its database and role, and a parameter someone else names: as a
    // forged Create timed inside the resource's own operation would.
    let stolen = format!("/test-platform/attacker-{}/db-password", unique());
    let mut props = e.props(&svc);
    props["PasswordParameterName"] = json!(stolen);
    let r = e.invoke(events.create(props)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("not this resource's"), "{}", r.reason());
    assert!(e.password(&stolen).await.is_none());
    assert_eq!(e.service_password(&svc).await, password);
    connect(&svc, &password, &svc).await.expect("unchanged");
}

#[tokio::test]
async fn a_priority_cleanup_delete_releases_only_on_the_listener_its_id_names() {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws_config().await);
    let dynamo = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let (a, b) = (
        integration_tests::moto::listener_with_rules(&elb, []).await,
        integration_tests::moto::listener_with_rules(&elb, []).await,
    );
    let table = integration_tests::moto::ledger_table(&dynamo).await;
    let h = Harness::start(
        workspace_binary("alb-rule-priority"),
        &[("LEDGER_TABLE", table.as_str())],
    )
    .await;
    let events = h.event("Priority");
    let v1 = json!({"ListenerArn": a});
    let v2 = json!({"ListenerArn": b});
    h.invoke(events.create(v1.clone()), TIMEOUT).await.answer();
    let old_id = format!("{a}#Priority");
    let r = h
        .invoke(events.update(&old_id, v2.clone(), v1), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let held = integration_tests::moto::ledger_entries(&dynamo, &table, &b).await;
    assert_eq!(held.len(), 1, "{held:?}");
    // The old generation's Delete, its properties naming the new listener (as one timed
    // inside the cleanup could): the new listener's priority stays.
    let r = h.invoke(events.delete(&old_id, v2), TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(
        integration_tests::moto::ledger_entries(&dynamo, &table, &b).await,
        held
    );
}

#[tokio::test]
async fn retained_objects_pass_to_no_one_through_a_parameter_made_for_another_generation() {
    let e = env().await;
    let stack = format!("orders-{}", unique());
    let (svc, props, password) = retained(&e, &stack, Some(TEAM_ROLE)).await;
    let parameter = props["PasswordParameterName"].as_str().unwrap();
    e.ssm
        .delete_parameter()
        .name(parameter)
        .send()
        .await
        .unwrap();
    // A stranger's stack of that name makes the parameter anew for a decoy database, then
    // updates to the retained names.
    let stranger = EventBuilder::in_stack(&e.h.endpoint, &stack, "Database");
    let decoy = service();
    let mut first = props.clone();
    first["DatabaseName"] = json!(decoy);
    first["RoleName"] = json!(decoy);
    let r = e.invoke(stranger.create(first.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let decoy_id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = e.invoke(stranger.update(&decoy_id, props, first)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("handed over only with their parameter"),
        "{}",
        r.reason()
    );
    connect(&svc, &password, &svc)
        .await
        .expect("the retained password still works");
}

#[tokio::test]
async fn a_database_whose_owner_marked_it_as_anothers_is_not_taken_over() {
    let e = env().await;
    let (victim, attacker) = (service(), service());
    let events = e.h.event("Database");
    let mut v1 = e.props(&victim);
    v1["RoleName"] = json!(victim);
    e.invoke(events.create(v1.clone())).await.answer();
    e.invoke(e.h.event("Database").create(e.props(&attacker)))
        .await
        .answer();
    // The attacker's role owns its database, so it may write its comment: the victim's mark.
    let client = connect(&attacker, &e.service_password(&attacker).await, &attacker)
        .await
        .unwrap();
    client
        .batch_execute(&format!(
            "COMMENT ON DATABASE {attacker} IS 'managed by CloudFormation: stack {} resource Database id x'",
            events.stack_id()
        ))
        .await
        .unwrap();
    // The victim's next Update names that database: it is not taken for the victim's.
    let mut v2 = v1.clone();
    v2["DatabaseName"] = json!(attacker);
    let r = e.invoke(events.update(&e.id(&victim), v2, v1)).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("not this resource's role"),
        "{}",
        r.reason()
    );
    let owner = admin()
        .await
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&attacker],
        )
        .await
        .unwrap()
        .get::<_, String>(0);
    assert_eq!(owner, attacker);
}
