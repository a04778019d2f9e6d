//! Hostile input: property-based tests over everything the functions parse. Whatever arrives,
//! no panic; a payload that is not understood is a typed `InvalidInput` error; and such a
//! payload makes no AWS call.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::Mutex;

use support::invoke;

use cloudhsm_backup_copy::backup::Backup;
use cloudhsm_backup_copy::config::{
    CheckCopyConfig, CopyStepConfig, RestoreDrillConfig, ShareCopyConfig, StartCopyConfig,
};
use cloudhsm_backup_copy::drill::DrillSubnets;
use cloudhsm_backup_copy::error::{AwsError, Classified, MAX_MESSAGE_CHARS, diagnostic};
use cloudhsm_backup_copy::handlers::check_copy::CheckCopy;
use cloudhsm_backup_copy::handlers::copy_step::CopyStep;
use cloudhsm_backup_copy::handlers::restore_drill::RestoreDrill;
use cloudhsm_backup_copy::handlers::share_copy::ShareCopy;
use cloudhsm_backup_copy::handlers::start_copy::StartCopy;
use cloudhsm_backup_copy::ports::{
    Announcement, AssociationKind, BackupApi, BackupQuery, ClusterApi, EventPublisher, ExecutionApi, ExecutionStatus,
    ParameterStore, RecoveryView, Restore, ShareApi, StartOutcome,
};
use cloudhsm_backup_copy::scope::Scope;
use cloudhsm_backup_copy::selection::Cluster;
use cloudhsm_backup_copy::sharing::Association;
use cloudhsm_backup_copy::tags::TagPolicy;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_795_665_600;

/// Counts every call; answers with nothing found.
#[derive(Default)]
struct Counting {
    calls: Mutex<usize>,
}

