//! `POST /register` and the form's pages and scripts (`/join`, `/g/{id}`, `/t/{id}`, `/embed.js`,
//! `/form.js`).
//! Reads config, builds clients once, hands each request to `rising_core::registration::Register`
//! (the keys come from SSM on first use).

use lambda_http::Error;
use rising_core::config::RegisterConfig;
use rising_core::outbound::SqsSendQueue;
use rising_core::privacy::Sealer;
use rising_core::registration::Register;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::{
    DynamoGatheringStore, DynamoOutbox, DynamoRegistrationStore, DynamoTrainingStore,
};
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = RegisterConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let table = config.table_name.clone();
    let app = Register::new(
        config.clone(),
        DynamoRegistrationStore::new(dynamodb.clone(), table.clone()),
        DynamoGatheringStore::new(dynamodb.clone(), table.clone()),
        DynamoTrainingStore::new(dynamodb.clone(), table.clone()),
        DynamoOutbox::new(dynamodb, table),
        SqsSendQueue::from_sdk(&sdk, config.send_queue_url.clone()),
        Sealer::from_sdk(&sdk, config.contact_data_key_id.clone()),
        SsmSecretStore::from_sdk(&sdk),
    );
    rising_core::serve::run(|request| app.handle(request)).await
}
