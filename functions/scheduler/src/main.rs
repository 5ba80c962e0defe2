//! Reminders, follow-ups and recording links, on an EventBridge schedule. Reads config, builds
//! clients once, hands each scheduled event to `rising_core::followups::ScheduledRuns`.

// The handler future nests the SDK's futures deeper than the default limit of 128.
#![recursion_limit = "256"]
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rising_core::config::SchedulerConfig;
use rising_core::followups::ScheduledRuns;
use rising_core::outbound::SqsSendQueue;
use rising_core::privacy::Sealer;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::{
    DynamoFollowUpStore, DynamoGatheringStore, DynamoOutbox, DynamoTrainingStore,
};
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = SchedulerConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let table = config.table_name.clone();
    let app = ScheduledRuns::new(
        config.clone(),
        DynamoGatheringStore::new(dynamodb.clone(), table.clone()),
        DynamoTrainingStore::new(dynamodb.clone(), table.clone()),
        DynamoFollowUpStore::new(dynamodb.clone(), table.clone()),
        DynamoOutbox::new(dynamodb, table),
        SqsSendQueue::from_sdk(&sdk, config.send_queue_url.clone()),
        Sealer::from_sdk(&sdk, config.contact_data_key_id.clone()),
        SsmSecretStore::from_sdk(&sdk),
    );
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            app.handle(&event.payload).await.map_err(Error::from)
        },
    ))
    .await
}
