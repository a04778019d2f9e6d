//! Test support shared by the handler tests: CloudHSM in memory, backup builders, the example
//! events and error names.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod ram;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use cloudhsm_backup_copy::backup::{Backup, BackupState};
use cloudhsm_backup_copy::config::StartCopyConfig;
use cloudhsm_backup_copy::error::{AwsError, AwsErrorKind, Classified, diagnostic};
use cloudhsm_backup_copy::generations::RetryPolicy;
use cloudhsm_backup_copy::handlers::Handler;
use cloudhsm_backup_copy::payload::Payload;
use cloudhsm_backup_copy::ports::{Announcement, BackupApi, BackupQuery, EventPublisher, ParameterStore};
use cloudhsm_backup_copy::pruning::PrunePolicy;
use cloudhsm_backup_copy::scope::Scope;
use cloudhsm_backup_copy::selection::{Cluster, ClusterSelection};
use serde_json::{Value, json};

pub const NOW: i64 = 1_795_665_600; // 2026-11-26T04:00:00Z
pub const SOURCE: &str = "backup-4kuraxsqetz";
pub const CLUSTER: &str = "cluster-kzlczlspnho";

/// CloudHSM in memory: backups per region, every call recorded.
#[derive(Default)]
pub struct FakeHsm {
    pub backups: Mutex<HashMap<String, Vec<Backup>>>,
    pub calls: Mutex<Vec<String>>,
    pub failing_region: Option<(String, AwsErrorKind)>,
    /// CopyBackupToRegion fails this way (and makes no copy).
    pub failing_copy: Option<AwsErrorKind>,
    /// Left out of listings that stop at a window (`since`), as a listing in an order other than
    /// the one the early stop assumes would leave them out.
    pub missed_by_windowed_reads: Vec<String>,
    /// Each DescribeBackups' region and query kind.
    pub queries: Mutex<Vec<String>>,
    pub clusters: Vec<Cluster>,
}

impl FakeHsm {
    pub fn with_source(state: BackupState, created_at: i64) -> Self {
        let fake = Self::default();
        fake.add("us-east-1", original(SOURCE, state, created_at));
        fake
    }
    pub fn add(&self, region: &str, backup: Backup) {
        self.backups
            .lock()
            .unwrap()
            .entry(region.into())
            .or_default()
            .push(backup);
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    pub fn in_region(&self, region: &str) -> Vec<Backup> {
        self.backups.lock().unwrap().get(region).cloned().unwrap_or_default()
    }
}

impl BackupApi for FakeHsm {
    async fn describe_backups(&self, region: &str, query: BackupQuery<'_>) -> Result<Vec<Backup>, AwsError> {
        self.calls.lock().unwrap().push(format!("DescribeBackups {region}"));
        if let Some((failing, kind)) = &self.failing_region
            && failing == region
        {
            return Err(AwsError::new("DescribeBackups", region, *kind, None, "injected"));
        }
        let kind = match query {
            BackupQuery::Ids(_) => "Ids",
            BackupQuery::ReadyInCluster { .. } => "ReadyInCluster",
            BackupQuery::AllReady { since: None } => "AllReady",
            BackupQuery::AllReady { since: Some(_) } => "AllReady since",
            BackupQuery::CopiesOf(_) => "CopiesOf",
            BackupQuery::All { since: None } => "All",
            BackupQuery::All { since: Some(_) } => "All since",
        };
        self.queries.lock().unwrap().push(format!("{region} {kind}"));
        let windowed = kind.ends_with("since");
        let all = self.in_region(region);
        Ok(all
            .into_iter()
            .filter(|b| !(windowed && self.missed_by_windowed_reads.contains(&b.id)))
            .filter(|b| match query {
                BackupQuery::Ids(ids) => ids.contains(&b.id),
                BackupQuery::ReadyInCluster { cluster, since } => {
                    b.cluster_id.as_deref() == Some(cluster) && b.state == BackupState::Ready && after(b, since)
                }
                BackupQuery::AllReady { since } => b.state == BackupState::Ready && after(b, since),
                BackupQuery::CopiesOf(ids) => b.source_backup.as_ref().is_some_and(|s| ids.contains(s)),
                BackupQuery::All { since } => after(b, since),
            })
            .collect())
    }

    async fn copy_backup_to_region(
        &self,
        source_region: &str,
        backup_id: &str,
        destination: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("CopyBackupToRegion {source_region} {backup_id} {destination}"));
        if let Some(kind) = self.failing_copy {
            return Err(AwsError::new(
                "CopyBackupToRegion",
                source_region,
                kind,
                None,
                "injected",
            ));
        }
        let n = self.in_region(destination).len();
        self.add(
            destination,
            Backup {
                tags: tags.to_vec(),
                ..Backup::original(
                    &format!("backup-copy{n:0>6}"),
                    None,
                    BackupState::CreateInProgress,
                    Some(NOW),
                )
                .copied_from(backup_id, source_region, Some(CLUSTER))
            },
        );
        Ok(())
    }

