//! `POST /sms/inbound`: Twilio's messaging webhook. Reads config, builds clients once, hands each
//! request to `rising_core::conversation::SmsInbound`.

use lambda_http::{Error, service_fn};
use rising_core::config::SmsInboundConfig;
use rising_core::conversation::SmsInbound;
use rising_core::secrets::SsmSecretStore;
use rising_core::store::DynamoInboundStore;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = SmsInboundConfig::from_env()?;
    let sdk = aws::load().await;
    let store = DynamoInboundStore::new(aws::dynamodb(&sdk), config.table_name.clone());
    let app = SmsInbound::new(config, store, SsmSecretStore::new(aws::ssm(&sdk)));
    lambda_http::run(service_fn(|request| async { Ok::<_, Error>(app.handle(request).await) })).await
}
