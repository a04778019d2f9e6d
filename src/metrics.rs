//! CloudWatch Embedded Metric Format: metrics as log lines, which Lambda's log capture turns
//! into metrics without an API call.

use serde_json::json;
use tracing::warn;

use crate::freshness::NAMESPACE;
use crate::time::EpochSeconds;

/// (backup, region) pairs that sweeps have given up on (see [`crate::generations`]).
pub const GIVEN_UP_METRIC: &str = "CopiesGivenUp";

/// One EMF line for the given-up count of one destination region, and once more without
/// dimensions so a single alarm watches every region. Sweeps write it even when the count is 0,
/// so the alarm returns to OK once the pairs are copied or leave the window.
pub fn given_up_line(destination_region: &str, count: usize, now: EpochSeconds) -> String {
    json!({
        "_aws": {
            "Timestamp": now * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["DestinationRegion"], []],
                "Metrics": [{"Name": GIVEN_UP_METRIC, "Unit": "Count"}],
            }],
        },
        "DestinationRegion": destination_region,
        GIVEN_UP_METRIC: count,
    })
    .to_string()
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
    fn given_up_line_declares_the_count_per_region_and_overall() {
        let line: serde_json::Value = serde_json::from_str(&given_up_line("us-west-2", 3, 1_000)).unwrap();
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["DestinationRegion"], []]));
        assert_eq!(declared["Metrics"][0]["Name"], GIVEN_UP_METRIC);
        assert_eq!(line[GIVEN_UP_METRIC], 3);
        assert_eq!(line["DestinationRegion"], "us-west-2");
        assert_eq!(line["_aws"]["Timestamp"], 1_000_000);
    }
}
