//! The send queue's worker: every outbound text and email goes through here once. Reads config,
//! builds clients once, hands each SQS batch to `rising_core::outbound::SendWorker`.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rising_core::config::SendWorkerConfig;
use rising_core::outbound::ProductionWorker;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = SendWorkerConfig::from_env()?;
    let sdk = aws::load();
    let worker = ProductionWorker::from_config(&config, &sdk)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            worker
                .handle(event.payload, time::OffsetDateTime::now_utc())
                .await,
        )
    }))
    .await
}
