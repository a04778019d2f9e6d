//! share-copy Lambda: wiring only (tracing, configuration, SDK clients built once).

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::aws::ram::Ram;
use cloudhsm_backup_copy::config::ShareCopyConfig;
use cloudhsm_backup_copy::handlers::serve;
use cloudhsm_backup_copy::handlers::share_copy::ShareCopy;
use lambda_runtime::{Error, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Refuse to start on a bad setting; the message names it (and shows in the function's log).
    let config = ShareCopyConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let regions = || config.scope.destination_regions.iter().map(String::as_str);
    let service = ShareCopy {
        backups: CloudHsm::new(&shared, regions()),
        shares: Ram::new(&shared, regions()),
        config: config.clone(),
    };
    serve(&service).await
}
