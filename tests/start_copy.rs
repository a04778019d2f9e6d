//! The start-copy function over in-memory fakes of the ports: what each event leads to, which AWS
//! calls are made (and that malformed input makes none), and the `error_type` each failure
//! carries.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cloudhsm_backup_copy::backup::{Backup, BackupState};
use cloudhsm_backup_copy::copy_guard::CopyRequest;
use cloudhsm_backup_copy::error::{AwsError, AwsErrorKind};
use cloudhsm_backup_copy::event::{Home, StartCopyRequest};
use cloudhsm_backup_copy::handlers::restore_drill::DrillRequest;
use cloudhsm_backup_copy::handlers::share_copy::ShareRequest;
use cloudhsm_backup_copy::handlers::start_copy::{MAX_LISTED, START_CONCURRENCY, StartCopy};
use cloudhsm_backup_copy::payload::Request;
use cloudhsm_backup_copy::ports::{ExecutionApi, ExecutionStatus, StartOutcome};
use cloudhsm_backup_copy::pruning::PrunePolicy;
use cloudhsm_backup_copy::report::Summary;
use cloudhsm_backup_copy::restore_kit::{KitSettings, RestoreKit};
use cloudhsm_backup_copy::selection::{Cluster, ClusterSelection};
use cloudhsm_backup_copy::sharing::{AssociationStatus, Recipients};
use cloudhsm_backup_copy::tags::{TAG_SOURCE_BACKUP, TAG_SOURCE_CLUSTER, TAG_SOURCE_REGION};
use cloudhsm_backup_copy::tracking::CheckInput;
use serde_json::{Value, json};
use support::ram::{FakeRam, FakeRecovery};
use support::*;

#[derive(Default)]
struct FakeSfn {
    executions: Mutex<HashMap<String, (String, ExecutionStatus)>>,
    starts: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl ExecutionApi for FakeSfn {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, AwsError> {
        // Like a network call: the caller may start others before this one answers.
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.starts.lock().unwrap().push(name.into());
        let mut executions = self.executions.lock().unwrap();
        let arn = format!("arn:aws:states:us-east-1:123456789012:execution:tracker:{name}");
        match executions.get(name) {
            Some((same, ExecutionStatus::Running)) if same == input => Ok(StartOutcome::Started { execution_arn: arn }),
            Some(_) => Ok(StartOutcome::AlreadyExists),
            None => {
                executions.insert(name.into(), (input.into(), ExecutionStatus::Running));
                Ok(StartOutcome::Started { execution_arn: arn })
            }
        }
    }

    async fn execution_status(&self, name: &str) -> Result<Option<ExecutionStatus>, AwsError> {
        Ok(self.executions.lock().unwrap().get(name).map(|(_, s)| s.clone()))
    }

    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        let executions = self.executions.lock().unwrap();
        Ok(executions
            .iter()
            .filter(|(_, (_, s))| *s == ExecutionStatus::Running)
            .map(|(n, _)| n.clone())
            .collect())
    }
}

impl FakeSfn {
    /// An execution that ran before and closed.
    fn closed(&self, name: &str, status: &str, stopped_at: i64) {
        self.executions.lock().unwrap().insert(
            name.into(),
            (
                "{}".into(),
                ExecutionStatus::Closed {
                    status: status.into(),
                    stopped_at: Some(stopped_at),
                },
            ),
        );
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.executions.lock().unwrap().keys().cloned().collect();
        names.sort();
        names
    }
}

/// The summary's list as it goes on the wire (the function's JSON response).
fn wire<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The skip of one reason (the first), with its fields as the response carries them.
fn skip_of(summary: &Summary, reason: &str) -> Value {
    wire(&summary.skipped)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["reason"] == reason)
        .cloned()
        .unwrap()
}

fn count(summary: &Summary, reason: &str) -> usize {
    summary.skipped_counts.get(reason).copied().unwrap_or(0)
}

fn service(hsm: FakeHsm) -> StartCopy<FakeHsm, FakeSfn, FakeParameters, FakeBus, FakeRam, FakeRecovery> {
    StartCopy {
        backups: hsm,
        executions: FakeSfn::default(),
        parameters: FakeParameters::default(),
        events: FakeBus::default(),
        shares: FakeRam::default(),
        recovery: FakeRecovery::default(),
        config: start_copy_config(),
    }
}

#[test]
fn every_example_event_parses() {
    const HOME: Home<'static> = Home {
        account: "123456789012",
        region: "us-east-1",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let value = event_file(&name);
        let parsed = match name.as_str() {
            "copy-step.json" => CopyRequest::from_json(value).map(|_| ()).map_err(|e| e.to_string()),
            "check-copy.json" => CheckInput::from_json(value).map(|_| ()).map_err(|e| e.to_string()),
            "share-copy.json" => ShareRequest::from_json(value).map(|_| ()).map_err(|e| e.to_string()),
            "restore-drill-plan.json" => DrillRequest::from_json(value)
                .map(|request| assert_eq!(request, DrillRequest::Plan {}))
                .map_err(|e| e.to_string()),
            _ => StartCopyRequest::read(value)
                .and_then(|request| request.parse(&HOME))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
        seen += 1;
    }
    assert_eq!(seen, 10, "a new file in events/ needs a case here");
}

