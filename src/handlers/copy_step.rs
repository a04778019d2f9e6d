//! The state machine's copy step, served by start-copy: one CopyBackupToRegion behind the guard
//! in [`crate::copy_guard`], with the copy's tags.

use tracing::{info, warn};

use super::start_copy::{StartCopy, StartCopyError};
use crate::backoff::retry_throttled;
use crate::copy_guard::{CopyOutcome, CopyRequest, CopyResult, decide_copy};
use crate::error::AwsErrorKind;
use crate::ports::{BackupApi, BackupQuery, ExecutionApi};
use crate::time::{EpochSeconds, to_rfc3339};

impl<B: BackupApi, E: ExecutionApi> StartCopy<B, E> {
    /// The state machine's copy step: one guarded CopyBackupToRegion.
    pub async fn copy_step(&self, request: CopyRequest, now: EpochSeconds) -> Result<CopyResult, StartCopyError> {
        let job = &request.job;
        job.validate()?;
        if job.source_region != self.config.source_region {
            return Err(StartCopyError::CopyRequest(format!(
                "job.sourceRegion {} is not this function's region {}",
                job.source_region, self.config.source_region
            )));
        }
        if request.attempt == 0 {
            return Err(StartCopyError::CopyRequest("attempt must be at least 1".into()));
        }
        let ids = [job.source_backup_id.clone()];
        let copies = retry_throttled(|| {
            self.backups
                .describe_backups(&job.destination_region, BackupQuery::CopiesOf(&ids))
        })
        .await?;
        let mut outcome = decide_copy(job, request.attempt, &copies);
        if outcome == CopyOutcome::CopyRequested {
            // The source's current tags, merged explicitly: passing a TagList replaces them.
            let source = retry_throttled(|| {
                self.backups
                    .describe_backups(&job.source_region, BackupQuery::Ids(&ids))
            })
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StartCopyError::SourceMissing(job.source_backup_id.clone()))?;
            let tags = self.config.tag_policy.copy_tags(job, request.attempt, &source.tags)?;
            let requested = retry_throttled(|| {
                self.backups.copy_backup_to_region(
                    &job.source_region,
                    &job.source_backup_id,
                    &job.destination_region,
                    &tags,
                )
            })
            .await;
            match requested {
                Ok(()) => {}
                // A 5xx or a timeout may come after the copy was made: retrying could make two.
                // The poll loop finds out, and asks for another attempt if no copy appears.
                Err(e) if e.kind == AwsErrorKind::Transient => {
                    warn!(source_backup_id = %job.source_backup_id, destination_region = %job.destination_region, attempt = request.attempt, error = %e, "copy request unconfirmed");
                    outcome = CopyOutcome::RequestUnconfirmed;
                }
                Err(e) => return Err(e.into()),
            }
        }
        info!(
            source_backup_id = %job.source_backup_id,
            destination_region = %job.destination_region,
            attempt = request.attempt,
            outcome = ?outcome,
            "copy step done"
        );
        Ok(CopyResult {
            outcome,
            attempt: request.attempt,
            requested_at: to_rfc3339(now),
        })
    }
}
