//! dr-status: wiring only (arguments, SDK clients with the caller's credentials, output).

use std::process::ExitCode;

use aws_config::Region;
use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::aws::sfn::StepFunctions;
use cloudhsm_backup_copy::aws::ssm::Ssm;
use cloudhsm_backup_copy::dr_status::{observe, parse_args, render};
use cloudhsm_backup_copy::posture::posture;
use cloudhsm_backup_copy::time;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1), std::env::var("AWS_REGION").ok()) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let shared = cloudhsm_backup_copy::aws::load_sdk_config().await;
    let source = args.source_region.as_str();
    let regions = std::iter::once(source).chain(args.destinations.iter().map(String::as_str));
    let backups = CloudHsm::new(&shared, regions);
    let parameters = Ssm::new(&shared, args.destinations.iter().map(String::as_str));
    let sfn_config = aws_sdk_sfn::config::Builder::from(&shared)
        .region(Region::new(source.to_owned()))
        .build();
    let sfn = aws_sdk_sfn::Client::from_conf(sfn_config);
    let executions = match StepFunctions::find(&sfn, source, &args.tracker_name()).await {
        Ok(Some(arn)) => Some(StepFunctions::new(sfn, arn, source)),
        Ok(None) => {
            eprintln!(
                "note: no state machine {} in {source}: running executions unknown",
                args.tracker_name()
            );
            None
        }
        Err(e) => {
            eprintln!("note: cannot look for the tracker ({e}): running executions unknown");
            None
        }
    };
    let (observed, notes) = observe(&args, &backups, executions.as_ref(), &parameters).await;
    println!("{}", render(&posture(&observed, time::now()), args.json));
    for note in &notes {
        eprintln!("note: {note}");
    }
    // A partial picture is shown, and said to be partial.
    if notes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