impl Counting {
    fn count(&self) {
        *self.calls.lock().unwrap() += 1;
    }
    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl BackupApi for Counting {
    async fn describe_backups(&self, _: &str, _: BackupQuery<'_>) -> Result<Vec<Backup>, AwsError> {
        self.count();
        Ok(vec![])
    }
    async fn copy_backup_to_region(&self, _: &str, _: &str, _: &str, _: &[(String, String)]) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
    async fn modify_backup_attributes(&self, _: &str, _: &str, _: bool) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
    async fn delete_backup(&self, _: &str, _: &str) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
    async fn describe_clusters(&self, _: &str, _: Option<&[String]>) -> Result<Vec<Cluster>, AwsError> {
        self.count();
        Ok(vec![])
    }
}

impl EventPublisher for Counting {
    async fn put_events(&self, _: &[Announcement]) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
}

impl ParameterStore for Counting {
    async fn get_parameters(&self, _: &str, _: &[String]) -> Result<HashMap<String, String>, AwsError> {
        self.count();
        Ok(HashMap::new())
    }
    async fn put_parameter(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
}

impl ExecutionApi for Counting {
    async fn start_execution(&self, name: &str, _: &str) -> Result<StartOutcome, AwsError> {
        self.count();
        Ok(StartOutcome::Started {
            execution_arn: name.into(),
        })
    }
    async fn execution_status(&self, _: &str) -> Result<Option<ExecutionStatus>, AwsError> {
        self.count();
        Ok(None)
    }
    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        self.count();
        Ok(Vec::new())
    }
}

impl ClusterApi for Counting {
    async fn create_cluster(&self, _: &str, _: &Restore<'_>) -> Result<String, AwsError> {
        self.count();
        Ok("cluster-drilldrill01".into())
    }
    async fn delete_cluster(&self, _: &str, _: &str) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
}

impl ShareApi for Counting {
    async fn find_shares(&self, _: &str, _: &str, _: (&str, &str)) -> Result<Vec<String>, AwsError> {
        self.count();
        Ok(vec![])
    }
    async fn create_share(&self, _: &str, _: &str, _: (&str, &str), _: &[String], _: &str) -> Result<String, AwsError> {
        self.count();
        Ok("arn:aws:ram:us-west-2:123456789012:resource-share/s".into())
    }
    async fn associations(&self, _: &str, _: &str, _: AssociationKind<'_>) -> Result<Vec<Association>, AwsError> {
        self.count();
        Ok(vec![])
    }
    async fn change(&self, _: &str, _: &str, _: bool, _: &[String], _: &[String]) -> Result<(), AwsError> {
        self.count();
        Ok(())
    }
}

impl RecoveryView for Counting {
    async fn shared_backup_ids(&self, _: &str, _: &str) -> Result<Vec<String>, AwsError> {
        self.count();
        Ok(vec![])
    }
}

fn share_copy() -> ShareCopy<Counting, Counting> {
    ShareCopy {
        backups: Counting::default(),
        shares: Counting::default(),
        config: ShareCopyConfig {
            scope: scope(),
            recovery_accounts: vec!["210987654321".into()],
            stack_name: "dr".into(),
        },
    }
}

fn scope() -> Scope {
    Scope {
        destination_regions: vec!["us-west-2".into()],
        ..support::scope()
    }
}

fn check_copy() -> CheckCopy<Counting> {
    CheckCopy {
        backups: Counting::default(),
        config: CheckCopyConfig { scope: scope() },
    }
}

fn copy_step() -> CopyStep<Counting> {
    CopyStep {
        backups: Counting::default(),
        config: CopyStepConfig {
            scope: scope(),
            tag_policy: TagPolicy::default(),
        },
    }
}

fn start_copy() -> StartCopy<Counting, Counting, Counting, Counting, Counting, Counting> {
    StartCopy {
        backups: Counting::default(),
        executions: Counting::default(),
        parameters: Counting::default(),
        events: Counting::default(),
        shares: Counting::default(),
        recovery: Counting::default(),
        config: StartCopyConfig {
            destination_regions: vec!["us-west-2".into()],
            ..support::start_copy_config()
        },
    }
}

fn restore_drill() -> RestoreDrill<Counting, Counting, Counting, Counting, Counting> {
    RestoreDrill {
        hsm: Counting::default(),
        clusters: Counting::default(),
        executions: Counting::default(),
        parameters: Counting::default(),
        events: Counting::default(),
        config: RestoreDrillConfig {
            source_region: "us-east-1".into(),
            destination_regions: vec!["us-west-2".into()],
            subnets: DrillSubnets::parse("us-west-2=subnet-0a1b2c3d").unwrap(),
            stack_name: "dr".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:dr-restore-drill".into(),
            selection: cloudhsm_backup_copy::selection::ClusterSelection::default(),
            max_drills_per_region: 1,
            record_prefix: "/cloudhsm-backup-copy/dr".into(),
            event_bus_name: "default".into(),
            source_account: "123456789012".into(),
            drill_account: None,
        },
    }
}

fn drill_calls(svc: &RestoreDrill<Counting, Counting, Counting, Counting, Counting>) -> usize {
    svc.hsm.calls() + svc.clusters.calls() + svc.executions.calls() + svc.parameters.calls() + svc.events.calls()
}

/// A drill step the state machine would send, with one job field (or the run) replaced by
/// another value (never the one it had).
fn forged_drill_step() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("sourceRegion"),
        Just("sourceClusterId"),
        Just("destinationRegion"),
        Just("backupId"),
        Just("hsmType"),
        Just("mode"),
        Just("subnetIds"),
        Just("run"),
    ];
    let action = prop_oneof![Just("create"), Just("check"), Just("clean"), Just("finish")];
    (action, field, prop_oneof![bad_id().prop_map(Value::String), any_json()]).prop_map(|(action, field, value)| {
        let mut step = json!({
            "action": action,
            "job": {"sourceRegion": "us-east-1", "sourceClusterId": "cluster-kzlczlspnho", "destinationRegion": "us-west-2",
                    "backupId": "backup-copycopycopy", "hsmType": "hsm2m.medium", "mode": "FIPS", "subnetIds": ["subnet-0a1b2c3d"]},
            "run": "drill.cluster-kzlczlspnho.us-west-2.2026112604",
            "progress": {"startedAt": "2026-11-26T04:00:00Z", "next": "WAIT", "clusterId": "cluster-drilldrill01"},
            "cleanup": {},
            "policy": {"initialWaitSeconds": 1, "maxWaitSeconds": 2, "backoffPercent": 200, "deadlineSeconds": 30, "maxCleanAttempts": 3},
        });
        if action == "finish" {
            step.as_object_mut().unwrap().remove("policy");
        }
        if action == "create" || action == "check" {
            step.as_object_mut().unwrap().remove("cleanup");
        }
        let slot = if field == "run" { &mut step["run"] } else { &mut step["job"][field] };
        let changed = *slot != value;
        *slot = value;
        (step, changed)
    })
    .prop_filter("the value replaced", |(_, changed)| *changed)
    .prop_map(|(step, _)| step)
}

/// Any JSON, including huge strings and deep nesting.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        // Up to about 200 KB, sizes spread over every order of magnitude (most inputs stay
        // small, so the thousands of cases stay quick in a debug build).
        (0u32..=17).prop_map(|e| Value::String("x".repeat((1usize << e) * 3 / 2))),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Ids that look almost right: wrong prefix, wrong length, forbidden characters, injection.
