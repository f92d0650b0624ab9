//! `Custom::AdminPassword`, its compiled binary run as Lambda runs it, against moto.

use std::time::Duration;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};
use integration_tests::events::{TEAM_ROLE, unique};
use integration_tests::{Harness, Invocation, aws_config, workspace_binary};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

struct Env {
    h: Harness,
    ssm: aws_sdk_ssm::Client,
    kms: aws_sdk_kms::Client,
}

async fn env() -> Env {
    let config = aws_config().await;
    Env {
        h: Harness::start(workspace_binary("admin-password"), &[EVERY_STACK]).await,
        ssm: aws_sdk_ssm::Client::new(&config),
        kms: aws_sdk_kms::Client::new(&config),
    }
}

/// Every stack may use the function: the tests' stacks have names of all kinds.
const EVERY_STACK: (&str, &str) = ("ALLOWED_STACK_NAMES", "*");

fn name() -> String {
    format!("/test-platform/{}/rds/admin-password", unique())
}

impl Env {
    async fn key(&self) -> String {
        integration_tests::moto::new_key(&self.kms).await
    }

    async fn stored(&self, name: &str) -> Option<aws_sdk_ssm::types::Parameter> {
        integration_tests::moto::parameter(&self.ssm, name).await
    }

    async fn invoke(&self, event: Value) -> Invocation {
        self.h.invoke(event, TIMEOUT).await
    }
}

fn data(r: &Invocation) -> Value {
    r.answer()["Data"].clone()
}

#[tokio::test]
async fn create_stores_a_tagged_secure_string_and_answers_no_echo() {
    let e = env().await;
    let key = e.key().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let r =
        e.invoke(events.create(
            json!({"ParameterName": name, "KmsKeyId": key, "Description": "orders admin"}),
        ))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let answer = r.answer();
    assert_eq!(answer["NoEcho"], true);
    assert_eq!(answer["PhysicalResourceId"], name.as_str());
    let d = data(&r);
    let password = d["Password"].as_str().unwrap();
    assert_eq!(password.len(), 32);
    assert_eq!(d["ParameterName"], name.as_str());
    assert_eq!(d["ParameterVersion"], "1");
    assert_eq!(d["KmsKeyArn"], key.as_str());
    let stored = e.stored(&name).await.expect("parameter exists");
    // Answered from what was written, without reading back: as SSM names it.
    assert_eq!(d["ParameterArn"], stored.arn.as_deref().unwrap());
    assert_eq!(stored.r#type, Some(ParameterType::SecureString));
    assert_eq!(stored.value.as_deref(), Some(password));
    let described = e
        .ssm
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(&name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let meta = &described.parameters.unwrap()[0];
    assert_eq!(meta.key_id.as_deref(), Some(key.as_str()));
    assert_eq!(meta.description.as_deref(), Some("orders admin"));
    let tags = e
        .ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(&name)
        .send()
        .await
        .unwrap()
        .tag_list
        .unwrap();
    let tag = |k: &str| {
        tags.iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_owned())
    };
    assert_eq!(
        tag("custom-resource:stack-id").as_deref(),
        Some(events.stack_id())
    );
    assert_eq!(
        tag("custom-resource:logical-id").as_deref(),
        Some("AdminPassword")
    );

    // The password is in no log line.
    let logs = e.h.logs().await;
    assert!(logs.contains("creating parameter"), "{logs}");
    assert!(!logs.contains(password), "the password was logged");
}

#[tokio::test]
async fn string_properties_parse_and_shape_the_password() {
    let e = env().await;
    let name = name();
    let r = e
        .invoke(e.h.event("P").create(json!({
            "ParameterName": name, "PasswordLength": "24", "ExcludePunctuation": "true",
            "ExcludeCharacters": "abcdef", "RequireEachIncludedType": "true"
        })))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let password = data(&r)["Password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 24);
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    assert!(
        !password.contains(['a', 'b', 'c', 'd', 'e', 'f']),
        "{password}"
    );
    assert!(
        password.chars().any(|c| c.is_ascii_digit())
            && password.chars().any(|c| c.is_ascii_uppercase())
    );
    // Default key: the account's alias/aws/ssm.
    assert!(
        data(&r)["KmsKeyArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:")
    );
}

#[tokio::test]
async fn a_redelivered_create_adopts_its_own_parameter_with_the_same_password() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let props = json!({"ParameterName": name});
    let first = e.invoke(events.create(props.clone())).await;
    let second = e.invoke(events.create(props)).await;
    assert_eq!(second.status(), "SUCCESS", "{}", second.reason());
    assert_eq!(data(&first)["Password"], data(&second)["Password"]);
    assert_eq!(data(&second)["ParameterVersion"], "1");
}

#[tokio::test]
async fn someone_elses_parameter_is_left_untouched_and_the_create_fails() {
    let e = env().await;
    let name = name();
    e.ssm
        .put_parameter()
        .name(&name)
        .value("their-password")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let events = e.h.event("AdminPassword");
    let r = e
        .invoke(events.create(json!({"ParameterName": name})))
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("already exists and is not this resource's"),
        "{}",
        r.reason()
    );
    // Another stack's resource of the same name is someone else too.
    let other = e.h.event("AdminPassword");
    let mine = name.replace("admin-password", "mine");
    e.invoke(events.create(json!({"ParameterName": mine})))
        .await
        .answer();
    let r = e.invoke(other.create(json!({"ParameterName": mine}))).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("belongs to AdminPassword in stack"),
        "{}",
        r.reason()
    );
    // The rollback's Delete changes nothing.
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        e.invoke(events.delete(&id, json!({"ParameterName": name})))
            .await
            .status(),
        "SUCCESS"
    );
    let stored = e.stored(&name).await.unwrap();
    assert_eq!(stored.value.as_deref(), Some("their-password"));
    assert_eq!(stored.version, 1);
}

