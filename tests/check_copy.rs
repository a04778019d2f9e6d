//! The check-copy function over an in-memory CloudHSM: what it reports, the next step it
//! chooses, and the jobs it refuses before any AWS call.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use cloudhsm_backup_copy::backup::BackupState;
use cloudhsm_backup_copy::config::CheckCopyConfig;
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::handlers::check_copy::CheckCopy;
use serde_json::json;
use support::*;

fn check_copy(hsm: FakeHsm) -> CheckCopy<FakeHsm> {
    CheckCopy {
        backups: hsm,
        config: CheckCopyConfig { scope: scope() },
    }
}

#[tokio::test]
async fn check_copy_reports_the_copy_and_the_next_step() {
    let hsm = FakeHsm::default();
    hsm.add("us-west-2", {
        let mut c = original("backup-readyreadyr", BackupState::Ready, NOW);
        c.source_backup = Some(SOURCE.into());
        c
    });
    let svc = check_copy(hsm);

    let out = invoke(&svc, event_file("check-copy.json"), NOW + 600).await.unwrap();

    assert_eq!(out.check.destination_backup_id.as_deref(), Some("backup-readyreadyr"));
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["check"]["next"], "SUCCEED");
    assert_eq!(json["check"]["elapsedSeconds"], 600);
    assert_eq!(svc.backups.calls(), vec!["DescribeBackups us-west-2"]);
}

#[tokio::test]
async fn check_copy_errors_carry_stable_names() {
    let svc = check_copy(FakeHsm::default());
    let err = invoke(&svc, json!({"job": {}}), NOW).await.unwrap_err();
    assert_eq!(error_type(err), "InvalidInput");
    assert!(svc.backups.calls().is_empty());

    let mut bad_policy = event_file("check-copy.json");
    bad_policy["policy"]["maxCopyAttempts"] = json!("0");
    let err = invoke(&svc, bad_policy, NOW).await.unwrap_err();
    assert_eq!(error_type(err), "InvalidInput");

    let denied = check_copy(FakeHsm {
        failing_region: Some(("us-west-2".into(), AwsErrorKind::AccessDenied)),
        ..FakeHsm::default()
    });
    let err = invoke(&denied, event_file("check-copy.json"), NOW).await.unwrap_err();
    assert_eq!(error_type(err), "NonRetryable");
}

#[tokio::test]
async fn check_copy_refuses_jobs_outside_its_scope_without_a_call() {
    let mut svc = check_copy(FakeHsm::default());
    svc.config.scope.selection.exclude = vec![CLUSTER.into()];
    for (field, value) in out_of_scope() {
        let mut input = event_file("check-copy.json");
        input["job"][field] = value.clone();
        let err = invoke(&svc, input, NOW).await.unwrap_err();
        // us-gov-west-1 is refused earlier, as a region backups from here cannot reach.
        let message = err.to_string();
        assert!(
            message.starts_with("check refused: ") || message.contains("us-gov-west-1"),
            "{field}={value}: {message}"
        );
        assert_eq!(error_type(err), "InvalidInput", "{field}={value}");
    }
    assert!(svc.backups.calls().is_empty());
}

#[tokio::test]
async fn a_throttled_or_failing_listing_is_a_missed_check_not_a_failure() {
    for kind in [AwsErrorKind::Throttled, AwsErrorKind::Transient] {
        let svc = check_copy(FakeHsm {
            failing_region: Some(("us-west-2".into(), kind)),
            ..FakeHsm::default()
        });
        let out = invoke(&svc, event_file("check-copy.json"), NOW + 60).await.unwrap();
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(
            (json["check"]["state"].as_str(), json["check"]["next"].as_str()),
            (Some("UNKNOWN"), Some("WAIT"))
        );
        assert_eq!(out.loop_state.checks, 1);
    }
}
