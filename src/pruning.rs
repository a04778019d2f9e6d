//! Pruning of destination copies. Copies have no retention policy of their own (they stay until
//! deleted), so an optional retention and keep-newest-N bound them, with hard rules on what is
//! never deleted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backup::{Backup, BackupState};
use crate::tags::has_provenance;
use crate::time::EpochSeconds;

/// How long a deleted backup stays PENDING_DELETION (restorable) before it is gone.
pub const PENDING_DELETION_HOURS: u32 = 7 * 24;

/// The operator's pruning settings; both limits off means no pruning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunePolicy {
    /// Delete copies older than this many days (0 = no age limit).
    pub retention_days: u32,
    /// Keep at least this many READY copies per source cluster and region (0 = no count limit).
    pub keep_newest: u32,
    /// Only report what would be deleted.
    pub dry_run: bool,
}

impl PrunePolicy {
    pub fn is_enabled(&self) -> bool {
        self.retention_days > 0 || self.keep_newest > 0
    }

    /// The sweep must never re-copy what pruning removed. A pruned copy stays PENDING_DELETION
    /// for 7 days, during which planning does not re-copy its source; so the look-back window
    /// must end before that (and before the retention age, or fresh copies would be pruned and
    /// re-made in a loop).
    pub fn check_against_lookback(&self, lookback_hours: u32) -> Result<(), String> {
        if !self.is_enabled() {
            return Ok(());
        }
        if lookback_hours > PENDING_DELETION_HOURS {
            return Err(format!(
                "with pruning on, LOOKBACK_HOURS ({lookback_hours}) must be at most {PENDING_DELETION_HOURS}, the time a pruned copy stays PENDING_DELETION, or the sweep would copy pruned backups again"
            ));
        }
        if self.retention_days > 0 && u64::from(lookback_hours) >= u64::from(self.retention_days) * 24 {
            return Err(format!(
                "LOOKBACK_HOURS ({lookback_hours}) must be shorter than RETENTION_DAYS ({} days), or the sweep would copy again what retention prunes",
                self.retention_days
            ));
        }
        Ok(())
    }
}

/// A copy chosen for deletion, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prune {
    pub backup_id: String,
    pub destination_region: String,
    pub source_cluster_id: String,
    pub reason: String,
}

