//! Freshness, the DR promise measured: per source cluster and destination region, how old the
//! newest READY copy is. Published as CloudWatch Embedded Metric Format log lines (no API call).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use crate::backup::{Backup, BackupState, newest_ready_copy};
use crate::time::EpochSeconds;

/// The CloudWatch namespace of our metrics.
pub const NAMESPACE: &str = "CloudHSMBackupCopy";
pub const METRIC: &str = "NewestCopyAgeHours";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    pub cluster_id: String,
    pub destination_region: String,
    /// Hours since the newest READY copy's backup was taken; with no copy in the sweep's
    /// look-back window, hours since the cluster's oldest READY backup in it (how long the region
    /// has lacked it), so the figure grows while copies keep failing, up to the window's length.
    pub newest_copy_age_hours: f64,
    pub newest_copy_id: Option<String>,
}

/// Measures every selected cluster (those with READY original backups in `sources`) against
/// the copies listed in one destination region.
pub fn measure(
    sources: &[Backup],
    source_region: &str,
    region: &str,
    copies: &[Backup],
    now: EpochSeconds,
) -> Vec<Freshness> {
    let mut oldest_source: BTreeMap<&str, Option<EpochSeconds>> = BTreeMap::new();
    for b in sources.iter().filter(|b| !b.is_copy() && b.state == BackupState::Ready) {
        if let Some(cluster) = b.cluster_id.as_deref() {
            let entry = oldest_source.entry(cluster).or_insert(b.created_at);
            *entry = match (*entry, b.created_at) {
                (Some(a), Some(c)) => Some(a.min(c)),
                (a, c) => a.or(c),
            };
        }
    }
    let hours = |t: Option<EpochSeconds>| t.map_or(0.0, |t| ((now - t).max(0) as f64 / 3600.0 * 100.0).round() / 100.0);
    oldest_source
        .into_iter()
        .map(|(cluster, oldest)| {
            let newest = newest_ready_copy(copies, source_region, cluster);
            Freshness {
                cluster_id: cluster.to_owned(),
                destination_region: region.to_owned(),
                newest_copy_age_hours: hours(newest.map_or(oldest, |c| c.created_at)),
                newest_copy_id: newest.map(|c| c.id.clone()),
            }
        })
        .collect()
}

/// One EMF log line: the metric per (cluster, region), and once more without dimensions so a
/// single alarm can watch the worst of them.
pub fn emf_line(f: &Freshness, now: EpochSeconds) -> String {
    json!({
        "_aws": {
            "Timestamp": now * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["ClusterId", "DestinationRegion"], []],
                "Metrics": [{"Name": METRIC, "Unit": "None"}],
            }],
        },
        "ClusterId": f.cluster_id,
        "DestinationRegion": f.destination_region,
        METRIC: f.newest_copy_age_hours,
        "NewestCopyId": f.newest_copy_id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: EpochSeconds = 1_795_665_600;

    fn backup(id: &str, cluster: &str, hours_ago: i64) -> Backup {
        Backup::original(id, Some(cluster), BackupState::Ready, Some(NOW - hours_ago * 3600))
    }

    fn copy(id: &str, cluster: &str, hours_ago: i64, state: BackupState) -> Backup {
        Backup {
            state,
            ..backup(id, cluster, hours_ago).copied_from("backup-x", "us-east-1", Some(cluster))
        }
    }

    #[test]
    fn reports_the_newest_ready_copy_per_cluster() {
        let sources = [backup("s1", "c1", 30), backup("s2", "c1", 6), backup("s3", "c2", 2)];
        let copies = [
            copy("k1", "c1", 30, BackupState::Ready),
            copy("k2", "c1", 6, BackupState::Ready),
            copy("k3", "c1", 1, BackupState::CreateInProgress),
        ];
        let f = measure(&sources, "us-east-1", "us-west-2", &copies, NOW);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (
                f[0].cluster_id.as_str(),
                f[0].newest_copy_age_hours,
                f[0].newest_copy_id.as_deref()
            ),
            ("c1", 6.0, Some("k2"))
        );
        // c2 has no copy: its age is how long its oldest backup has gone uncopied.
        assert_eq!(
            (
                f[1].cluster_id.as_str(),
                f[1].newest_copy_age_hours,
                f[1].newest_copy_id.as_deref()
            ),
            ("c2", 2.0, None)
        );
    }

    #[test]
    fn copies_from_other_source_regions_do_not_count() {
        let mut foreign = copy("k1", "c1", 1, BackupState::Ready);
        foreign.source_region = Some("eu-west-1".into());
        let f = measure(&[backup("s1", "c1", 48)], "us-east-1", "us-west-2", &[foreign], NOW);
        assert_eq!(f[0].newest_copy_age_hours, 48.0);
    }

    #[test]
    fn emf_line_declares_the_metric_with_and_without_dimensions() {
        let f = Freshness {
            cluster_id: "c1".into(),
            destination_region: "us-west-2".into(),
            newest_copy_age_hours: 6.5,
            newest_copy_id: Some("k2".into()),
        };
        let line: serde_json::Value = serde_json::from_str(&emf_line(&f, NOW)).unwrap();
        assert_eq!(line["_aws"]["Timestamp"], NOW * 1000);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["ClusterId", "DestinationRegion"], []])
        );
        assert_eq!(line[METRIC], 6.5);
        assert_eq!(line["ClusterId"], "c1");
    }
}