#[tokio::test]
async fn a_backup_created_event_starts_one_tracked_copy_per_destination() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));

    let summary = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();

    let started: Vec<&str> = summary.started.iter().map(|s| s.execution_name.as_str()).collect();
    assert_eq!(
        started,
        vec!["backup-4kuraxsqetz-to-us-west-2-0", "backup-4kuraxsqetz-to-eu-west-1-0"]
    );
    let executions = svc.executions.executions.lock().unwrap();
    let (input, _) = &executions["backup-4kuraxsqetz-to-us-west-2-0"];
    assert_eq!(
        input,
        r#"{"sourceBackupId":"backup-4kuraxsqetz","sourceClusterId":"cluster-kzlczlspnho","sourceRegion":"us-east-1","destinationRegion":"us-west-2","generation":0}"#
    );
    // The copy itself is the execution's first step, not made here.
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("CopyBackupToRegion")));
}

#[tokio::test]
async fn repeated_events_join_the_running_execution_and_count_it_as_a_skip() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));
    let first = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();
    assert_eq!(first.started_count, 2);
    for _ in 0..4 {
        let again = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();
        assert_eq!(again.started_count, 0);
        assert_eq!(count(&again, "ALREADY_TRACKING"), 2);
    }
    assert_eq!(svc.executions.executions.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_closed_execution_without_a_live_copy_moves_the_pair_to_its_next_generation() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));
    for status in ["FAILED", "TIMED_OUT"] {
        let name = format!("backup-4kuraxsqetz-to-us-west-2-{}", svc.executions.names().len());
        svc.executions.closed(&name, status, NOW - 7200);
    }

    let summary = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();

    let started: Vec<&str> = summary.started.iter().map(|s| s.execution_name.as_str()).collect();
    assert_eq!(
        started,
        vec!["backup-4kuraxsqetz-to-us-west-2-2", "backup-4kuraxsqetz-to-eu-west-1-0"]
    );
    let executions = svc.executions.executions.lock().unwrap();
    let (input, _) = &executions["backup-4kuraxsqetz-to-us-west-2-2"];
    assert!(input.ends_with(r#""generation":2}"#), "{input}");
}

#[tokio::test]
async fn sweeps_back_off_then_give_up_and_an_explicit_event_asks_again() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));
    let west = |g: usize| format!("backup-4kuraxsqetz-to-us-west-2-{g}");
    // Two failures, the last 30 minutes ago: the retry waits (1 h after the second failure).
    svc.executions.closed(&west(0), "FAILED", NOW - 9000);
    svc.executions.closed(&west(1), "ABORTED", NOW - 1800);
    let sweep = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!(count(&sweep, "BACKING_OFF"), 1, "{sweep:?}");
    assert_eq!(sweep.started_count, 1); // eu-west-1
    let later = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 1800)
        .await
        .unwrap();
    assert_eq!(later.started[0].execution_name, west(2));

    // Five failures in a row: sweeps give up, loudly, without starting anything.
    for g in 2..5 {
        svc.executions.closed(&west(g), "FAILED", NOW - 100);
    }
    let sweep = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 3600)
        .await
        .unwrap();
    assert_eq!(sweep.started_count, 0);
    assert_eq!(count(&sweep, "GIVEN_UP"), 1);
    let given_up = skip_of(&sweep, "GIVEN_UP");
    assert_eq!(given_up["failedExecutions"], 5);
    assert_eq!(given_up["nextExecutionName"], west(5));

    // The custom event naming the backup always starts one more.
    let asked = invoke(&svc, event_file("backup-created.json"), NOW + 3600)
        .await
        .unwrap();
    assert_eq!(asked.started[0].execution_name, west(5));
    assert_eq!(asked.started_count, 1);
}

#[tokio::test]
async fn a_success_after_failures_resets_the_count() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));
    for g in 0..5 {
        svc.executions
            .closed(&format!("backup-4kuraxsqetz-to-us-west-2-{g}"), "FAILED", NOW - 99_999);
    }
    // The copy was made, then vanished (deleted and gone after 7 days, or lost).
    svc.executions
        .closed("backup-4kuraxsqetz-to-us-west-2-5", "SUCCEEDED", NOW - 99_999);
    let sweep = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!(sweep.started[0].execution_name, "backup-4kuraxsqetz-to-us-west-2-6");
}

