//! SES bounce and complaint events, delivered by SNS. Reads config, builds clients once, hands each
//! event to `rising_core::email_events::EmailEvents`.

// The handler future nests the SDK's futures deeper than the default limit of 128.
#![recursion_limit = "256"]
use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rising_core::config::EmailEventsConfig;
use rising_core::email_events::EmailEvents;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::DynamoEmailEventStore;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = EmailEventsConfig::from_env()?;
    let sdk = aws::load();
    let store = DynamoEmailEventStore::new(aws::dynamodb(&sdk), config.table_name.clone());
    let app = EmailEvents::new(config, store, SsmSecretStore::from_sdk(&sdk));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| async {
        app.handle(event.payload, time::OffsetDateTime::now_utc())
            .await
            .map_err(Error::from)
    }))
    .await
}
