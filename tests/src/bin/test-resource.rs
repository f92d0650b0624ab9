//! A test-only custom resource on the shared crate: its properties say how to misbehave.

use std::time::Duration;

use serde::Deserialize;
use shared::properties::optional_number;
use shared::{Create, CustomResource, Delete, Outcome, Progress, Update};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Properties {
    /// ok | error | panic | sleep | big-data | empty-id
    behavior: String,
    #[serde(default, deserialize_with = "optional_number")]
    sleep_seconds: Option<u64>,
    /// Written after the sleep: proves whether work went on after the answer.
    #[serde(default)]
    side_effect_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Existing {
    #[serde(default)]
    behavior: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("the test resource was told to fail")]
struct Told;

struct TestResource;

impl TestResource {
    async fn act(&self, properties: Properties, progress: &Progress) -> Result<Outcome, Told> {
        match properties.behavior.as_str() {
            "error" => Err(Told),
            "panic" => {
                progress.step("doing something that panics");
                panic!("test resource panicked on purpose")
            }
            "sleep" => {
                progress.step("sleeping");
                tokio::time::sleep(Duration::from_secs(properties.sleep_seconds.unwrap_or(60)))
                    .await;
                if let Some(file) = properties.side_effect_file {
                    let _ = std::fs::write(file, "written after the sleep");
                }
                Ok(Outcome::new("slept"))
            }
            "big-data" => Ok(Outcome::new("big").with("Blob", "x".repeat(5000))),
            "empty-id" => Ok(Outcome::new("")),
            _ => Ok(Outcome::new("test-resource").with("Value", "ok")),
        }
    }
}

impl CustomResource for TestResource {
    type Properties = Properties;
    type ExistingProperties = Existing;
    type Error = Told;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Told> {
        self.act(request.properties, progress).await
    }

    async fn update(
        &self,
        request: Update<Properties, Existing>,
        progress: &Progress,
    ) -> Result<Outcome, Told> {
        self.act(request.properties, progress).await
    }

    async fn delete(&self, request: Delete<Existing>, _progress: &Progress) -> Result<(), Told> {
        match request.properties.behavior.as_deref() {
            Some("panic") => panic!("delete was called"),
            Some("error") => Err(Told),
            _ => Ok(()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), shared::RunError> {
    shared::logging::init(env!("CARGO_CRATE_NAME"));
    let resource = match std::env::var("TEST_RESOURCE_STARTUP_ERROR") {
        Ok(error) => Err(error),
        Err(_) => Ok(TestResource),
    };
    shared::run(resource).await
}