#[tokio::test(start_paused = true)]
async fn a_destination_that_cannot_be_listed_fails_retryably_and_spares_the_others() {
    let mut hsm = FakeHsm::with_source(BackupState::Ready, NOW - 60);
    hsm.failing_region = Some(("us-west-2".into(), AwsErrorKind::Throttled));
    let svc = service(hsm);

    let err = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap_err();

    assert_eq!(error_type(err), "Retryable");
    let names: Vec<String> = svc.executions.executions.lock().unwrap().keys().cloned().collect();
    assert_eq!(names, vec!["backup-4kuraxsqetz-to-eu-west-1-0"]);
}

#[tokio::test]
async fn the_sweep_copies_only_ready_originals_inside_the_window() {
    let hsm = FakeHsm::with_source(BackupState::Ready, NOW - 60);
    hsm.add(
        "us-east-1",
        original("backup-oldoldoldol", BackupState::Ready, NOW - 25 * 3600),
    );
    hsm.add(
        "us-east-1",
        original("backup-pendingpend", BackupState::CreateInProgress, NOW),
    );
    let mut copy = original("backup-copycopycop", BackupState::Ready, NOW);
    copy.source_backup = Some("backup-elsewhereel".into());
    hsm.add("us-east-1", copy);
    hsm.add("us-west-2", {
        let mut c = original("backup-livecopyliv", BackupState::Ready, NOW);
        c.source_backup = Some(SOURCE.into());
        c.cluster_id = None;
        c
    });
    let svc = service(hsm);

    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();

    // READY ones inside the window only (this fake stops exactly at the window's start).
    assert_eq!(summary.examined, 2);
    assert_eq!(
        wire(&summary.skipped_counts),
        json!({"IS_A_COPY": 1, "ALREADY_COPIED": 1})
    );
    let started: Vec<&str> = summary.started.iter().map(|s| s.execution_name.as_str()).collect();
    assert_eq!(started, vec!["backup-4kuraxsqetz-to-eu-west-1-0"]);
}

#[tokio::test]
async fn a_named_backup_that_is_not_ready_is_skipped_with_its_state() {
    let svc = service(FakeHsm::with_source(BackupState::CreateInProgress, NOW));
    let summary = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();
    assert_eq!(
        wire(&summary.skipped),
        json!([{"sourceBackupId": SOURCE, "destinationRegion": null, "reason": "NOT_READY", "state": "CREATE_IN_PROGRESS"}])
    );
    assert!(summary.started.is_empty());
}

#[tokio::test]
async fn a_cluster_event_lists_that_clusters_ready_backups() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW - 60));
    let summary = invoke(&svc, event_file("cloudtrail-create-hsm.json"), NOW)
        .await
        .unwrap();
    assert_eq!(summary.origin, "CloudTrail CreateHsm");
    assert_eq!(summary.started.len(), 2);
}

