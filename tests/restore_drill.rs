//! restore-drill over in-memory fakes: planning (orphans, the per-region cap), each step of the
//! drill state machine, and refused requests that make no AWS call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::Mutex;

use cloudhsm_backup_copy::backup::{Backup, BackupState};
use cloudhsm_backup_copy::cluster::Cluster;
use cloudhsm_backup_copy::config::RestoreDrillConfig;
use cloudhsm_backup_copy::drill::{DRILL_RUN_TAG, DRILL_TAG, DrillSubnets};
use cloudhsm_backup_copy::error::{AwsError, AwsErrorKind};
use cloudhsm_backup_copy::handlers::restore_drill::RestoreDrill;
use cloudhsm_backup_copy::ports::{
    BackupApi, BackupQuery, ClusterApi, ExecutionApi, ExecutionStatus, Restore, StartOutcome,
};
use cloudhsm_backup_copy::selection::ClusterSelection;
use serde_json::{Value, json};
use support::{FakeBus, FakeParameters, NOW, invoke};

const SOURCE_CLUSTER: &str = "cluster-kzlczlspnho";
const COPY: &str = "backup-copycopycopy";
const RUN: &str = "drill.cluster-kzlczlspnho.us-west-2.2026112604";

/// CloudHSM clusters and backups per region; CreateCluster and DeleteCluster as the emulator
/// does them (a new cluster is CREATE_IN_PROGRESS and cannot be deleted yet).
#[derive(Default)]
struct FakeClusters {
    clusters: Mutex<HashMap<String, Vec<Cluster>>>,
    backups: HashMap<String, Vec<Backup>>,
    calls: Mutex<Vec<String>>,
    /// CreateCluster fails so.
    refuse_create: Option<(AwsErrorKind, &'static str, &'static str)>,
}

impl FakeClusters {
    fn add(&self, region: &str, cluster: Cluster) {
        self.clusters
            .lock()
            .unwrap()
            .entry(region.into())
            .or_default()
            .push(cluster);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn in_region(&self, region: &str) -> Vec<Cluster> {
        self.clusters.lock().unwrap().get(region).cloned().unwrap_or_default()
    }
    fn set_state(&self, region: &str, id: &str, state: &str) {
        let mut all = self.clusters.lock().unwrap();
        let c = all.get_mut(region).unwrap().iter_mut().find(|c| c.id == id).unwrap();
        c.state = Some(state.into());
    }
}

impl BackupApi for FakeClusters {
    async fn describe_backups(&self, region: &str, _query: BackupQuery<'_>) -> Result<Vec<Backup>, AwsError> {
        self.calls.lock().unwrap().push(format!("DescribeBackups {region}"));
        Ok(self.backups.get(region).cloned().unwrap_or_default())
    }
    async fn copy_backup_to_region(&self, _: &str, _: &str, _: &str, _: &[(String, String)]) -> Result<(), AwsError> {
        unreachable!("drills copy nothing")
    }
    async fn modify_backup_attributes(&self, _: &str, _: &str, _: bool) -> Result<(), AwsError> {
        unreachable!("drills mark no backup")
    }
    async fn delete_backup(&self, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!("drills delete no backup")
    }
    async fn describe_clusters(&self, region: &str, ids: Option<&[String]>) -> Result<Vec<Cluster>, AwsError> {
        self.calls.lock().unwrap().push(format!("DescribeClusters {region}"));
        Ok(self
            .in_region(region)
            .into_iter()
            .filter(|c| ids.is_none_or(|ids| ids.contains(&c.id)))
            .collect())
    }
}

impl ClusterApi for FakeClusters {
    async fn create_cluster(&self, region: &str, restore: &Restore<'_>) -> Result<String, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("CreateCluster {region} {}", restore.backup_id));
        if let Some((kind, code, message)) = self.refuse_create {
            return Err(AwsError::new("CreateCluster", region, kind, Some(code.into()), message));
        }
        let id = format!("cluster-drill{:06}", self.calls.lock().unwrap().len());
        let tags: Vec<(&str, &str)> = restore.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.add(
            region,
            Cluster {
                state: Some("CREATE_IN_PROGRESS".into()),
                source_backup_id: Some(restore.backup_id.into()),
                hsm_type: Some(restore.hsm_type.into()),
                mode: Some(restore.mode.into()),
                ..Cluster::tagged(&id, &tags)
            },
        );
        Ok(id)
    }
    async fn delete_cluster(&self, region: &str, cluster_id: &str) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("DeleteCluster {region} {cluster_id}"));
        let mut all = self.clusters.lock().unwrap();
        let Some(c) = all
            .get_mut(region)
            .and_then(|cs| cs.iter_mut().find(|c| c.id == cluster_id))
        else {
            return Err(AwsError::new(
                "DeleteCluster",
                region,
                AwsErrorKind::NotFound,
                None,
                "no such cluster",
            ));
        };
        if c.state.as_deref() == Some("CREATE_IN_PROGRESS") {
            return Err(AwsError::new(
                "DeleteCluster",
                region,
                AwsErrorKind::InvalidRequest,
                Some("CloudHsmInvalidRequestException".into()),
                format!("Cluster {cluster_id} is CREATE_IN_PROGRESS"),
            ));
        }
        c.state = Some("DELETE_IN_PROGRESS".into());
        Ok(())
    }
}

