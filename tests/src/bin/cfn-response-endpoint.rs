//! Stands in for CloudFormation's response bucket in the demo: checks each response the way
//! CloudFormation would and prints it, secrets masked.

use std::time::Duration;

use integration_tests::CfnEndpoint;
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: cfn-response-endpoint PORT"))?
        .parse()?;
    let endpoint = CfnEndpoint::start_on(port).await;
    eprintln!("response endpoint listening on {}", endpoint.base());
    let mut shown = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let received = endpoint.all_received();
        for response in &received[shown..] {
            println!("{}", render(response));
        }
        shown = received.len();
    }
}

fn render(response: &integration_tests::Received) -> String {
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let no_echo = body["NoEcho"] == Value::Bool(true);
    if let Some(data) = body.get_mut("Data").and_then(Value::as_object_mut) {
        for (name, value) in data.iter_mut() {
            if no_echo && name.to_ascii_lowercase().contains("password") {
                *value = Value::String("****".into());
            }
        }
    }
    let verdict = if response.problems.is_empty() {
        "accepted".to_owned()
    } else {
        format!("REJECTED: {}", response.problems.join("; "))
    };
    format!(
        "CloudFormation received ({verdict}):\n{}",
        serde_json::to_string_pretty(&body).unwrap_or_default()
    )
}
