//! The shared crate's promise, proven on a test-only resource run as Lambda runs it.

use std::time::{Duration, Instant};

use integration_tests::{EndpointMode, Harness, RuntimeResult};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(20);

async fn harness() -> Harness {
    Harness::start(env!("CARGO_BIN_EXE_test-resource").into(), &[]).await
}

#[tokio::test]
async fn an_error_is_answered_failed_and_lambda_is_told_success() {
    let h = harness().await;
    let r = h
        .invoke(h.event("Res").create(json!({"Behavior": "error"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().starts_with("the test resource was told to fail"),
        "{}",
        r.reason()
    );
    assert!(
        r.reason().contains("CloudWatch log stream"),
        "{}",
        r.reason()
    );
    assert!(
        r.answer()["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .starts_with("create-failed:")
    );
    assert_eq!(r.lambda, RuntimeResult::Success(serde_json::Value::Null));
}

#[tokio::test]
async fn a_panic_is_answered_failed_naming_the_step() {
    let h = harness().await;
    let r = h
        .invoke(h.event("Res").create(json!({"Behavior": "panic"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("while doing something that panics"),
        "{}",
        r.reason()
    );
    assert!(r.reason().contains("panicked on purpose"), "{}", r.reason());
    assert!(matches!(r.lambda, RuntimeResult::Success(_)));
    // The process survives and answers the next request.
    let r = h
        .invoke(h.event("Res").create(json!({"Behavior": "ok"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS");
}

#[tokio::test]
async fn a_near_deadline_is_answered_failed_before_it_and_the_work_is_cancelled() {
    let h = harness().await;
    let file = std::env::temp_dir().join(format!(
        "side-effect-{}",
        integration_tests::events::unique()
    ));
    let props =
        json!({"Behavior": "sleep", "SleepSeconds": "4", "SideEffectFile": file.to_str().unwrap()});
    let started = Instant::now();
    let r = h
        .invoke(h.event("Res").create(props), Duration::from_secs(3))
        .await;
    assert!(
        r.returned_before_deadline,
        "the handler must return before the deadline"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().starts_with("timed out after 2 s while sleeping"),
        "{}",
        r.reason()
    );
    // Past the point the work would have finished: nothing happened after the answer.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!file.exists(), "the work went on after the answer");
}

#[tokio::test]
async fn an_endpoint_failing_twice_with_503_gets_exactly_one_accepted_response() {
    let h = harness().await;
    let mode = EndpointMode {
        fail_first: 2,
        ..Default::default()
    };
    let r = h
        .invoke_with(
            h.event("Res").create(json!({"Behavior": "ok"})),
            TIMEOUT,
            mode,
        )
        .await;
    let statuses: Vec<u16> = r.responses.iter().map(|x| x.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    assert_eq!(r.status(), "SUCCESS");
    // Every attempt carried the same body.
    assert!(r.responses.windows(2).all(|w| w[0].body == w[1].body));
}

#[tokio::test]
async fn a_silent_endpoint_still_lets_the_handler_return_before_the_deadline() {
    let h = harness().await;
    let mode = EndpointMode {
        delay: Duration::from_secs(30),
        ..Default::default()
    };
    let r = h
        .invoke_with(
            h.event("Res").create(json!({"Behavior": "ok"})),
            Duration::from_secs(4),
            mode,
        )
        .await;
    assert!(r.returned_before_deadline);
    assert!(matches!(r.lambda, RuntimeResult::Success(_)));
    assert!(
        h.logs().await.contains("response NOT delivered"),
        "{}",
        h.logs().await
    );
}

#[tokio::test]
async fn a_hung_first_attempt_leaves_time_for_a_second_within_the_reserve() {
    let h = harness().await;
    // The work runs out its time, so the answer has only the reserve (4 s of 16).
    let mode = EndpointMode {
        delay: Duration::from_secs(30),
        delay_first: 1,
        ..Default::default()
    };
    let r = h
        .invoke_with(
            h.event("Res")
                .create(json!({"Behavior": "sleep", "SleepSeconds": "60"})),
            Duration::from_secs(16),
            mode,
        )
        .await;
    assert!(r.returned_before_deadline);
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("timed out"), "{}", r.reason());
}

#[tokio::test]
async fn the_response_is_put_to_the_url_exactly_as_given_with_an_empty_content_type() {
    let h = harness().await;
    let event = h.event("Res").create(json!({"Behavior": "ok"}));
    let url = event["ResponseURL"].as_str().unwrap().to_owned();
    let r = h.invoke(event, TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS");
    let received = &r.responses[0];
    assert_eq!(
        format!("{}{}", h.endpoint.base(), received.path_and_query),
        url
    );
    assert_eq!(received.content_type.as_deref(), Some(""));
    assert_eq!(r.answer()["Data"]["Value"], "ok");
}

#[tokio::test]
async fn the_presigned_url_never_reaches_a_log() {
    let h = harness().await;
    let event = h.event("Res").create(json!({"Behavior": "error"}));
    let signature =
        integration_tests::cfn_endpoint::signature_for(event["RequestId"].as_str().unwrap());
    let mode = EndpointMode {
        fail_first: 1,
        ..Default::default()
    };
    let r = h.invoke_with(event, TIMEOUT, mode).await;
    assert_eq!(r.status(), "FAILED");
    let logs = h.logs().await;
    assert!(
        logs.contains("cloudformation-custom-resource-response"),
        "the URL's path is logged: {logs}"
    );
    assert!(
        !logs.contains(&signature) && !logs.contains("X-Amz-Credential"),
        "{logs}"
    );
}

#[tokio::test]
async fn logs_are_json_lines_with_request_stack_and_logical_id() {
    let h = harness().await;
    let event = h
        .event("LoggedResource")
        .create(json!({"Behavior": "sleep", "SleepSeconds": "0"}));
    let request_id = event["RequestId"].as_str().unwrap().to_owned();
    h.invoke(event, TIMEOUT).await.answer();
    let logs = h.logs().await;
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    for message in [
        "received",
        "step",
        "responding SUCCESS",
        "response delivered",
    ] {
        let line = lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message} line in {logs}"));
        let span = line["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "custom_resource"))
            .unwrap_or_else(|| panic!("the {message} line has no request fields: {line}"));
        assert_eq!(span["request_id"], request_id.as_str());
        assert_eq!(span["logical_id"], "LoggedResource");
        assert!(
            span["stack"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:cloudformation")
        );
    }
}

#[tokio::test]
async fn a_malformed_event_with_a_response_url_is_answered_failed_naming_the_field() {
    let h = harness().await;
    let mut event = h.event("Res").create(json!({"Behavior": "ok"}));
    event.as_object_mut().unwrap().remove("LogicalResourceId");
    event["LogicalResourceId"] = json!("Res");
    event.as_object_mut().unwrap().remove("ResourceType");
    let r = h.invoke(event, TIMEOUT).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("malformed custom resource request: missing field `ResourceType`"),
        "{}",
        r.reason()
    );

    let mut event = h.event("Res").create(json!({"Behavior": "ok"}));
    event["RequestType"] = json!("Upgrade");
    let r = h.invoke(event, TIMEOUT).await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("Upgrade"), "{}", r.reason());
}

#[tokio::test]
async fn an_event_without_a_response_url_is_logged_and_lambda_is_told_success() {
    let h = harness().await;
    let r = h.invoke(json!({"hello": "world"}), TIMEOUT).await;
    assert!(matches!(r.lambda, RuntimeResult::Success(_)));
    assert!(r.responses.is_empty());
    assert!(
        h.logs().await.contains("no ResponseURL"),
        "{}",
        h.logs().await
    );
}

#[tokio::test]
async fn a_start_up_failure_answers_every_request_failed_but_lets_failed_creates_go() {
    let h = Harness::start(
        env!("CARGO_BIN_EXE_test-resource").into(),
        &[(
            "TEST_RESOURCE_STARTUP_ERROR",
            "no credentials for the database",
        )],
    )
    .await;
    let events = h.event("Res");
    let r = h
        .invoke(events.create(json!({"Behavior": "ok"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .starts_with("the function could not start: no credentials for the database"),
        "{}",
        r.reason()
    );
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h
        .invoke(events.delete(&id, json!({"Behavior": "ok"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS");
    let r = h
        .invoke(
            events.delete("real-resource", json!({"Behavior": "ok"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    // It never reported an init error to Lambda, which would leave CloudFormation waiting.
    assert_eq!(h.runtime.init_error(), None);
}

#[tokio::test]
async fn delete_after_failed_create_succeeds_without_touching_anything() {
    let h = harness().await;
    let events = h.event("Res");
    let r = h
        .invoke(events.create(json!({"Behavior": "error"})), TIMEOUT)
        .await;
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    // This Delete would panic if the resource's delete ran.
    let r = h
        .invoke(events.delete(&id, json!({"Behavior": "panic"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS");
    assert_eq!(r.answer()["PhysicalResourceId"], id.as_str());
    assert!(!h.logs().await.contains("delete was called"));
}

#[tokio::test]
async fn a_failed_update_keeps_the_physical_id() {
    let h = harness().await;
    let events = h.event("Res");
    let r = h
        .invoke(
            events.update(
                "the-id",
                json!({"Behavior": "error"}),
                json!({"Behavior": "ok"}),
            ),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert_eq!(r.answer()["PhysicalResourceId"], "the-id");
    let r = h
        .invoke(
            events.update("the-id", json!({"Behavior": "empty-id"}), json!({})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert_eq!(r.answer()["PhysicalResourceId"], "the-id");
    assert!(
        r.reason().contains("PhysicalResourceId of 0 bytes"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn data_too_large_for_cloudformation_fails_saying_so() {
    let h = harness().await;
    let r = h
        .invoke(
            h.event("Res").create(json!({"Behavior": "big-data"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("over CloudFormation's limit of 4096 bytes"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn a_ten_thousand_character_bad_value_still_yields_a_small_body() {
    let h = harness().await;
    let r = h
        .invoke(
            h.event("Res")
                .create(json!({"Behavior": "ok", "SleepSeconds": "9".repeat(10_000)})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.responses[0].body.len() < 4096);
    assert!(
        r.reason().starts_with("property SleepSeconds:"),
        "{}",
        r.reason()
    );
    let r = h
        .invoke(
            h.event("Res")
                .create(json!({"Behavior": "ok", "x".repeat(10_000): "y"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.responses[0].body.len() <= 4096);
    assert!(
        r.reason().starts_with("unknown property `xxx"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn strings_parse_and_service_timeout_is_accepted_but_unknown_properties_are_not() {
    let h = harness().await;
    let r = h
        .invoke(
            h.event("Res")
                .create(json!({"Behavior": "sleep", "SleepSeconds": "0", "ServiceTimeout": "300"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS");
    let r = h
        .invoke(
            h.event("Res")
                .create(json!({"Behavior": "ok", "Colour": "blue"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .starts_with("unknown property `Colour`, allowed properties are `Behavior`"),
        "{}",
        r.reason()
    );
}

#[tokio::test]
async fn delete_ignores_properties_create_would_refuse() {
    let h = harness().await;
    let r = h
        .invoke(
            h.event("Res")
                .delete("some-id", json!({"Colour": "blue", "SleepSeconds": "many"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS");
    assert_eq!(r.answer()["PhysicalResourceId"], "some-id");
}

#[tokio::test]
async fn the_relative_deadline_cargo_lambda_sends_is_understood() {
    let h = harness().await;
    let event = h.event("Res").create(json!({"Behavior": "ok"}));
    let url = event["ResponseURL"].as_str().unwrap().to_owned();
    h.endpoint.cloudformation().record_sent(&event);
    // cargo lambda watch sends "Lambda-Runtime-Deadline-Ms: 600000".
    let (lambda, _) = h.runtime.invoke_with_header(event, TIMEOUT, 600_000).await;
    assert!(matches!(lambda, RuntimeResult::Success(_)));
    let received = h.endpoint.received_for(&url);
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

/// The test resource as a release that refuses Flavor `legacy` runs it, keeping its record
/// of properties in `record`; with `refuse` false, as the release before did.
async fn release(record: &std::path::Path, refuse: bool) -> Harness {
    let record = record.to_str().unwrap();
    let mut env = vec![("TEST_RESOURCE_RECORD_FILE", record)];
    if refuse {
        env.push(("TEST_RESOURCE_REFUSED", "legacy"));
    }
    Harness::start(env!("CARGO_BIN_EXE_test-resource").into(), &env).await
}

fn record_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("record-{}", integration_tests::events::unique()))
}

#[tokio::test]
async fn a_rollback_to_properties_refused_since_succeeds_because_the_resource_was_in_them() {
    let record = record_file();
    let before = release(&record, false).await;
    let events = before.event("Res");
    let r = before
        .invoke(
            events.create(json!({"Behavior": "ok", "Flavor": "legacy"})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // A release that refuses `legacy`: the stack moves on, then CloudFormation rolls back.
    let after = release(&record, true).await;
    let events = events.answered_at(&after.endpoint);
    let (legacy, ok) = (
        json!({"Behavior": "ok", "Flavor": "legacy"}),
        json!({"Behavior": "ok", "Flavor": "new"}),
    );
    let r = after
        .invoke(
            events.update("test-resource", ok.clone(), legacy.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let r = after
        .invoke(events.update("test-resource", legacy, ok), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    // Read leniently: the refused value taken as absent, the rest as given.
    assert_eq!(r.answer()["Data"]["Rollback"], "true");
    assert_eq!(r.answer()["Data"]["Flavor"], "");
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn an_update_to_properties_refused_today_fails_when_the_resource_was_never_in_them() {
    let record = record_file();
    let h = release(&record, true).await;
    let events = h.event("Res");
    let (legacy, ok) = (
        json!({"Behavior": "ok", "Flavor": "legacy"}),
        json!({"Behavior": "ok", "Flavor": "new"}),
    );
    let r = h.invoke(events.create(ok.clone()), TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let r = h
        .invoke(
            events.update("test-resource", legacy.clone(), ok.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("no longer allowed"), "{}", r.reason());
    // CloudFormation's rollback of that failure, then the same attempt again: the refused
    // properties of a failed Update never join the record.
    let r = h
        .invoke(
            events.update("test-resource", ok.clone(), legacy.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(r.answer()["Data"]["Rollback"], "false");
    let r = h
        .invoke(events.update("test-resource", legacy, ok), TIMEOUT)
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("no longer allowed"), "{}", r.reason());
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn answers_go_over_https_trusting_the_ca_bundle_named_by_ssl_cert_file() {
    let ca = std::env::var("PG_CA_FILE").expect("PG_CA_FILE: run through tests/run.sh");
    let binary = env!("CARGO_BIN_EXE_test-resource");
    // SSL_CERT_FILE names the bundle: the test CA is trusted, the answer arrives.
    let h = Harness::start_answered_over_tls(binary.into(), &[("SSL_CERT_FILE", &ca)]).await;
    let r = h
        .invoke(h.event("Res").create(json!({"Behavior": "ok"})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS");
    // The system's bundle does not hold the test CA: nothing is accepted.
    let h = Harness::start_answered_over_tls(binary.into(), &[]).await;
    let r = h
        .invoke(
            h.event("Res").create(json!({"Behavior": "ok"})),
            Duration::from_secs(4),
        )
        .await;
    assert!(r.responses.is_empty(), "{:?}", r.responses);
    assert!(h.logs().await.contains("response NOT delivered"));
}

#[tokio::test]
async fn without_a_record_the_refused_properties_of_a_rolled_back_update_never_pass_later() {
    // Made by a release that kept no records, then run by one that does and refuses `legacy`.
    let record = record_file();
    let before = Harness::start(env!("CARGO_BIN_EXE_test-resource").into(), &[]).await;
    let events = before.event("Res");
    let (legacy, ok) = (
        json!({"Behavior": "ok", "Flavor": "legacy"}),
        json!({"Behavior": "ok", "Flavor": "new"}),
    );
    let r = before.invoke(events.create(ok.clone()), TIMEOUT).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let after = release(&record, true).await;
    let events = events.answered_at(&after.endpoint);
    let r = after
        .invoke(
            events.update("test-resource", legacy.clone(), ok.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    // CloudFormation's rollback of that failure: the refused properties stay out of the
    // record the resource starts now, so the same attempt fails again.
    let r = after
        .invoke(
            events.update("test-resource", ok.clone(), legacy.clone()),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let r = after
        .invoke(events.update("test-resource", legacy, ok), TIMEOUT)
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("no longer allowed"), "{}", r.reason());
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn a_request_cloudformation_is_not_sending_is_refused_before_any_work() {
    let h = harness().await;
    let events = h.event("Res");
    // No such resource in CloudFormation's view: a Create nobody deployed.
    let r = h
        .invoke_directly(events.create(json!({"Behavior": "panic"})), TIMEOUT)
        .await;
    assert!(r.responses.is_empty(), "{:?}", r.responses);
    assert!(matches!(r.lambda, RuntimeResult::Success(_)));
    // A resource at rest: an Update or Delete of it is not CloudFormation's either.
    let created = h
        .invoke(events.create(json!({"Behavior": "ok"})), TIMEOUT)
        .await;
    let id = created.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let panic = json!({"Behavior": "panic"});
    for event in [
        events.update(&id, panic.clone(), json!({"Behavior": "ok"})),
        events.delete(&id, panic),
    ] {
        let r = h.invoke_directly(event, TIMEOUT).await;
        assert!(r.responses.is_empty(), "{:?}", r.responses);
    }
    let logs = h.logs().await;
    assert_eq!(logs.matches("refused: nothing done").count(), 3, "{logs}");
    assert!(logs.contains("does not exist for stack"), "{logs}");
    assert!(logs.contains("CREATE_COMPLETE"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(
        h.endpoint.cloudformation().calls("DescribeStackResource"),
        1 + 3 * 3
    );
}

#[tokio::test]
async fn a_request_cloudformation_cannot_confirm_is_answered_failed_without_any_work() {
    let h = harness().await;
    h.endpoint.cloudformation().set_down(true);
    let r = h
        .invoke(
            h.event("Res").create(json!({"Behavior": "panic"})),
            Duration::from_secs(6),
        )
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("CloudFormation") && r.reason().contains("nothing was done"),
        "{}",
        r.reason()
    );
    assert!(!h.logs().await.contains("panicked"));
}