#[derive(Default)]
struct FakeSfn {
    running: Vec<String>,
    started: Mutex<Vec<(String, String)>>,
}

impl ExecutionApi for FakeSfn {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, AwsError> {
        self.started.lock().unwrap().push((name.into(), input.into()));
        Ok(StartOutcome::Started {
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:drill:{name}"),
        })
    }
    async fn execution_status(&self, _: &str) -> Result<Option<ExecutionStatus>, AwsError> {
        Ok(None)
    }
    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        Ok(self.running.clone())
    }
}

fn config() -> RestoreDrillConfig {
    RestoreDrillConfig {
        source_region: "us-east-1".into(),
        destination_regions: vec!["us-west-2".into(), "eu-west-1".into()],
        subnets: DrillSubnets::parse("us-west-2=subnet-0a1b2c3d").unwrap(),
        stack_name: "dr".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:dr-restore-drill".into(),
        selection: ClusterSelection::default(),
        max_drills_per_region: 1,
        record_prefix: "/cloudhsm-backup-copy/dr".into(),
        event_bus_name: "default".into(),
        source_account: "123456789012".into(),
        drill_account: None,
    }
}

type Drill = RestoreDrill<FakeClusters, FakeClusters, FakeSfn, FakeParameters, FakeBus>;

/// `hsm`: this account's clusters and copies; `clusters`: where drill clusters are made.
fn drill(hsm: FakeClusters, clusters: FakeClusters, running: &[&str]) -> Drill {
    RestoreDrill {
        hsm,
        clusters,
        executions: FakeSfn {
            running: running.iter().map(|s| (*s).to_owned()).collect(),
            ..FakeSfn::default()
        },
        parameters: FakeParameters::default(),
        events: FakeBus::default(),
        config: config(),
    }
}

/// One request through the entry point; its output as JSON.
async fn call(service: &Drill, request: Value, now: i64) -> Value {
    serde_json::to_value(invoke(service, request, now).await.unwrap()).unwrap()
}

fn copy(id: &str, created_at: i64) -> Backup {
    Backup::original(id, None, BackupState::Ready, Some(created_at))
        .copied_from("backup-4kuraxsqetz", "us-east-1", Some(SOURCE_CLUSTER))
        .of_hsm("hsm2m.medium", "FIPS")
}

fn job() -> Value {
    json!({"sourceRegion": "us-east-1", "sourceClusterId": SOURCE_CLUSTER, "destinationRegion": "us-west-2",
           "backupId": COPY, "hsmType": "hsm2m.medium", "mode": "FIPS", "subnetIds": ["subnet-0a1b2c3d"]})
}

fn policy() -> Value {
    json!({"initialWaitSeconds": "1", "maxWaitSeconds": "4", "backoffPercent": "200", "deadlineSeconds": "60",
           "maxCleanAttempts": "3"})
}

fn start() -> Value {
    json!({"startedAt": "2026-11-26T04:00:00.000Z", "next": "WAIT"})
}

fn step(action: &str, extra: Value) -> Value {
    let mut request = json!({"action": action, "job": job(), "run": RUN, "policy": policy(), "progress": start()});
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    request
}

