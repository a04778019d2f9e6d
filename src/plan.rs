//! Copy planning: which (source backup, destination region) pairs need a copy, and why the others
//! do not. Pure: it works on what DescribeBackups reported.

use std::collections::HashMap;

use serde::Serialize;

use crate::backup::{Backup, BackupState};
use crate::time::EpochSeconds;
use crate::tracking::CopyJob;

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
    /// The tracking execution for this copy is running already (a repeated event).
    #[serde(rename_all = "camelCase")]
    AlreadyTracking { execution_name: String },
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanItem {
    /// Nothing to do; `destination_region` is `None` when the reason holds for every region.
    Skip {
        backup_id: String,
        destination_region: Option<String>,
        reason: SkipReason,
    },
    /// Start tracking (and so copying) this job.
    Copy(CopyJob),
}

/// Which backups may be copied at all, whatever the destination.
pub fn eligibility(backup: &Backup, window_start: Option<EpochSeconds>) -> Result<(), SkipReason> {
    if let Some(source_backup) = &backup.source_backup {
        return Err(SkipReason::IsACopy {
            source_backup: source_backup.clone(),
        });
    }
    if backup.state != BackupState::Ready {
        return Err(SkipReason::NotReady {
            state: backup.state.clone(),
        });
    }
    if let (Some(start), Some(created)) = (window_start, backup.created_at)
        && created < start
    {
        return Err(SkipReason::OutsideWindow);
    }
    Ok(())
}

/// Plans every (eligible backup, destination) pair against the copies each destination holds.
///
/// `copies` maps a destination region to the copies listed there for the eligible backups.
pub fn plan(
    sources: &[Backup],
    source_region: &str,
    destinations: &[String],
    copies: &HashMap<String, Vec<Backup>>,
    window_start: Option<EpochSeconds>,
) -> Vec<PlanItem> {
    let mut items = Vec::new();
    for backup in sources {
        if let Err(reason) = eligibility(backup, window_start) {
            items.push(PlanItem::Skip {
                backup_id: backup.id.clone(),
                destination_region: None,
                reason,
            });
            continue;
        }
        for region in destinations {
            let of_this: Vec<&Backup> = copies
                .get(region)
                .map(|all| {
                    all.iter()
                        .filter(|c| c.source_backup.as_deref() == Some(&backup.id))
                        .collect()
                })
                .unwrap_or_default();
            // Prefer reporting a READY copy over one still being made.
            let live = of_this
                .iter()
                .filter(|c| c.state.is_live())
                .min_by_key(|c| c.state != BackupState::Ready);
            items.push(match live {
                Some(copy) => PlanItem::Skip {
                    backup_id: backup.id.clone(),
                    destination_region: Some(region.clone()),
                    reason: SkipReason::AlreadyCopied {
                        copy_backup_id: copy.id.clone(),
                        copy_state: copy.state.clone(),
                    },
                },
                None => PlanItem::Copy(CopyJob {
                    source_backup_id: backup.id.clone(),
                    source_cluster_id: backup.cluster_id.clone(),
                    source_region: source_region.to_owned(),
                    destination_region: region.clone(),
                    prior_copies: u32::try_from(of_this.len()).unwrap_or(u32::MAX),
                }),
            });
        }
    }
    items
}