#[tokio::test]
async fn ignored_and_malformed_events_make_no_aws_call() {
    let svc = service(FakeHsm::with_source(BackupState::Ready, NOW));

    let ignored = invoke(&svc, event_file("cloudtrail-copy-backup-to-region.json"), NOW)
        .await
        .unwrap();
    assert!(ignored.ignored.as_deref().unwrap().contains("CopyBackupToRegion"));

    let malformed = [
        json!(null),
        json!({"detail-type": "CloudHSM Backup Created", "source": "me", "detail": {"backupId": "backup-!!"}}),
        json!({"detail-type": "Something Else", "source": "me", "detail": {}}),
        json!({"action": "copy", "job": {"sourceBackupId": SOURCE}, "attempt": 1}),
        json!({"action": "delete", "job": {}, "attempt": 1}),
    ];
    for payload in malformed {
        let err = invoke(&svc, payload.clone(), NOW).await.unwrap_err();
        assert_eq!(error_type(err), "InvalidInput", "{payload}");
    }
    assert_eq!(svc.backups.calls(), Vec::<String>::new());
    assert!(svc.executions.starts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn excluded_and_untagged_clusters_are_skipped_for_events_and_sweeps() {
    let mut hsm = FakeHsm::with_source(BackupState::Ready, NOW - 60);
    hsm.add("us-east-1", {
        let mut b = original("backup-othercluste", BackupState::Ready, NOW - 60);
        b.cluster_id = Some("cluster-othercluste".into());
        b
    });
    hsm.clusters = vec![
        Cluster::tagged(CLUSTER, &[("dr-copy", "true")]),
        Cluster::tagged("cluster-othercluste", &[("dr-copy", "false")]),
    ];
    let mut svc = service(hsm);
    svc.config.selection = ClusterSelection::parse("", "cluster-gonegonegon", "dr-copy=true").unwrap();

    let sweep = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();

    let started: Vec<&str> = sweep.started.iter().map(|s| s.source_backup_id.as_str()).collect();
    assert_eq!(started, vec![SOURCE, SOURCE]);
    assert_eq!(wire(&sweep.skipped_counts), json!({"CLUSTER_NOT_SELECTED": 1}));
    assert_eq!(
        wire(&sweep.skipped)[0]["detail"],
        "cluster lacks the selector tag dr-copy"
    );
    assert_eq!(sweep.unknown_cluster_ids, vec!["cluster-gonegonegon"]);

    svc.config.selection = ClusterSelection::parse("", CLUSTER, "").unwrap();
    let event = invoke(&svc, event_file("backup-created.json"), NOW).await.unwrap();
    assert_eq!(wire(&event.skipped)[0]["detail"], "in EXCLUDE_CLUSTERS");
    assert!(event.started.is_empty());
}

/// A source backup taken `age_days` ago and its READY copy in us-west-2, made by this tool.
fn copied_backup(hsm: &FakeHsm, source_id: &str, copy_id: &str, age_days: i64) {
    let created = NOW - age_days * 86_400;
    hsm.add("us-east-1", original(source_id, BackupState::Ready, created));
    hsm.add("us-west-2", {
        let mut c = original(copy_id, BackupState::Ready, created);
        c.cluster_id = None;
        c.source_backup = Some(source_id.into());
        c.source_region = Some("us-east-1".into());
        c.source_cluster = Some(CLUSTER.into());
        c.tags = vec![
            (TAG_SOURCE_REGION.into(), "us-east-1".into()),
            (TAG_SOURCE_BACKUP.into(), source_id.into()),
            (TAG_SOURCE_CLUSTER.into(), CLUSTER.into()),
        ];
        c
    });
}

fn pruning_service(
    hsm: FakeHsm,
    retention_days: u32,
) -> StartCopy<FakeHsm, FakeSfn, FakeParameters, FakeBus, FakeRam, FakeRecovery> {
    let mut svc = service(hsm);
    svc.config.destination_regions = vec!["us-west-2".into()];
    svc.config.prune = PrunePolicy {
        retention_days,
        keep_newest: 0,
        dry_run: false,
    };
    svc
}

#[tokio::test]
async fn the_hourly_sweep_reads_only_the_window_and_leaves_pruning_to_the_pruning_run() {
    let hsm = FakeHsm::default();
    copied_backup(&hsm, SOURCE, "backup-newcopynewc", 0);
    copied_backup(&hsm, "backup-oldoldoldol", "backup-oldcopyoldc", 5);
    let svc = pruning_service(hsm, 2);

    let sweep = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert!(
        sweep.pruned.is_empty() && wire(&sweep).get("pruned").is_none(),
        "{sweep:?}"
    );
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("DeleteBackup")));

    let run = invoke(&svc, json!({"action": "prune"}), NOW).await.unwrap();
    assert_eq!(run.origin, "Prune Schedule");
    assert_eq!(
        wire(&run.pruned),
        json!([{"backupId": "backup-oldcopyoldc", "destinationRegion": "us-west-2", "sourceClusterId": CLUSTER, "reason": "older than 2 days"}])
    );
    assert!(
        svc.backups
            .calls()
            .contains(&"DeleteBackup us-west-2 backup-oldcopyoldc".to_string())
    );
    // It is a sweep too: nothing lacks a copy, so nothing starts.
    assert!(run.started.is_empty());
}

#[tokio::test]
async fn the_daily_deep_run_finds_what_an_early_stopping_hourly_read_missed_even_with_pruning_off() {
    let mut hsm = FakeHsm::with_source(BackupState::Ready, NOW - 3600);
    hsm.missed_by_windowed_reads = vec![SOURCE.into()];
    let svc = pruning_service(hsm, 0);

    let hourly = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!(hourly.started_count, 0);

    let daily = invoke(&svc, json!({"action": "prune"}), NOW).await.unwrap();
    assert!(daily.ignored.is_none(), "{daily:?}");
    assert_eq!(daily.started[0].execution_name, "backup-4kuraxsqetz-to-us-west-2-0");
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("DeleteBackup")));
    // The source is read whole; the destination only for the window's copies, by source id.
    let queries = svc.backups.queries.lock().unwrap().clone();
    assert_eq!(
        queries,
        vec!["us-east-1 AllReady since", "us-east-1 AllReady", "us-west-2 CopiesOf"]
    );
}

#[tokio::test]
async fn a_malformed_pruning_request_is_invalid_input_and_calls_nothing() {
    let svc = pruning_service(FakeHsm::default(), 2);
    for payload in [
        json!({"action": "prune", "regions": ["us-west-2"]}),
        json!({"action": "Prune"}),
    ] {
        let err = invoke(&svc, payload, NOW).await.unwrap_err();
        assert_eq!(error_type(err), "InvalidInput");
    }
    assert!(svc.backups.calls().is_empty());
}

