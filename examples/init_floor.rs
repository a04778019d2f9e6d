//! The floor for our functions' init: a Lambda function that starts the runtime and builds the
//! same SDK clients start-copy builds (the shared configuration with our timeouts and retries,
//! one CloudHSM client per configured region, a Step Functions client), and does nothing else.
//! `make bench` measures its init beside start-copy's, so our init reads as a ratio to what the
//! runtime and the SDK themselves cost.

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let source = std::env::var("AWS_REGION").unwrap_or_default();
    let destinations = std::env::var("DESTINATION_REGIONS").unwrap_or_default();
    let regions = std::iter::once(source.as_str()).chain(destinations.split(',').map(str::trim));
    let clients = (CloudHsm::new(&shared, regions), aws_sdk_sfn::Client::new(&shared));
    run(service_fn(|event: LambdaEvent<Value>| {
        let _ = &clients;
        async move { Ok::<Value, Error>(event.payload) }
    }))
    .await
}
