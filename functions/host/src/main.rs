//! The host dashboard (`/host…`, `/i/<code>`): magic-link sign-in, gatherings, who is coming,
//! invitations.
//! Reads config, builds clients once, hands each request to `rising_core::hosting::HostApp`
//! (the keys come from SSM on first use).

use lambda_http::Error;
use rising_core::admin::DynamoAdminStore;
use rising_core::config::HostConfig;
use rising_core::hosting::HostApp;
use rising_core::outbound::SqsSendQueue;
use rising_core::privacy::Sealer;
use rising_core::secrets::SsmSecretStore;
use rising_core::stats::DynamoCampaignStats;
use rising_core::store::{
    DynamoGatheringStore, DynamoHostStore, DynamoInviteStore, DynamoOutbox,
    DynamoRegistrationStore, DynamoTrainingStore,
};
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = HostConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let table = config.table_name.clone();
    let app = HostApp::new(
        config.clone(),
        DynamoHostStore::new(dynamodb.clone(), table.clone()),
        DynamoGatheringStore::new(dynamodb.clone(), table.clone()),
        DynamoRegistrationStore::new(dynamodb.clone(), table.clone()),
        DynamoOutbox::new(dynamodb.clone(), table.clone()),
        SqsSendQueue::from_sdk(&sdk, config.send_queue_url.clone()),
        DynamoAdminStore::new(dynamodb.clone(), table.clone()),
        DynamoInviteStore::new(dynamodb.clone(), table.clone()),
        DynamoTrainingStore::new(dynamodb.clone(), table.clone()),
        DynamoCampaignStats::new(dynamodb, table),
        Sealer::from_sdk(&sdk, config.contact_data_key_id.clone()),
        SsmSecretStore::from_sdk(&sdk),
    );
    rising_core::serve::run(|request| app.handle(request)).await
}
