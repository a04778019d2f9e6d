//! Drill executions: their names, and which drills may start while others run.

use std::collections::BTreeMap;

use super::{DrillJob, NoDrill};
use crate::time::{EpochSeconds, to_rfc3339};

/// The drill execution's name: `drill.<cluster>.<region>.<hour>`. Deterministic within the
/// hour, so a schedule event delivered twice starts one drill (StartExecution is idempotent
/// for a running execution with the same name and input); at most 80 characters.
pub fn run_name(job: &DrillJob, now: EpochSeconds) -> String {
    let hour = to_rfc3339(now - now.rem_euclid(3600));
    let stamp: String = hour.chars().filter(char::is_ascii_digit).take(10).collect();
    format!("{}{stamp}", run_prefix(&job.source_cluster_id, &job.destination_region))
}

/// What every drill execution of this (cluster, region) is named with first.
pub fn run_prefix(cluster: &str, region: &str) -> String {
    format!("drill.{cluster}.{region}.")
}

/// Which drills to start now: none for a (cluster, region) whose drill is still running, and at
/// most `per_region` running at once in a region (the cluster quota is shared with production:
/// a handful per region). The second list is the jobs held back.
pub fn admit(jobs: Vec<DrillJob>, running: &[String], per_region: usize) -> (Vec<DrillJob>, Vec<(DrillJob, NoDrill)>) {
    let mut busy: BTreeMap<String, usize> = BTreeMap::new();
    for name in running {
        if let Some(region) = name.strip_prefix("drill.").and_then(|rest| rest.split('.').nth(1)) {
            *busy.entry(region.to_owned()).or_default() += 1;
        }
    }
    let mut start = Vec::new();
    let mut held = Vec::new();
    for job in jobs {
        let prefix = run_prefix(&job.source_cluster_id, &job.destination_region);
        let in_region = busy.entry(job.destination_region.clone()).or_default();
        if running.iter().any(|name| name.starts_with(&prefix)) {
            held.push((job, NoDrill::StillRunning));
        } else if *in_region >= per_region {
            held.push((job, NoDrill::RegionBusy));
        } else {
            *in_region += 1;
            start.push(job);
        }
    }
    (start, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::tests::job;

    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    #[test]
    fn runs_are_named_per_hour_and_admitted_one_per_cluster_and_a_few_per_region() {
        let name = run_name(&job(), 1_795_665_600 + 1_799);
        assert_eq!(name, "drill.cluster-aaaaaaaaaaa.us-west-2.2026112604");
        let longest = DrillJob {
            source_cluster_id: format!("cluster-{}", "a".repeat(16)),
            destination_region: "ap-southeast-2".into(),
            ..job()
        };
        assert!(run_name(&longest, 0).len() <= 80);
        let other = |cluster: &str, region: &str| DrillJob {
            source_cluster_id: cluster.into(),
            destination_region: region.into(),
            ..job()
        };
        let jobs = vec![
            job(),
            other(B, "us-west-2"),
            other("cluster-ccccccccccc", "us-west-2"),
            other(B, "eu-west-1"),
        ];
        // A's drill in us-west-2 is still running: A waits, and one more fits there.
        let running = vec![format!("drill.{A}.us-west-2.2026112503")];
        let (start, held) = admit(jobs, &running, 2);
        assert_eq!(start, vec![other(B, "us-west-2"), other(B, "eu-west-1")]);
        assert_eq!(
            held,
            vec![
                (job(), NoDrill::StillRunning),
                (other("cluster-ccccccccccc", "us-west-2"), NoDrill::RegionBusy)
            ]
        );
    }
}
