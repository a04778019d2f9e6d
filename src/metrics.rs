//! CloudWatch Embedded Metric Format: metrics as log lines, which Lambda's log capture turns
//! into metrics without an API call.

use serde_json::json;
use tracing::warn;

use crate::freshness::NAMESPACE;
use crate::time::EpochSeconds;

/// (backup, region) pairs that sweeps have given up on (see [`crate::generations`]).
pub const GIVEN_UP_METRIC: &str = "CopiesGivenUp";
/// Restore kits a sweep could not store in the region (see [`crate::restore_kit`]).
pub const KITS_FAILED_METRIC: &str = "RestoreKitsFailed";
/// Clusters whose newest copy in the region has another mode than the cluster.
pub const MODE_MISMATCH_METRIC: &str = "ModeMismatches";

/// Copies a region lists as CREATE_IN_PROGRESS (of the backups the sweep looked up): what is in
/// flight there.
pub const IN_PROGRESS_METRIC: &str = "CopiesInProgress";
/// Kits whose newest copy could not be guarded, or whose superseded guard could not be cleared
/// (GuardNewestCopy).
pub const GUARDS_FAILED_METRIC: &str = "CopyGuardsFailed";
/// READY copies a sweep found unshared with the recovery accounts and shared again, and
/// whether its share run in the region failed (RecoveryAccounts; see [`crate::sharing`]).
pub const SHARES_REPAIRED_METRIC: &str = "SharesRepaired";
pub const SHARING_FAILED_METRIC: &str = "SharingFailed";
/// Clusters whose newest copy in the region a recovery account does not list as shared.
pub const NOT_SEEN_METRIC: &str = "NotSeenByRecovery";
/// Restore drills finished in a region, by their result (the drill's finish step writes them).
pub const DRILLS_SUCCEEDED_METRIC: &str = "RestoreDrillsSucceeded";
pub const DRILLS_FAILED_METRIC: &str = "RestoreDrillsFailed";
/// Hours since a cluster's last successful restore drill in a region; with none yet, since its
/// first drill (sweeps write it from the drill records, so it grows while no drill succeeds).
pub const DRILL_AGE_METRIC: &str = "SuccessfulDrillAgeHours";

/// One EMF line for hours per (cluster, region), and once more without dimensions so a single
/// alarm watches the worst of them.
pub fn cluster_hours_line(
    metric: &str,
    cluster_id: &str,
    destination_region: &str,
    hours: f64,
    now: EpochSeconds,
) -> String {
    json!({
        "_aws": {
            "Timestamp": now * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["ClusterId", "DestinationRegion"], []],
                "Metrics": [{"Name": metric, "Unit": "None"}],
            }],
        },
        "ClusterId": cluster_id,
        "DestinationRegion": destination_region,
        metric: hours,
    })
    .to_string()
}

/// One EMF line for a count in one destination region, and once more without dimensions so a
/// single alarm watches every region. Sweeps write it even when the count is 0, so the alarm
/// returns to OK once the cause is gone.
pub fn region_count_line(metric: &str, destination_region: &str, count: usize, now: EpochSeconds) -> String {
    json!({
        "_aws": {
            "Timestamp": now * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["DestinationRegion"], []],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "DestinationRegion": destination_region,
        metric: count,
    })
    .to_string()
}

/// Writes [`region_count_line`] for each (metric, count) of one region.
pub fn emit_region_counts(destination_region: &str, counts: &[(&str, usize)], now: EpochSeconds) {
    for (metric, count) in counts {
        emit(&region_count_line(metric, destination_region, *count, now));
    }
}

/// Writes one EMF line to stdout, where Lambda's log capture picks it up as is (it must not go
/// through the tracing formatter, which would wrap it).
pub fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        warn!(error = %e, "cannot write a metric line");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_count_is_declared_per_region_and_overall() {
        let line: serde_json::Value =
            serde_json::from_str(&region_count_line(GIVEN_UP_METRIC, "us-west-2", 3, 1_000)).unwrap();
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["DestinationRegion"], []]));
        assert_eq!(declared["Metrics"][0]["Name"], GIVEN_UP_METRIC);
        assert_eq!(line[GIVEN_UP_METRIC], 3);
        assert_eq!(line["DestinationRegion"], "us-west-2");
        assert_eq!(line["_aws"]["Timestamp"], 1_000_000);
    }
}
