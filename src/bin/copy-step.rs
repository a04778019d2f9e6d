//! copy-step Lambda: wiring only (tracing, configuration, SDK clients built once).

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::config::CopyStepConfig;
use cloudhsm_backup_copy::handlers::copy_step::CopyStep;
use cloudhsm_backup_copy::handlers::serve;
use lambda_runtime::{Error, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Refuse to start on a bad setting; the message names it (and shows in the function's log).
    let config = CopyStepConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let scope = &config.scope;
    let regions =
        std::iter::once(scope.source_region.as_str()).chain(scope.destination_regions.iter().map(String::as_str));
    let backups = CloudHsm::new(&shared, regions);
    let service = CopyStep { backups, config };
    serve(&service).await
}
