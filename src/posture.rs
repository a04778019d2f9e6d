//! The DR posture at a glance, for a person on a bad day (`dr-status`): per source cluster and
//! destination region, the newest READY copy, its age, HsmType and Mode, whether the restore kit
//! there names it, and what is in flight. Pure: it works on what the listings returned.

use std::collections::HashMap;

use serde::Serialize;

use crate::backup::{Backup, BackupState, newest_ready_copy};
use crate::cluster::Cluster;
use crate::job::destination_of;
use crate::restore_kit::RecoveryCheck;
use crate::time::{EpochSeconds, to_rfc3339};

mod kit;
mod last_drill;
mod table;

pub use kit::KitState;
use kit::kit_view;
pub use last_drill::LastDrill;
pub use table::table;

/// What each destination holds, as read for the posture.
#[derive(Debug, Clone, Default)]
pub struct Destination {
    /// Every backup listed there (copies of every source, any state).
    pub backups: Vec<Backup>,
    /// The restore kits and drill records found there, by parameter name; `None` when they
    /// could not be read.
    pub kits: Option<HashMap<String, String>>,
    /// Why the region's backups could not be listed (its rows then say nothing of copies).
    pub unreadable: Option<String>,
}

/// Everything the posture is computed from.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub source_region: String,
    pub clusters: Vec<Cluster>,
    /// The source region's backups (to tell which cluster a running execution copies).
    pub source_backups: Vec<Backup>,
    pub destinations: Vec<(String, Destination)>,
    /// Names of the tracker's running executions; `None` when the tracker could not be read.
    pub running: Option<Vec<String>>,
    /// The restore kits' path (`/cloudhsm-backup-copy/<stack>`).
    pub kit_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub cluster_id: String,
    pub destination_region: String,
    pub newest_copy_id: Option<String>,
    pub newest_copy_created_at: Option<String>,
    /// Hours since the newest READY copy's backup was taken.
    pub age_hours: Option<f64>,
    pub hsm_type: Option<String>,
    pub mode: Option<String>,
    pub cluster_mode: Option<String>,
    pub kit: KitState,
    /// The last restore drill there (`None`: none recorded, or the records could not be read).
    pub last_drill: Option<LastDrill>,
    /// What the recovery accounts saw of the newest copy at the last sweep's check (from the
    /// kit; `None`: not checked, or the kit names another copy).
    pub recovery_view: Option<RecoveryCheck>,
    /// Copies of the cluster still being made there.
    pub copies_in_progress: usize,
    /// Tracking executions running for the cluster's backups to this region (`None`: unknown).
    pub executions_running: Option<usize>,
    /// Why the region could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// One row per (cluster, destination), clusters in id order.
pub fn posture(observed: &Observed, now: EpochSeconds) -> Vec<Row> {
    let source = observed.source_region.as_str();
    let cluster_of: HashMap<&str, &str> = observed
        .source_backups
        .iter()
        .filter_map(|b| Some((b.id.as_str(), b.cluster_id.as_deref()?)))
        .collect();
    let ids = cluster_ids(observed);
    let known = |id: &str| observed.clusters.iter().find(|c| c.id == id);
    let mut rows = Vec::new();
    for cluster_id in ids {
        for (region, destination) in &observed.destinations {
            let newest = newest_ready_copy(&destination.backups, source, cluster_id);
            let parameter = crate::restore_kit::parameter_name(&observed.kit_prefix, source, cluster_id);
            let (kit, recovery_view) = kit_view(destination, &parameter, newest);
            let record = crate::drill::record::record_name(&observed.kit_prefix, source, cluster_id);
            let stored = destination.kits.as_ref().and_then(|kits| kits.get(&record));
            let last_drill = LastDrill::from_stored(stored.map(String::as_str), now);
            let copies_in_progress = destination
                .backups
                .iter()
                .filter(|b| {
                    b.state == BackupState::CreateInProgress
                        && b.source_region.as_deref() == Some(source)
                        && b.source_cluster.as_deref() == Some(cluster_id)
                })
                .count();
            let executions_running = observed.running.as_ref().map(|names| {
                names
                    .iter()
                    .filter(|n| destination_of(n) == Some(region.as_str()))
                    .filter(|n| backup_of(n).and_then(|b| cluster_of.get(b)) == Some(&cluster_id))
                    .count()
            });
            rows.push(Row {
                cluster_id: cluster_id.to_owned(),
                destination_region: region.clone(),
                newest_copy_id: newest.map(|b| b.id.clone()),
                newest_copy_created_at: newest.and_then(|b| b.created_at).map(to_rfc3339),
                age_hours: newest
                    .and_then(|b| b.created_at)
                    .map(|t| ((now - t).max(0) as f64 / 360.0).round() / 10.0),
                hsm_type: newest.and_then(|b| b.hsm_type.clone()),
                mode: newest.and_then(|b| b.mode.clone()),
                cluster_mode: known(cluster_id).and_then(|c| c.mode.clone()),
                kit,
                last_drill,
                recovery_view,
                copies_in_progress,
                executions_running,
                unreadable: destination.unreadable.clone(),
            });
        }
    }
    rows
}

