//! The narrow interfaces the domain needs from AWS. Adapters in `aws` implement them over the
//! SDK; tests implement them with plain in-memory fakes.

use std::collections::HashMap;
use std::future::Future;

use crate::backup::Backup;
use crate::error::AwsError;
use crate::selection::Cluster;
use crate::time::EpochSeconds;

/// Which backups to list with DescribeBackups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupQuery<'a> {
    /// These backups, whatever their state.
    Ids(&'a [String]),
    /// The READY backups of one cluster.
    ReadyInCluster {
        cluster: &'a str,
        since: Option<EpochSeconds>,
    },
    /// Every READY backup in the region.
    AllReady { since: Option<EpochSeconds> },
    /// Every copy (any state) made from these source backups.
    CopiesOf(&'a [String]),
    /// Every backup in the region, any state.
    All { since: Option<EpochSeconds> },
}
// `since`: only backups created at or after this time are needed. The listing then reads
// newest first and stops at the first page that reaches past it, so a sweep costs pages of the
// look-back window, not of the region's whole history. It may return a few older backups too.

/// CloudHSM backups, in any region.
pub trait BackupApi: Send + Sync {
    /// All matching backups, every page.
    fn describe_backups(
        &self,
        region: &str,
        query: BackupQuery<'_>,
    ) -> impl Future<Output = Result<Vec<Backup>, AwsError>> + Send;

    /// CopyBackupToRegion, sent to the source region, with the copy's complete TagList. Not
    /// idempotent: callers guard it.
    fn copy_backup_to_region(
        &self,
        source_region: &str,
        backup_id: &str,
        destination_region: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// ModifyBackupAttributes: sets or clears NeverExpires.
    fn modify_backup_attributes(
        &self,
        region: &str,
        backup_id: &str,
        never_expires: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// DeleteBackup (the backup turns PENDING_DELETION, restorable for 7 days).
    fn delete_backup(&self, region: &str, backup_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// DescribeClusters, every page: these clusters, or all of the region's when `ids` is None.
    fn describe_clusters(
        &self,
        region: &str,
        ids: Option<&[String]>,
    ) -> impl Future<Output = Result<Vec<Cluster>, AwsError>> + Send;
}

/// What StartExecution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution, or the running one with the same name and input (Standard workflows
    /// make StartExecution idempotent in that case).
    Started { execution_arn: String },
    /// An execution with this name exists and has closed, or has a different input.
    AlreadyExists,
}

/// An execution's status (DescribeExecution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    /// Closed: SUCCEEDED, FAILED, TIMED_OUT, ABORTED, ...
    Closed {
        status: String,
        stopped_at: Option<EpochSeconds>,
    },
}

/// The tracking state machine.
pub trait ExecutionApi: Send + Sync {
    fn start_execution(&self, name: &str, input: &str) -> impl Future<Output = Result<StartOutcome, AwsError>> + Send;

    /// `None` when no execution has that name.
    fn execution_status(&self, name: &str) -> impl Future<Output = Result<Option<ExecutionStatus>, AwsError>> + Send;

    /// The names of the running executions, every page.
    fn running_executions(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// SSM Parameter Store, in any region: where the restore kits are kept.
pub trait ParameterStore: Send + Sync {
    /// The values of those of `names` that exist in `region` (missing ones are left out).
    fn get_parameters(
        &self,
        region: &str,
        names: &[String],
    ) -> impl Future<Output = Result<HashMap<String, String>, AwsError>> + Send;

    /// Creates or overwrites one String parameter.
    fn put_parameter(&self, region: &str, name: &str, value: &str)
    -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// An event this stack announces on its EventBridge bus (source `cloudhsm-backup-copy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub detail_type: &'static str,
    /// The event's detail, as JSON.
    pub detail: String,
}

/// EventBridge PutEvents on the stack's bus.
pub trait EventPublisher: Send + Sync {
    /// Puts every announcement (in batches PutEvents takes); any entry refused is an error.
    fn put_events(&self, announcements: &[Announcement]) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A cluster to restore from a backup (CreateCluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore<'a> {
    pub backup_id: &'a str,
    pub hsm_type: &'a str,
    pub mode: &'a str,
    pub subnet_ids: &'a [String],
    pub tags: &'a [(String, String)],
}

/// Making and removing CloudHSM clusters (the restore drills).
pub trait ClusterApi: Send + Sync {
    /// CreateCluster from a backup, in the backup's region; the new cluster's id.
    fn create_cluster(
        &self,
        region: &str,
        restore: &Restore<'_>,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// DeleteCluster (the cluster must have no HSMs).
    fn delete_cluster(&self, region: &str, cluster_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Which associations of a resource share to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssociationKind<'a> {
    /// The accounts it is shared with.
    Principals,
    /// Whether this resource (an ARN) is in it.
    Resource(&'a str),
    /// Every resource it holds.
    Resources,
}

/// AWS RAM, as sharing the copies needs it. RAM is regional: every call names its region.
pub trait ShareApi: Send + Sync {
    /// This account's active resource shares in the region with this name and tag, oldest
    /// first (every page).
    fn find_shares(
        &self,
        region: &str,
        name: &str,
        tag: (&str, &str),
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// CreateResourceShare with these principals and tag, no external principals, and a client
    /// token (the same token gives the same share); its ARN.
    fn create_share(
        &self,
        region: &str,
        name: &str,
        tag: (&str, &str),
        principals: &[String],
        client_token: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// GetResourceShareAssociations of the share, every page.
    fn associations(
        &self,
        region: &str,
        share_arn: &str,
        kind: AssociationKind<'_>,
    ) -> impl Future<Output = Result<Vec<crate::sharing::Association>, AwsError>> + Send;

    /// AssociateResourceShare (`associate`) or DisassociateResourceShare of these resources and
    /// principals.
    fn change(
        &self,
        region: &str,
        share_arn: &str,
        associate: bool,
        resources: &[String],
        principals: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What a recovery account sees, through the role dr-account.yaml makes there.
pub trait RecoveryView: Send + Sync {
    /// The ids of the backups shared with `account` in `region`: DescribeBackups with Shared,
    /// every page, as that account.
    fn shared_backup_ids(
        &self,
        account: &str,
        region: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}