fn bad_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "backup-[2-7a-z]{0,10}",
        "backup-[2-7a-z]{17,40}",
        "backup-[a-z]{5}[0189][a-z]{6}",
        "cluster-[2-7a-z]{11}",
        "[a-z]{1,6}-[2-7a-z]{11}",
        "backup-[a-z]{4}[ /\\\\'\"{}$*]{1,3}[a-z]{6}",
        ".{0,30}",
    ]
    .prop_filter("not a valid backup id", |s| !cloudhsm_backup_copy::ids::is_backup_id(s))
}

/// An envelope from this account and region.
fn at_home(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({"detail-type": detail_type, "source": source, "account": "123456789012", "region": "us-east-1", "detail": detail})
}

/// Valid-looking envelopes from home with one part broken, and payloads meant for the copy step.
fn broken_event() -> impl Strategy<Value = Value> {
    let custom = (bad_id(), any_json()).prop_map(|(id, cluster)| {
        at_home(
            "me",
            "CloudHSM Backup Created",
            json!({"backupId": id, "clusterId": cluster}),
        )
    });
    let wrong_detail = any_json()
        .prop_filter("not an object", |d| !d.is_object())
        .prop_map(|detail| at_home("me", "CloudHSM Backup Created", detail));
    let unknown = (".{0,40}", ".{0,40}").prop_filter("not one of ours", |(s, t)| {
        t != "CloudHSM Backup Created" && !(s == "aws.events" && t == "Scheduled Event") && s != "aws.cloudhsm"
    });
    let unknown = unknown.prop_map(|(source, dt)| at_home(&source, &dt, json!({})));
    let trail = bad_id().prop_map(|id| {
        at_home(
            "aws.cloudhsm",
            "AWS API Call via CloudTrail",
            json!({"eventName": "RestoreBackup", "requestParameters": {"backupId": id}}),
        )
    });
    let nameless = any_json()
        .prop_map(|detail| json!({"detail-type": "CloudHSM Backup Created", "source": "me", "detail": detail}));
    prop_oneof![custom, wrong_detail, unknown, trail, nameless, copy_request()]
}

/// Copy-step payloads with one part broken.
fn copy_request() -> impl Strategy<Value = Value> {
    let step =
        (any_json(), any_json()).prop_map(|(job, attempt)| json!({"action": "copy", "job": job, "attempt": attempt}));
    let step_bad_id = bad_id().prop_map(|id| {
        json!({"action": "copy", "attempt": 1, "job": {"sourceBackupId": id, "sourceClusterId": null,
               "sourceRegion": "us-east-1", "destinationRegion": "us-west-2", "generation": 0}})
    });
    // Well-formed, but a destination, source region or partition this deployment does not serve.
    let elsewhere = prop_oneof![
        Just(("us-east-1", "us-gov-west-1")),
        Just(("us-east-1", "eu-central-1")),
        Just(("us-east-1", "cn-north-1")),
        Just(("eu-west-1", "us-west-2")),
    ]
    .prop_map(|(source, destination)| {
        json!({"action": "copy", "attempt": 1, "job": {"sourceBackupId": "backup-4kuraxsqetz", "sourceClusterId": null,
               "sourceRegion": source, "destinationRegion": destination, "generation": 0}})
    });
    prop_oneof![step, step_bad_id, elsewhere]
}

/// share-copy's input broken (any job, a forged copy id) or outside the deployment.
fn share_request() -> impl Strategy<Value = Value> {
    let any = (any_json(), any_json()).prop_map(|(job, id)| json!({"job": job, "destinationBackupId": id}));
    let job = json!({"sourceBackupId": "backup-4kuraxsqetz", "sourceClusterId": null, "sourceRegion": "us-east-1",
                     "destinationRegion": "us-west-2", "generation": 0});
    let forged_id = {
        let job = job.clone();
        bad_id().prop_map(move |id| json!({"job": job, "destinationBackupId": id}))
    };
    let elsewhere =
        prop_oneof![Just("us-gov-west-1"), Just("eu-central-1"), Just("cn-north-1")].prop_map(move |destination| {
            let mut job = job.clone();
            job["destinationRegion"] = json!(destination);
            json!({"job": job, "destinationBackupId": "backup-lzcmpu5nwui"})
        });
    prop_oneof![any, forged_id, elsewhere]
}

