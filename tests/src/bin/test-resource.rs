//! A test-only custom resource on the shared crate: its properties say how to misbehave.
//!
//! `TEST_RESOURCE_REFUSED` names a Flavor today's rules refuse (a tightened validation);
//! `TEST_RESOURCE_RECORD_FILE` is where it keeps its record of the properties it is in.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use shared::properties::optional_number;
use shared::{Create, CustomResource, Delete, Outcome, Progress, Update};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Properties {
    /// ok | error | panic | sleep | big-data | empty-id
    behavior: String,
    /// Any text, but for the one `TEST_RESOURCE_REFUSED` names.
    #[serde(default, deserialize_with = "allowed_flavor")]
    flavor: Option<String>,
    #[serde(default, deserialize_with = "optional_number")]
    sleep_seconds: Option<u64>,
    /// Written after the sleep: proves whether work went on after the answer.
    #[serde(default)]
    side_effect_file: Option<String>,
}

impl shared::properties::Validate for Properties {
    fn validate(&self) -> Result<(), shared::properties::PropertyError> {
        Ok(())
    }
}

fn allowed_flavor<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let flavor = String::deserialize(deserializer)?;
    if std::env::var("TEST_RESOURCE_REFUSED").is_ok_and(|refused| refused == flavor) {
        return Err(serde::de::Error::custom(format!(
            "{flavor:?} is no longer allowed"
        )));
    }
    Ok(Some(flavor))
}

fn keep_record(record: &str) {
    if let Ok(file) = std::env::var("TEST_RESOURCE_RECORD_FILE") {
        std::fs::write(file, record).expect("write the record");
    }
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
    type Error = Told;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Told> {
        keep_record(&request.record);
        self.act(request.properties, progress).await
    }

    async fn update(
        &self,
        request: Update<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Told> {
        keep_record(&request.record);
        let rollback = request.rollback;
        let flavor = request.properties.flavor.clone().unwrap_or_default();
        let outcome = self.act(request.properties, progress).await?;
        Ok(outcome
            .with("Rollback", rollback.to_string())
            .with("Flavor", flavor))
    }

    async fn recorded_properties(
        &self,
        _request: &Update<(), Properties>,
    ) -> Result<Option<String>, Told> {
        Ok(std::env::var("TEST_RESOURCE_RECORD_FILE")
            .ok()
            .and_then(|file| std::fs::read_to_string(file).ok()))
    }

    async fn delete(&self, request: Delete<Properties>, _progress: &Progress) -> Result<(), Told> {
        match request.properties.text("Behavior").as_deref() {
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
    let config = shared::aws::load_config().await;
    shared::run(&config, resource).await
}
