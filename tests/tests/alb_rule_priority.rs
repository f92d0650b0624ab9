//! `Custom::AlbRulePriority`, its compiled binary run as Lambda runs it, against moto's ELBv2
//! and DynamoDB (the priority ledger), directly or behind a proxy that injects faults.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use integration_tests::fault_proxy::{FaultProxy, Faults};
use integration_tests::moto::{add_rule, ledger_entries, ledger_table};
use integration_tests::{Harness, Invocation, aws_config, workspace_binary};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn elb() -> Elb {
    Elb::new(&aws_config().await)
}

async fn listener(elb: &Elb, priorities: impl IntoIterator<Item = u32>) -> String {
    integration_tests::moto::listener_with_rules(elb, priorities).await
}

async fn dynamo() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws_config().await)
}

/// A new ledger table for one test.
async fn prefix() -> String {
    ledger_table(&dynamo().await).await
}

/// One function process (one Lambda instance) using the ledger `table`.
async fn function(table: &str) -> Harness {
    Harness::start(
        workspace_binary("alb-rule-priority"),
        &[("LEDGER_TABLE", table)],
    )
    .await
}

/// The same, its AWS calls going through `proxy`.
async fn function_behind(table: &str, proxy: &FaultProxy) -> Harness {
    Harness::start(
        workspace_binary("alb-rule-priority"),
        &[("LEDGER_TABLE", table), ("AWS_ENDPOINT_URL", &proxy.url)],
    )
    .await
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
    let h = function(&prefix().await).await;
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
    let prefix = prefix().await;
    // moto needs the proxy's help to keep concurrent transactions apart (see fault_proxy).
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::default()).await;
    // 25 Lambda instances, each answering one stack.
    let mut functions = Vec::new();
    for _ in 0..25 {
        let h = function_behind(&prefix, &proxy).await;
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
    let h = function(&prefix().await).await;
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
    // A range that excludes 6 keeps 8 at the second rule and moves only the first.
    let v5 =
        json!({"ListenerArn": listener, "Count": "2", "MinPriority": "8", "MaxPriority": "100"});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, v5, v4)).await),
        vec![10, 8]
    );
}

#[tokio::test]
async fn rules_keep_their_places_across_updates_whatever_the_order_of_their_numbers() {
    let elb = elb().await;
    let listener = listener(&elb, [50000]).await;
    let h = function(&prefix().await).await;
    let events = h.event("CatchAll");
    let id = format!("{listener}#CatchAll");
    let one = json!({"ListenerArn": listener, "Placement": "Last"});
    assert_eq!(
        priorities(&invoke(&h, events.create(one.clone())).await),
        vec![49999]
    );
    // A second rule: the first keeps 49999.
    let two = json!({"ListenerArn": listener, "Placement": "Last", "Count": 2});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, two.clone(), one)).await),
        vec![49999, 49998]
    );
    // Any later Update answers the same places: the rules are not told to swap.
    let timeout =
        json!({"ListenerArn": listener, "Placement": "Last", "Count": 2, "ServiceTimeout": 120});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, timeout.clone(), two.clone())).await),
        vec![49999, 49998]
    );
    // CloudFormation rolling that Update back: the same again.
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, two, timeout)).await),
        vec![49999, 49998]
    );
}

#[tokio::test]
async fn entries_claimed_before_places_were_kept_stay_at_their_answered_places() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let elb = elb().await;
    let listener = listener(&elb, [10, 12]).await;
    let table = prefix().await;
    let h = function(&table).await;
    let events = h.event("Priority");
    let id = format!("{listener}#Priority");
    // As the earlier release left them: no Position, answered "10,12".
    let owner = format!("stack={} logical-id=Priority", events.stack_id());
    let ledger = dynamo().await;
    for priority in [12, 10] {
        ledger
            .put_item()
            .table_name(&table)
            .item("Listener", AttributeValue::S(listener.clone()))
            .item("Priority", AttributeValue::N(priority.to_string()))
            .item("Owner", AttributeValue::S(owner.clone()))
            .send()
            .await
            .unwrap();
    }
    let old = json!({"ListenerArn": listener, "Count": 2});
    let same = json!({"ListenerArn": listener, "Count": 2, "ServiceTimeout": 120});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, same.clone(), old)).await),
        vec![10, 12]
    );
    // 10 leaves the range: the first rule gets a new one, the second keeps 12; and once 10
    // is released, 12 is still the second rule's.
    let narrow = json!({"ListenerArn": listener, "Count": 2, "MinPriority": 11});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, narrow.clone(), same)).await),
        vec![13, 12]
    );
    let again =
        json!({"ListenerArn": listener, "Count": 2, "MinPriority": 11, "ServiceTimeout": 60});
    assert_eq!(
        priorities(&invoke(&h, events.update(&id, again, narrow)).await),
        vec![13, 12]
    );
}

