//! The copy-step function over an in-memory CloudHSM: one copy per attempt, the copy's tags,
//! and the requests it refuses before any AWS call.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use cloudhsm_backup_copy::backup::BackupState;
use cloudhsm_backup_copy::config::CopyStepConfig;
use cloudhsm_backup_copy::copy_guard::CopyOutcome;
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::handlers::copy_step::CopyStep;
use cloudhsm_backup_copy::job::TAG_ATTEMPT;
use cloudhsm_backup_copy::tags::{TAG_SOURCE_BACKUP, TAG_SOURCE_CLUSTER, TAG_SOURCE_REGION, TagPolicy};
use serde_json::json;
use support::*;

fn copy_step(hsm: FakeHsm) -> CopyStep<FakeHsm> {
    CopyStep {
        backups: hsm,
        config: CopyStepConfig {
            scope: scope(),
            tag_policy: TagPolicy::default(),
        },
    }
}

#[tokio::test]
async fn the_copy_step_copies_once_per_attempt() {
    let svc = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    let step = event_file("copy-step.json");

    let first = invoke(&svc, step.clone(), NOW).await.unwrap();
    let retried = invoke(&svc, step, NOW).await.unwrap();

    assert_eq!(first.outcome, CopyOutcome::CopyRequested);
    assert_eq!(first.requested_at, "2026-11-26T04:00:00Z");
    assert_eq!(retried.outcome, CopyOutcome::AlreadyLive);
    let copies: Vec<String> = svc
        .backups
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("CopyBackupToRegion"))
        .collect();
    assert_eq!(
        copies,
        vec!["CopyBackupToRegion us-east-1 backup-4kuraxsqetz us-west-2"]
    );
}

#[tokio::test]
async fn the_copy_step_marks_its_copy_and_a_retried_attempt_finds_it() {
    let svc = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    let step = event_file("copy-step.json");
    invoke(&svc, step.clone(), NOW).await.unwrap();
    let copy = svc.backups.in_region("us-west-2").pop().unwrap();
    assert!(
        copy.tags
            .contains(&(TAG_ATTEMPT.to_owned(), "backup-4kuraxsqetz-to-us-west-2-0/1".to_owned())),
        "{:?}",
        copy.tags
    );
    // The copy died; the same attempt retried must not copy again, the next attempt must.
    svc.backups.backups.lock().unwrap().get_mut("us-west-2").unwrap()[0].state = BackupState::Deleted;
    assert_eq!(
        invoke(&svc, step.clone(), NOW).await.unwrap().outcome,
        CopyOutcome::AlreadyRequested
    );
    let mut next = step;
    next["attempt"] = json!(2);
    assert_eq!(
        invoke(&svc, next, NOW).await.unwrap().outcome,
        CopyOutcome::CopyRequested
    );
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_copy_answer_is_not_an_error_to_retry() {
    // A 5xx or a timeout may come after the copy was made: the step reports it unconfirmed and
    // the poll loop looks, instead of the state machine calling again.
    // Throttling is refused before anything happens: retried in the function first (then, as
    // Retryable, by the state machine).
    for (kind, expected, calls) in [
        (AwsErrorKind::Transient, Ok(CopyOutcome::RequestUnconfirmed), 1),
        (
            AwsErrorKind::Throttled,
            Err("Retryable"),
            cloudhsm_backup_copy::backoff::MAX_ATTEMPTS as usize,
        ),
        (AwsErrorKind::AccessDenied, Err("NonRetryable"), 1),
    ] {
        let mut hsm = FakeHsm::with_source(BackupState::Ready, NOW);
        hsm.failing_copy = Some(kind);
        let svc = copy_step(hsm);
        let result = invoke(&svc, event_file("copy-step.json"), NOW).await;
        match expected {
            Ok(outcome) => assert_eq!(result.unwrap().outcome, outcome),
            Err(name) => assert_eq!(error_type(result.unwrap_err()), name),
        }
        let copies = svc
            .backups
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("CopyBackupToRegion"));
        assert_eq!(copies.count(), calls, "{kind:?}");
    }
}

#[tokio::test]
async fn the_copy_step_refuses_jobs_outside_its_scope_without_a_call() {
    let mut svc = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    svc.config.scope.selection.exclude = vec![CLUSTER.into()];
    for (field, value) in out_of_scope() {
        let mut step = event_file("copy-step.json");
        step["job"][field] = value.clone();
        let err = invoke(&svc, step, NOW).await.unwrap_err();
        assert_eq!(error_type(err), "InvalidInput", "{field}={value}");
    }
    let mut included_only = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    included_only.config.scope.selection.include = vec!["cluster-aaaaaaaaaaa".into()];
    let err = invoke(&included_only, event_file("copy-step.json"), NOW)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("copy refused: cluster {CLUSTER} is not selected for copying (not in INCLUDE_CLUSTERS)")
    );
    assert!(svc.backups.calls().is_empty());
    assert!(included_only.backups.calls().is_empty());
}

#[tokio::test]
async fn the_copy_step_is_its_own_payload_and_nothing_else() {
    let svc = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    for payload in [
        event_file("scheduled-sweep.json"),
        json!({"action": "prune"}),
        json!({"action": "copy", "job": {}, "attempt": 1}),
        json!({"action": "copy", "job": event_file("copy-step.json")["job"], "attempt": 0}),
    ] {
        let err = invoke(&svc, payload.clone(), NOW).await.unwrap_err();
        assert_eq!(error_type(err), "InvalidInput", "{payload}");
    }
    assert!(svc.backups.calls().is_empty());
}

#[tokio::test]
async fn the_copy_carries_source_configured_and_provenance_tags() {
    let mut svc = copy_step(FakeHsm::with_source(BackupState::Ready, NOW));
    svc.config.tag_policy.extra = vec![("cost-center".into(), "dr".into())];

    invoke(&svc, event_file("copy-step.json"), NOW).await.unwrap();

    let copy = &svc.backups.in_region("us-west-2")[0];
    let tag = |k: &str| copy.tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(tag("team"), Some("payments"));
    assert_eq!(tag("cost-center"), Some("dr"));
    assert_eq!(tag(TAG_SOURCE_REGION), Some("us-east-1"));
    assert_eq!(tag(TAG_SOURCE_BACKUP), Some(SOURCE));
    assert_eq!(tag(TAG_SOURCE_CLUSTER), Some(CLUSTER));
}

#[tokio::test]
async fn too_many_tags_fail_the_copy_step_without_copying() {
    let hsm = FakeHsm::default();
    let mut source = original(SOURCE, BackupState::Ready, NOW);
    source.tags = (0..49).map(|i| (format!("k{i}"), "v".into())).collect();
    hsm.add("us-east-1", source);
    let svc = copy_step(hsm);

    let err = invoke(&svc, event_file("copy-step.json"), NOW).await.unwrap_err();

    assert!(err.to_string().contains("limit of 50"), "{err}");
    assert_eq!(error_type(err), "NonRetryable");
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("CopyBackupToRegion")));
}

#[tokio::test]
async fn a_vanished_source_fails_the_copy_step() {
    let svc = copy_step(FakeHsm::default());
    let err = invoke(&svc, event_file("copy-step.json"), NOW).await.unwrap_err();
    assert_eq!(error_type(err), "NonRetryable");
}
