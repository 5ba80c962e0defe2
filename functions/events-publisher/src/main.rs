//! rising's domain events: the table's stream in, events on the EventBridge bus out. Reads config,
//! builds clients once, hands each batch of stream records to `rising_core::domain_events::Publisher`,
//! which also counts them in the campaign's statistics (`rising_core::stats`).
// The handler's future nests the runtime's, the publisher's and the HTTP client's: computing its
// layout goes deeper than rustc's default 128 queries.
#![recursion_limit = "256"]

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rising_core::config::EventsPublisherConfig;
use rising_core::domain_events::{DynamoPersonIds, EventBridgeBus, Publisher};
use rising_core::stats::DynamoCampaignStats;
use rising_core::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = EventsPublisherConfig::from_env()?;
    let sdk = aws::load();
    let dynamodb = aws::dynamodb(&sdk);
    let app = Publisher::new(
        EventBridgeBus::from_sdk(&sdk, config.event_bus_name),
        DynamoPersonIds::new(dynamodb.clone(), config.table_name.clone()),
        DynamoCampaignStats::new(dynamodb, config.table_name),
    );
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        app.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
