//! check-copy Lambda: wiring only (tracing, configuration, SDK clients built once).

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::config::CheckCopyConfig;
use cloudhsm_backup_copy::handlers::check_copy::CheckCopy;
use cloudhsm_backup_copy::handlers::serve;
use lambda_runtime::{Error, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Refuse to start on a bad setting; the message names it (and shows in the function's log).
    let config = CheckCopyConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let service = CheckCopy {
        backups: CloudHsm::new(&shared, config.scope.destination_regions.iter().map(String::as_str)),
        config,
    };
    serve(&service).await
}