#[tokio::test]
async fn a_first_sweep_starts_a_few_executions_at_a_time_and_reports_them_in_plan_order() {
    let hsm = FakeHsm::default();
    let ids: Vec<String> = (0..60).map(|i| format!("backup-{i:0>2}abcdefghij")).collect();
    for (i, id) in ids.iter().enumerate() {
        hsm.add("us-east-1", original(id, BackupState::Ready, NOW - 60 * i as i64));
    }
    let svc = service(hsm);

    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();

    let started: Vec<&str> = summary.started.iter().map(|s| s.execution_name.as_str()).collect();
    // The response lists the first 100 and counts them all (a Lambda response is at most 6 MB).
    assert_eq!(started.len(), MAX_LISTED);
    assert_eq!(summary.started_count, 120);
    let names: Vec<String> = svc.executions.executions.lock().unwrap().keys().cloned().collect();
    assert_eq!(names.len(), 120);
    // Reported in plan order (backup by backup, region by region), whatever order they finished in.
    let planned: Vec<String> = ids
        .iter()
        .flat_map(|id| ["us-west-2", "eu-west-1"].map(|r| format!("{id}-to-{r}-0")))
        .collect();
    assert_eq!(started, planned[..MAX_LISTED]);
    assert_eq!(svc.executions.most_in_flight.load(Ordering::SeqCst), START_CONCURRENCY);
}

#[tokio::test]
async fn a_sweep_keeps_at_most_max_copies_in_flight_per_region_and_defers_the_rest() {
    let hsm = FakeHsm::default();
    let ids: Vec<String> = (0..5).map(|i| format!("backup-{i:0>2}abcdefghij")).collect();
    for (i, id) in ids.iter().enumerate() {
        hsm.add("us-east-1", original(id, BackupState::Ready, NOW - 60 * i as i64));
    }
    // us-west-2 is still making a copy of the first backup: it counts against the limit.
    hsm.add("us-west-2", {
        let mut c = original("backup-inprogressin", BackupState::CreateInProgress, NOW);
        c.source_backup = Some(ids[0].clone());
        c
    });
    let mut svc = service(hsm);
    svc.config.max_copies_in_flight = 3;
    // A given-up pair takes no slot.
    for g in 0..5 {
        svc.executions
            .closed(&format!("{}-to-eu-west-1-{g}", ids[1]), "FAILED", NOW - 99_999);
    }

    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();

    let started: Vec<&str> = summary.started.iter().map(|s| s.execution_name.as_str()).collect();
    let west: Vec<&&str> = started.iter().filter(|n| n.contains("us-west-2")).collect();
    let east: Vec<&&str> = started.iter().filter(|n| n.contains("eu-west-1")).collect();
    assert_eq!((west.len(), east.len()), (2, 3), "{started:?}");
    assert_eq!(count(&summary, "DEFERRED"), 3, "{summary:?}");
    assert_eq!(count(&summary, "GIVEN_UP"), 1);
    assert_eq!(summary.failed_count, 0);
    let deferred = skip_of(&summary, "DEFERRED");
    assert_eq!(deferred["maxCopiesInFlight"], 3);

    // Running executions count too: with the first sweep's still running, the next sweep may
    // start one more in us-west-2 (2 running, 1 copy in progress listed: 2 < 3) and none in
    // eu-west-1 (3 running). Once a region's budget is spent its other pairs are deferred
    // without a look (running or given up alike; in us-west-2 some may be looked at first, as
    // starts run 8 at a time): the 3 other pairs of us-west-2 and all 5 of eu-west-1.
    let next = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 3600)
        .await
        .unwrap();
    assert_eq!(next.started_count, 1, "{:?}", next.started);
    let counts = &next.skipped_counts;
    assert_eq!(
        count(&next, "DEFERRED") + count(&next, "ALREADY_TRACKING"),
        8,
        "{counts:?}"
    );
    assert!(count(&next, "DEFERRED") >= 5, "{counts:?}");
    // Once they have finished with their copies made, the two never started start.
    for (name, (_, status)) in svc.executions.executions.lock().unwrap().iter_mut() {
        if *status == ExecutionStatus::Running {
            *status = ExecutionStatus::Closed {
                status: "SUCCEEDED".into(),
                stopped_at: Some(NOW),
            };
            let (backup, rest) = name.split_once("-to-").unwrap();
            let region = rest.rsplit_once('-').unwrap().0;
            let mut copy = original(&format!("backup-copyof{}", &backup[7..13]), BackupState::Ready, NOW);
            copy.source_backup = Some(backup.to_owned());
            svc.backups.add(region, copy);
        }
    }
    let last = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 7200)
        .await
        .unwrap();
    assert_eq!(last.started_count, 2, "{:?}", last.started);
    assert_eq!(last.skipped_counts.get("DEFERRED"), None);
}

#[tokio::test(start_paused = true)]
async fn a_pruning_run_that_cannot_list_a_destination_fails_even_with_nothing_to_copy() {
    // Nothing is in the window (no backup at all), so no backup's copy is looked up: the only
    // reason to list the region is pruning, and its failure must not pass as a clean run.
    let hsm = FakeHsm {
        failing_region: Some(("us-west-2".into(), AwsErrorKind::Throttled)),
        ..FakeHsm::default()
    };
    let svc = pruning_service(hsm, 2);
    let err = invoke(&svc, json!({"action": "prune"}), NOW).await.unwrap_err();
    assert_eq!(error_type(err), "Retryable");
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("DeleteBackup")));
}

