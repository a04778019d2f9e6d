//! The drill state machine's steps: create the cluster, check it, clean up, finish (record and
//! announce).

use tracing::{info, warn};

use super::{RestoreDrill, RestoreDrillError};
use crate::drill::outcome::{DrillAnnouncement, DrillResult, Outcome};
use crate::drill::record::{DrillRecord, parse, record_name};
use crate::drill::steps::{Cleanup, DrillPolicy, Progress};
use crate::drill::{DRILL_RUN_TAG, DRILL_TAG, DrillJob, decide, made_by};
use crate::error::{AwsError, AwsErrorKind};
use crate::metrics::{self, DRILLS_FAILED_METRIC, DRILLS_SUCCEEDED_METRIC, region_count_line};
use crate::ports::{Announcement, BackupApi, ClusterApi, EventPublisher, ParameterStore, Restore};
use crate::time::EpochSeconds;

/// The tag naming the source cluster a drill cluster was restored for.
pub const DRILL_OF_TAG: &str = "cloudhsm-backup-copy:drill-of";

impl<H, C, E, P, V> RestoreDrill<H, C, E, P, V>
where
    C: BackupApi + ClusterApi,
    P: ParameterStore,
    V: EventPublisher,
{
    /// CreateCluster from the copy, unless this drill already made one (a retried step after
    /// a lost answer must not make a second cluster). A refusal (the quota, a subnet, the
    /// copy) fails the drill with the service's reason; throttling is retried by the state
    /// machine.
    pub(super) async fn create(
        &self,
        job: &DrillJob,
        run: &str,
        policy: &DrillPolicy,
        progress: Progress,
        now: EpochSeconds,
    ) -> Result<Progress, RestoreDrillError> {
        let region = &job.destination_region;
        let listed = self.clusters.describe_clusters(region, None).await?;
        if let Some(existing) = made_by(&listed, &self.config.stack_name, run).first() {
            info!(cluster_id = %existing.id, "the drill's cluster exists already");
            return Ok(progress.created(existing.id.clone(), policy, now));
        }
        let tags = [
            (DRILL_TAG.to_owned(), self.config.stack_name.clone()),
            (DRILL_RUN_TAG.to_owned(), run.to_owned()),
            (DRILL_OF_TAG.to_owned(), job.source_cluster_id.clone()),
        ];
        let source = self.config.restore_source(region, &job.backup_id);
        let restore = Restore {
            backup_id: &source,
            hsm_type: &job.hsm_type,
            mode: &job.mode,
            subnet_ids: &job.subnet_ids,
            tags: &tags,
        };
        match self.clusters.create_cluster(region, &restore).await {
            Ok(cluster_id) => {
                info!(%cluster_id, backup_id = %job.backup_id, %region, "drill cluster created");
                Ok(progress.created(cluster_id, policy, now))
            }
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => {
                warn!(error = %e, "CreateCluster refused the drill");
                Ok(progress.failed(refusal(&e), now))
            }
        }
    }

    /// One look at the drill cluster. A listing that fails for a moment is a missed look, not
    /// a failure (the deadline still ends the drill).
    pub(super) async fn check(
        &self,
        job: &DrillJob,
        policy: &DrillPolicy,
        progress: Progress,
        now: EpochSeconds,
    ) -> Result<Progress, RestoreDrillError> {
        let Some(cluster_id) = progress.cluster_id.clone() else {
            return Err(RestoreDrillError::InvalidInput(
                "progress.clusterId is required to check".into(),
            ));
        };
        let elapsed = progress.elapsed(now);
        let deadline = i64::from(policy.deadline_seconds);
        let ids = [cluster_id];
        let (decision, state) = match self
            .clusters
            .describe_clusters(&job.destination_region, Some(&ids))
            .await
        {
            Ok(listed) => {
                let cluster = listed.iter().find(|c| c.id == ids[0]);
                (
                    decide(job, cluster, elapsed, deadline),
                    cluster.and_then(|c| c.state.clone()),
                )
            }
            Err(e) if e.is_retryable() && elapsed < deadline => {
                warn!(error = %e, "cannot describe the drill cluster; looking again later");
                (crate::drill::DrillNext::Wait, None)
            }
            Err(e) => return Err(e.into()),
        };
        let next = progress.checked(decision, state, policy, now);
        info!(next = ?next.next, state = ?next.cluster_state, checks = next.checks, elapsed = next.elapsed_seconds, "drill checked");
        Ok(next)
    }

    /// Deletes every cluster this drill made (by its run tag, and the one CreateCluster named,
    /// which a listing may not show yet). One still being created cannot be deleted: clean-up
    /// looks again, a bounded number of times, and the next planning run deletes what is left.
    pub(super) async fn clean(
        &self,
        job: &DrillJob,
        run: &str,
        policy: &DrillPolicy,
        progress: &Progress,
        cleanup: Cleanup,
    ) -> Cleanup {
        let region = &job.destination_region;
        let mut targets: Vec<(String, Option<String>)> = Vec::new();
        let mut remaining = Vec::new();
        match self.clusters.describe_clusters(region, None).await {
            Ok(listed) => {
                for c in made_by(&listed, &self.config.stack_name, run) {
                    targets.push((c.id.clone(), c.state.clone()));
                }
            }
            Err(e) => remaining.push(format!("the drill's clusters could not be listed: {e}")),
        }
        if let Some(id) = &progress.cluster_id
            && !targets.iter().any(|(t, _)| t == id)
        {
            targets.push((id.clone(), None));
        }
        let mut deleted = Vec::new();
        for (id, state) in targets {
            if matches!(state.as_deref(), Some("DELETE_IN_PROGRESS" | "DELETED")) {
                deleted.push(id);
                continue;
            }
            match self.clusters.delete_cluster(region, &id).await {
                Ok(()) => deleted.push(id),
                // Gone already (a listing can lag behind a deletion).
                Err(e) if e.kind == AwsErrorKind::NotFound => deleted.push(id),
                Err(e) => remaining.push(format!("{id}: {}", e.message)),
            }
        }
        let next = cleanup.attempted(deleted, remaining, policy);
        info!(next = ?next.next, deleted = ?next.deleted, remaining = ?next.remaining, "drill clean-up");
        next
    }

    /// The drill's outcome: stored in the region's drill record (best effort: a record that
    /// cannot be written is reported in the outcome and the event) and announced.
    pub(super) async fn finish(
        &self,
        job: &DrillJob,
        run: &str,
        progress: &Progress,
        cleanup: &Cleanup,
        now: EpochSeconds,
    ) -> Result<Outcome, RestoreDrillError> {
        let verdict = progress.verdict();
        let result = if verdict.is_ok() {
            DrillResult::Succeeded
        } else {
            DrillResult::Failed
        };
        let reason = verdict.err();
        let duration_seconds = progress.elapsed(now);
        let record_error = self
            .record(job, result, reason.as_deref(), duration_seconds, now)
            .await
            .err()
            .map(|e| e.to_string());
        let outcome = Outcome {
            result,
            reason,
            duration_seconds,
            drill_cluster_id: progress.cluster_id.clone(),
            cleaned_up: cleanup.cleaned_up(),
            record_error,
        };
        let account = self
            .config
            .drill_account
            .as_deref()
            .unwrap_or(&self.config.source_account);
        let detail = DrillAnnouncement::new(job, progress, cleanup, &outcome, run, account);
        let announcement = Announcement {
            detail_type: detail.detail_type(),
            detail: serde_json::to_string(&detail).map_err(|e| RestoreDrillError::InvalidInput(e.to_string()))?,
        };
        self.events.put_events(&[announcement]).await?;
        let failed = usize::from(result == DrillResult::Failed);
        metrics::emit(&region_count_line(
            DRILLS_FAILED_METRIC,
            &job.destination_region,
            failed,
            now,
        ));
        metrics::emit(&region_count_line(
            DRILLS_SUCCEEDED_METRIC,
            &job.destination_region,
            1 - failed,
            now,
        ));
        info!(result = ?outcome.result, reason = ?outcome.reason, duration_seconds, cleaned_up = outcome.cleaned_up, "drill finished");
        Ok(outcome)
    }

    async fn record(
        &self,
        job: &DrillJob,
        result: DrillResult,
        reason: Option<&str>,
        duration_seconds: i64,
        now: EpochSeconds,
    ) -> Result<(), AwsError> {
        let region = &job.destination_region;
        let name = record_name(&self.config.record_prefix, &job.source_region, &job.source_cluster_id);
        let stored = self
            .parameters
            .get_parameters(region, std::slice::from_ref(&name))
            .await?;
        let previous = parse(stored.get(&name).map(String::as_str));
        let record = DrillRecord::after(previous.as_ref(), job, result, reason, duration_seconds, now);
        let value = serde_json::to_string(&record).map_err(|e| {
            AwsError::new(
                "PutParameter",
                region.as_str(),
                AwsErrorKind::Other,
                None,
                e.to_string(),
            )
        })?;
        self.parameters.put_parameter(region, &name, &value).await
    }
}