#[tokio::test]
async fn a_missing_disabled_or_asymmetric_key_fails_clearly_and_creates_nothing() {
    let e = env().await;
    let disabled = e.key().await;
    // moto disables by key id only
    let disabled_id = disabled.rsplit('/').next().unwrap().to_owned();
    e.kms
        .disable_key()
        .key_id(&disabled_id)
        .send()
        .await
        .unwrap();
    let asymmetric = e
        .kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    for (key, says) in [
        ("alias/no-such-key".to_owned(), "no such KMS key"),
        (disabled, "not Enabled"),
        (asymmetric, "SYMMETRIC_DEFAULT"),
    ] {
        let name = name();
        let r = e
            .invoke(
                e.h.event("P")
                    .create(json!({"ParameterName": name, "KmsKeyId": key})),
            )
            .await;
        assert_eq!(r.status(), "FAILED");
        assert!(r.reason().starts_with("KmsKeyId "), "{}", r.reason());
        assert!(r.reason().contains(says), "{}", r.reason());
        assert!(e.stored(&name).await.is_none(), "nothing may be created");
    }
}

#[tokio::test]
async fn bad_properties_fail_naming_the_property_and_create_nothing() {
    let e = env().await;
    for (props, says) in [
        (
            json!({"ParameterName": "/a b"}),
            "ParameterName \"/a b\" is not a valid SSM parameter name",
        ),
        (json!({"ParameterName": "/aws/x"}), "reserved"),
        (
            json!({"ParameterName": name(), "PasswordLength": "7"}),
            "PasswordLength must be between 8 and 128, got 7",
        ),
        (
            json!({"ParameterName": name(), "PasswordLength": "long"}),
            "property PasswordLength: expected a whole number",
        ),
        (
            json!({"ParameterName": name(), "ExcludeNumbers": "no"}),
            "property ExcludeNumbers: expected \"true\" or \"false\"",
        ),
        (
            json!({"ParameterName": name(), "Length": "24"}),
            "unknown property `Length`",
        ),
        (json!({}), "missing required property `ParameterName`"),
    ] {
        let r = e.invoke(e.h.event("P").create(props.clone())).await;
        assert_eq!(r.status(), "FAILED", "{props}");
        assert!(r.reason().contains(says), "{props}: {}", r.reason());
        if let Some(name) = props["ParameterName"].as_str() {
            assert!(e.stored(name).await.is_none());
        }
    }
}

#[tokio::test]
async fn rotation_token_change_writes_a_new_password_as_a_new_version() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let v1 = json!({"ParameterName": name, "RotationToken": "2026-01"});
    let created = e.invoke(events.create(v1.clone())).await;
    let v2 = json!({"ParameterName": name, "RotationToken": "2026-02"});
    let rotated = e.invoke(events.update(&name, v2, v1)).await;
    assert_eq!(rotated.status(), "SUCCESS", "{}", rotated.reason());
    assert_eq!(rotated.answer()["PhysicalResourceId"], name.as_str());
    assert_ne!(data(&created)["Password"], data(&rotated)["Password"]);
    assert_eq!(data(&rotated)["ParameterVersion"], "2");
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        data(&rotated)["Password"].as_str()
    );
    let logs = e.h.logs().await;
    assert!(!logs.contains(data(&rotated)["Password"].as_str().unwrap()));
}

