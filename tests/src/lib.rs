//! Test harness: runs a compiled function as Lambda would (through a Runtime API of our own,
//! with the deadline header), and catches its answer at an endpoint that checks it the way
//! CloudFormation does. AWS calls go to the moto server named by `AWS_ENDPOINT_URL`.

pub mod cfn_endpoint;
pub mod cfn_stand_in;
pub mod events;
pub mod fake_postgres;
pub mod fault_proxy;
pub mod http;
pub mod moto;
pub mod process;
pub mod runtime_api;
pub mod service_db;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use cfn_endpoint::{CfnEndpoint, EndpointMode, Received};
pub use events::EventBuilder;
pub use process::FunctionProcess;
pub use runtime_api::{RuntimeApi, RuntimeResult};

/// A compiled function of the workspace, built by `cargo build --workspace` beforehand.
pub fn workspace_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (tests/run.sh does)",
        path.display()
    );
    path
}

/// The moto server's URL; tests/run.sh starts it and sets AWS_ENDPOINT_URL.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through tests/run.sh, which starts moto")
    })
}

/// SDK config pointing at moto, for the tests' own checks.
pub async fn aws_config() -> aws_config::SdkConfig {
    // SAFETY: set before any thread reads them; the values are the same for every test.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    aws_config::from_env()
        .endpoint_url(moto_endpoint())
        .load()
        .await
}

/// The SDK's variable for CloudFormation's endpoint.
pub const CLOUDFORMATION_ENDPOINT: &str = "AWS_ENDPOINT_URL_CLOUDFORMATION";

/// One function under test: its process, the Runtime API it polls and the response endpoint.
pub struct Harness {
    pub runtime: RuntimeApi,
    pub endpoint: CfnEndpoint,
    pub function: FunctionProcess,
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Invocation {
    /// What the handler returned to the Lambda service.
    pub lambda: RuntimeResult,
    /// Every PUT the endpoint saw for this request, in order.
    pub responses: Vec<Received>,
    /// When the handler returned, relative to the deadline (negative: before it).
    pub returned_before_deadline: bool,
}

impl Invocation {
    /// The one response CloudFormation accepted; panics unless there is exactly one.
    pub fn answer(&self) -> Value {
        let accepted: Vec<&Received> = self.responses.iter().filter(|r| r.status == 200).collect();
        assert_eq!(
            accepted.len(),
            1,
            "expected exactly one accepted response, got {:#?}",
            self.responses
        );
        for r in &self.responses {
            assert!(
                r.problems.is_empty(),
                "CloudFormation would reject: {:?}",
                r.problems
            );
        }
        serde_json::from_slice(&accepted[0].body).expect("accepted body is JSON")
    }

    pub fn status(&self) -> String {
        self.answer()["Status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn reason(&self) -> String {
        self.answer()["Reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Harness {
    pub async fn start(binary: PathBuf, env: &[(&str, &str)]) -> Self {
        Self::start_with(binary, env, CfnEndpoint::start().await).await
    }

    /// The same, its answers going to an HTTPS endpoint whose certificate the test CA
    /// (`PG_CA_FILE`) signed.
    pub async fn start_answered_over_tls(binary: PathBuf, env: &[(&str, &str)]) -> Self {
        Self::start_with(binary, env, CfnEndpoint::start_tls().await).await
    }

    async fn start_with(binary: PathBuf, env: &[(&str, &str)], endpoint: CfnEndpoint) -> Self {
        let runtime = RuntimeApi::start().await;
        // CloudFormation's API is the endpoint's stand-in; an env entry may point elsewhere.
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| *k == CLOUDFORMATION_ENDPOINT) {
            env.insert(0, (CLOUDFORMATION_ENDPOINT, endpoint.base()));
        }
        let function = FunctionProcess::spawn(&binary, &runtime.address(), &env);
        Self {
            runtime,
            endpoint,
            function,
        }
    }

    pub fn event(&self, logical_id: &str) -> EventBuilder {
        EventBuilder::new(&self.endpoint, logical_id)
    }

    /// Delivers `event` with `timeout` until the deadline and waits for the handler, as
    /// CloudFormation does: the resource shows the state CloudFormation sends it in.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Invocation {
        self.invoke_with(event, timeout, EndpointMode::default())
            .await
    }

    /// Delivers `event` as someone invoking the function directly would: CloudFormation's
    /// view of the stack stays as the test set it.
    pub async fn invoke_directly(&self, event: Value, timeout: Duration) -> Invocation {
        self.deliver(event, timeout, EndpointMode::default()).await
    }

    pub async fn invoke_with(
        &self,
        event: Value,
        timeout: Duration,
        mode: EndpointMode,
    ) -> Invocation {
        let stand_in = self.endpoint.cloudformation();
        stand_in.record_sent(&event);
        let invocation = self.deliver(event.clone(), timeout, mode).await;
        stand_in.record_answered(&event, &invocation.responses);
        invocation
    }

    async fn deliver(&self, event: Value, timeout: Duration, mode: EndpointMode) -> Invocation {
        if let Some(url) = event.get("ResponseURL").and_then(Value::as_str) {
            self.endpoint.set_mode(url, mode);
        }
        let (lambda, deadline) = self.runtime.invoke(event.clone(), timeout).await;
        let returned_before_deadline = std::time::Instant::now() < deadline;
        let responses = match event.get("ResponseURL").and_then(Value::as_str) {
            Some(url) => self.endpoint.received_for(url),
            None => Vec::new(),
        };
        Invocation {
            lambda,
            responses,
            returned_before_deadline,
        }
    }

    /// Everything the function printed so far (after letting the readers catch up).
    pub async fn logs(&self) -> String {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.function.output()
    }
}
