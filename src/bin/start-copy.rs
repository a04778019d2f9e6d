//! start-copy Lambda: wiring only (tracing, configuration, SDK clients built once).

use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::aws::eventbridge::EventBridge;
use cloudhsm_backup_copy::aws::ram::Ram;
use cloudhsm_backup_copy::aws::recovery::RecoveryRole;
use cloudhsm_backup_copy::aws::sfn::StepFunctions;
use cloudhsm_backup_copy::aws::ssm::Ssm;
use cloudhsm_backup_copy::config::StartCopyConfig;
use cloudhsm_backup_copy::handlers::serve;
use cloudhsm_backup_copy::handlers::start_copy::StartCopy;
use lambda_runtime::{Error, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Refuse to start on a bad setting; the message names it (and shows in the function's log).
    let config = StartCopyConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let regions =
        std::iter::once(config.source_region.as_str()).chain(config.destination_regions.iter().map(String::as_str));
    let service = StartCopy {
        backups: CloudHsm::new(&shared, regions),
        parameters: Ssm::new(&shared, config.destination_regions.iter().map(String::as_str)),
        shares: Ram::new(&shared, config.destination_regions.iter().map(String::as_str)),
        recovery: RecoveryRole::new(&shared, config.sharing.as_ref().and_then(|s| s.verifier_role.clone())),
        events: EventBridge::new(
            aws_sdk_eventbridge::Client::new(&shared),
            config.event_bus_name.clone(),
            config.source_region.clone(),
        ),
        executions: StepFunctions::new(
            aws_sdk_sfn::Client::new(&shared),
            config.state_machine_arn.clone(),
            config.source_region.clone(),
        ),
        config,
    };
    serve(&service).await
}