    async fn modify_backup_attributes(
        &self,
        region: &str,
        backup_id: &str,
        never_expires: bool,
    ) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("ModifyBackupAttributes {region} {backup_id} {never_expires}"));
        let mut all = self.backups.lock().unwrap();
        let backup = all
            .get_mut(region)
            .and_then(|bs| bs.iter_mut().find(|b| b.id == backup_id))
            .unwrap();
        backup.never_expires = never_expires;
        Ok(())
    }

    async fn delete_backup(&self, region: &str, backup_id: &str) -> Result<(), AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("DeleteBackup {region} {backup_id}"));
        let mut all = self.backups.lock().unwrap();
        let backup = all
            .get_mut(region)
            .and_then(|bs| bs.iter_mut().find(|b| b.id == backup_id))
            .unwrap();
        backup.state = BackupState::PendingDeletion;
        Ok(())
    }

    async fn describe_clusters(&self, region: &str, ids: Option<&[String]>) -> Result<Vec<Cluster>, AwsError> {
        self.calls.lock().unwrap().push(format!("DescribeClusters {region}"));
        Ok(self
            .clusters
            .iter()
            .filter(|c| ids.is_none_or(|ids| ids.contains(&c.id)))
            .cloned()
            .collect())
    }
}

/// Step Functions in memory, idempotent like Standard workflows.
fn after(b: &Backup, since: Option<i64>) -> bool {
    since.is_none_or(|s| b.created_at.is_some_and(|t| t >= s))
}

pub fn original(id: &str, state: BackupState, created_at: i64) -> Backup {
    Backup::original(id, Some(CLUSTER), state, Some(created_at)).tagged(&[("team", "payments")])
}

pub fn event_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One invocation as the runtime makes it: the payload's bytes read into the handler's request
/// (or its error), then handled.
pub async fn invoke<H: Handler>(handler: &H, payload: Value, now: i64) -> Result<H::Output, H::Error> {
    let bytes = serde_json::to_vec(&payload).unwrap();
    let request = serde_json::from_slice::<Payload<H::Request>>(&bytes)
        .unwrap()
        .into_request()?;
    handler.handle(request, now).await
}

/// The error's stable name, as its Diagnostic carries it.
pub fn error_type(e: impl Classified) -> String {
    diagnostic(&e).error_type
}

/// start-copy's settings in the tests: two destinations, every cluster, a day's look-back.
/// Parameter Store in memory: values per (region, name), every write recorded.
#[derive(Default)]
pub struct FakeParameters {
    pub values: Mutex<HashMap<(String, String), String>>,
    pub puts: Mutex<Vec<(String, String)>>,
    /// Every call fails this way.
    pub failing: Option<AwsErrorKind>,
}

impl FakeParameters {
    pub fn get(&self, region: &str, name: &str) -> Option<String> {
        self.values.lock().unwrap().get(&(region.into(), name.into())).cloned()
    }
    pub fn puts(&self) -> Vec<(String, String)> {
        self.puts.lock().unwrap().clone()
    }
    fn check(&self, operation: &'static str, region: &str) -> Result<(), AwsError> {
        match self.failing {
            Some(kind) => Err(AwsError::new(operation, region, kind, Some("Boom".into()), "injected")),
            None => Ok(()),
        }
    }
}

impl ParameterStore for FakeParameters {
    async fn get_parameters(&self, region: &str, names: &[String]) -> Result<HashMap<String, String>, AwsError> {
        self.check("GetParameters", region)?;
        Ok(names
            .iter()
            .filter_map(|n| self.get(region, n).map(|v| (n.clone(), v)))
            .collect())
    }
    async fn put_parameter(&self, region: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.check("PutParameter", region)?;
        self.values
            .lock()
            .unwrap()
            .insert((region.into(), name.into()), value.into());
        self.puts.lock().unwrap().push((region.into(), name.into()));
        Ok(())
    }
}

/// The bus in memory: every announcement put, in order.
#[derive(Default)]
pub struct FakeBus {
    pub put: Mutex<Vec<Announcement>>,
    /// Every PutEvents fails this way.
    pub failing: Option<AwsErrorKind>,
}

impl FakeBus {
    pub fn details(&self) -> Vec<Value> {
        self.put
            .lock()
            .unwrap()
            .iter()
            .map(|a| serde_json::from_str(&a.detail).unwrap())
            .collect()
    }
}

impl EventPublisher for FakeBus {
    async fn put_events(&self, announcements: &[Announcement]) -> Result<(), AwsError> {
        if let Some(kind) = self.failing {
            return Err(AwsError::new("PutEvents", "us-east-1", kind, None, "injected"));
        }
        self.put.lock().unwrap().extend_from_slice(announcements);
        Ok(())
    }
}

pub fn start_copy_config() -> StartCopyConfig {
    StartCopyConfig {
        source_region: "us-east-1".into(),
        destination_regions: vec!["us-west-2".into(), "eu-west-1".into()],
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:tracker".into(),
        account_id: "123456789012".into(),
        lookback_hours: 24,
        selection: ClusterSelection::default(),
        prune: PrunePolicy::default(),
        retry: RetryPolicy::default(),
        max_copies_in_flight: 100,
        restore_kit: None,
        event_bus_name: "default".into(),
        guard_newest_copy: false,
        sharing: None,
    }
}

/// What copy-step and check-copy may act on in the tests: the same region and destinations.
pub fn scope() -> Scope {
    Scope {
        source_region: "us-east-1".into(),
        destination_regions: vec!["us-west-2".into(), "eu-west-1".into()],
        selection: ClusterSelection::default(),
    }
}

/// Job fields a forged request may change to leave the scope (with `CLUSTER` excluded):
/// a destination across the GovCloud boundary, one not configured, another source region, an
/// excluded cluster.
pub fn out_of_scope() -> [(&'static str, Value); 4] {
    [
        ("destinationRegion", json!("us-gov-west-1")),
        ("destinationRegion", json!("ap-south-1")),
        ("sourceRegion", json!("eu-central-1")),
        ("sourceClusterId", json!(CLUSTER)),
    ]
}
