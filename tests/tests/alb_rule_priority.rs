//! `Custom::AlbRulePriority`, its compiled binary run as Lambda runs it, against moto's ELBv2
//! and SSM.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use integration_tests::events::unique;
use integration_tests::moto::add_rule;
use integration_tests::{Harness, Invocation, aws_config, workspace_binary};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn elb() -> Elb {
    Elb::new(&aws_config().await)
}

async fn listener(elb: &Elb, priorities: impl IntoIterator<Item = u32>) -> String {
    integration_tests::moto::listener_with_rules(elb, priorities).await
}

/// One function process (one Lambda instance) with its own reservation prefix.
async fn function(prefix: &str) -> Harness {
    Harness::start(
        workspace_binary("alb-rule-priority"),
        &[("RESERVATION_PREFIX", prefix)],
    )
    .await
}

fn prefix() -> String {
    format!("/test-alb/{}", unique())
}

fn priorities(r: &Invocation) -> Vec<u32> {
    let answer = r.answer();
    assert_eq!(answer["Status"], "SUCCESS", "{}", answer["Reason"]);
    let list: Vec<u32> = answer["Data"]["Priorities"]
        .as_str()
        .unwrap()
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(answer["Data"]["Priority"], list[0].to_string().as_str());
    list
}

async fn invoke(h: &Harness, event: Value) -> Invocation {
    h.invoke(event, TIMEOUT).await
}

#[tokio::test]
async fn a_listener_with_450_rules_gets_a_priority_above_all_of_them() {
    let elb = elb().await;
    let listener = listener(&elb, 1..=450).await;
    let h = function(&prefix()).await;
    let r = invoke(
        &h,
        h.event("Priority").create(json!({"ListenerArn": listener})),
    )
    .await;
    assert_eq!(priorities(&r), vec![451]);
    add_rule(&elb, &listener, 451)
        .await
        .expect("a rule fits at the priority");
}

#[tokio::test]
async fn twenty_five_stacks_at_once_get_distinct_free_priorities() {
    let elb = elb().await;
    let existing: BTreeSet<u32> = [1, 2, 3, 10, 20].into();
    let listener = listener(&elb, existing.iter().copied()).await;
    let prefix = prefix();
    // 25 Lambda instances, each answering one stack.
    let mut functions = Vec::new();
    for _ in 0..25 {
        let h = function(&prefix).await;
        assert!(h.runtime.wait_for_poll(Duration::from_secs(10)).await);
        functions.push(h);
    }
    let start = Arc::new(tokio::sync::Barrier::new(25));
    let mut tasks = tokio::task::JoinSet::new();
    for h in functions {
        let (listener, start) = (listener.clone(), Arc::clone(&start));
        tasks.spawn(async move {
            let event = h.event("Priority").create(json!({"ListenerArn": listener}));
            start.wait().await;
            priorities(&invoke(&h, event).await)
        });
    }
    let mut got = Vec::new();
    while let Some(result) = tasks.join_next().await {
        got.extend(result.unwrap());
    }
    let distinct: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(distinct.len(), 25, "{got:?}");
    assert!(distinct.is_disjoint(&existing), "{got:?}");
    for priority in distinct {
        add_rule(&elb, &listener, priority)
            .await
            .expect("a ListenerRule at each priority");
    }
}

#[tokio::test]
async fn redelivery_and_updates_keep_a_services_priorities() {
    let elb = elb().await;
    let listener = listener(&elb, [5]).await;
    let h = function(&prefix()).await;
    let events = h.event("Priority");
    let v1 = json!({"ListenerArn": listener});
    let first = priorities(&invoke(&h, events.create(v1.clone())).await);
    assert_eq!(first, vec![6]);
    let id = format!("{listener}#Priority");
    // Redelivered.
    assert_eq!(
        priorities(&invoke(&h, events.create(v1.clone())).await),
        first
    );
    // Another stack in between takes 7.
    let other = h.event("Priority");
    assert_eq!(
        priorities(&invoke(&h, other.create(v1.clone())).await),
        vec![7]
    );
    // An update that changes nothing that matters keeps the priority.
    let v2 = json!({"ListenerArn": listener, "ServiceTimeout": "120"});
    let r = invoke(&h, events.update(&id, v2.clone(), v1)).await;
    assert_eq!(priorities(&r), first);
    assert_eq!(r.answer()["PhysicalResourceId"], id.as_str());
    // Count 3 keeps 6 and adds two above the highest taken.
    let v3 = json!({"ListenerArn": listener, "Count": "3"});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, v3.clone(), v2)).await),
        vec![6, 8, 9]
    );
    // Count 2 releases the highest.
    let v4 = json!({"ListenerArn": listener, "Count": "2"});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, v4.clone(), v3)).await),
        vec![6, 8]
    );
    let third = h.event("Priority");
    assert_eq!(
        priorities(
            &invoke(
                &h,
                third.create(
                    json!({"ListenerArn": listener, "MinPriority": "9", "MaxPriority": "9"})
                )
            )
            .await
        ),
        vec![9]
    );
    // A range that excludes 6 keeps 8 and moves only the other.
    let v5 =
        json!({"ListenerArn": listener, "Count": "2", "MinPriority": "8", "MaxPriority": "100"});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, v5, v4)).await),
        vec![8, 10]
    );
}

