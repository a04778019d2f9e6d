//! The report a start-copy run returns: what it started, skipped (and why) and could not start,
//! with complete counts and lists cut at [`MAX_LISTED`].

use std::collections::HashMap;

use serde::Serialize;

use crate::error::AwsError;
use crate::freshness::Freshness;
use crate::job::CopyJob;
use crate::plan::{PlanItem, SkipReason};
use crate::pruning::Prune;
use crate::restore_kit::KitReport;

/// The summary lists at most this many items of each kind (a first sweep may start, skip or
/// fail thousands, and a Lambda response is at most 6 MB); the counts are always complete.
pub const MAX_LISTED: usize = 100;

/// What one event led to; the function's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub origin: String,
    pub event_id: Option<String>,
    pub source_region: String,
    pub destination_regions: Vec<String>,
    /// Set when the event asked for nothing.
    pub ignored: Option<String>,
    /// Source backups looked at.
    pub examined: usize,
    /// The first [`MAX_LISTED`] executions started; `started_count` counts them all.
    pub started: Vec<Started>,
    pub started_count: usize,
    pub skipped: Vec<Skipped>,
    /// Skips by reason, complete even when `skipped` is truncated.
    pub skipped_counts: HashMap<String, usize>,
    /// Configured include/exclude cluster ids that no cluster in the region has (sweeps only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_cluster_ids: Vec<String>,
    /// Sweeps only: age of the newest READY copy per cluster and destination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freshness: Vec<Freshness>,
    /// Pruning runs only: copies deleted by the pruning policy (listed up to [`MAX_LISTED`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<Prune>,
    #[serde(skip_serializing_if = "is_zero")]
    pub pruned_count: usize,
    /// Pruning runs only, in dry-run mode: copies the pruning policy would delete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_prune: Vec<Prune>,
    #[serde(skip_serializing_if = "is_zero")]
    pub would_prune_count: usize,
    /// Sweeps that keep restore kits: what became of each destination's kit per cluster
    /// (listed up to [`MAX_LISTED`]), counted by status, and how many name a copy whose mode
    /// is not its source cluster's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restore_kits: Vec<KitReport>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub restore_kit_counts: HashMap<String, usize>,
    #[serde(skip_serializing_if = "is_zero")]
    pub mode_mismatches: usize,
    /// READY copies found unshared with the recovery accounts and shared again, and the
    /// regions whose share run failed.
    #[serde(skip_serializing_if = "is_zero")]
    pub reshared_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sharing_failed_regions: Vec<String>,
    /// Newest copies a recovery account did not list as shared (dr-account.yaml's role).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_seen_by_recovery: Vec<crate::readiness::ReadinessFailure>,
    /// The first [`MAX_LISTED`] failures; `failed_count` counts them all.
    pub failed: Vec<Failed>,
    pub failed_count: usize,
    /// Failures that retrying the event cannot fix.
    #[serde(skip)]
    pub non_retryable_failures: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub(crate) fn push_listed<T>(list: &mut Vec<T>, count: &mut usize, item: T) {
    *count += 1;
    if list.len() < MAX_LISTED {
        list.push(item);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub source_backup_id: String,
    pub destination_region: String,
    pub execution_name: String,
    pub execution_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub source_backup_id: String,
    pub destination_region: Option<String>,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// `sourceBackupId` of a failure that concerns a whole destination region (its copies could not
/// be listed for pruning), not one backup.
pub const WHOLE_REGION: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    pub source_backup_id: String,
    pub destination_region: String,
    pub error: String,
    #[serde(skip)]
    pub retryable: bool,
}

impl Summary {
    /// The plan's jobs; its skips go into the summary.
    pub(crate) fn take_jobs(&mut self, plan: Vec<PlanItem>) -> Vec<CopyJob> {
        let mut jobs = Vec::new();
        for item in plan {
            match item {
                PlanItem::Skip {
                    backup_id,
                    destination_region,
                    reason,
                } => self.skip(&backup_id, destination_region.as_deref(), reason),
                PlanItem::Copy(job) => jobs.push(job),
            }
        }
        jobs
    }

    pub(crate) fn skip(&mut self, source_backup_id: &str, destination_region: Option<&str>, reason: SkipReason) {
        *self.skipped_counts.entry(reason.name().to_owned()).or_default() += 1;
        if self.skipped.len() < MAX_LISTED {
            self.skipped.push(Skipped {
                source_backup_id: source_backup_id.to_owned(),
                destination_region: destination_region.map(str::to_owned),
                reason,
            });
        }
    }

    pub(crate) fn record_kit(&mut self, report: KitReport) {
        *self
            .restore_kit_counts
            .entry(report.status.name().to_owned())
            .or_default() += 1;
        if report.mode_matches == Some(false) {
            self.mode_mismatches += 1;
        }
        if self.restore_kits.len() < MAX_LISTED {
            self.restore_kits.push(report);
        }
    }

    pub(crate) fn fail(&mut self, source_backup_id: &str, destination_region: &str, error: &AwsError) {
        self.add_failure(Failed::from_aws(
            source_backup_id.to_owned(),
            destination_region.to_owned(),
            error,
        ));
    }

    pub(crate) fn add_failure(&mut self, failed: Failed) {
        if !failed.retryable {
            self.non_retryable_failures += 1;
        }
        push_listed(&mut self.failed, &mut self.failed_count, failed);
    }

    pub(crate) fn record(&mut self, result: StartResult) {
        match result {
            StartResult::Started(started) => push_listed(&mut self.started, &mut self.started_count, started),
            StartResult::Skipped {
                backup_id,
                region,
                reason,
            } => self.skip(&backup_id, Some(&region), reason),
            StartResult::Failed(failed) => self.add_failure(failed),
        }
    }
}

impl Failed {
    pub(crate) fn from_aws(source_backup_id: String, destination_region: String, error: &AwsError) -> Self {
        Self {
            source_backup_id,
            destination_region,
            error: error.to_string(),
            retryable: error.is_retryable(),
        }
    }
}

/// What starting one tracking execution came to.
pub(crate) enum StartResult {
    Started(Started),
    Skipped {
        backup_id: String,
        region: String,
        reason: SkipReason,
    },
    Failed(Failed),
}
