//! `/unsubscribe` and `/forget`: the one-click unsubscribe and "delete my data" links every email
//! carries. Reads config, builds clients once, hands each request to
//! `rising_core::links::EmailLinks` (the link key comes from SSM on first use).

use lambda_http::Error;
use rising_core::config::EmailLinksConfig;
use rising_core::links::{DynamoLinkStore, EmailLinks};
use rising_core::secrets::SsmSecretStore;
use rising_core::store::DynamoGatheringStore;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = EmailLinksConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let store = DynamoLinkStore::new(dynamodb.clone(), config.table_name.clone());
    let gatherings = DynamoGatheringStore::new(dynamodb, config.table_name.clone());
    let app = EmailLinks::new(config, store, gatherings, SsmSecretStore::from_sdk(&sdk));
    rising_core::serve::run(|request| app.handle(request)).await
}
