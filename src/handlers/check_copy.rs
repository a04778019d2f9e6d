//! check-copy: lists the source backup's copies in the destination region and decides what the
//! poll loop does next (see [`crate::tracking::decide_check`]).

use serde_json::Value;
use tracing::{Instrument, info, warn};

use crate::config::CheckCopyConfig;
use crate::error::{AwsError, Classified, ErrorType};
use crate::handlers::Handler;
use crate::payload::{NotJson, Request, from_serde};
use crate::ports::{BackupApi, BackupQuery};
use crate::scope::OutOfScope;
use crate::time::EpochSeconds;
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

impl From<NotJson> for CheckCopyError {
    fn from(e: NotJson) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

/// The execution's document plus the policy, as the state machine's CheckCopy sends it.
impl Request for CheckInput {
    type Error = CheckCopyError;
    fn from_json(value: Value) -> Result<Self, CheckCopyError> {
        from_serde(value, CheckCopyError::InvalidInput)
    }
}

pub struct CheckCopy<B> {
    pub backups: B,
    pub config: CheckCopyConfig,
}

impl<B: BackupApi> Handler for CheckCopy<B> {
    type Request = CheckInput;
    type Output = CheckOutput;
    type Error = CheckCopyError;

    async fn handle(&self, input: CheckInput, now: EpochSeconds) -> Result<CheckOutput, CheckCopyError> {
        // Every input check comes before the AWS call.
        let valid = input.validate()?;
        self.config.scope.admit(valid.job())?;
        let span = valid.job().span();
        self.check(valid, now).instrument(span).await
    }
}

impl<B: BackupApi> CheckCopy<B> {
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
