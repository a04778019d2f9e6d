//! Restore drills: evidence that the newest copy in each DR region can become a cluster.
//!
//! A drill restores a cluster from the newest READY copy of one source cluster in one DR region
//! (`CreateCluster` with the copy's HsmType and Mode: a FIPS backup restores only to a FIPS
//! cluster), follows it until it is ACTIVE and names the copy as its source, and deletes it,
//! also when it fails. A restored cluster has no HSMs, so it costs nothing while it exists.
//! Drill clusters carry [`DRILL_TAG`] with the stack's name, so that one left behind (a drill
//! cut short) is found and deleted by the next run. This module holds the rules, pure: which
//! drills to run, what each check decides, and which clusters are orphans.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backup::{Backup, newest_ready_copy};
use crate::cluster::Cluster;

pub mod outcome;
pub mod record;
mod runs;
pub mod steps;
mod subnets;

pub use runs::{admit, run_name, run_prefix};
pub use subnets::DrillSubnets;

/// The tag every drill cluster carries; its value is the stack's name.
pub const DRILL_TAG: &str = "cloudhsm-backup-copy:drill";
/// The tag naming the drill execution that made the cluster: a cluster whose execution is no
/// longer running is an orphan, whatever its state.
pub const DRILL_RUN_TAG: &str = "cloudhsm-backup-copy:drill-run";

/// One drill: restore this copy in this region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillJob {
    pub source_region: String,
    pub source_cluster_id: String,
    pub destination_region: String,
    /// The newest READY copy there.
    pub backup_id: String,
    pub hsm_type: String,
    pub mode: String,
    pub subnet_ids: Vec<String>,
}

/// Why a (cluster, region) gets no drill this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoDrill {
    /// No READY copy of the cluster there yet.
    NoReadyCopy,
    /// The copy does not say its HsmType or Mode, which CreateCluster needs.
    CopyIncomplete,
    /// The last drill of this cluster in this region is still running.
    StillRunning,
    /// As many drills as allowed are running in the region.
    RegionBusy,
    /// This hour's drill of the cluster in the region has run already (drills are named per
    /// hour, so a schedule event delivered twice starts one).
    RanThisHour,
}

/// The drills to run: each selected cluster in each region with subnets, from its newest READY
/// copy there; the pairs without one, and why.
pub fn plan(
    source_region: &str,
    subnets: &DrillSubnets,
    clusters: &[Cluster],
    copies: &BTreeMap<String, Vec<Backup>>,
) -> (Vec<DrillJob>, Vec<(String, String, NoDrill)>) {
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for cluster in clusters {
        for (region, subnet_ids) in &subnets.0 {
            let in_region = copies.get(region).map(Vec::as_slice).unwrap_or_default();
            let Some(copy) = newest_ready_copy(in_region, source_region, &cluster.id) else {
                skipped.push((cluster.id.clone(), region.clone(), NoDrill::NoReadyCopy));
                continue;
            };
            let (Some(hsm_type), Some(mode)) = (&copy.hsm_type, &copy.mode) else {
                skipped.push((cluster.id.clone(), region.clone(), NoDrill::CopyIncomplete));
                continue;
            };
            jobs.push(DrillJob {
                source_region: source_region.to_owned(),
                source_cluster_id: cluster.id.clone(),
                destination_region: region.clone(),
                backup_id: copy.id.clone(),
                hsm_type: hsm_type.clone(),
                mode: mode.clone(),
                subnet_ids: subnet_ids.clone(),
            });
        }
    }
    (jobs, skipped)
}

/// What a drill does after looking at its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "next")]
pub enum DrillNext {
    /// Still being created: look again.
    Wait,
    /// ACTIVE, restored from the drill's copy with its HsmType and Mode.
    Verified,
    /// The restore did not become what it should; `reason` says how.
    Failed { reason: String },
}

/// A new cluster may be missing from DescribeClusters this long (eventual consistency).
pub const LISTING_GRACE_SECONDS: i64 = 300;
/// States a restore passes through on its way to ACTIVE (AWS does not list them for restores;
/// the least convenient reading is that any of them may appear).
const ON_THE_WAY: [&str; 4] = [
    "CREATE_IN_PROGRESS",
    "INITIALIZE_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "MODIFY_IN_PROGRESS",
];

