//! A function's process, configured as the Lambda service configures a custom runtime.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct FunctionProcess {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    pub fn spawn(binary: &Path, runtime_api: &str, extra_env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "under-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/22/[$LATEST]0123456789abcdef",
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/under-test")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            // The harness's response endpoint; CloudFormation's hosts stay allowed too.
            .env("ALLOWED_RESPONSE_HOSTS", "127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            command.env("AWS_ENDPOINT_URL", endpoint);
        }
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("function binary starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            collect(stderr, Arc::clone(&output));
        }
        Self { child, output }
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process and waits until it has exited, its memory freed.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Everything the process printed so far, one line each.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
    into: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if std::env::var_os("SHOW_FUNCTION_LOGS").is_some() {
                eprintln!("[function] {line}");
            }
            into.lock().unwrap().push(line);
        }
    });
}
