//! check-copy Lambda: wiring only (tracing, SDK clients built once).

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::handlers::check_copy::{CheckCopy, function_handler};
use cloudhsm_backup_copy::payload::Payload;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

/// Regions to build clients for at cold start (the configured destinations); others are
/// built on first use.
const ENV_DESTINATION_REGIONS: &str = cloudhsm_backup_copy::config::ENV_DESTINATION_REGIONS;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let regions = std::env::var(ENV_DESTINATION_REGIONS).unwrap_or_default();
    let service = CheckCopy {
        backups: CloudHsm::new(&shared, regions.split(',').map(str::trim).filter(|r| !r.is_empty())),
    };
    run(service_fn(|event: LambdaEvent<Payload>| {
        function_handler(event, &service)
    }))
    .await
}
