//! The drill schedule's run: delete the drill clusters earlier drills left behind, then start
//! one drill execution per selected cluster and DR region, from its newest READY copy there.

use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{info, warn};

use super::{RestoreDrill, RestoreDrillError};
use crate::backup::Backup;
use crate::drill::{DrillJob, NoDrill, admit, orphans, plan, run_name};
use crate::error::AwsErrorKind;
use crate::ports::{BackupApi, BackupQuery, ClusterApi, ExecutionApi, StartOutcome};
use crate::time::EpochSeconds;

/// What one planning run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// The drill executions started (or found running under the same name).
    pub started: Vec<String>,
    /// (cluster, region, why) for each pair that gets no drill this time.
    pub skipped: Vec<(String, String, NoDrill)>,
    /// (region, cluster) drill clusters left behind and now being deleted.
    pub orphans_deleted: Vec<(String, String)>,
    /// (region, cluster, why) left behind but not deletable yet (still being created).
    pub orphans_waiting: Vec<(String, String, String)>,
}

impl<H, C, E, P, V> RestoreDrill<H, C, E, P, V>
where
    H: BackupApi,
    C: BackupApi + ClusterApi,
    E: ExecutionApi,
{
    pub(super) async fn plan(&self, now: EpochSeconds) -> Result<PlanSummary, RestoreDrillError> {
        let config = &self.config;
        let mut summary = PlanSummary::default();
        let mut failures = Vec::new();
        let running = self.executions.running_executions().await?;
        let clusters: Vec<_> = self
            .hsm
            .describe_clusters(&config.source_region, None)
            .await?
            .into_iter()
            .filter(|c| config.selection.check(Some(&c.id), Some(c)).is_ok())
            .collect();
        let mut copies: BTreeMap<String, Vec<Backup>> = BTreeMap::new();
        for region in config.subnets.0.keys() {
            self.clean_orphans(region, &running, &mut summary, &mut failures).await;
            match self
                .hsm
                .describe_backups(region, BackupQuery::AllReady { since: None })
                .await
            {
                Ok(found) => {
                    copies.insert(region.clone(), found);
                }
                Err(e) => failures.push(format!("cannot list the copies in {region}: {e}")),
            }
        }
        // A region whose copies could not be listed gets no drill (rather than NO_READY_COPY).
        let (jobs, skipped) = plan(&config.source_region, &config.subnets, &clusters, &copies);
        summary.skipped = skipped
            .into_iter()
            .filter(|(_, region, _)| copies.contains_key(region))
            .collect();
        let (start, held) = admit(jobs, &running, config.max_drills_per_region);
        summary.skipped.extend(
            held.into_iter()
                .map(|(job, why)| (job.source_cluster_id, job.destination_region, why)),
        );
        self.start_drills(start, now, &mut summary, &mut failures).await?;
        info!(
            started = ?summary.started,
            skipped = summary.skipped.len(),
            orphans_deleted = ?summary.orphans_deleted,
            orphans_waiting = summary.orphans_waiting.len(),
            failures = failures.len(),
            "drills planned"
        );
        if failures.is_empty() {
            Ok(summary)
        } else {
            warn!(?failures, ?summary, "drill plan incomplete");
            Err(RestoreDrillError::PlanIncomplete(failures))
        }
    }

    /// Starts one execution per drill, named for the hour (see [`run_name`]).
    async fn start_drills(
        &self,
        jobs: Vec<DrillJob>,
        now: EpochSeconds,
        summary: &mut PlanSummary,
        failures: &mut Vec<String>,
    ) -> Result<(), RestoreDrillError> {
        for job in jobs {
            let name = run_name(&job, now);
            let input = serde_json::to_string(&job).map_err(|e| RestoreDrillError::InvalidInput(e.to_string()))?;
            match self.executions.start_execution(&name, &input).await {
                Ok(StartOutcome::Started { .. }) => summary.started.push(name),
                // This hour's drill ran already (a schedule event delivered twice).
                Ok(StartOutcome::AlreadyExists) => {
                    summary
                        .skipped
                        .push((job.source_cluster_id, job.destination_region, NoDrill::RanThisHour))
                }
                Err(e) => failures.push(format!("cannot start {name}: {e}")),
            }
        }
        Ok(())
    }

    /// Deletes this stack's drill clusters that no running drill owns. One still being created
    /// cannot be deleted yet; the next run tries again.
    async fn clean_orphans(
        &self,
        region: &str,
        running: &[String],
        summary: &mut PlanSummary,
        failures: &mut Vec<String>,
    ) {
        let listed = match self.clusters.describe_clusters(region, None).await {
            Ok(listed) => listed,
            Err(e) => {
                failures.push(format!("cannot list the clusters in {region}: {e}"));
                return;
            }
        };
        for orphan in orphans(&listed, &self.config.stack_name, running) {
            match self.clusters.delete_cluster(region, &orphan.id).await {
                Ok(()) => summary.orphans_deleted.push((region.to_owned(), orphan.id.clone())),
                Err(e) if e.kind == AwsErrorKind::NotFound => {}
                Err(e) if e.kind == AwsErrorKind::InvalidRequest || e.is_retryable() => {
                    summary
                        .orphans_waiting
                        .push((region.to_owned(), orphan.id.clone(), e.message.clone()));
                }
                Err(e) => failures.push(format!(
                    "cannot delete the left-behind drill cluster {}: {e}",
                    orphan.id
                )),
            }
        }
    }
}