/// Decides after one DescribeClusters of the drill cluster (`None`: not listed), `elapsed`
/// seconds after the drill started, with `deadline` seconds allowed.
pub fn decide(job: &DrillJob, cluster: Option<&Cluster>, elapsed: i64, deadline: i64) -> DrillNext {
    let failed = |reason: String| DrillNext::Failed { reason };
    let Some(cluster) = cluster else {
        return if elapsed < LISTING_GRACE_SECONDS.min(deadline) {
            DrillNext::Wait
        } else {
            failed(format!(
                "the drill cluster is not listed {elapsed} s after it was created"
            ))
        };
    };
    let state = cluster.state.as_deref().unwrap_or("");
    if ON_THE_WAY.contains(&state) {
        return if elapsed < deadline {
            DrillNext::Wait
        } else {
            failed(format!("still {state} after {elapsed} s (deadline {deadline} s)"))
        };
    }
    match state {
        "ACTIVE" => {
            let expected = (
                Some(job.backup_id.as_str()),
                Some(job.hsm_type.as_str()),
                Some(job.mode.as_str()),
            );
            // A cluster restored from a shared copy may name it by its ARN (AWS does not say).
            let source = cluster.source_backup_id.as_deref().map(|named| {
                named
                    .strip_prefix("arn:")
                    .and_then(|arn| arn.rsplit_once(":backup/"))
                    .map_or(named, |(_, id)| id)
            });
            let found = (source, cluster.hsm_type.as_deref(), cluster.mode.as_deref());
            if found == expected {
                DrillNext::Verified
            } else {
                failed(format!(
                    "ACTIVE, but restored from {found:?} (backup, HsmType, Mode), not {expected:?}"
                ))
            }
        }
        "CREATE_IN_PROGRESS" if elapsed < deadline => DrillNext::Wait,
        "CREATE_IN_PROGRESS" => failed(format!(
            "still CREATE_IN_PROGRESS after {elapsed} s (deadline {deadline} s)"
        )),
        other => failed(format!(
            "the cluster is {other}{}",
            cluster
                .state_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
    }
}

/// The drill clusters of this stack in one region's listing whose drill is not running (by
/// [`DRILL_RUN_TAG`]), and not already on their way out.
pub fn orphans<'a>(clusters: &'a [Cluster], stack: &str, running: &[String]) -> Vec<&'a Cluster> {
    clusters
        .iter()
        .filter(|c| has_tag(c, DRILL_TAG, stack))
        .filter(|c| !running.iter().any(|run| has_tag(c, DRILL_RUN_TAG, run)))
        .filter(|c| !matches!(c.state.as_deref(), Some("DELETE_IN_PROGRESS" | "DELETED")))
        .collect()
}

fn has_tag(cluster: &Cluster, key: &str, value: &str) -> bool {
    cluster.tags.iter().any(|(k, v)| k == key && v == value)
}

