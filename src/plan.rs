//! Copy planning: which (source backup, destination region) pairs need a copy, and why the others
//! do not. Pure: it works on what DescribeBackups reported.

use std::collections::HashMap;

use crate::backup::{Backup, BackupState};
use crate::job::CopyJob;
use crate::time::EpochSeconds;

mod skip_reason;

pub use skip_reason::SkipReason;

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanItem {
    /// Nothing to do; `destination_region` is `None` when the reason holds for every region.
    Skip {
        backup_id: String,
        destination_region: Option<String>,
        reason: SkipReason,
    },
    /// Start tracking (and so copying) this job; its generation is chosen when it is started
    /// ([`crate::generations::start_next`]).
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

/// The sources, sorted once by [`eligibility`]: the backups that may be copied, and why each
/// of the others may not (to any region).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    pub eligible: Vec<Backup>,
    /// (backup id, reason)
    pub ineligible: Vec<(String, SkipReason)>,
}

pub fn candidates(sources: Vec<Backup>, window_start: Option<EpochSeconds>) -> Candidates {
    let mut sorted = Candidates::default();
    for backup in sources {
        match eligibility(&backup, window_start) {
            Ok(()) => sorted.eligible.push(backup),
            Err(reason) => sorted.ineligible.push((backup.id, reason)),
        }
    }
    sorted
}

/// Plans every (eligible backup, destination) pair against the copies each destination holds.
///
/// `copies` maps a destination region to the copies listed there for the eligible backups.
pub fn plan(
    eligible: &[Backup],
    source_region: &str,
    destinations: &[String],
    copies: &HashMap<String, Vec<Backup>>,
) -> Vec<PlanItem> {
    let mut items = Vec::new();
    for backup in eligible {
        for region in destinations {
            let in_region = copies.get(region).map(Vec::as_slice).unwrap_or_default();
            items.push(plan_pair(backup, source_region, region, in_region));
        }
    }
    items
}