fn drill_cluster(id: &str, run: &str, state: &str) -> Cluster {
    Cluster {
        state: Some(state.into()),
        ..Cluster::tagged(id, &[(DRILL_TAG, "dr"), (DRILL_RUN_TAG, run)])
    }
}

#[tokio::test]
async fn a_plan_deletes_what_earlier_drills_left_and_starts_one_drill_per_cluster_and_region() {
    let hsm = FakeClusters {
        backups: HashMap::from([(
            "us-west-2".to_owned(),
            vec![copy("backup-olderolder1", NOW - 7200), copy(COPY, NOW - 3600)],
        )]),
        ..FakeClusters::default()
    };
    hsm.add("us-east-1", Cluster::tagged(SOURCE_CLUSTER, &[]));
    let clusters = FakeClusters::default();
    clusters.add(
        "us-west-2",
        drill_cluster("cluster-leftbehind1", "drill.x.us-west-2.2026112503", "ACTIVE"),
    );
    clusters.add(
        "us-west-2",
        drill_cluster(
            "cluster-stillcreat1",
            "drill.y.us-west-2.2026112503",
            "CREATE_IN_PROGRESS",
        ),
    );
    let service = drill(hsm, clusters, &[]);
    let summary = call(&service, json!({"action": "plan"}), NOW).await;
    assert_eq!(summary["started"], json!([RUN]));
    assert_eq!(summary["orphansDeleted"], json!([["us-west-2", "cluster-leftbehind1"]]));
    assert_eq!(summary["orphansWaiting"][0][1], "cluster-stillcreat1");
    let started = service.executions.started.lock().unwrap().clone();
    let input: Value = serde_json::from_str(&started[0].1).unwrap();
    assert_eq!(input, job());
}

#[tokio::test]
async fn a_region_with_a_drill_running_waits_for_it() {
    let hsm = FakeClusters {
        backups: HashMap::from([("us-west-2".to_owned(), vec![copy(COPY, NOW - 3600)])]),
        ..FakeClusters::default()
    };
    hsm.add("us-east-1", Cluster::tagged(SOURCE_CLUSTER, &[]));
    hsm.add("us-east-1", Cluster::tagged("cluster-otherother1", &[]));
    let running = "drill.cluster-otherother1.us-west-2.2026112603";
    let clusters = FakeClusters::default();
    clusters.add(
        "us-west-2",
        drill_cluster("cluster-runningdr1", running, "CREATE_IN_PROGRESS"),
    );
    let service = drill(hsm, clusters, &[running]);
    let summary = call(&service, json!({"action": "plan"}), NOW).await;
    assert_eq!(summary["started"], json!([]));
    assert_eq!(summary["orphansDeleted"], json!([]));
    let skipped = summary["skipped"].as_array().unwrap();
    assert!(
        skipped.contains(&json!([SOURCE_CLUSTER, "us-west-2", "REGION_BUSY"])),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&json!(["cluster-otherother1", "us-west-2", "NO_READY_COPY"])),
        "{skipped:?}"
    );
}