#[tokio::test]
async fn other_updates_keep_the_password() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let v1 = json!({"ParameterName": name, "RotationToken": "a"});
    let created = e.invoke(events.create(v1.clone())).await;
    // Generator options alone change nothing.
    let v2 = json!({"ParameterName": name, "RotationToken": "a", "PasswordLength": "40", "ExcludeNumbers": "true"});
    let r = e.invoke(events.update(&name, v2.clone(), v1)).await;
    assert_eq!(data(&r)["Password"], data(&created)["Password"]);
    assert_eq!(data(&r)["ParameterVersion"], "1");
    // A new key re-encrypts the same password.
    let key = e.key().await;
    let v3 = json!({"ParameterName": name, "RotationToken": "a", "KmsKeyId": key});
    let r = e.invoke(events.update(&name, v3, v2)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(data(&r)["Password"], data(&created)["Password"]);
    assert_eq!(data(&r)["KmsKeyArn"], key.as_str());
    assert_eq!(data(&r)["ParameterVersion"], "2");
}

#[tokio::test]
async fn a_new_parameter_name_is_a_replacement_and_the_old_one_goes_on_delete() {
    let e = env().await;
    let (old, new) = (name(), name());
    let events = e.h.event("AdminPassword");
    let v1 = json!({"ParameterName": old});
    let created = e.invoke(events.create(v1.clone())).await;
    let v2 = json!({"ParameterName": new});
    let r = e.invoke(events.update(&old, v2, v1.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(r.answer()["PhysicalResourceId"], new.as_str());
    assert_ne!(data(&r)["Password"], data(&created)["Password"]);
    // CloudFormation then deletes the old physical resource.
    assert_eq!(e.invoke(events.delete(&old, v1)).await.status(), "SUCCESS");
    assert!(e.stored(&old).await.is_none());
    assert!(e.stored(&new).await.is_some());
}

#[tokio::test]
async fn delete_removes_the_parameter_or_retains_it_and_a_missing_one_is_fine() {
    let e = env().await;
    let events = e.h.event("AdminPassword");
    let name = name();
    let props = json!({"ParameterName": name});
    e.invoke(events.create(props.clone())).await.answer();
    assert_eq!(
        e.invoke(events.delete(&name, props.clone())).await.status(),
        "SUCCESS"
    );
    assert!(e.stored(&name).await.is_none());
    // Already gone.
    assert_eq!(
        e.invoke(events.delete(&name, props)).await.status(),
        "SUCCESS"
    );

    let kept = self::name();
    let props = json!({"ParameterName": kept, "RetainOnDelete": "true"});
    e.invoke(events.create(props.clone())).await.answer();
    assert_eq!(
        e.invoke(events.delete(&kept, props)).await.status(),
        "SUCCESS"
    );
    assert!(e.stored(&kept).await.is_some());
}

#[tokio::test]
async fn delete_never_removes_someone_elses_parameter() {
    let e = env().await;
    let name = name();
    e.ssm
        .put_parameter()
        .name(&name)
        .value("theirs")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let r = e
        .invoke(
            e.h.event("AdminPassword")
                .delete(&name, json!({"ParameterName": name})),
        )
        .await;
    assert_eq!(r.status(), "SUCCESS");
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        Some("theirs")
    );
}

#[tokio::test]
async fn a_forged_create_answered_off_cloudformation_creates_nothing_and_sends_nothing() {
    let e = env().await;
    let key = e.key().await;
    let name = name();
    let mut event =
        e.h.event("AdminPassword")
            .create(json!({"ParameterName": name, "KmsKeyId": key}));
    // The harness's endpoint under another name: anything sent would still be caught.
    let url = event["ResponseURL"]
        .as_str()
        .unwrap()
        .replacen("127.0.0.1", "localhost", 1);
    event["ResponseURL"] = json!(url);
    let r = e.invoke(event).await;
    assert!(r.responses.is_empty() && e.h.endpoint.all_received().is_empty());
    assert!(e.stored(&name).await.is_none(), "no parameter was created");
    let logs = e.h.logs().await;
    assert!(logs.contains("refused: nothing done"), "{logs}");
    assert!(
        logs.contains("localhost") && !logs.contains("X-Amz-Credential"),
        "{logs}"
    );
}

#[tokio::test]
async fn at_trace_level_no_log_line_carries_the_signature_or_the_password() {
    let config = aws_config().await;
    let e = Env {
        h: Harness::start(
            workspace_binary("admin-password"),
            &[EVERY_STACK, ("AWS_LAMBDA_LOG_LEVEL", "TRACE")],
        )
        .await,
        ssm: aws_sdk_ssm::Client::new(&config),
        kms: aws_sdk_kms::Client::new(&config),
    };
    let key = e.key().await;
    let event =
        e.h.event("AdminPassword")
            .create(json!({"ParameterName": name(), "KmsKeyId": key}));
    let signature =
        integration_tests::cfn_endpoint::signature_for(event["RequestId"].as_str().unwrap());
    let r = e.invoke(event).await;
    let password = data(&r)["Password"].as_str().unwrap().to_owned();
    let logs = e.h.logs().await;
    assert!(logs.contains("responding SUCCESS"), "{logs}");
    for secret in [&signature, &password] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the log: {logs}"
        );
    }
}

