//! check-copy: lists the source backup's copies in the destination region and decides what the
//! poll loop does next (see [`crate::tracking::decide_check`]).

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::{Instrument, info, warn};

use crate::config::CheckCopyConfig;
use crate::error::{AwsError, Classified, ErrorType, diagnostic};
use crate::payload::Payload;
use crate::ports::{BackupApi, BackupQuery};
use crate::scope::OutOfScope;
use crate::time::{self, EpochSeconds};
use crate::tracking::{CheckInput, CheckOutput, TrackingError, ValidCheck, decide_check};

#[derive(Debug, thiserror::Error)]
pub enum CheckCopyError {
    #[error("invalid check input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    #[error("check refused: {0}")]
    OutOfScope(#[from] OutOfScope),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Classified for CheckCopyError {
    fn error_type(&self) -> ErrorType {
        match self {
            Self::InvalidInput(_) | Self::Tracking(_) | Self::OutOfScope(_) => ErrorType::InvalidInput,
            Self::Aws(aws) => aws.error_type(),
        }
    }
}

impl From<CheckCopyError> for Diagnostic {
    fn from(e: CheckCopyError) -> Self {
        diagnostic(&e)
    }
}

pub struct CheckCopy<B> {
    pub backups: B,
    pub config: CheckCopyConfig,
}

impl<B: BackupApi> CheckCopy<B> {
    pub async fn handle(&self, payload: Value, now: EpochSeconds) -> Result<CheckOutput, CheckCopyError> {
        let input: CheckInput =
            serde_json::from_value(payload).map_err(|e| CheckCopyError::InvalidInput(e.to_string()))?;
        // Every input check comes before the AWS call.
        let valid = input.validate()?;
        self.config.scope.admit(valid.job())?;
        let span = valid.job().span();
        self.check(valid, now).instrument(span).await
    }

    async fn check(&self, valid: ValidCheck, now: EpochSeconds) -> Result<CheckOutput, CheckCopyError> {
        let ids = [valid.job().source_backup_id.clone()];
        let listing = match self
            .backups
            .describe_backups(&valid.job().destination_region, BackupQuery::CopiesOf(&ids))
            .await
        {
            Ok(copies) => Some(copies),
            // Throttled or a 5xx after the SDK's own retries: a missed check, not a failure. The
            // loop waits and looks again (until its deadline), so a throttled region cannot
            // fail a copy that is on its way.
            Err(e) if e.is_retryable() => {
                warn!(error = %e, "cannot list the copies; checking again later");
                None
            }
            Err(e) => return Err(e.into()),
        };
        let output = decide_check(valid, listing.as_deref(), now);
        info!(
            state = ?output.check.state,
            next = ?output.check.next,
            reason = ?output.check.reason,
            destination_backup_id = output.check.destination_backup_id.as_deref().unwrap_or(""),
            attempt = output.loop_state.attempt,
            checks = output.loop_state.checks,
            wait_seconds = output.loop_state.wait_seconds,
            "copy checked"
        );
        Ok(output)
    }
}

/// The Lambda entry point.
pub async fn function_handler<B: BackupApi>(
    event: LambdaEvent<Payload>,
    service: &CheckCopy<B>,
) -> Result<CheckOutput, CheckCopyError> {
    let payload = event.payload.into_json().map_err(CheckCopyError::InvalidInput)?;
    service.handle(payload, time::now()).await
}
