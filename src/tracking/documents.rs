//! The documents the poll loop passes around: check-copy's input and output, and the parts the
//! state machine stores (`$.loop`, `$.check`), with the input's validation.

use serde::{Deserialize, Serialize};

use crate::copy_guard::CopyResult;
use crate::job::{CopyJob, JobError};
use crate::poll_policy::PollPolicy;
use crate::time::{EpochSeconds, parse_rfc3339};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error("invalid tracking input: {0}")]
    InvalidInput(String),
}

impl From<JobError> for TrackingError {
    fn from(e: JobError) -> Self {
        let JobError::InvalidInput(m) = e;
        Self::InvalidInput(m)
    }
}

/// The loop's counters, carried at `$.loop` in the execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoopState {
    /// 1-based copy attempt.
    pub attempt: u32,
    /// Checks made so far, over all attempts.
    pub checks: u32,
    /// The wait before the next check; 0 until the first check of an attempt.
    pub wait_seconds: u32,
    /// The execution's start (`$$.Execution.StartTime`).
    pub started_at: String,
}

/// What the copy looks like in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CopyState {
    Ready,
    CreateInProgress,
    /// This attempt's copy failed.
    Deleted,
    /// Not (yet) listed in the destination.
    NotVisible,
    /// The listing failed in a way worth trying again (throttling, 5xx): no news, so the loop
    /// waits and checks again, until the deadline.
    Unknown,
}

/// What the loop does next; the state machine's Choice matches these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Next {
    Succeed,
    Wait,
    Recopy,
    Fail,
}

/// Why the loop failed or re-copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    CopyDeleted,
    CopyNotVisible,
    CopyAttemptsExhausted,
    DeadlineExceeded,
}

/// One check's findings, stored at `$.check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub state: CopyState,
    pub next: Next,
    pub reason: Option<Reason>,
    /// The copy's id in the destination, once it is listed.
    pub destination_backup_id: Option<String>,
    /// Copies of the source listed in the destination, any state.
    pub copies_seen: u32,
    pub elapsed_seconds: i64,
    pub checked_at: String,
}

/// check-copy's input: the execution's document plus the policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInput {
    pub job: CopyJob,
    #[serde(rename = "loop")]
    pub loop_state: LoopState,
    pub copy: CopyResult,
    pub policy: PollPolicy,
}

/// check-copy's output, which replaces the execution's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutput {
    pub job: CopyJob,
    #[serde(rename = "loop")]
    pub loop_state: LoopState,
    pub copy: CopyResult,
    pub check: CheckResult,
}

impl CheckInput {
    /// Every check of the input, before any AWS call: ids, regions, policy and times.
    pub fn validate(self) -> Result<ValidCheck, TrackingError> {
        self.job.validate()?;
        self.policy.validate()?;
        let timestamp = |field: &str, value: &str| {
            parse_rfc3339(value)
                .ok_or_else(|| TrackingError::InvalidInput(format!("{field} {value:?} is not an RFC 3339 time")))
        };
        let started_at = timestamp("loop.startedAt", &self.loop_state.started_at)?;
        let requested_at = timestamp("copy.requestedAt", &self.copy.requested_at)?;
        Ok(ValidCheck {
            input: self,
            started_at,
            requested_at,
        })
    }
}

/// A [`CheckInput`] that passed [`CheckInput::validate`], with its times parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCheck {
    pub(super) input: CheckInput,
    pub(super) started_at: EpochSeconds,
    pub(super) requested_at: EpochSeconds,
}

impl ValidCheck {
    pub fn job(&self) -> &CopyJob {
        &self.input.job
    }
}
