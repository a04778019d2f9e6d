//! What a drill came to, and how it is announced.

use serde::{Deserialize, Serialize};

use super::DrillJob;
use super::steps::{Cleanup, Progress};

/// What a drill came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DrillResult {
    Succeeded,
    Failed,
}

/// The finish step's output: the drill's outcome, recorded and announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub result: DrillResult,
    pub reason: Option<String>,
    pub duration_seconds: i64,
    pub drill_cluster_id: Option<String>,
    pub cleaned_up: bool,
    /// Why the outcome could not be stored in the region's drill record, if it could not.
    pub record_error: Option<String>,
}

/// The announcement's detail (`CloudHSM Restore Drill Succeeded` / `... Failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillAnnouncement<'a> {
    pub source_cluster_id: &'a str,
    pub source_region: &'a str,
    pub destination_region: &'a str,
    pub backup_id: &'a str,
    pub hsm_type: &'a str,
    pub mode: &'a str,
    pub result: DrillResult,
    pub reason: Option<&'a str>,
    pub duration_seconds: i64,
    pub drill_cluster_id: Option<&'a str>,
    /// The account the drill cluster was made in: this one, or the recovery account.
    pub drill_account: &'a str,
    pub cleaned_up: bool,
    pub cleanup_problem: Option<String>,
    pub record_error: Option<&'a str>,
    pub checks: u32,
    pub started_at: &'a str,
    pub execution_name: &'a str,
}

impl<'a> DrillAnnouncement<'a> {
    pub fn new(
        job: &'a DrillJob,
        progress: &'a Progress,
        cleanup: &Cleanup,
        outcome: &'a Outcome,
        run: &'a str,
        drill_account: &'a str,
    ) -> Self {
        Self {
            source_cluster_id: &job.source_cluster_id,
            source_region: &job.source_region,
            destination_region: &job.destination_region,
            backup_id: &job.backup_id,
            hsm_type: &job.hsm_type,
            mode: &job.mode,
            result: outcome.result,
            reason: outcome.reason.as_deref(),
            duration_seconds: outcome.duration_seconds,
            drill_cluster_id: outcome.drill_cluster_id.as_deref(),
            drill_account,
            cleaned_up: outcome.cleaned_up,
            cleanup_problem: cleanup.problem(),
            record_error: outcome.record_error.as_deref(),
            checks: progress.checks,
            started_at: &progress.started_at,
            execution_name: run,
        }
    }

    pub const fn detail_type(&self) -> &'static str {
        match self.result {
            DrillResult::Succeeded => "CloudHSM Restore Drill Succeeded",
            DrillResult::Failed => "CloudHSM Restore Drill Failed",
        }
    }
}