#[tokio::test]
async fn a_drill_creates_checks_cleans_and_records_its_success() {
    let service = drill(FakeClusters::default(), FakeClusters::default(), &[]);
    let progress = call(&service, step("create", json!({})), NOW).await;
    assert_eq!(
        (progress["next"].as_str(), progress["waitSeconds"].as_u64()),
        (Some("WAIT"), Some(1))
    );
    let cluster_id = progress["clusterId"].as_str().unwrap().to_owned();
    let created = &service.clusters.in_region("us-west-2")[0];
    assert!(created.tags.contains(&(DRILL_RUN_TAG.to_owned(), RUN.to_owned())));
    // A retried create (its answer lost) adopts the cluster instead of making a second.
    let again = call(&service, step("create", json!({})), NOW).await;
    assert_eq!(again["clusterId"], cluster_id.as_str());
    assert_eq!(service.clusters.in_region("us-west-2").len(), 1);

    let checked = call(&service, step("check", json!({"progress": progress})), NOW + 5).await;
    assert_eq!(
        (checked["next"].as_str(), checked["waitSeconds"].as_u64()),
        (Some("WAIT"), Some(2))
    );
    // Being created: clean-up cannot delete it yet, and says it will look again.
    let cleanup = call(
        &service,
        step("clean", json!({"progress": checked, "cleanup": {}})),
        NOW + 6,
    )
    .await;
    assert_eq!(
        (cleanup["next"].as_str(), cleanup["attempts"].as_u64()),
        (Some("WAIT"), Some(1))
    );

    service.clusters.set_state("us-west-2", &cluster_id, "ACTIVE");
    let verified = call(&service, step("check", json!({"progress": checked})), NOW + 300).await;
    assert_eq!(verified["next"], "VERIFIED");
    let cleanup = call(
        &service,
        step("clean", json!({"progress": verified, "cleanup": cleanup})),
        NOW + 301,
    )
    .await;
    assert_eq!(cleanup["next"], "DONE");
    assert_eq!(cleanup["deleted"], json!([cluster_id]));

    let finish = json!({"action": "finish", "job": job(), "run": RUN, "progress": verified, "cleanup": cleanup});
    let outcome = call(&service, finish, NOW + 302).await;
    assert_eq!(
        (outcome["result"].as_str(), outcome["cleanedUp"].as_bool()),
        (Some("SUCCEEDED"), Some(true))
    );
    assert_eq!(outcome["durationSeconds"], 302);
    let name = "/cloudhsm-backup-copy/dr/us-east-1/drills/cluster-kzlczlspnho";
    let record: Value = serde_json::from_str(&service.parameters.get("us-west-2", name).unwrap()).unwrap();
    assert_eq!(
        (record["lastResult"].as_str(), record["lastSucceededBackupId"].as_str()),
        (Some("SUCCEEDED"), Some(COPY))
    );
    let put = service.events.put.lock().unwrap().clone();
    assert_eq!(put[0].detail_type, "CloudHSM Restore Drill Succeeded");
    let detail: Value = serde_json::from_str(&put[0].detail).unwrap();
    assert_eq!(
        (detail["drillClusterId"].as_str(), detail["backupId"].as_str()),
        (Some(cluster_id.as_str()), Some(COPY))
    );
}

#[tokio::test]
async fn a_full_quota_fails_the_drill_with_its_reason_and_keeps_the_last_success() {
    let clusters = FakeClusters {
        refuse_create: Some((
            AwsErrorKind::Other,
            "CloudHsmResourceLimitExceededException",
            "The cluster limit for this region (4) has been reached",
        )),
        ..FakeClusters::default()
    };
    let service = drill(FakeClusters::default(), clusters, &[]);
    let name = "/cloudhsm-backup-copy/dr/us-east-1/drills/cluster-kzlczlspnho";
    let earlier = json!({"version": 1, "sourceRegion": "us-east-1", "sourceClusterId": SOURCE_CLUSTER,
        "destinationRegion": "us-west-2", "lastResult": "SUCCEEDED", "lastDrillAt": "2026-11-19T04:05:00Z",
        "lastBackupId": COPY, "lastDurationSeconds": 300, "lastReason": null,
        "lastSucceededAt": "2026-11-19T04:05:00Z", "lastSucceededBackupId": COPY, "firstDrillAt": "2026-11-12T04:05:00Z"});
    service
        .parameters
        .values
        .lock()
        .unwrap()
        .insert(("us-west-2".into(), name.into()), earlier.to_string());
    let progress = call(&service, step("create", json!({})), NOW).await;
    assert_eq!(progress["next"], "FAILED");
    assert!(
        progress["reason"]
            .as_str()
            .unwrap()
            .starts_with("the region's cluster quota is reached")
    );
    let cleanup = call(
        &service,
        step("clean", json!({"progress": progress, "cleanup": {}})),
        NOW,
    )
    .await;
    assert_eq!(cleanup["next"], "DONE");
    let finish = json!({"action": "finish", "job": job(), "run": RUN, "progress": progress, "cleanup": cleanup});
    let outcome = call(&service, finish, NOW + 2).await;
    assert_eq!(outcome["result"], "FAILED");
    let record: Value = serde_json::from_str(&service.parameters.get("us-west-2", name).unwrap()).unwrap();
    assert_eq!(record["lastResult"], "FAILED");
    assert_eq!(record["lastSucceededAt"], "2026-11-19T04:05:00Z");
    assert_eq!(record["firstDrillAt"], "2026-11-12T04:05:00Z");
    assert_eq!(
        service.events.put.lock().unwrap()[0].detail_type,
        "CloudHSM Restore Drill Failed"
    );
}

