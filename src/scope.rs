//! What one deployment may act on: backups of its own region, of the clusters the operator
//! selected, copied to the destinations the operator configured.
//!
//! IAM cannot express "only the configured destinations" for CopyBackupToRegion (the request
//! goes to the source region's endpoint and AWS documents no condition key for the destination),
//! so the functions that act on a job check it here first: a forged execution input or a direct
//! invoke gets a typed error and causes no AWS call.

use crate::job::CopyJob;
use crate::selection::{ClusterSelection, NotSelected};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The function's own region, whose backups are copied.
    pub source_region: String,
    /// The configured destinations (validated, non-empty).
    pub destination_regions: Vec<String>,
    /// The include and exclude lists (the tag selector needs DescribeClusters, so only the
    /// planner applies it).
    pub selection: ClusterSelection,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutOfScope {
    #[error("job.sourceRegion {found} is not this function's region {expected}")]
    SourceRegion { found: String, expected: String },
    #[error("job.destinationRegion {found} is not a configured destination ({configured})")]
    Destination { found: String, configured: String },
    #[error("cluster {cluster} is not selected for copying ({why})")]
    Cluster { cluster: String, why: NotSelected },
}

impl Scope {
    /// Whether this deployment may act on `job`.
    pub fn admit(&self, job: &CopyJob) -> Result<(), OutOfScope> {
        if job.source_region != self.source_region {
            return Err(OutOfScope::SourceRegion {
                found: job.source_region.clone(),
                expected: self.source_region.clone(),
            });
        }
        if !self.destination_regions.contains(&job.destination_region) {
            return Err(OutOfScope::Destination {
                found: job.destination_region.clone(),
                configured: self.destination_regions.join(","),
            });
        }
        self.selection
            .check_ids(job.source_cluster_id.as_deref())
            .map_err(|why| OutOfScope::Cluster {
                cluster: job.source_cluster_id.clone().unwrap_or_else(|| "(none named)".into()),
                why,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    fn scope(include: &[&str], exclude: &[&str]) -> Scope {
        Scope {
            source_region: "us-east-1".into(),
            destination_regions: vec!["us-west-2".into(), "eu-west-1".into()],
            selection: ClusterSelection {
                include: include.iter().map(|s| s.to_string()).collect(),
                exclude: exclude.iter().map(|s| s.to_string()).collect(),
                tags: vec![],
            },
        }
    }

    fn job(source: &str, destination: &str, cluster: Option<&str>) -> CopyJob {
        CopyJob {
            source_backup_id: "backup-4kuraxsqetz".into(),
            source_cluster_id: cluster.map(str::to_owned),
            source_region: source.into(),
            destination_region: destination.into(),
            generation: 0,
        }
    }

    #[test]
    fn admits_only_configured_destinations_from_its_own_region() {
        let s = scope(&[], &[]);
        assert_eq!(s.admit(&job("us-east-1", "us-west-2", Some(A))), Ok(()));
        assert_eq!(s.admit(&job("us-east-1", "eu-west-1", None)), Ok(()));
        let err = s.admit(&job("us-east-1", "us-gov-west-1", Some(A))).unwrap_err();
        assert!(matches!(&err, OutOfScope::Destination { found, .. } if found == "us-gov-west-1"));
        assert_eq!(
            err.to_string(),
            "job.destinationRegion us-gov-west-1 is not a configured destination (us-west-2,eu-west-1)"
        );
        assert!(matches!(
            s.admit(&job("eu-central-1", "us-west-2", Some(A))),
            Err(OutOfScope::SourceRegion { .. })
        ));
    }

    #[test]
    fn refuses_clusters_the_lists_leave_out() {
        let s = scope(&[A], &[B]);
        assert_eq!(s.admit(&job("us-east-1", "us-west-2", Some(A))), Ok(()));
        let excluded = s.admit(&job("us-east-1", "us-west-2", Some(B))).unwrap_err();
        assert_eq!(
            excluded.to_string(),
            format!("cluster {B} is not selected for copying (in EXCLUDE_CLUSTERS)")
        );
        // With an include list, a job that names no cluster cannot be shown to be included.
        assert!(matches!(
            s.admit(&job("us-east-1", "us-west-2", None)),
            Err(OutOfScope::Cluster {
                why: NotSelected::NotIncluded,
                ..
            })
        ));
        assert_eq!(scope(&[], &[B]).admit(&job("us-east-1", "us-west-2", None)), Ok(()));
    }
}