#[tokio::test]
async fn in_a_busy_region_every_create_rotation_and_delete_succeeds_with_the_stored_password() {
    use integration_tests::fault_proxy::{FaultProxy, Faults};
    let config = aws_config().await;
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::BUSY).await;
    let e = Env {
        h: Harness::start(
            workspace_binary("admin-password"),
            &[EVERY_STACK, ("AWS_ENDPOINT_URL", &proxy.url)],
        )
        .await,
        ssm: aws_sdk_ssm::Client::new(&config),
        kms: aws_sdk_kms::Client::new(&config),
    };
    let key = e.key().await;
    for cycle in 0..12 {
        let name = name();
        let events = e.h.event("AdminPassword");
        let v1 = json!({"ParameterName": name, "KmsKeyId": key, "RotationToken": "1"});
        let created = e.invoke(events.create(v1.clone())).await;
        assert_eq!(
            created.status(),
            "SUCCESS",
            "cycle {cycle}: {}",
            created.reason()
        );
        let stored = e.stored(&name).await.unwrap().value;
        assert_eq!(
            stored.as_deref(),
            data(&created)["Password"].as_str(),
            "cycle {cycle}"
        );
        let v2 = json!({"ParameterName": name, "KmsKeyId": key, "RotationToken": "2"});
        let rotated = e.invoke(events.update(&name, v2.clone(), v1)).await;
        assert_eq!(
            rotated.status(),
            "SUCCESS",
            "cycle {cycle}: {}",
            rotated.reason()
        );
        let stored = e.stored(&name).await.unwrap().value;
        assert_eq!(
            stored.as_deref(),
            data(&rotated)["Password"].as_str(),
            "cycle {cycle}"
        );
        assert_ne!(data(&rotated)["Password"], data(&created)["Password"]);
        let deleted = e.invoke(events.delete(&name, v2)).await;
        assert_eq!(
            deleted.status(),
            "SUCCESS",
            "cycle {cycle}: {}",
            deleted.reason()
        );
        assert!(e.stored(&name).await.is_none(), "cycle {cycle}");
    }
    let counts = proxy.counts();
    assert!(
        counts.throttled > 0 && counts.lost_answers > 0 && counts.server_errors > 0,
        "{counts:?}"
    );
    // After a 5xx the SDK closes the connection the answer came on, rather than reuse it;
    // it can only when the HTTP client tells it which connection that was.
    let output = e.h.logs().await;
    assert!(
        !output.contains("unable to mark the connection for closure"),
        "{output}"
    );
}