/// Why CreateCluster refused, in words an operator acts on. AWS does not document which error
/// a full cluster quota gives, so a code or message that speaks of a limit or quota counts.
fn refusal(e: &AwsError) -> String {
    let code = e.code.as_deref().unwrap_or("no error code");
    let text = format!("{code} {}", e.message).to_ascii_lowercase();
    if text.contains("limit") || text.contains("quota") {
        format!(
            "the region's cluster quota is reached ({code}: {}): free a cluster, ask for a higher quota, or lower MaxDrillsPerRegion",
            e.message
        )
    } else {
        format!("CreateCluster refused the restore ({code}): {}", e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_refusal_says_so() {
        let quota = AwsError::new(
            "CreateCluster",
            "us-west-2",
            AwsErrorKind::Other,
            Some("CloudHsmResourceLimitExceededException".into()),
            "The cluster limit for this region (4) has been reached",
        );
        assert!(
            refusal(&quota)
                .starts_with("the region's cluster quota is reached (CloudHsmResourceLimitExceededException")
        );
        let subnet = AwsError::new(
            "CreateCluster",
            "us-west-2",
            AwsErrorKind::InvalidRequest,
            Some("CloudHsmInvalidRequestException".into()),
            "subnet-0a1b2c3d does not exist",
        );
        assert_eq!(
            refusal(&subnet),
            "CreateCluster refused the restore (CloudHsmInvalidRequestException): subnet-0a1b2c3d does not exist"
        );
    }
}