#[tokio::test]
async fn a_new_listener_is_a_replacement_and_delete_releases_for_reuse() {
    let elb = elb().await;
    let (a, b) = (listener(&elb, []).await, listener(&elb, [1, 2]).await);
    let h = function(&prefix().await).await;
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
    let h = function(&prefix().await).await;
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
async fn without_a_ledger_table_every_request_fails_saying_so() {
    let h = Harness::start(workspace_binary("alb-rule-priority"), &[]).await;
    let r = invoke(
        &h,
        h.event("Priority").create(
            json!({"ListenerArn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2"}),
        ),
    )
    .await;
    assert_eq!(r.status(), "FAILED");
    assert!(r.reason().contains("LEDGER_TABLE"), "{}", r.reason());
}

#[tokio::test]
async fn placement_last_takes_the_highest_free_priorities_from_the_top() {
    let elb = elb().await;
    let listener = listener(&elb, [1, 2, 50000]).await;
    let h = function(&prefix().await).await;
    let events = h.event("CatchAll");
    let last = json!({"ListenerArn": listener, "Placement": "Last"});
    let first = priorities(&invoke(&h, events.create(last.clone())).await);
    assert_eq!(first, vec![49999]);
    // Redelivered: the same.
    assert_eq!(priorities(&invoke(&h, events.create(last)).await), first);
    // Count 3 from the top, below what is taken.
    let other = h.event("Fallbacks");
    let three = json!({"ListenerArn": listener, "Placement": "Last", "Count": 3});
    assert_eq!(
        priorities(&invoke(&h, other.create(three.clone())).await),
        vec![49996, 49997, 49998]
    );
    assert_eq!(
        priorities(&invoke(&h, other.create(three)).await),
        vec![49996, 49997, 49998]
    );
    // A default placement still goes above the highest rule in its range.
    let specific = json!({"ListenerArn": listener, "MaxPriority": 1000});
    assert_eq!(
        priorities(&invoke(&h, h.event("Specific").create(specific)).await),
        vec![3]
    );
}

#[tokio::test]
async fn fifty_stacks_in_a_busy_region_all_succeed_and_deleting_them_empties_the_ledger() {
    let elb = elb().await;
    let rules: BTreeSet<u32> = [1, 2, 3, 10, 20].into();
    let listener = listener(&elb, rules.iter().copied()).await;
    let table = prefix().await;
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::BUSY).await;
    let mut functions = Vec::new();
    for _ in 0..50 {
        let h = function_behind(&table, &proxy).await;
        assert!(h.runtime.wait_for_poll(Duration::from_secs(20)).await);
        functions.push(h);
    }
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for h in functions {
        let (listener, start) = (listener.clone(), Arc::clone(&start));
        tasks.spawn(async move {
            let events = h.event("Priority");
            let props = json!({"ListenerArn": listener});
            let create = events.create(props.clone());
            start.wait().await;
            let r = invoke(&h, create).await;
            (h, events, props, r)
        });
    }
    let mut created = Vec::new();
    while let Some(result) = tasks.join_next().await {
        created.push(result.unwrap());
    }
    let counts = proxy.counts();
    assert!(
        counts.throttled > 0 && counts.lost_answers > 0,
        "{counts:?}"
    );
    let got: Vec<u32> = created
        .iter()
        .flat_map(|(_, _, _, r)| priorities(r))
        .collect();
    let distinct: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(distinct.len(), 50, "{got:?}");
    assert!(distinct.is_disjoint(&rules), "{got:?}");
    let dynamo = dynamo().await;
    let entries = ledger_entries(&dynamo, &table, &listener).await;
    assert_eq!(
        entries.len(),
        50,
        "one entry per allocation, none leaked: {entries:?}"
    );
    for priority in &distinct {
        add_rule(&elb, &listener, *priority)
            .await
            .expect("a ListenerRule at each priority");
    }

    // Every stack deleted, still in a busy region: the ledger is empty.
    for (h, events, props, r) in &created {
        let id = r.answer()["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .to_owned();
        let d = invoke(h, events.delete(&id, props.clone())).await;
        assert_eq!(d.status(), "SUCCESS", "{}", d.reason());
    }
    assert_eq!(ledger_entries(&dynamo, &table, &listener).await, vec![]);
    // The next Create gets the priority right above the real rules.
    proxy.set_faults(Faults::default());
    let h = function_behind(&table, &proxy).await;
    let r = invoke(&h, h.event("Next").create(json!({"ListenerArn": listener}))).await;
    assert_eq!(priorities(&r), vec![distinct.last().unwrap() + 1]);
}

#[tokio::test]
async fn a_create_that_fails_after_its_claim_was_applied_leaves_nothing_after_its_delete() {
    let elb = elb().await;
    let listener = listener(&elb, [1]).await;
    let table = prefix().await;
    // Every claim is applied, and every answer to it lost.
    let always_lost = Faults {
        lost_answer: 1.0,
        only: Some("TransactWriteItems"),
        ..Faults::default()
    };
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), always_lost).await;
    let h = function_behind(&table, &proxy).await;
    let events = h.event("Priority");
    let props = json!({"ListenerArn": listener});
    let r = invoke(&h, events.create(props.clone())).await;
    assert_eq!(r.status(), "FAILED", "{}", r.reason());
    let dynamo = dynamo().await;
    assert_eq!(ledger_entries(&dynamo, &table, &listener).await.len(), 1);
    // CloudFormation deletes the failed resource by the id its answer carried.
    let id = r.answer()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("create-failed:"), "{id}");
    let d = invoke(&h, events.delete(&id, props)).await;
    assert_eq!(d.status(), "SUCCESS", "{}", d.reason());
    assert_eq!(ledger_entries(&dynamo, &table, &listener).await, vec![]);
}