/// A sweep over one READY backup already copied to both destinations, keeping restore kits.
fn kit_service(cluster_mode: &str) -> StartCopy<FakeHsm, FakeSfn, FakeParameters, FakeBus, FakeRam, FakeRecovery> {
    let hsm = FakeHsm::with_source(BackupState::Ready, NOW - 3600);
    for region in ["us-west-2", "eu-west-1"] {
        hsm.add(
            region,
            kit_copy(&format!("backup-{}copyxxxxx", &region[..2]), SOURCE, NOW - 3600),
        );
    }
    let mut hsm = hsm;
    hsm.clusters = vec![Cluster {
        mode: Some(cluster_mode.into()),
        certificates: [(
            "ClusterCertificate".to_owned(),
            "-----BEGIN CERTIFICATE-----\nMIIB".to_owned(),
        )]
        .into(),
        ..Cluster::tagged(CLUSTER, &[])
    }];
    let mut svc = service(hsm);
    svc.config.restore_kit = Some(KitSettings {
        prefix: "/cloudhsm-backup-copy/test".into(),
        customer_ca_certificate: Some("ssm:/pki/customer-ca".into()),
    });
    svc
}

fn kit_copy(id: &str, source: &str, created_at: i64) -> Backup {
    Backup::original(id, None, BackupState::Ready, Some(created_at))
        .copied_from(source, "us-east-1", Some(CLUSTER))
        .of_hsm("hsm2m.medium", "FIPS")
}

const KIT: &str = "/cloudhsm-backup-copy/test/us-east-1/cluster-kzlczlspnho";

fn stored_kit(
    svc: &StartCopy<FakeHsm, FakeSfn, FakeParameters, FakeBus, FakeRam, FakeRecovery>,
    region: &str,
) -> RestoreKit {
    serde_json::from_str(&svc.parameters.get(region, KIT).unwrap()).unwrap()
}

#[tokio::test]
async fn sweeps_keep_each_destinations_restore_kit_current_and_write_only_changes() {
    let svc = kit_service("FIPS");
    let first = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!(wire(&first.restore_kit_counts), json!({"WRITTEN": 2}));
    assert_eq!(first.mode_mismatches, 0);
    let kit = stored_kit(&svc, "us-west-2");
    assert_eq!(
        (
            kit.backup_id.as_str(),
            kit.source_backup_id.as_deref(),
            kit.destination_region.as_str()
        ),
        ("backup-uscopyxxxxx", Some(SOURCE), "us-west-2")
    );
    assert_eq!(
        (kit.hsm_type.as_deref(), kit.mode.as_deref()),
        (Some("hsm2m.medium"), Some("FIPS"))
    );
    assert_eq!(kit.source_cluster_mode.as_deref(), Some("FIPS"));
    assert!(
        kit.cluster_certificate
            .as_deref()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(kit.customer_ca_certificate.as_deref(), Some("ssm:/pki/customer-ca"));
    assert_eq!(stored_kit(&svc, "eu-west-1").backup_id, "backup-eucopyxxxxx");
    // A sweep describes every cluster once for the kits, even with no selection configured.
    assert_eq!(
        svc.backups
            .calls()
            .iter()
            .filter(|c| c.starts_with("DescribeClusters"))
            .count(),
        1
    );

    let again = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    assert_eq!(wire(&again.restore_kit_counts), json!({"CURRENT": 2}));
    assert_eq!(svc.parameters.puts().len(), 2, "nothing rewritten");

    // A newer backup whose copy is READY in us-west-2: that kit moves on, the other stays.
    svc.backups.add(
        "us-east-1",
        original("backup-newersourcex", BackupState::Ready, NOW - 60),
    );
    svc.backups.add(
        "us-west-2",
        kit_copy("backup-newercopyxxx", "backup-newersourcex", NOW - 60),
    );
    let newer = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 120)
        .await
        .unwrap();
    assert_eq!(wire(&newer.restore_kit_counts), json!({"WRITTEN": 1, "CURRENT": 1}));
    assert_eq!(stored_kit(&svc, "us-west-2").backup_id, "backup-newercopyxxx");
    assert_eq!(stored_kit(&svc, "eu-west-1").backup_id, "backup-eucopyxxxxx");
}

#[tokio::test]
async fn a_copy_of_another_mode_than_its_cluster_is_reported() {
    let svc = kit_service("NON_FIPS");
    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!(summary.mode_mismatches, 2);
    assert!(summary.restore_kits.iter().all(|k| k.mode_matches == Some(false)));
    // The kit still says what the copy is: a restore must use the copy's own mode.
    assert_eq!(stored_kit(&svc, "us-west-2").mode.as_deref(), Some("FIPS"));
    // Announced once per destination, when a kit first names the copy.
    let events = svc.events.details();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["problem"] == "MODE_MISMATCH" && e["copyMode"] == "FIPS" && e["clusterMode"] == "NON_FIPS")
    );
    assert_eq!(
        svc.events.put.lock().unwrap()[0].detail_type,
        "CloudHSM DR Readiness Failed"
    );
    invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    assert_eq!(svc.events.details().len(), 2, "not again while the kit is current");
}