#[tokio::test]
async fn a_retained_parameter_is_adopted_by_the_same_stack_deployed_again_and_by_no_one_else() {
    use integration_tests::EventBuilder;
    let e = env().await;
    let name = name();
    let stack = format!("platform-{}", unique());
    let props = json!({"ParameterName": name, "RetainOnDelete": "true"});
    let first = EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let created = e.invoke(first.create(props.clone())).await;
    assert_eq!(
        e.invoke(first.delete(&name, props.clone())).await.status(),
        "SUCCESS"
    );
    assert!(e.stored(&name).await.is_some(), "retained");

    // Another stack name; or the same name, deployed with no role or another team's.
    let before = e.stored(&name).await.unwrap();
    let others = [
        EventBuilder::in_stack(
            &e.h.endpoint,
            &format!("other-{}", unique()),
            "AdminPassword",
        ),
        EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword"),
        EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword")
            .deployed_by(&e.h.endpoint, "arn:aws:iam::123456789012:role/squatter"),
    ];
    for other in others {
        let r = e.invoke(other.create(props.clone())).await;
        assert_eq!(r.status(), "FAILED");
        assert!(
            r.reason().contains("is not this resource's"),
            "{}",
            r.reason()
        );
        let after = e.stored(&name).await.unwrap();
        assert_eq!(
            (after.value, after.version),
            (before.value.clone(), before.version)
        );
    }

    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let r = e.invoke(again.create(props.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_ne!(
        data(&r)["Password"],
        data(&created)["Password"],
        "a fresh password"
    );
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        data(&r)["Password"].as_str()
    );
    // The new deployment owns it: a Delete without RetainOnDelete removes it.
    let r = e
        .invoke(again.delete(&name, json!({"ParameterName": name})))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(e.stored(&name).await.is_none());
}

#[tokio::test]
async fn after_an_adoption_no_rotation_brings_back_a_password_the_earlier_deployment_used() {
    use integration_tests::EventBuilder;
    let e = env().await;
    let name = name();
    let stack = format!("platform-{}", unique());
    let plain = json!({"ParameterName": name, "RetainOnDelete": "true"});
    let rotated = json!({"ParameterName": name, "RetainOnDelete": "true", "RotationToken": "2"});
    let first = EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let before = data(&e.invoke(first.create(plain.clone())).await)["Password"].clone();
    let r = e
        .invoke(first.update(&name, rotated.clone(), plain.clone()))
        .await;
    let retired = [before, data(&r)["Password"].clone()];
    let r = e.invoke(first.delete(&name, rotated.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // Deployed again without a token: adopted with a fresh password.
    let again = EventBuilder::in_stack(&e.h.endpoint, &stack, "AdminPassword")
        .deployed_by(&e.h.endpoint, TEAM_ROLE);
    let adopted = data(&e.invoke(again.create(plain.clone())).await)["Password"].clone();
    assert!(!retired.contains(&adopted));
    // Rotated to the token the earlier deployment had used: a new password, not its.
    let r = e
        .invoke(again.update(&name, rotated.clone(), plain.clone()))
        .await;
    let new = data(&r)["Password"].clone();
    assert!(
        !retired.contains(&new) && new != adopted,
        "a fresh password"
    );
    // Rolled back: the adopted one, not the earlier deployment's first.
    let r = e.invoke(again.update(&name, plain, rotated)).await;
    assert_eq!(data(&r)["Password"], adopted);
}

#[tokio::test]
async fn a_rolled_back_rotation_restores_the_password_in_force_under_the_earlier_token() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let v1 = json!({"ParameterName": name, "RotationToken": "2026-11"});
    let v2 = json!({"ParameterName": name, "RotationToken": "2026-12"});
    let first = data(&e.invoke(events.create(v1.clone())).await)["Password"].clone();
    let second =
        data(&e.invoke(events.update(&name, v2.clone(), v1.clone())).await)["Password"].clone();
    assert_ne!(first, second);
    // CloudFormation rolls the update back: an Update to the old properties.
    let r = e.invoke(events.update(&name, v1.clone(), v2.clone())).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(
        data(&r)["Password"],
        first,
        "the earlier password, not a third one"
    );
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        first.as_str()
    );
    // Rolling forward again brings back the second one; a new token makes a new one.
    let r = e.invoke(events.update(&name, v2.clone(), v1.clone())).await;
    assert_eq!(data(&r)["Password"], second);
    let v3 = json!({"ParameterName": name, "RotationToken": "2027-01"});
    let r = e.invoke(events.update(&name, v3, v2)).await;
    assert!(data(&r)["Password"] != first && data(&r)["Password"] != second);
}

#[tokio::test]
async fn a_rollback_to_a_policy_refused_since_restores_the_earlier_password_if_it_was_in_force() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let current = json!({"ParameterName": name, "RotationToken": "b"});
    let earlier = json!({"ParameterName": name, "RotationToken": "a"});
    // As an earlier release allowed: today's rules refuse a length over 128.
    let legacy = json!({"ParameterName": name, "RotationToken": "a", "PasswordLength": "200"});
    let first = data(&e.invoke(events.create(earlier.clone())).await)["Password"].clone();
    let r = e
        .invoke(events.update(&name, current.clone(), earlier))
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());

    // The resource was never in those properties: refused like any bad Update.
    let r = e
        .invoke(events.update(&name, legacy.clone(), current.clone()))
        .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("PasswordLength"), "{}", r.reason());

    // Had it been created with them (by the earlier release), its record would say so, and
    // CloudFormation's rollback to them must not fail.
    integration_tests::moto::set_properties_record(&e.ssm, &name, &current, &legacy).await;
    let r = e.invoke(events.update(&name, legacy, current)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(
        data(&r)["Password"],
        first,
        "the password in force under token a"
    );
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        first.as_str()
    );
}

