//! `POST /sms/inbound`: Twilio's messaging webhook. Reads config, builds clients once, hands each
//! request to `rising_core::conversation::SmsInbound`.

use lambda_http::Error;
use rising_core::config::SmsInboundConfig;
use rising_core::conversation::SmsInbound;
use rising_core::outbound::SqsSendQueue;
use rising_core::privacy::Sealer;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::{DynamoGatheringStore, DynamoInboundStore};
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = SmsInboundConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let store = DynamoInboundStore::new(dynamodb.clone(), config.table_name.clone());
    let gatherings = DynamoGatheringStore::new(dynamodb, config.table_name.clone());
    let sealer = Sealer::from_sdk(&sdk, config.contact_data_key_id.clone());
    let queue = SqsSendQueue::from_sdk(&sdk, config.email.send_queue_url.clone());
    let app = SmsInbound::new(
        config,
        store,
        gatherings,
        sealer,
        SsmSecretStore::from_sdk(&sdk),
        queue,
    );
    rising_core::serve::run(|request| app.handle(request)).await
}