/// Chooses the copies to delete in one destination region.
///
/// Only READY copies that this tool made from `source_region` (provenance tags and
/// SourceRegion) are candidates. Never deleted: the newest READY copy of a cluster, a copy
/// marked NeverExpires, a copy inside the retention period or among the newest N.
pub fn choose(
    policy: &PrunePolicy,
    source_region: &str,
    region: &str,
    copies: &[Backup],
    now: EpochSeconds,
) -> Vec<Prune> {
    if !policy.is_enabled() {
        return Vec::new();
    }
    let mut by_cluster: BTreeMap<&str, Vec<&Backup>> = BTreeMap::new();
    for copy in copies.iter().filter(|c| {
        c.state == BackupState::Ready
            && c.source_region.as_deref() == Some(source_region)
            && has_provenance(&c.tags, source_region)
    }) {
        let Some(cluster) = copy.source_cluster.as_deref() else {
            continue;
        };
        by_cluster.entry(cluster).or_default().push(copy);
    }
    let retention_secs = i64::from(policy.retention_days) * 86_400;
    let mut chosen = Vec::new();
    for (cluster, mut group) in by_cluster {
        // Newest first; a copy without a timestamp counts as newest (never deleted by age).
        group.sort_by(|a, b| {
            b.created_at
                .unwrap_or(i64::MAX)
                .cmp(&a.created_at.unwrap_or(i64::MAX))
                .then(a.id.cmp(&b.id))
        });
        for (rank, copy) in group.iter().enumerate() {
            if rank == 0 || copy.never_expires {
                continue;
            }
            let beyond_n = policy.keep_newest > 0 && rank >= policy.keep_newest as usize;
            let age = copy.created_at.map(|t| now - t);
            let too_old = policy.retention_days > 0 && age.is_some_and(|a| a > retention_secs);
            let reason = match (policy.retention_days > 0, policy.keep_newest > 0) {
                (true, true) if too_old && beyond_n => format!(
                    "older than {} days and beyond the newest {}",
                    policy.retention_days, policy.keep_newest
                ),
                (true, false) if too_old => format!("older than {} days", policy.retention_days),
                (false, true) if beyond_n => format!("beyond the newest {}", policy.keep_newest),
                _ => continue,
            };
            chosen.push(Prune {
                backup_id: copy.id.clone(),
                destination_region: region.to_owned(),
                source_cluster_id: cluster.to_owned(),
                reason,
            });
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::{TAG_SOURCE_BACKUP, TAG_SOURCE_REGION};

    const NOW: EpochSeconds = 1_795_665_600;
    const DAY: i64 = 86_400;

    fn copy(id: &str, cluster: &str, age_days: i64) -> Backup {
        let source = format!("src-{id}");
        Backup::original(id, None, BackupState::Ready, Some(NOW - age_days * DAY))
            .copied_from(&source, "us-east-1", Some(cluster))
            .tagged(&[(TAG_SOURCE_BACKUP, &source), (TAG_SOURCE_REGION, "us-east-1")])
    }

    fn ids(p: &[Prune]) -> Vec<&str> {
        p.iter().map(|p| p.backup_id.as_str()).collect()
    }

    fn retention(days: u32) -> PrunePolicy {
        PrunePolicy {
            retention_days: days,
            ..PrunePolicy::default()
        }
    }

    #[test]
    fn retention_deletes_old_copies_but_never_the_newest() {
        let copies = [
            copy("b-new", "c1", 1),
            copy("b-old", "c1", 40),
            copy("b-older", "c1", 50),
            copy("only", "c2", 90),
        ];
        let chosen = choose(&retention(30), "us-east-1", "us-west-2", &copies, NOW);
        assert_eq!(ids(&chosen), vec!["b-old", "b-older"]);
        assert_eq!(chosen[0].reason, "older than 30 days");
        assert_eq!(chosen[0].source_cluster_id, "c1");
    }

    #[test]
    fn keep_newest_n_per_cluster() {
        let copies = [
            copy("a1", "c1", 1),
            copy("a2", "c1", 2),
            copy("a3", "c1", 3),
            copy("b1", "c2", 5),
        ];
        let policy = PrunePolicy {
            keep_newest: 2,
            ..PrunePolicy::default()
        };
        assert_eq!(ids(&choose(&policy, "us-east-1", "r", &copies, NOW)), vec!["a3"]);
    }

    #[test]
    fn both_limits_must_agree_before_a_delete() {
        let copies = [
            copy("a1", "c1", 1),
            copy("a2", "c1", 40),
            copy("a3", "c1", 41),
            copy("a4", "c1", 42),
        ];
        let policy = PrunePolicy {
            retention_days: 30,
            keep_newest: 3,
            dry_run: false,
        };
        assert_eq!(ids(&choose(&policy, "us-east-1", "r", &copies, NOW)), vec!["a4"]);
    }

    #[test]
    fn never_expires_and_foreign_copies_are_never_deleted() {
        let mut pinned = copy("pinned", "c1", 100);
        pinned.never_expires = true;
        let mut manual = copy("manual", "c1", 100);
        manual.tags.clear();
        let mut other_source = copy("other", "c1", 100);
        other_source.source_region = Some("eu-central-1".into());
        let mut original = copy("original", "c1", 100);
        original.source_backup = None;
        original.source_region = None;
        // Tagged as a copy of another region's backup (a stack there copying here).
        let mut other_tag = copy("other-tag", "c1", 100);
        other_tag.tags[1].1 = "eu-central-1".into();
        let copies = [
            copy("newest", "c1", 0),
            pinned,
            manual,
            other_source,
            original,
            other_tag,
        ];
        assert!(choose(&retention(1), "us-east-1", "r", &copies, NOW).is_empty());
    }

    #[test]
    fn only_ready_copies_are_candidates_and_the_newest_ready_is_kept() {
        let mut failed = copy("failed", "c1", 100);
        failed.state = BackupState::Deleted;
        let mut pending = copy("in-progress", "c1", 0);
        pending.state = BackupState::CreateInProgress;
        // The only READY copy is old; a newer copy is still being made: keep the READY one.
        let copies = [pending, failed, copy("ready-old", "c1", 100)];
        assert!(choose(&retention(1), "us-east-1", "r", &copies, NOW).is_empty());
    }

    #[test]
    fn disabled_policy_prunes_nothing() {
        let copies = [copy("a", "c1", 1), copy("b", "c1", 900)];
        assert!(choose(&PrunePolicy::default(), "us-east-1", "r", &copies, NOW).is_empty());
    }

    #[test]
    fn window_and_retention_are_validated_together() {
        assert!(PrunePolicy::default().check_against_lookback(10_000).is_ok());
        assert!(retention(30).check_against_lookback(168).is_ok());
        let err = retention(30).check_against_lookback(200).unwrap_err();
        assert!(
            err.contains("LOOKBACK_HOURS") && err.contains("PENDING_DELETION"),
            "{err}"
        );
        let err = retention(5).check_against_lookback(120).unwrap_err();
        assert!(err.contains("RETENTION_DAYS"), "{err}");
        let keep = PrunePolicy {
            keep_newest: 3,
            ..PrunePolicy::default()
        };
        assert!(keep.check_against_lookback(168).is_ok() && keep.check_against_lookback(169).is_err());
    }
}