#[tokio::test]
async fn a_mismatch_that_cannot_be_announced_is_announced_by_the_next_sweep() {
    let mut svc = kit_service("NON_FIPS");
    svc.events.failing = Some(AwsErrorKind::Throttled);
    let first = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    // The kits are written all the same, marked as owing their announcement.
    assert_eq!(wire(&first.restore_kit_counts), json!({"WRITTEN": 2}));
    assert_eq!(stored_kit(&svc, "us-west-2").mode_mismatch_announced, Some(false));
    svc.events.failing = None;
    let second = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    assert_eq!(svc.events.details().len(), 2);
    assert_eq!(wire(&second.restore_kit_counts), json!({"WRITTEN": 2}));
    assert_eq!(stored_kit(&svc, "us-west-2").mode_mismatch_announced, Some(true));
    let third = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 120)
        .await
        .unwrap();
    assert_eq!(wire(&third.restore_kit_counts), json!({"CURRENT": 2}));
    assert_eq!(svc.events.details().len(), 2, "announced once");
}

#[tokio::test]
async fn a_deleted_clusters_kit_keeps_its_certificate_and_mode() {
    let mut svc = kit_service("FIPS");
    invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    let before = stored_kit(&svc, "us-west-2");
    svc.backups.clusters.clear();
    let after = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    assert_eq!(wire(&after.restore_kit_counts), json!({"CURRENT": 2}));
    assert_eq!(stored_kit(&svc, "us-west-2"), before);
}

// Paused: the throttled writes' backoff passes at once.
#[tokio::test(start_paused = true)]
async fn a_kit_that_cannot_be_stored_is_announced_and_reported_not_a_failed_run() {
    for kind in [AwsErrorKind::Throttled, AwsErrorKind::AccessDenied] {
        let mut svc = kit_service("FIPS");
        svc.parameters.failing = Some(kind);
        // The copies are fine: the run succeeds, so its retries and alarms stay about copies.
        let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
        assert_eq!(wire(&summary.restore_kit_counts), json!({"FAILED": 2}));
        assert!(
            summary
                .restore_kits
                .iter()
                .all(|k| k.error.as_deref().is_some_and(|e| e.contains("injected")))
        );
        assert_eq!(summary.failed_count, 0);
        let events = svc.events.details();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            events
                .iter()
                .all(|e| e["problem"] == "KIT_NOT_STORED" && e["error"].as_str().unwrap().contains("injected"))
        );
    }
}

#[tokio::test]
async fn without_kit_settings_nothing_is_kept_and_no_cluster_is_described() {
    let mut svc = kit_service("FIPS");
    svc.config.restore_kit = None;
    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert!(summary.restore_kits.is_empty() && svc.parameters.puts().is_empty());
    assert!(!svc.backups.calls().iter().any(|c| c.starts_with("DescribeClusters")));
}

#[tokio::test]
async fn the_copy_guard_marks_the_newest_copy_and_releases_only_its_own_superseded_marks() {
    let mut svc = kit_service("FIPS");
    svc.config.guard_newest_copy = true;
    invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert!(svc.backups.in_region("us-west-2").iter().all(|b| b.never_expires));
    assert_eq!(
        stored_kit(&svc, "us-west-2").guarded_backup_ids,
        vec!["backup-uscopyxxxxx"]
    );
    // A newer backup's copy arrives; someone marked an old copy themselves.
    svc.backups
        .add("us-east-1", original("backup-newersource", BackupState::Ready, NOW));
    svc.backups
        .add("us-west-2", kit_copy("backup-usnewerxxxx", "backup-newersource", NOW));
    let mut theirs = kit_copy("backup-theirsxxxxx", SOURCE, NOW - 7200);
    theirs.never_expires = true;
    svc.backups.add("us-west-2", theirs);
    invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    let marked = |svc: &StartCopy<FakeHsm, FakeSfn, FakeParameters, FakeBus, FakeRam, FakeRecovery>, id: &str| {
        svc.backups
            .in_region("us-west-2")
            .iter()
            .find(|b| b.id == id)
            .unwrap()
            .never_expires
    };
    assert!(
        marked(&svc, "backup-usnewerxxxx") && !marked(&svc, "backup-uscopyxxxxx") && marked(&svc, "backup-theirsxxxxx")
    );
    assert_eq!(
        stored_kit(&svc, "us-west-2").guarded_backup_ids,
        vec!["backup-usnewerxxxx"]
    );
    // Turned off, the sweeps release the marks the stack set, and only those.
    svc.config.guard_newest_copy = false;
    invoke(&svc, event_file("scheduled-sweep.json"), NOW + 120)
        .await
        .unwrap();
    assert!(!marked(&svc, "backup-usnewerxxxx") && marked(&svc, "backup-theirsxxxxx"));
    assert!(stored_kit(&svc, "us-west-2").guarded_backup_ids.is_empty());
}

