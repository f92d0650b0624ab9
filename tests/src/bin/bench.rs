//! Measures a function as Lambda runs it: start-up to first poll, one Create, AWS calls per
//! Create (through a fault-free proxy that counts them), peak RSS. Prints numbers; asserts
//! nothing. Run through tests/bench.sh.
//!
//! usage: bench BINARY admin-password|service-database|alb-rule-priority [HELLO_BINARY]
//!
//! HELLO_BINARY, a hello-world `lambda_runtime` function built with the same profile, is the
//! floor the start-up is given as a ratio to.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use integration_tests::events::unique;
use integration_tests::fault_proxy::{FaultProxy, Faults};
use integration_tests::{Harness, RuntimeApi, process::FunctionProcess};
use serde_json::{Value, json};

const STARTS: usize = 60;
const CREATES: usize = 20;
/// Fresh processes, each timed from spawn to the answer of its first Create.
const COLD: usize = 10;
const ENV: [(&str, &str); 3] = [
    ("LEDGER_TABLE", "bench-ledger"),
    ("CLUSTER_PROFILE_PATH", "/bench/clusters"),
    ("ALLOWED_STACK_NAMES", "*"),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().context("usage: bench BINARY SCENARIO")?);
    let scenario = args.next().context("usage: bench BINARY SCENARIO")?;
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_owned();

    // Taking turns with the floor (ABBA, so neither always goes first), so that both see the
    // machine at the same speed: its speed drifts.
    let hello = args.next().map(PathBuf::from);
    let mut starts = Vec::new();
    let mut floor = Vec::new();
    for round in 0..STARTS {
        let Some(hello) = &hello else {
            starts.push(first_poll(&binary).await?);
            continue;
        };
        if round % 2 == 1 {
            floor.push(first_poll(hello).await?);
        }
        starts.push(first_poll(&binary).await?);
        if round % 2 == 0 {
            floor.push(first_poll(hello).await?);
        }
    }

    let setup = Setup::new(&scenario).await?;
    let proxy = FaultProxy::start(&integration_tests::moto_endpoint(), Faults::default()).await;
    let mut env = ENV.to_vec();
    env.push(("AWS_ENDPOINT_URL", &proxy.url));
    let mut cold = Vec::new();
    for _ in 0..COLD {
        let began = Instant::now();
        let h = Harness::start(binary.clone(), &env).await;
        let r = h
            .invoke(setup.create_event(&h)?, Duration::from_secs(60))
            .await;
        cold.push(began.elapsed());
        if r.status() != "SUCCESS" {
            bail!("a cold Create failed: {}", r.reason());
        }
    }
    let h = Harness::start(binary.clone(), &env).await;
    let mut creates = Vec::new();
    for _ in 0..CREATES {
        let event = setup.create_event(&h)?;
        let began = Instant::now();
        let r = h.invoke(event, Duration::from_secs(60)).await;
        creates.push(began.elapsed());
        if r.status() != "SUCCESS" {
            bail!("a Create failed: {}", r.reason());
        }
    }
    let confirmations = h.endpoint.cloudformation().calls("DescribeStackResource");
    let confirm_ms = confirmation_ms(&h.logs().await);
    // The same Creates in a busy region: throttled, 500s, applied answers lost.
    let calls_before = proxy.counts();
    proxy.set_faults(Faults::BUSY);
    let mut succeeded = 0;
    for _ in 0..CREATES {
        let event = setup.create_event(&h)?;
        if h.invoke(event, Duration::from_secs(60)).await.status() == "SUCCESS" {
            succeeded += 1;
        }
    }
    proxy.set_faults(Faults::default());
    let busy = proxy.counts();
    let busy_calls: u64 =
        busy.calls.values().sum::<u64>() - calls_before.calls.values().sum::<u64>();
    let faults = busy.throttled + busy.server_errors + busy.lost_answers;
    let rss_kb = peak_rss_kb(h.function.id().context("function exited")?)?;
    let calls = calls_before.calls;
    // Every fault-free Create so far: the cold ones and the warm ones.
    let per_create = |n: u64| n as f64 / (COLD + CREATES) as f64;
    let listed: Vec<String> = calls
        .iter()
        .map(|(api, n)| format!("{api} {}", per_create(*n)))
        .collect();

    println!("{name}: start-up to first poll  {}", summary(&starts));
    if !floor.is_empty() {
        println!(
            "{name}: start-up as a ratio to a hello-world lambda_runtime binary  {:.2}x (its median {:.1} ms)",
            median_ms(&starts) / median_ms(&floor),
            median_ms(&floor)
        );
    }
    println!(
        "{name}: cold total, spawn to the first Create's answer  {}",
        summary(&cold)
    );
    println!("{name}: one Create ({scenario})  {}", summary(&creates));
    println!(
        "{name}: AWS calls per Create  {} ({})",
        per_create(calls.values().sum()),
        listed.join(", ")
    );
    println!(
        "{name}: confirming each request with CloudFormation  {:.1} DescribeStackResource per Create, {} (the stand-in on loopback)",
        confirmations as f64 / CREATES as f64,
        summary(&confirm_ms)
    );
    println!(
        "{name}: in a busy region (25% throttled, 5% 500, 5% answers lost)  {CREATES} Creates, {succeeded} SUCCESS, {:.1} AWS calls and {:.1} faults retried per Create",
        busy_calls as f64 / CREATES as f64,
        faults as f64 / CREATES as f64
    );
    println!(
        "{name}: peak RSS after {} Creates  {:.1} MB",
        2 * CREATES,
        rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// What a scenario's Creates need.
enum Setup {
    AdminPassword,
    /// The profile of the cluster tests/scripts/env.sh started.
    ServiceDatabase {
        cluster: String,
    },
    /// A listener with 100 rules and 300 allocations in the ledger.
    AlbRulePriority {
        listener: String,
    },
}

impl Setup {
    async fn new(scenario: &str) -> anyhow::Result<Self> {
        Ok(match scenario {
            "admin-password" => Self::AdminPassword,
            "service-database" => {
                let ssm = aws_sdk_ssm::Client::new(&integration_tests::aws_config().await);
                let admin_parameter = format!("/bench/{}/admin", unique());
                ssm.put_parameter()
                    .name(&admin_parameter)
                    .value(std::env::var("PG_ADMIN_PASSWORD")?)
                    .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                    .send()
                    .await?;
                let cluster = format!("/bench/clusters/{}", unique());
                let profile = json!({
                    "Host": std::env::var("PGHOST")?, "Port": std::env::var("PGPORT")?.parse::<u16>()?,
                    "AdminUsername": std::env::var("PG_ADMIN_USER")?,
                    "AdminPasswordParameterName": admin_parameter,
                    "SslMode": "require",
                });
                ssm.put_parameter()
                    .name(&cluster)
                    .value(profile.to_string())
                    .r#type(aws_sdk_ssm::types::ParameterType::String)
                    .send()
                    .await?;
                Self::ServiceDatabase { cluster }
            }
            "alb-rule-priority" => {
                let config = integration_tests::aws_config().await;
                let listener = integration_tests::moto::listener_with_rules(
                    &aws_sdk_elasticloadbalancingv2::Client::new(&config),
                    1..=100,
                )
                .await;
                fill_ledger(&aws_sdk_dynamodb::Client::new(&config), &listener).await?;
                Self::AlbRulePriority { listener }
            }
            other => bail!("unknown scenario {other}"),
        })
    }

    fn create_event(&self, h: &Harness) -> anyhow::Result<Value> {
        Ok(match self {
            Self::AdminPassword => h
                .event("AdminPassword")
                .create(json!({"ParameterName": format!("/bench/{}/admin-password", unique())})),
            Self::ServiceDatabase { cluster } => {
                let service = format!("bench_{}", unique().replace('-', "_"));
                h.event("Database").create(json!({
                    "Cluster": cluster,
                    "DatabaseName": service,
                    "PasswordParameterName": format!("/bench/{service}/password"),
                }))
            }
            Self::AlbRulePriority { listener } => {
                h.event("Priority").create(json!({"ListenerArn": listener}))
            }
        })
    }
}

/// The ledger table (`LEDGER_TABLE`) with 300 other services' priorities on the listener.
async fn fill_ledger(dynamo: &aws_sdk_dynamodb::Client, listener: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    // A fresh table of the name the function is given.
    let _ = dynamo.delete_table().table_name(ENV[0].1).send().await;
    integration_tests::moto::create_ledger_table(dynamo, ENV[0].1).await;
    for priority in 101..=400 {
        dynamo
            .put_item()
            .table_name(ENV[0].1)
            .item("Listener", AttributeValue::S(listener.to_owned()))
            .item("Priority", AttributeValue::N(priority.to_string()))
            .item(
                "Owner",
                AttributeValue::S(format!("stack=bench-{priority} logical-id=Priority")),
            )
            .send()
            .await?;
    }
    Ok(())
}

/// Start-up to the first poll of the Runtime API. The process has exited when this returns,
/// so its teardown does not overlap the next start.
async fn first_poll(binary: &std::path::Path) -> anyhow::Result<Duration> {
    let runtime = RuntimeApi::start().await;
    let began = Instant::now();
    let function = FunctionProcess::spawn(binary, &runtime.address(), &ENV);
    let polled = runtime.wait_for_poll(Duration::from_secs(10)).await;
    let elapsed = began.elapsed();
    function.kill().await;
    if !polled {
        bail!("{} never polled the Runtime API", binary.display());
    }
    Ok(elapsed)
}

/// How long each confirmation took, from the function's `asked CloudFormation` lines.
fn confirmation_ms(logs: &str) -> Vec<Duration> {
    logs.lines()
        .filter(|line| line.contains("\"asked CloudFormation\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line["ms"].as_f64())
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

fn median_ms(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn summary(samples: &[Duration]) -> String {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    format!(
        "median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    )
}

/// The process's high-water mark of resident memory, from /proc.
fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}
