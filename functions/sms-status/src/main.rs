//! `POST /sms/status`: Twilio's message status callbacks. Reads config, builds clients once, hands
//! each request to `rising_core::delivery::SmsStatus`.

use lambda_http::Error;
use rising_core::config::SmsStatusConfig;
use rising_core::delivery::SmsStatus;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::DynamoDeliveryStore;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = SmsStatusConfig::from_env()?;
    let sdk = aws::load();
    let store = DynamoDeliveryStore::new(aws::dynamodb(&sdk), config.table_name.clone());
    let app = SmsStatus::new(config, store, SsmSecretStore::from_sdk(&sdk));
    rising_core::serve::run(|request| app.handle(request)).await
}