/// One (backup, destination) pair, given the copies listed in that destination.
fn plan_pair(backup: &Backup, source_region: &str, region: &str, in_region: &[Backup]) -> PlanItem {
    let of_this: Vec<&Backup> = in_region
        .iter()
        .filter(|c| c.source_backup.as_deref() == Some(&backup.id))
        .collect();
    let skip = |reason| PlanItem::Skip {
        backup_id: backup.id.clone(),
        destination_region: Some(region.to_owned()),
        reason,
    };
    // Prefer reporting a READY copy over one still being made.
    let live = of_this
        .iter()
        .filter(|c| c.state.is_live())
        .min_by_key(|c| c.state != BackupState::Ready);
    // A copy someone (or pruning) deleted is not made again: DeleteBackup can be undone for 7
    // days with RestoreBackup, and re-copying would undo the deletion instead.
    let deleted = of_this.iter().find(|c| c.state == BackupState::PendingDeletion);
    match (live, deleted) {
        (Some(copy), _) => skip(SkipReason::AlreadyCopied {
            copy_backup_id: copy.id.clone(),
            copy_state: copy.state.clone(),
        }),
        (None, Some(copy)) => skip(SkipReason::CopyDeleted {
            copy_backup_id: copy.id.clone(),
        }),
        (None, None) => PlanItem::Copy(CopyJob {
            source_backup_id: backup.id.clone(),
            source_cluster_id: backup.cluster_id.clone(),
            source_region: source_region.to_owned(),
            destination_region: region.to_owned(),
            generation: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: EpochSeconds = 1_795_665_600;

    fn backup(id: &str, state: BackupState, source: Option<&str>, created_at: EpochSeconds) -> Backup {
        let original = Backup::original(id, Some("cluster-kzlczlspnho"), state, Some(created_at));
        match source {
            // As the test data had it: a copy that still names its cluster.
            Some(source) => Backup {
                cluster_id: original.cluster_id.clone(),
                ..original.copied_from(source, "eu-west-1", None)
            },
            None => original,
        }
    }

    /// The whole plan: the ineligible sources' skips, then every eligible pair.
    fn plan_all(
        sources: &[Backup],
        destinations: &[String],
        copies: &HashMap<String, Vec<Backup>>,
        window_start: Option<EpochSeconds>,
    ) -> Vec<PlanItem> {
        let sorted = candidates(sources.to_vec(), window_start);
        let mut items: Vec<PlanItem> = sorted
            .ineligible
            .into_iter()
            .map(|(backup_id, reason)| PlanItem::Skip {
                backup_id,
                destination_region: None,
                reason,
            })
            .collect();
        items.extend(plan(&sorted.eligible, "us-east-1", destinations, copies));
        items
    }

    fn regions() -> Vec<String> {
        vec!["us-west-2".into(), "eu-west-1".into()]
    }

    #[test]
    fn plans_one_job_per_ready_original_and_destination() {
        let sources = [backup("backup-aaaaaaaaaaa", BackupState::Ready, None, NOW)];
        let items = plan_all(&sources, &regions(), &HashMap::new(), None);
        let jobs: Vec<_> = items
            .iter()
            .map(|i| match i {
                PlanItem::Copy(job) => (job.destination_region.as_str(), job.generation),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(jobs, vec![("us-west-2", 0), ("eu-west-1", 0)]);
    }

    #[test]
    fn skips_what_must_not_be_copied() {
        let sources = [
            backup("backup-nnnnnnnnnnn", BackupState::CreateInProgress, None, NOW),
            backup(
                "backup-ccccccccccc",
                BackupState::Ready,
                Some("backup-ooooooooooo"),
                NOW,
            ),
            backup("backup-lllllllllll", BackupState::Ready, None, NOW - 10_000),
        ];
        let items = plan_all(&sources, &regions(), &HashMap::new(), Some(NOW - 3600));
        let reasons: Vec<_> = items
            .iter()
            .map(|i| match i {
                PlanItem::Skip {
                    reason,
                    destination_region: None,
                    ..
                } => reason.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                SkipReason::NotReady {
                    state: BackupState::CreateInProgress
                },
                SkipReason::IsACopy {
                    source_backup: "backup-ooooooooooo".into()
                },
                SkipReason::OutsideWindow,
            ]
        );
    }

    #[test]
    fn a_live_copy_in_a_destination_skips_only_that_destination() {
        let sources = [backup("backup-aaaaaaaaaaa", BackupState::Ready, None, NOW)];
        let copies = HashMap::from([(
            "us-west-2".to_owned(),
            vec![
                backup(
                    "backup-ppppppppppp",
                    BackupState::CreateInProgress,
                    Some("backup-aaaaaaaaaaa"),
                    NOW,
                ),
                backup(
                    "backup-rrrrrrrrrrr",
                    BackupState::Ready,
                    Some("backup-aaaaaaaaaaa"),
                    NOW,
                ),
                backup(
                    "backup-xxxxxxxxxxx",
                    BackupState::Ready,
                    Some("backup-zzzzzzzzzzz"),
                    NOW,
                ),
            ],
        )]);
        let items = plan_all(&sources, &regions(), &copies, None);
        assert_eq!(
            items[0],
            PlanItem::Skip {
                backup_id: "backup-aaaaaaaaaaa".into(),
                destination_region: Some("us-west-2".into()),
                reason: SkipReason::AlreadyCopied {
                    copy_backup_id: "backup-rrrrrrrrrrr".into(),
                    copy_state: BackupState::Ready
                },
            }
        );
        assert!(matches!(&items[1], PlanItem::Copy(job) if job.destination_region == "eu-west-1"));
    }

    #[test]
    fn failed_copies_do_not_change_the_plan() {
        // Whether the destination still lists the dead copies or has dropped them, the plan is
        // the same job: its execution name comes from Step Functions' record, not from counting.
        let sources = [backup("backup-aaaaaaaaaaa", BackupState::Ready, None, NOW)];
        let dead = HashMap::from([(
            "us-west-2".to_owned(),
            vec![
                backup(
                    "backup-ddddddddddd",
                    BackupState::Deleted,
                    Some("backup-aaaaaaaaaaa"),
                    NOW,
                ),
                backup(
                    "backup-eeeeeeeeeee",
                    BackupState::Deleted,
                    Some("backup-aaaaaaaaaaa"),
                    NOW,
                ),
            ],
        )]);
        let regions = ["us-west-2".to_owned()];
        let with_dead = plan_all(&sources, &regions, &dead, None);
        let without = plan_all(&sources, &regions, &HashMap::new(), None);
        assert_eq!(with_dead, without);
        assert!(matches!(&with_dead[0], PlanItem::Copy(job) if job.generation == 0));
    }

    #[test]
    fn reason_names_match_their_serialized_tag() {
        for reason in [
            SkipReason::NotFound,
            SkipReason::OutsideWindow,
            SkipReason::GivenUp {
                failed_executions: 5,
                next_execution_name: "x".into(),
            },
            SkipReason::BackingOff {
                failed_executions: 2,
                not_before: "t".into(),
            },
            SkipReason::AlreadyTracking {
                execution_name: "x".into(),
            },
        ] {
            assert_eq!(serde_json::to_value(&reason).unwrap()["reason"], reason.name());
        }
    }

    #[test]
    fn a_deleted_copy_is_not_made_again() {
        let sources = [backup("backup-aaaaaaaaaaa", BackupState::Ready, None, NOW)];
        let copies = HashMap::from([(
            "us-west-2".to_owned(),
            vec![backup(
                "backup-eeeeeeeeeee",
                BackupState::PendingDeletion,
                Some("backup-aaaaaaaaaaa"),
                NOW,
            )],
        )]);
        let items = plan_all(&sources, &["us-west-2".to_owned()], &copies, None);
        assert!(matches!(
            &items[0],
            PlanItem::Skip {
                reason: SkipReason::CopyDeleted { .. },
                ..
            }
        ));
    }

    #[test]
    fn backups_without_a_timestamp_are_not_dropped_by_the_window() {
        let mut b = backup("backup-aaaaaaaaaaa", BackupState::Ready, None, NOW);
        b.created_at = None;
        assert_eq!(eligibility(&b, Some(NOW)), Ok(()));
    }
}
