//! Why a backup, or a (backup, region) pair, is not copied: the reasons summaries list and count.

use serde::Serialize;

use crate::backup::BackupState;

/// Why a backup, or a (backup, region) pair, is not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SkipReason {
    /// The backup named by the event does not exist in the source region.
    NotFound,
    /// Only READY backups can be copied.
    #[serde(rename_all = "camelCase")]
    NotReady { state: BackupState },
    /// The backup is itself a copy; a copy of a copy is never wanted.
    #[serde(rename_all = "camelCase")]
    IsACopy { source_backup: String },
    /// Created before the look-back window of cluster and sweep searches.
    OutsideWindow,
    /// The destination already holds a CREATE_IN_PROGRESS or READY copy.
    #[serde(rename_all = "camelCase")]
    AlreadyCopied {
        copy_backup_id: String,
        copy_state: BackupState,
    },
    /// A copy was deleted (PENDING_DELETION, by an operator or by pruning): not made again.
    #[serde(rename_all = "camelCase")]
    CopyDeleted { copy_backup_id: String },
    /// The backup's cluster is not among those the operator selected.
    #[serde(rename_all = "camelCase")]
    ClusterNotSelected { detail: String },
    /// The tracking execution for this copy is running already (a repeated event).
    #[serde(rename_all = "camelCase")]
    AlreadyTracking { execution_name: String },
    /// Earlier executions failed too often in a row; sweeps stop trying until a "CloudHSM
    /// Backup Created" event names the backup (see [`crate::generations`]).
    #[serde(rename_all = "camelCase")]
    GivenUp {
        failed_executions: u32,
        next_execution_name: String,
    },
    /// An earlier execution failed recently; a later sweep tries again from `notBefore`.
    #[serde(rename_all = "camelCase")]
    BackingOff { failed_executions: u32, not_before: String },
    /// The region already has as many copies in flight as `MAX_COPIES_IN_FLIGHT` allows
    /// (running executions or copies CREATE_IN_PROGRESS there, and this run's starts): the pair
    /// was not looked at; a later sweep does.
    #[serde(rename_all = "camelCase")]
    Deferred { max_copies_in_flight: usize },
}

impl SkipReason {
    /// The reason's name in summaries and counts (its `reason` tag).
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::NotReady { .. } => "NOT_READY",
            Self::IsACopy { .. } => "IS_A_COPY",
            Self::OutsideWindow => "OUTSIDE_WINDOW",
            Self::AlreadyCopied { .. } => "ALREADY_COPIED",
            Self::CopyDeleted { .. } => "COPY_DELETED",
            Self::ClusterNotSelected { .. } => "CLUSTER_NOT_SELECTED",
            Self::AlreadyTracking { .. } => "ALREADY_TRACKING",
            Self::GivenUp { .. } => "GIVEN_UP",
            Self::BackingOff { .. } => "BACKING_OFF",
            Self::Deferred { .. } => "DEFERRED",
        }
    }
}