#[tokio::test]
async fn a_new_listener_is_a_replacement_and_delete_releases_for_reuse() {
    let elb = elb().await;
    let (a, b) = (listener(&elb, []).await, listener(&elb, [1, 2]).await);
    let h = function(&prefix()).await;
    let events = h.event("Priority");
    let v1 = json!({"ListenerArn": a, "MinPriority": "100", "MaxPriority": "100"});
    assert_eq!(
        priorities(&invoke(&h, events.create(v1.clone())).await),
        vec![100]
    );
    // The only priority of the range is taken: another stack fails, saying so.
    let other = h.event("Priority");
    let r = invoke(&h, other.create(v1.clone())).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason()
            .contains("no free priority left: the range 100 to 100 holds 1 rules"),
        "{}",
        r.reason()
    );

    let v2 = json!({"ListenerArn": b, "MinPriority": "100", "MaxPriority": "100"});
    let old_id = format!("{a}#Priority");
    let r = invoke(&h, events.update(&old_id, v2, v1.clone())).await;
    assert_eq!(priorities(&r), vec![100]);
    assert_eq!(
        r.answer()["PhysicalResourceId"],
        format!("{b}#Priority").as_str()
    );
    // CloudFormation deletes the old one: listener a's priority is free again.
    assert_eq!(
        invoke(&h, events.delete(&old_id, v1.clone()))
            .await
            .status(),
        "SUCCESS"
    );
    assert_eq!(
        invoke(&h, events.delete(&old_id, v1.clone()))
            .await
            .status(),
        "SUCCESS"
    );
    assert_eq!(priorities(&invoke(&h, other.create(v1)).await), vec![100]);
}

#[tokio::test]
async fn bad_input_fails_clearly() {
    let elb = elb().await;
    let real = listener(&elb, []).await;
    let h = function(&prefix()).await;
    let missing = format!("{}/0123456789abcdef", real.rsplit_once('/').unwrap().0);
    for (props, says) in [
        (json!({"ListenerArn": missing}), "no such listener"),
        (
            json!({"ListenerArn": real, "MinPriority": "0"}),
            "MinPriority must be between 1 and 50000, got 0",
        ),
        (
            json!({"ListenerArn": real, "MaxPriority": "60000"}),
            "MaxPriority must be between 1 and 50000, got 60000",
        ),
        (
            json!({"ListenerArn": real, "MinPriority": "300", "MaxPriority": "200"}),
            "MinPriority 300 is above MaxPriority 200",
        ),
        (
            json!({"ListenerArn": real, "Count": "11"}),
            "Count must be between 1 and 10",
        ),
        (
            json!({"ListenerArn": real, "Priority": "5"}),
            "unknown property `Priority`",
        ),
        (
            json!({"ListenerArn": "not-an-arn"}),
            "is not a listener ARN",
        ),
    ] {
        let r = invoke(&h, h.event("Priority").create(props.clone())).await;
        assert_eq!(r.status(), "FAILED", "{props}");
        assert!(r.reason().contains(says), "{props}: {}", r.reason());
    }
}

#[tokio::test]
async fn without_a_reservation_prefix_every_request_fails_saying_so() {
    let h = Harness::start(workspace_binary("alb-rule-priority"), &[]).await;
    let r = invoke(
        &h,
        h.event("Priority").create(
            json!({"ListenerArn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2"}),
        ),
    )
    .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("RESERVATION_PREFIX"), "{}", r.reason());
}
