//! The hello world of `lambda_runtime` (its README's example): the cold-start baseline. Built in the
//! same profile and run the same way as the functions, so the ratio isolates what rising adds at init.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
