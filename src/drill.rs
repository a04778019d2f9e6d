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
use crate::ids::is_region;

/// The tag every drill cluster carries; its value is the stack's name.
pub const DRILL_TAG: &str = "cloudhsm-backup-copy:drill";

/// Where drills may run: the subnets CreateCluster needs, per DR region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrillSubnets(pub BTreeMap<String, Vec<String>>);

impl DrillSubnets {
    /// `us-west-2=subnet-0a1b2c3d;subnet-1a2b3c4d,eu-west-1=subnet-...` (1 to 10 subnets each,
    /// as CreateCluster takes them).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut regions = BTreeMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (region, subnets) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not REGION=SUBNET[;SUBNET...]"))?;
            let region = region.trim();
            if !is_region(region) {
                return Err(format!("{region:?} is not a region name"));
            }
            let subnets: Vec<String> = subnets.split(';').map(|s| s.trim().to_owned()).collect();
            if subnets.is_empty() || subnets.len() > 10 {
                return Err(format!("{region} needs 1 to 10 subnets"));
            }
            if let Some(bad) = subnets.iter().find(|s| !is_subnet_id(s)) {
                return Err(format!("{bad:?} is not a subnet id (subnet-[0-9a-fA-F]{{8,17}})"));
            }
            if regions.insert(region.to_owned(), subnets).is_some() {
                return Err(format!("{region} is named twice"));
            }
        }
        Ok(Self(regions))
    }
}

/// botocore's `SubnetId` pattern.
fn is_subnet_id(s: &str) -> bool {
    s.strip_prefix("subnet-")
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

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
            let found = (
                cluster.source_backup_id.as_deref(),
                cluster.hsm_type.as_deref(),
                cluster.mode.as_deref(),
            );
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

/// The drill clusters of this stack in one region's listing that no running drill owns.
pub fn orphans<'a>(clusters: &'a [Cluster], stack: &str, owned: &[String]) -> Vec<&'a Cluster> {
    clusters
        .iter()
        .filter(|c| c.tags.iter().any(|(k, v)| k == DRILL_TAG && v == stack))
        .filter(|c| !owned.contains(&c.id))
        .filter(|c| !matches!(c.state.as_deref(), Some("DELETE_IN_PROGRESS" | "DELETED")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupState;

    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    fn copy(id: &str, cluster: &str, created_at: i64) -> Backup {
        Backup::original(id, None, BackupState::Ready, Some(created_at))
            .copied_from("backup-srcsrcsrcsr", "us-east-1", Some(cluster))
            .of_hsm("hsm2m.medium", "FIPS")
    }

    fn job() -> DrillJob {
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
    fn subnets_are_read_per_region_as_create_cluster_takes_them() {
        let parsed =
            DrillSubnets::parse("us-west-2=subnet-0a1b2c3d;subnet-1a2b3c4d5e, eu-west-1=subnet-abcdef01").unwrap();
        assert_eq!(parsed.0["us-west-2"], vec!["subnet-0a1b2c3d", "subnet-1a2b3c4d5e"]);
        assert_eq!(parsed.0["eu-west-1"], vec!["subnet-abcdef01"]);
        assert_eq!(DrillSubnets::parse("").unwrap(), DrillSubnets::default());
        for (bad, says) in [
            ("us-west-2", "is not REGION=SUBNET"),
            ("mars-1=subnet-0a1b2c3d", "not a region"),
            ("us-west-2=sg-0a1b2c3d", "not a subnet id"),
            ("us-west-2=subnet-0a1b", "not a subnet id"),
            ("us-west-2=subnet-0a1b2c3d,us-west-2=subnet-1a2b3c4d", "named twice"),
        ] {
            let err = DrillSubnets::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let eleven = (0..11)
            .map(|i| format!("subnet-0a1b2c{i:02}"))
            .collect::<Vec<_>>()
            .join(";");
        assert!(DrillSubnets::parse(&format!("us-west-2={eleven}")).is_err());
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
    fn orphans_are_this_stacks_drill_clusters_no_running_drill_owns() {
        let listed = [
            restored("ACTIVE", "backup-newestnewes"),
            Cluster::tagged("cluster-notadrill11", &[]),
            Cluster {
                id: "cluster-otherstack1".into(),
                ..Cluster::tagged("x", &[(DRILL_TAG, "another-stack")])
            },
            Cluster {
                id: "cluster-beingdeleted".into(),
                ..restored("DELETE_IN_PROGRESS", "backup-newestnewes")
            },
            Cluster {
                id: "cluster-runningdril".into(),
                ..restored("CREATE_IN_PROGRESS", "backup-newestnewes")
            },
        ];
        let found: Vec<&str> = orphans(&listed, "dr", &["cluster-runningdril".into()])
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(found, vec!["cluster-drilldrill1"]);
    }
}
