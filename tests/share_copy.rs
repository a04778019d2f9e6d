//! The share step over in-memory CloudHSM and RAM: the stack's share made once per region, the
//! copy shared only once RAM says so, failed and revoked associations asked for again, and the
//! requests it refuses before any call.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use cloudhsm_backup_copy::backup::{Backup, BackupState};
use cloudhsm_backup_copy::config::ShareCopyConfig;
use cloudhsm_backup_copy::handlers::share_copy::{ShareCopy, ShareCopyError};
use cloudhsm_backup_copy::sharing::AssociationStatus;
use serde_json::{Value, json};
use support::ram::FakeRam;
use support::*;

const COPY: &str = "backup-lzcmpu5nwui";
const COPY_ARN: &str = "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-lzcmpu5nwui";
const RECOVERY: &str = "210987654321";

fn copy_in_west(state: BackupState, source: &str) -> Backup {
    Backup {
        arn: Some(COPY_ARN.into()),
        ..Backup::original(COPY, None, state, Some(NOW)).copied_from(source, "us-east-1", Some(CLUSTER))
    }
}

fn share_copy(accounts: &[&str], copy: Option<Backup>) -> ShareCopy<FakeHsm, FakeRam> {
    let hsm = FakeHsm::default();
    if let Some(copy) = copy {
        hsm.add("us-west-2", copy);
    }
    ShareCopy {
        backups: hsm,
        shares: FakeRam::default(),
        config: ShareCopyConfig {
            scope: scope(),
            recovery_accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
            stack_name: "dr".into(),
        },
    }
}

fn request() -> Value {
    event_file("share-copy.json")
}

#[tokio::test]
async fn without_recovery_accounts_nothing_is_called() {
    let svc = share_copy(&[], Some(copy_in_west(BackupState::Ready, SOURCE)));
    let result = invoke(&svc, request(), NOW).await.unwrap();
    assert!(result.shared_with.is_empty() && result.resource_share_arn.is_none());
    assert!(svc.backups.calls().is_empty() && svc.shares.calls().is_empty());
}

#[tokio::test]
async fn the_copy_is_shared_once_ram_says_so_and_the_share_is_made_once() {
    let svc = share_copy(&[RECOVERY], Some(copy_in_west(BackupState::Ready, SOURCE)));
    let first = invoke(&svc, request(), NOW).await.unwrap_err();
    assert_eq!(error_type(first), "Pending");
    // Asked again while RAM is still associating: nothing asked twice.
    assert_eq!(error_type(invoke(&svc, request(), NOW).await.unwrap_err()), "Pending");
    svc.shares.settle(None);
    let shared = invoke(&svc, request(), NOW).await.unwrap();
    assert_eq!(shared.shared_with, vec![RECOVERY]);
    assert_eq!(shared.backup_arn.as_deref(), Some(COPY_ARN));
    assert_eq!(
        shared.resource_share_arn.as_deref(),
        Some("arn:aws:ram:us-west-2:123456789012:resource-share/s1")
    );
    let calls = svc.shares.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("CreateResourceShare us-west-2 dr-dr-copies"))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("AssociateResourceShare"))
            .collect::<Vec<_>>(),
        vec![&format!("AssociateResourceShare [\"{COPY_ARN}\"] []")]
    );
}

#[tokio::test]
async fn a_failed_or_revoked_share_is_asked_for_again() {
    let svc = share_copy(&[RECOVERY], Some(copy_in_west(BackupState::Ready, SOURCE)));
    invoke(&svc, request(), NOW).await.unwrap_err();
    svc.shares.settle(Some("The resource could not be shared"));
    let failed = invoke(&svc, request(), NOW).await.unwrap_err();
    assert!(matches!(&failed, ShareCopyError::Failed { reason, .. } if reason.contains("could not be shared")));
    assert_eq!(error_type(failed), "Retryable");
    svc.shares.settle(None);
    assert!(invoke(&svc, request(), NOW).await.is_ok());
    // Unshared behind the stack's back: shared again.
    svc.shares.set(COPY_ARN, AssociationStatus::Disassociated);
    assert_eq!(error_type(invoke(&svc, request(), NOW).await.unwrap_err()), "Pending");
    svc.shares.settle(None);
    assert!(invoke(&svc, request(), NOW).await.is_ok());
    let associations = svc
        .shares
        .calls()
        .iter()
        .filter(|c| c.starts_with("AssociateResourceShare"))
        .count();
    assert_eq!(associations, 3);
}

#[tokio::test]
async fn an_account_removed_from_the_parameter_is_unshared() {
    let svc = share_copy(&[RECOVERY], Some(copy_in_west(BackupState::Ready, SOURCE)));
    invoke(&svc, request(), NOW).await.unwrap_err();
    svc.shares.settle(None);
    let moved = ShareCopy {
        config: ShareCopyConfig {
            recovery_accounts: vec!["111122223333".into()],
            ..svc.config.clone()
        },
        ..svc
    };
    assert_eq!(error_type(invoke(&moved, request(), NOW).await.unwrap_err()), "Pending");
    assert!(
        moved
            .shares
            .calls()
            .contains(&format!("DisassociateResourceShare [] [\"{RECOVERY}\"]"))
    );
}

#[tokio::test]
async fn only_a_ready_copy_of_the_jobs_backup_is_shared() {
    for copy in [
        None,
        Some(copy_in_west(BackupState::CreateInProgress, SOURCE)),
        Some(copy_in_west(BackupState::Ready, "backup-othersource")),
    ] {
        let svc = share_copy(&[RECOVERY], copy);
        let refused = invoke(&svc, request(), NOW).await.unwrap_err();
        assert!(matches!(refused, ShareCopyError::NotTheCopy { .. }), "{refused}");
        assert_eq!(error_type(refused), "NonRetryable");
        assert!(svc.shares.calls().is_empty());
    }
}

#[tokio::test]
async fn a_forged_request_makes_no_call() {
    let mut forged: Vec<Value> = out_of_scope()
        .into_iter()
        .filter(|(field, _)| *field != "sourceClusterId")
        .map(|(field, value)| {
            let mut r = request();
            r["job"][field] = value;
            r
        })
        .collect();
    let mut excluded = request();
    excluded["job"]["sourceClusterId"] = json!("cluster-excludedxxxx");
    forged.push(excluded);
    forged.push(json!({"job": request()["job"], "destinationBackupId": "backup-../../x"}));
    forged.push(json!({"job": request()["job"], "destinationBackupId": COPY, "extra": 1}));
    for payload in forged {
        let mut svc = share_copy(&[RECOVERY], Some(copy_in_west(BackupState::Ready, SOURCE)));
        svc.config.scope.selection.exclude = vec!["cluster-excludedxxxx".into()];
        let refused = invoke(&svc, payload.clone(), NOW).await.unwrap_err();
        assert_eq!(error_type(refused), "InvalidInput", "{payload}");
        assert!(
            svc.backups.calls().is_empty() && svc.shares.calls().is_empty(),
            "{payload}"
        );
    }
    // The request itself passes.
    let svc = share_copy(&[RECOVERY], Some(copy_in_west(BackupState::Ready, SOURCE)));
    assert_eq!(error_type(invoke(&svc, request(), NOW).await.unwrap_err()), "Pending");
}