/// The error's type, after checking its message is capped (a hostile payload cannot flood
/// logs, execution history or failure events).
fn error_type(e: impl Classified) -> String {
    let d = diagnostic(&e);
    assert!(
        d.error_message.chars().count() <= MAX_MESSAGE_CHARS + 40,
        "{} characters",
        d.error_message.len()
    );
    d.error_type
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn start_copy_survives_any_json(payload in any_json()) {
        let svc = start_copy();
        match runtime().block_on(invoke(&svc, payload, NOW)) {
            Err(e) => {
                // Arbitrary JSON is never a valid event, so it fails before any call.
                prop_assert_eq!(error_type(e), "InvalidInput");
                prop_assert_eq!(svc.backups.calls() + svc.executions.calls(), 0);
            }
            // Only a foreign or pointless event is accepted, and it is ignored.
            Ok(summary) => {
                prop_assert!(summary.ignored.is_some());
                prop_assert_eq!(svc.backups.calls() + svc.executions.calls(), 0);
            }
        }
    }

    #[test]
    fn start_copy_ignores_events_from_elsewhere(
        account in "[0-9]{12}",
        region in "[a-z]{2}-[a-z]{4,9}-[0-9]",
        detail in any_json(),
    ) {
        prop_assume!(account != "123456789012" || region != "us-east-1");
        let svc = start_copy();
        let mut event = at_home("aws.cloudhsm", "AWS API Call via CloudTrail", detail);
        event["account"] = json!(account);
        event["region"] = json!(region);
        let summary = runtime().block_on(invoke(&svc, event, NOW));
        prop_assert!(summary.is_ok());
        prop_assert!(summary.unwrap().ignored.unwrap().starts_with("event from "));
        prop_assert_eq!(svc.backups.calls() + svc.executions.calls(), 0);
    }

    #[test]
    fn the_copy_step_refuses_broken_or_foreign_requests_without_calling_aws(payload in prop_oneof![copy_request(), any_json()]) {
        let svc = copy_step();
        let err = runtime().block_on(invoke(&svc, payload.clone(), NOW)).err();
        prop_assert!(err.is_some(), "accepted {}", payload);
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(svc.backups.calls(), 0);
    }

    #[test]
    fn start_copy_rejects_broken_events_without_calling_aws(payload in broken_event()) {
        let svc = start_copy();
        let result = runtime().block_on(invoke(&svc, payload.clone(), NOW));
        let err = result.err();
        prop_assert!(err.is_some(), "accepted {}", payload);
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(svc.backups.calls() + svc.executions.calls(), 0);
    }

    #[test]
    fn check_copy_checks_its_times_before_calling_aws(started in ".{0,32}", requested in ".{0,32}") {
        use cloudhsm_backup_copy::time::parse_rfc3339;
        prop_assume!(parse_rfc3339(&started).is_none() || parse_rfc3339(&requested).is_none());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/check-copy.json");
        let mut payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        payload["loop"]["startedAt"] = json!(started);
        payload["copy"]["requestedAt"] = json!(requested);
        let svc = check_copy();
        let err = runtime().block_on(invoke(&svc, payload, NOW)).err();
        prop_assert!(err.is_some());
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(svc.backups.calls(), 0);
    }

    #[test]
    fn share_copy_refuses_broken_or_foreign_requests_without_calling_aws(payload in prop_oneof![share_request(), any_json()]) {
        let svc = share_copy();
        let err = runtime().block_on(invoke(&svc, payload.clone(), NOW)).err();
        prop_assert!(err.is_some(), "accepted {}", payload);
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(svc.backups.calls() + svc.shares.calls(), 0);
    }

    #[test]
    fn check_copy_survives_any_json(payload in any_json()) {
        let svc = check_copy();
        let result = runtime().block_on(invoke(&svc, payload, NOW));
        let err = result.err();
        prop_assert!(err.is_some());
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(svc.backups.calls(), 0);
    }

    #[test]
    fn restore_drill_survives_any_json(payload in any_json()) {
        prop_assume!(payload != json!({"action": "plan"}));
        let svc = restore_drill();
        let err = runtime().block_on(invoke(&svc, payload, NOW)).err();
        prop_assert!(err.is_some());
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(drill_calls(&svc), 0);
    }

    #[test]
    fn restore_drill_refuses_a_drill_it_would_not_plan_without_calling_aws(step in forged_drill_step()) {
        let svc = restore_drill();
        let err = runtime().block_on(invoke(&svc, step.clone(), NOW)).err();
        prop_assert!(err.is_some(), "accepted {}", step);
        prop_assert_eq!(error_type(err.unwrap()), "InvalidInput");
        prop_assert_eq!(drill_calls(&svc), 0);
    }
}
