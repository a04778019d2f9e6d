//! copy-step: the state machine's copy step, its own function with its own role. One
//! CopyBackupToRegion behind the guard in [`crate::copy_guard`], with the copy's tags, for a job
//! inside this deployment's [`Scope`](crate::scope::Scope).

use serde_json::Value;
use tracing::{Instrument, info, warn};

use crate::backoff::retry_throttled;
use crate::config::CopyStepConfig;
use crate::copy_guard::{CopyOutcome, CopyRequest, CopyResult, decide_copy};
use crate::error::{AwsError, AwsErrorKind, Classified, ErrorType};
use crate::handlers::Handler;
use crate::job::JobError;
use crate::payload::{NotJson, Request, from_serde};
use crate::ports::{BackupApi, BackupQuery};
use crate::scope::OutOfScope;
use crate::tags::TagError;
use crate::time::{EpochSeconds, to_rfc3339};

#[derive(Debug, thiserror::Error)]
pub enum CopyStepError {
    #[error("invalid copy request: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("copy refused: {0}")]
    OutOfScope(#[from] OutOfScope),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("cannot tag the copy: {0}")]
    Tags(#[from] TagError),
    #[error("source backup {0} no longer exists in this region")]
    SourceMissing(String),
}

impl Classified for CopyStepError {
    fn error_type(&self) -> ErrorType {
        match self {
            Self::InvalidInput(_) | Self::Job(_) | Self::OutOfScope(_) => ErrorType::InvalidInput,
            Self::Aws(aws) => aws.error_type(),
            Self::Tags(_) | Self::SourceMissing(_) => ErrorType::NonRetryable,
        }
    }
}

impl From<NotJson> for CopyStepError {
    fn from(e: NotJson) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

/// `{"action": "copy", "job": ..., "attempt": n}`, as the state machine's RequestCopy sends it.
impl Request for CopyRequest {
    type Error = CopyStepError;
    fn from_json(value: Value) -> Result<Self, CopyStepError> {
        from_serde(value, CopyStepError::InvalidInput)
    }
}

pub struct CopyStep<B> {
    pub backups: B,
    pub config: CopyStepConfig,
}

impl<B: BackupApi> Handler for CopyStep<B> {
    type Request = CopyRequest;
    type Output = CopyResult;
    type Error = CopyStepError;

    /// One guarded CopyBackupToRegion. Every check of the request comes before the first call.
    async fn handle(&self, request: CopyRequest, now: EpochSeconds) -> Result<CopyResult, CopyStepError> {
        let job = &request.job;
        job.validate()?;
        self.config.scope.admit(job)?;
        if request.attempt == 0 {
            return Err(CopyStepError::InvalidInput("attempt must be at least 1".into()));
        }
        let span = job.span();
        self.guarded_copy(&request, now).instrument(span).await
    }
}

impl<B: BackupApi> CopyStep<B> {
    async fn guarded_copy(&self, request: &CopyRequest, now: EpochSeconds) -> Result<CopyResult, CopyStepError> {
        let job = &request.job;
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
            .ok_or_else(|| CopyStepError::SourceMissing(job.source_backup_id.clone()))?;
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
                    warn!(attempt = request.attempt, error = %e, "copy request unconfirmed");
                    outcome = CopyOutcome::RequestUnconfirmed;
                }
                Err(e) => return Err(e.into()),
            }
        }
        info!(
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