#[tokio::test]
async fn a_sweep_shares_the_ready_copies_the_share_does_not_hold() {
    let hsm = FakeHsm::with_source(BackupState::Ready, NOW - 3600);
    let arn = |region: &str| {
        format!(
            "arn:aws:cloudhsm:{region}:123456789012:backup/backup-{}copyxxxxx",
            &region[..2]
        )
    };
    for region in ["us-west-2", "eu-west-1"] {
        let copy = kit_copy(&format!("backup-{}copyxxxxx", &region[..2]), SOURCE, NOW - 3600);
        hsm.add(
            region,
            Backup {
                arn: Some(arn(region)),
                ..copy
            },
        );
    }
    let mut svc = service(hsm);
    svc.config.sharing = Some(Recipients {
        accounts: vec!["210987654321".into()],
        stack_name: "dr".into(),
        verifier_role: None,
    });
    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert_eq!((summary.reshared_count, summary.sharing_failed_regions.len()), (2, 0));
    // The share is made in each region with the account; the copy is associated.
    let calls = svc.shares.calls();
    assert_eq!(calls.iter().filter(|c| c.starts_with("CreateResourceShare")).count(), 2);
    assert!(calls.contains(&format!("AssociateResourceShare [\"{}\"] []", arn("us-west-2"))));
    // Once held (here, still settling), it is not asked for again.
    let again = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    assert_eq!(again.reshared_count, 0);
    // Revoked behind the stack's back: shared again by the next sweep.
    svc.shares.settle(None);
    svc.shares.set(&arn("us-west-2"), AssociationStatus::Disassociated);
    let repaired = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 120)
        .await
        .unwrap();
    assert_eq!(repaired.reshared_count, 1);
    assert_eq!(
        svc.shares
            .calls()
            .iter()
            .filter(|c| c.starts_with("CreateResourceShare"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_sweep_reports_a_newest_copy_a_recovery_account_does_not_see() {
    let hsm = FakeHsm::with_source(BackupState::Ready, NOW - 3600);
    for region in ["us-west-2", "eu-west-1"] {
        let id = format!("backup-{}copyxxxxx", &region[..2]);
        let copy = kit_copy(&id, SOURCE, NOW - 3600);
        hsm.add(
            region,
            Backup {
                arn: Some(format!("arn:aws:cloudhsm:{region}:123456789012:backup/{id}")),
                ..copy
            },
        );
    }
    let mut svc = service(hsm);
    svc.config.restore_kit = Some(KitSettings {
        prefix: "/cloudhsm-backup-copy/test".into(),
        customer_ca_certificate: None,
    });
    svc.config.sharing = Some(Recipients {
        accounts: vec!["210987654321".into()],
        stack_name: "dr".into(),
        verifier_role: Some("dr-recovery-verifier".into()),
    });
    // The first sweep shares both copies: what it just changed is checked next time.
    invoke(&svc, event_file("scheduled-sweep.json"), NOW).await.unwrap();
    assert!(svc.recovery.calls.lock().unwrap().is_empty());
    assert_eq!(stored_kit(&svc, "us-west-2").recovery_check, None);
    svc.shares.settle(None);
    svc.recovery.sees("210987654321", "us-west-2", &["backup-uscopyxxxxx"]);
    svc.recovery.sees("210987654321", "eu-west-1", &[]);
    let summary = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 60)
        .await
        .unwrap();
    let unseen: Vec<(&str, &str)> = summary
        .not_seen_by_recovery
        .iter()
        .map(|u| (u.destination_region.as_str(), u.backup_id.as_str()))
        .collect();
    assert_eq!(unseen, vec![("eu-west-1", "backup-eucopyxxxxx")]);
    assert!(summary.sharing_failed_regions.is_empty());
    let announced = svc.events.details();
    assert!(
        announced
            .iter()
            .any(|d| d["problem"] == "NOT_SEEN_BY_RECOVERY" && d["destinationRegion"] == "eu-west-1")
    );
    // The kits keep what the recovery account sees of their copy, for dr-status.
    let check = |region| stored_kit(&svc, region).recovery_check.map(|c| c.label());
    assert_eq!(check("us-west-2").as_deref(), Some("seen by 210987654321"));
    assert_eq!(check("eu-west-1").as_deref(), Some("NOT SEEN by 210987654321"));
    // A role the sweep cannot assume (or list with) is a failed share run, not a silent one;
    // the kits keep the last check.
    svc.recovery.seen.lock().unwrap().clear();
    let failed = invoke(&svc, event_file("scheduled-sweep.json"), NOW + 120)
        .await
        .unwrap();
    assert_eq!(failed.sharing_failed_regions.len(), 2);
    assert_eq!(check("eu-west-1").as_deref(), Some("NOT SEEN by 210987654321"));
}