/// The clusters made by one drill execution.
pub fn made_by<'a>(clusters: &'a [Cluster], stack: &str, run: &str) -> Vec<&'a Cluster> {
    clusters
        .iter()
        .filter(|c| has_tag(c, DRILL_TAG, stack) && has_tag(c, DRILL_RUN_TAG, run))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backup::BackupState;

    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    fn copy(id: &str, cluster: &str, created_at: i64) -> Backup {
        Backup::original(id, None, BackupState::Ready, Some(created_at))
            .copied_from("backup-srcsrcsrcsr", "us-east-1", Some(cluster))
            .of_hsm("hsm2m.medium", "FIPS")
    }

    pub(crate) fn job() -> DrillJob {
        DrillJob {
            source_region: "us-east-1".into(),
            source_cluster_id: A.into(),
            destination_region: "us-west-2".into(),
            backup_id: "backup-newestnewes".into(),
            hsm_type: "hsm2m.medium".into(),
            mode: "FIPS".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into()],
        }
    }

    fn restored(state: &str, source: &str) -> Cluster {
        Cluster {
            state: Some(state.into()),
            source_backup_id: Some(source.into()),
            hsm_type: Some("hsm2m.medium".into()),
            mode: Some("FIPS".into()),
            ..Cluster::tagged("cluster-drilldrill1", &[(DRILL_TAG, "dr")])
        }
    }

    #[test]
    fn each_cluster_is_drilled_from_its_newest_ready_copy_where_subnets_are_given() {
        let subnets = DrillSubnets::parse("us-west-2=subnet-0a1b2c3d,eu-west-1=subnet-abcdef01").unwrap();
        let copies = BTreeMap::from([(
            "us-west-2".to_owned(),
            vec![copy("backup-olderolder1", A, 100), copy("backup-newestnewes", A, 200)],
        )]);
        let clusters = [Cluster::tagged(A, &[]), Cluster::tagged(B, &[])];
        let (jobs, skipped) = plan("us-east-1", &subnets, &clusters, &copies);
        assert_eq!(jobs, vec![job()]);
        assert_eq!(
            skipped,
            vec![
                (A.to_owned(), "eu-west-1".to_owned(), NoDrill::NoReadyCopy),
                (B.to_owned(), "eu-west-1".to_owned(), NoDrill::NoReadyCopy),
                (B.to_owned(), "us-west-2".to_owned(), NoDrill::NoReadyCopy),
            ]
        );
        let mut vague = copy("backup-newestnewes", A, 200);
        vague.mode = None;
        let copies = BTreeMap::from([("us-west-2".to_owned(), vec![vague])]);
        let (jobs, skipped) = plan("us-east-1", &subnets, &clusters[..1], &copies);
        assert!(jobs.is_empty() && skipped.contains(&(A.to_owned(), "us-west-2".to_owned(), NoDrill::CopyIncomplete)));
    }

    #[test]
    fn a_drill_is_verified_only_by_an_active_cluster_restored_from_its_copy() {
        let j = job();
        assert_eq!(
            decide(&j, Some(&restored("CREATE_IN_PROGRESS", &j.backup_id)), 60, 3600),
            DrillNext::Wait
        );
        assert_eq!(
            decide(&j, Some(&restored("ACTIVE", &j.backup_id)), 600, 3600),
            DrillNext::Verified
        );
        // Restored from the shared copy's ARN (a drill in the recovery account).
        let by_arn = format!("arn:aws:cloudhsm:us-west-2:123456789012:backup/{}", j.backup_id);
        assert_eq!(
            decide(&j, Some(&restored("ACTIVE", &by_arn)), 600, 3600),
            DrillNext::Verified
        );
        let other_arn = "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-otherother1";
        assert!(matches!(
            decide(&j, Some(&restored("ACTIVE", other_arn)), 600, 3600),
            DrillNext::Failed { .. }
        ));
        let wrong = decide(&j, Some(&restored("ACTIVE", "backup-otherother1")), 600, 3600);
        assert!(
            matches!(&wrong, DrillNext::Failed { reason } if reason.contains("backup-otherother1")),
            "{wrong:?}"
        );
        let degraded = Cluster {
            state_message: Some("restore failed".into()),
            ..restored("DEGRADED", &j.backup_id)
        };
        let failed = decide(&j, Some(&degraded), 600, 3600);
        assert_eq!(
            failed,
            DrillNext::Failed {
                reason: "the cluster is DEGRADED: restore failed".into()
            }
        );
        assert!(matches!(
            decide(&j, Some(&restored("CREATE_IN_PROGRESS", &j.backup_id)), 3600, 3600),
            DrillNext::Failed { .. }
        ));
        assert_eq!(
            decide(&j, Some(&restored("INITIALIZE_IN_PROGRESS", &j.backup_id)), 60, 3600),
            DrillNext::Wait
        );
        // A new cluster may be listed late; one missing for long is a failure.
        assert_eq!(decide(&j, None, 10, 3600), DrillNext::Wait);
        assert!(matches!(
            decide(&j, None, LISTING_GRACE_SECONDS, 3600),
            DrillNext::Failed { .. }
        ));
    }

    #[test]
    fn orphans_are_this_stacks_drill_clusters_whose_drill_is_not_running() {
        let drill = |id: &str, run: &str, state: &str| Cluster {
            id: id.into(),
            ..Cluster {
                tags: vec![(DRILL_TAG.into(), "dr".into()), (DRILL_RUN_TAG.into(), run.into())],
                ..restored(state, "backup-newestnewes")
            }
        };
        let listed = [
            drill("cluster-leftbehind1", "drill.old", "ACTIVE"),
            // Still being created, but its drill ended (a deadline): an orphan too.
            drill("cluster-stillcreat1", "drill.old2", "CREATE_IN_PROGRESS"),
            Cluster::tagged("cluster-notadrill11", &[]),
            Cluster {
                id: "cluster-otherstack1".into(),
                ..Cluster::tagged("x", &[(DRILL_TAG, "another-stack"), (DRILL_RUN_TAG, "drill.old")])
            },
            drill("cluster-beingdeleted", "drill.old", "DELETE_IN_PROGRESS"),
            drill("cluster-deletedlist1", "drill.old", "DELETED"),
            drill("cluster-runningdril", "drill.now", "CREATE_IN_PROGRESS"),
        ];
        let found: Vec<&str> = orphans(&listed, "dr", &["drill.now".into()])
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(found, vec!["cluster-leftbehind1", "cluster-stillcreat1"]);
        let mine: Vec<&str> = made_by(&listed, "dr", "drill.now")
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(mine, vec!["cluster-runningdril"]);
    }
}