#[tokio::test]
async fn a_rollback_to_a_count_refused_since_is_brought_within_bounds_if_the_resource_was_in_it() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let elb = elb().await;
    let listener = listener(&elb, []).await;
    let table = prefix().await;
    let h = function(&table).await;
    let events = h.event("Priority");
    let id = format!("{listener}#Priority");
    let current = json!({"ListenerArn": listener, "Count": "2"});
    // As an earlier release allowed: today's rules refuse more than 10.
    let legacy = json!({"ListenerArn": listener, "Count": "12"});
    assert_eq!(
        priorities(&invoke(&h, events.create(current.clone())).await),
        [1, 2]
    );

    // The resource was never in those properties: refused like any bad Update.
    let r = invoke(&h, events.update(&id, legacy.clone(), current.clone())).await;
    assert_eq!(r.status(), "FAILED");
    assert!(
        r.reason().contains("Count must be between 1 and 10"),
        "{}",
        r.reason()
    );

    // Had an earlier release created it with them, its record would say so, and
    // CloudFormation's rollback to them must not fail.
    let owner = format!("stack={} logical-id=Priority", events.stack_id());
    let partition = format!("record of {owner} on {listener}");
    let record = format!(
        "{} {}",
        shared::properties::digest(Some(&current)),
        shared::properties::digest(Some(&legacy))
    );
    let ledger = dynamo().await;
    ledger
        .put_item()
        .table_name(&table)
        .item("Listener", AttributeValue::S(partition.clone()))
        .item("Priority", AttributeValue::N("0".into()))
        .item("Owner", AttributeValue::S(owner.clone()))
        .item("Record", AttributeValue::S(record))
        .send()
        .await
        .unwrap();
    let r = invoke(&h, events.update(&id, legacy.clone(), current)).await;
    assert_eq!(priorities(&r), (1..=10).collect::<Vec<u32>>());

    let r = invoke(&h, events.delete(&id, legacy)).await;
    assert_eq!(r.status(), "SUCCESS", "{}", r.reason());
    assert!(ledger_entries(&ledger, &table, &listener).await.is_empty());
    assert!(ledger_entries(&ledger, &table, &partition).await.is_empty());
}