#[tokio::test]
async fn aws_calls_go_over_https_trusting_the_ca_bundle_named_by_ssl_cert_file() {
    let ca = std::env::var("PG_CA_FILE").expect("PG_CA_FILE: run through tests/run.sh");
    let proxy = integration_tests::fault_proxy::FaultProxy::start_tls(
        &integration_tests::moto_endpoint(),
        integration_tests::fault_proxy::Faults::default(),
    )
    .await;
    let binary = workspace_binary("admin-password");
    let key = integration_tests::moto::new_key(&env().await.kms).await;
    let unusable = std::env::temp_dir().join(format!("no-certificates-{}.pem", unique()));
    std::fs::write(&unusable, "no certificate here\n").unwrap();
    let unusable = unusable.to_str().unwrap();
    for (trusted, env) in [
        (
            true,
            vec![
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("SSL_CERT_FILE", &ca),
            ],
        ),
        (false, vec![("AWS_ENDPOINT_URL", proxy.url.as_str())]),
        (
            false,
            vec![
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("SSL_CERT_FILE", unusable),
            ],
        ),
    ] {
        let env = [env, vec![EVERY_STACK]].concat();
        let h = Harness::start(binary.clone(), &env).await;
        let name = name();
        let r = h
            .invoke(
                h.event("AdminPassword")
                    .create(json!({"ParameterName": name, "KmsKeyId": key})),
                TIMEOUT,
            )
            .await;
        if trusted {
            assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
        } else {
            // The compiled-in CA certificates do not include the test CA; a bundle without
            // a usable certificate trusts nothing, and says so at start-up.
            assert_eq!(r.status(), "FAILED");
            assert!(r.reason().contains("KmsKeyId"), "{}", r.reason());
            let named = env.iter().any(|(k, _)| *k == "SSL_CERT_FILE");
            let logs = h.logs().await;
            let said = logs.lines().any(|line| {
                line.contains("SSL_CERT_FILE names no usable certificate")
                    && line.contains("\"level\":\"ERROR\"")
            });
            assert_eq!(said, named, "{logs}");
        }
    }
}

#[tokio::test]
async fn in_an_isolated_partition_both_clients_trust_the_regions_system_store() {
    // The isolated partitions' endpoints chain to CAs of their own, absent from the
    // compiled-in set; the system store there carries them. SSL_CERT_FILE stands in for it
    // (the system loaders read it), so both paths trust the test CA: the start-up line tells
    // which one ran. The response goes over TLS too.
    let ca = std::env::var("PG_CA_FILE").expect("PG_CA_FILE: run through tests/run.sh");
    let proxy = integration_tests::fault_proxy::FaultProxy::start_tls(
        &integration_tests::moto_endpoint(),
        integration_tests::fault_proxy::Faults::default(),
    )
    .await;
    for (region, trusted) in [
        ("us-iso-east-1", "the system store"),
        ("us-east-1", "the bundle named by SSL_CERT_FILE"),
    ] {
        let h = Harness::start_answered_over_tls(
            workspace_binary("admin-password"),
            &[
                EVERY_STACK,
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("SSL_CERT_FILE", &ca),
                ("AWS_REGION", region),
            ],
        )
        .await;
        let r = h
            .invoke(
                // SSM's own key: moto keeps each region's keys apart.
                h.event("AdminPassword")
                    .create(json!({"ParameterName": name()})),
                TIMEOUT,
            )
            .await;
        assert_eq!(r.status(), "SUCCESS", "{region}: {}", r.reason());
        let logs = h.logs().await;
        let line = logs
            .lines()
            .find(|line| line.contains("TLS trust"))
            .unwrap_or_else(|| panic!("{region}: no TLS trust line in {logs}"));
        assert!(line.contains(trusted), "{region}: {line}");
        assert!(line.contains("\"level\":\"INFO\""), "{line}");
    }
}

