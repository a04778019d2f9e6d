//! restore-drill Lambda: wiring only (tracing, configuration, SDK clients built once).

use cloudhsm_backup_copy::aws::assume_role;
use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::aws::eventbridge::EventBridge;
use cloudhsm_backup_copy::aws::sfn::StepFunctions;
use cloudhsm_backup_copy::aws::ssm::Ssm;
use cloudhsm_backup_copy::config::RestoreDrillConfig;
use cloudhsm_backup_copy::handlers::restore_drill::RestoreDrill;
use cloudhsm_backup_copy::handlers::serve;
use lambda_runtime::{Error, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Refuse to start on a bad setting; the message names it (and shows in the function's log).
    let config =
        RestoreDrillConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let drill_regions = || config.subnets.0.keys().map(String::as_str);
    let hsm = CloudHsm::new(
        &shared,
        std::iter::once(config.source_region.as_str()).chain(drill_regions()),
    );
    // Drills in a recovery account act there as its drill role (dr-account.yaml).
    let clusters = match config.drill_role_arn() {
        Some(role) => CloudHsm::new(
            &assume_role(&shared, role, "cloudhsm-backup-copy-drill").await,
            drill_regions(),
        ),
        None => hsm.clone(),
    };
    let service = RestoreDrill {
        hsm,
        clusters,
        parameters: Ssm::new(&shared, drill_regions()),
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
