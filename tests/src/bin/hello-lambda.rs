//! The floor for the benchmark's start-up figures: a `lambda_runtime` function that does
//! nothing, built with the same profile as the functions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<(), Error>(())
    }))
    .await
}