#[tokio::test]
async fn with_a_proxy_in_the_environment_aws_calls_go_through_it() {
    use integration_tests::fault_proxy::{FaultProxy, Faults};
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::default()).await;
    // moto by another name than the response endpoint's, which NO_PROXY keeps direct.
    let moto = integration_tests::moto_endpoint().replace("127.0.0.1", "localhost");
    let key = integration_tests::moto::new_key(&env().await.kms).await;
    let h = Harness::start(
        workspace_binary("admin-password"),
        &[
            EVERY_STACK,
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("HTTP_PROXY", proxy.url.as_str()),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
    .await;
    let r = h
        .invoke(
            h.event("AdminPassword")
                .create(json!({"ParameterName": name(), "KmsKeyId": key})),
            TIMEOUT,
        )
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    let calls = proxy.counts().calls;
    assert!(
        calls.keys().any(|api| api.contains("PutParameter")),
        "the proxy saw {calls:?}"
    );
}

#[tokio::test]
async fn a_stack_in_another_account_is_refused_before_anything_is_read_or_written() {
    let e = env().await;
    let name = name();
    let mut event =
        e.h.event("AdminPassword")
            .create(json!({"ParameterName": name}));
    event["StackId"] = json!(format!(
        "arn:aws:cloudformation:us-east-1:999999999999:stack/elsewhere/{}",
        unique()
    ));
    let r = e.invoke(event).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("account 999999999999")
            && r.reason().contains("its own account 123456789012"),
        "{}",
        r.reason()
    );
    assert!(e.stored(&name).await.is_none());
    assert_eq!(
        e.h.endpoint.cloudformation().calls("DescribeStackResource"),
        0
    );
}

#[tokio::test]
async fn the_rollback_of_an_update_missing_a_required_property_keeps_the_password() {
    let e = env().await;
    let name = name();
    let events = e.h.event("AdminPassword");
    let good = json!({"ParameterName": name, "RotationToken": "t1"});
    // A typo: no ParameterName, the same token.
    let bad = json!({"ParameterNmae": name, "RotationToken": "t1"});
    let first = data(&e.invoke(events.create(good.clone())).await)["Password"].clone();
    let r = e
        .invoke(events.update(&name, bad.clone(), good.clone()))
        .await;
    assert_eq!(r.status(), "FAILED");
    // CloudFormation rolls back: the old properties do not parse as a whole, yet still say
    // which token was in force, so nothing rotates.
    let r = e.invoke(events.update(&name, good, bad)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert_eq!(data(&r)["Password"], first);
    assert_eq!(
        e.stored(&name).await.unwrap().value.as_deref(),
        first.as_str()
    );
}

#[tokio::test]
async fn a_stack_the_platform_does_not_list_fails_before_anything_is_written() {
    use integration_tests::EventBuilder;
    let binary = workspace_binary("admin-password");
    let platform = format!("platform-{}", unique());
    for (allowed, stack, listed) in [
        (
            "platform-*,orders-db",
            format!("squatter-{}", unique()),
            "platform-*, orders-db",
        ),
        ("", platform.clone(), "none yet"),
    ] {
        let h = Harness::start(binary.clone(), &[("ALLOWED_STACK_NAMES", allowed)]).await;
        let name = name();
        let events = EventBuilder::in_stack(&h.endpoint, &stack, "AdminPassword");
        let r = h
            .invoke(events.create(json!({"ParameterName": name})), TIMEOUT)
            .await;
        assert_eq!(r.status(), "FAILED");
        assert!(
            r.reason().contains("may not use Custom::AdminPassword") && r.reason().contains(listed),
            "{}",
            r.reason()
        );
        let ssm = aws_sdk_ssm::Client::new(&aws_config().await);
        assert!(
            integration_tests::moto::parameter(&ssm, &name)
                .await
                .is_none()
        );
    }
    // A stack it lists goes through.
    let h = Harness::start(binary, &[("ALLOWED_STACK_NAMES", "platform-*")]).await;
    let events = EventBuilder::in_stack(&h.endpoint, &platform, "AdminPassword");
    let r = h
        .invoke(events.create(json!({"ParameterName": name()})), TIMEOUT)
        .await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
}