#[tokio::test]
async fn a_step_the_state_machine_caught_fails_the_drill_and_says_which() {
    let service = drill(FakeClusters::default(), FakeClusters::default(), &[]);
    let mut progress = start();
    progress["error"] = json!({"Error": "States.Timeout", "Cause": "the task timed out"});
    let finish =
        json!({"action": "finish", "job": job(), "run": RUN, "progress": progress, "cleanup": {"next": "DONE"}});
    let outcome = call(&service, finish, NOW).await;
    assert_eq!(outcome["result"], "FAILED");
    assert_eq!(
        outcome["reason"],
        "the drill step failed (States.Timeout): the task timed out"
    );
}

#[tokio::test]
async fn a_request_for_a_drill_this_stack_would_not_plan_is_refused_without_a_call() {
    let service = drill(FakeClusters::default(), FakeClusters::default(), &[]);
    let forged: Vec<Value> = vec![
        step("create", json!({"run": "drill.cluster-kzlczlspnho.us-west-2.now"})),
        step(
            "create",
            json!({"run": "drill.cluster-otherother1.us-west-2.2026112604"}),
        ),
        {
            let mut r = step("create", json!({}));
            r["job"]["destinationRegion"] = json!("eu-west-1");
            r
        },
        {
            let mut r = step("create", json!({}));
            r["job"]["subnetIds"] = json!(["subnet-ffffffff"]);
            r
        },
        {
            let mut r = step("create", json!({}));
            r["job"]["mode"] = json!("ANY");
            r
        },
        step(
            "create",
            json!({"policy": {"initialWaitSeconds": 0, "maxWaitSeconds": 1, "backoffPercent": 100,
            "deadlineSeconds": 1, "maxCleanAttempts": 1}}),
        ),
        json!({"action": "delete", "clusterId": "cluster-kzlczlspnho"}),
        json!({"action": "plan", "extra": true}),
    ];
    for request in forged {
        let err = invoke(&service, request.clone(), NOW).await.unwrap_err();
        assert_eq!(support::error_type(err), "InvalidInput", "{request}");
    }
    assert_eq!(service.hsm.calls(), Vec::<String>::new());
    assert_eq!(service.clusters.calls(), Vec::<String>::new());
}

#[tokio::test]
async fn a_drill_in_the_recovery_account_restores_the_shared_copy_by_its_arn_there() {
    let mut service = drill(FakeClusters::default(), FakeClusters::default(), &[]);
    service.config.drill_account = Some("210987654321".into());
    let progress = call(&service, step("create", json!({})), NOW).await;
    let arn = format!("arn:aws:cloudhsm:us-west-2:123456789012:backup/{COPY}");
    assert_eq!(
        service.clusters.calls(),
        vec![
            "DescribeClusters us-west-2".to_owned(),
            format!("CreateCluster us-west-2 {arn}")
        ]
    );
    // Nothing is made or listed in this account.
    assert_eq!(service.hsm.calls(), Vec::<String>::new());
    let cluster_id = progress["clusterId"].as_str().unwrap().to_owned();
    service.clusters.set_state("us-west-2", &cluster_id, "ACTIVE");
    // The restored cluster names its source by the ARN, and that is the copy.
    let verified = call(&service, step("check", json!({"progress": progress})), NOW + 60).await;
    assert_eq!(verified["next"], "VERIFIED");
    let cleanup = call(
        &service,
        step("clean", json!({"progress": verified, "cleanup": {}})),
        NOW + 61,
    )
    .await;
    assert_eq!(cleanup["deleted"], json!([cluster_id]));
    let finish = json!({"action": "finish", "job": job(), "run": RUN, "progress": verified, "cleanup": cleanup});
    let outcome = call(&service, finish, NOW + 62).await;
    assert_eq!(outcome["result"], "SUCCEEDED");
    let detail: Value = serde_json::from_str(&service.events.put.lock().unwrap()[0].detail).unwrap();
    assert_eq!(
        (detail["drillAccount"].as_str(), detail["backupId"].as_str()),
        (Some("210987654321"), Some(COPY))
    );
}