/// The source's clusters, and those the DR regions still hold copies of (a deleted cluster, a
/// source region that cannot be read), in id order.
fn cluster_ids(observed: &Observed) -> Vec<&str> {
    let source = observed.source_region.as_str();
    let mut ids: Vec<&str> = observed.clusters.iter().map(|c| c.id.as_str()).collect();
    for (_, destination) in &observed.destinations {
        ids.extend(
            destination
                .backups
                .iter()
                .filter(|b| b.source_region.as_deref() == Some(source))
                .filter_map(|b| b.source_cluster.as_deref()),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The source backup an execution of ours is named after (`<backup>-to-<region>-<g>`).
fn backup_of(execution_name: &str) -> Option<&str> {
    execution_name.split_once("-to-").map(|(backup, _)| backup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore_kit::{KitSettings, RestoreKit, kits};

    const NOW: EpochSeconds = 1_795_665_600;
    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    fn copy(id: &str, source: &str, cluster: &str, state: BackupState, hours_ago: i64) -> Backup {
        Backup::original(id, None, state, Some(NOW - hours_ago * 3600))
            .copied_from(source, "us-east-1", Some(cluster))
            .of_hsm("hsm2m.medium", "FIPS")
    }

    fn observed() -> Observed {
        let west = vec![
            copy("backup-westaaaold", "backup-srcaold", A, BackupState::Ready, 30),
            copy("backup-westaaanew", "backup-srcanew", A, BackupState::Ready, 6),
            copy(
                "backup-westbbbing",
                "backup-srcbnew",
                B,
                BackupState::CreateInProgress,
                1,
            ),
        ];
        let settings = KitSettings {
            prefix: "/cloudhsm-backup-copy/s".into(),
            customer_ca_certificate: None,
        };
        // A's kit names its newest copy; B has none yet.
        let west_kits: HashMap<String, String> = kits(&settings, "us-east-1", "us-west-2", [A], &[], &west[..1])
            .into_iter()
            .map(|(n, k)| (n, serde_json::to_string(&k).unwrap()))
            .collect();
        Observed {
            source_region: "us-east-1".into(),
            clusters: vec![
                Cluster {
                    mode: Some("NON_FIPS".into()),
                    ..Cluster::tagged(B, &[])
                },
                Cluster {
                    mode: Some("FIPS".into()),
                    ..Cluster::tagged(A, &[])
                },
            ],
            source_backups: vec![Backup::original(
                "backup-srcbnew",
                Some(B),
                BackupState::Ready,
                Some(NOW),
            )],
            destinations: vec![
                (
                    "us-west-2".into(),
                    Destination {
                        backups: west,
                        kits: Some(west_kits),
                        unreadable: None,
                    },
                ),
                (
                    "eu-west-1".into(),
                    Destination {
                        kits: Some(HashMap::new()),
                        ..Destination::default()
                    },
                ),
            ],
            running: Some(vec![
                "backup-srcbnew-to-us-west-2-0".into(),
                "backup-srcbnew-to-eu-west-1-1".into(),
            ]),
            kit_prefix: "/cloudhsm-backup-copy/s".into(),
        }
    }

    #[test]
    fn one_row_per_cluster_and_region_with_the_newest_ready_copy() {
        let rows = posture(&observed(), NOW);
        let keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.cluster_id.as_str(), r.destination_region.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![(A, "us-west-2"), (A, "eu-west-1"), (B, "us-west-2"), (B, "eu-west-1")]
        );
        let a_west = &rows[0];
        assert_eq!(a_west.newest_copy_id.as_deref(), Some("backup-westaaanew"));
        assert_eq!(a_west.age_hours, Some(6.0));
        assert_eq!(
            (a_west.hsm_type.as_deref(), a_west.mode.as_deref()),
            (Some("hsm2m.medium"), Some("FIPS"))
        );
        // The kit still names the older copy.
        assert_eq!(
            a_west.kit,
            KitState::Stale {
                names: "backup-westaaaold".into()
            }
        );
        assert_eq!(rows[1].newest_copy_id, None);
        assert_eq!(rows[1].kit, KitState::Missing);
        let b_west = &rows[2];
        assert_eq!((b_west.copies_in_progress, b_west.executions_running), (1, Some(1)));
        assert_eq!(rows[3].executions_running, Some(1));
    }

    #[test]
    fn a_kit_naming_the_newest_copy_is_current_and_garbage_is_unreadable() {
        let mut seen = observed();
        let kits = seen.destinations[0].1.kits.as_mut().unwrap();
        let (name, value) = kits.iter().next().map(|(n, v)| (n.clone(), v.clone())).unwrap();
        kits.insert(name.clone(), value.replace("backup-westaaaold", "backup-westaaanew"));
        assert_eq!(posture(&seen, NOW)[0].kit, KitState::Current);
        seen.destinations[0].1.kits.as_mut().unwrap().insert(name, "{".into());
        assert_eq!(posture(&seen, NOW)[0].kit, KitState::Unreadable);
        seen.destinations[0].1.kits = None;
        assert_eq!(posture(&seen, NOW)[0].kit, KitState::Unknown);
        seen.running = None;
        assert!(posture(&seen, NOW).iter().all(|r| r.executions_running.is_none()));
    }

    #[test]
    fn the_recovery_accounts_view_of_the_newest_copy_is_shown_from_the_kit() {
        let mut seen = observed();
        let kits = seen.destinations[0].1.kits.as_mut().unwrap();
        let (name, value) = kits.iter().next().map(|(n, v)| (n.clone(), v.clone())).unwrap();
        let mut kit: RestoreKit =
            serde_json::from_str(&value.replace("backup-westaaaold", "backup-westaaanew")).unwrap();
        let check = |id: &str| RecoveryCheck {
            backup_id: id.into(),
            seen_by: vec![],
            not_seen_by: vec!["210987654321".into()],
        };
        kit.recovery_check = Some(check("backup-westaaanew"));
        kits.insert(name.clone(), serde_json::to_string(&kit).unwrap());
        assert!(
            table(&posture(&seen, NOW))
                .lines()
                .nth(1)
                .unwrap()
                .contains("NOT SEEN by 210987654321")
        );
        // A check of an older copy says nothing of the newest.
        kit.recovery_check = Some(check("backup-westaaaold"));
        seen.destinations[0]
            .1
            .kits
            .as_mut()
            .unwrap()
            .insert(name, serde_json::to_string(&kit).unwrap());
        assert_eq!(posture(&seen, NOW)[0].recovery_view, None);
    }

    #[test]
    fn the_table_has_a_line_per_row_and_shows_a_mode_mismatch() {
        let text = table(&posture(&observed(), NOW));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("CLUSTER") && lines[0].contains("KIT"));
        assert!(
            lines[1].contains("backup-westaaanew") && lines[1].contains("stale (backup-westaaaold)"),
            "{text}"
        );
        assert!(lines[2].contains("NONE") && lines[2].contains("missing"), "{text}");
        let mixed = Observed {
            clusters: vec![Cluster {
                mode: Some("NON_FIPS".into()),
                ..Cluster::tagged(A, &[])
            }],
            ..observed()
        };
        assert!(table(&posture(&mixed, NOW)).contains("FIPS (cluster NON_FIPS)"));
    }

    #[test]
    fn the_dr_regions_copies_still_show_when_the_source_cannot_be_read() {
        let seen = Observed {
            clusters: Vec::new(),
            source_backups: Vec::new(),
            running: None,
            ..observed()
        };
        let rows = posture(&seen, NOW);
        // Both clusters have copies in us-west-2: they keep their rows, without the cluster's mode.
        let ids: Vec<&str> = rows.iter().map(|r| r.cluster_id.as_str()).collect();
        assert_eq!(ids, vec![A, A, B, B]);
        assert_eq!(rows[0].newest_copy_id.as_deref(), Some("backup-westaaanew"));
        assert_eq!(rows[0].cluster_mode, None);
        let unreadable = Observed {
            destinations: vec![(
                "us-west-2".into(),
                Destination {
                    unreadable: Some("DescribeBackups: AccessDenied".into()),
                    ..Destination::default()
                },
            )],
            ..observed()
        };
        let text = table(&posture(&unreadable, NOW));
        assert!(text.contains("? (unreadable)"), "{text}");
    }
}
