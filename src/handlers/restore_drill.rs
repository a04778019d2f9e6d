//! restore-drill: the restore drills' function. `plan` (the drill schedule's target) deletes
//! drill clusters left behind and starts one drill execution per selected cluster and DR region;
//! the drill state machine calls `create`, `check`, `clean` and `finish` (see
//! `statemachine/restore-drill.asl.json` and [`crate::drill`]).

mod plan;
mod steps;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use plan::PlanSummary;

use crate::config::RestoreDrillConfig;
use crate::drill::outcome::Outcome;
use crate::drill::steps::{Cleanup, DrillPolicy, Progress};
use crate::drill::{DrillJob, run_prefix};
use crate::error::{AwsError, Classified, ErrorType};
use crate::handlers::Handler;
use crate::ids::{is_backup_id, is_cluster_id};
use crate::payload::{NotJson, Request, from_serde};
use crate::ports::{BackupApi, ClusterApi, EventPublisher, ExecutionApi, ParameterStore};
use crate::time::EpochSeconds;

#[derive(Debug, thiserror::Error)]
pub enum RestoreDrillError {
    #[error("invalid drill request: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the drill plan is incomplete: {}", .0.join("; "))]
    PlanIncomplete(Vec<String>),
}

impl Classified for RestoreDrillError {
    fn error_type(&self) -> ErrorType {
        match self {
            Self::InvalidInput(_) => ErrorType::InvalidInput,
            Self::Aws(aws) => aws.error_type(),
            Self::PlanIncomplete(_) => ErrorType::NonRetryable,
        }
    }
}

impl From<NotJson> for RestoreDrillError {
    fn from(e: NotJson) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

/// What the schedule and the drill state machine send. `run` is the drill execution's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum DrillRequest {
    Plan {},
    Create {
        job: DrillJob,
        run: String,
        policy: DrillPolicy,
        progress: Progress,
    },
    Check {
        job: DrillJob,
        run: String,
        policy: DrillPolicy,
        progress: Progress,
    },
    Clean {
        job: DrillJob,
        run: String,
        policy: DrillPolicy,
        progress: Progress,
        cleanup: Cleanup,
    },
    Finish {
        job: DrillJob,
        run: String,
        progress: Progress,
        cleanup: Cleanup,
    },
}

impl Request for DrillRequest {
    type Error = RestoreDrillError;
    fn from_json(value: Value) -> Result<Self, RestoreDrillError> {
        from_serde(value, RestoreDrillError::InvalidInput)
    }
}

/// Each action's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DrillResponse {
    Plan(PlanSummary),
    Progress(Progress),
    Cleanup(Cleanup),
    Outcome(Outcome),
}

pub struct RestoreDrill<H, C, E, P, V> {
    /// CloudHSM in this account: the clusters to drill (source region) and their copies (DR
    /// regions).
    pub hsm: H,
    /// CloudHSM where the drill clusters are made, listed and deleted in the DR regions: this
    /// account, or the recovery account (`RestoreDrillAccount`, through its drill role).
    pub clusters: C,
    /// The drill state machine.
    pub executions: E,
    /// The drill records, in the DR regions.
    pub parameters: P,
    pub events: V,
    pub config: RestoreDrillConfig,
}

impl<H, C, E, P, V> Handler for RestoreDrill<H, C, E, P, V>
where
    H: BackupApi,
    C: BackupApi + ClusterApi,
    E: ExecutionApi,
    P: ParameterStore,
    V: EventPublisher,
{
    type Request = DrillRequest;
    type Output = DrillResponse;
    type Error = RestoreDrillError;

    async fn handle(&self, request: DrillRequest, now: EpochSeconds) -> Result<DrillResponse, RestoreDrillError> {
        match request {
            DrillRequest::Plan {} => self.plan(now).await.map(DrillResponse::Plan),
            DrillRequest::Create {
                job,
                run,
                policy,
                progress,
            } => {
                self.admit(&job, &run, Some(&policy))?;
                self.create(&job, &run, &policy, progress, now)
                    .await
                    .map(DrillResponse::Progress)
            }
            DrillRequest::Check {
                job,
                run,
                policy,
                progress,
            } => {
                self.admit(&job, &run, Some(&policy))?;
                self.check(&job, &policy, progress, now)
                    .await
                    .map(DrillResponse::Progress)
            }
            DrillRequest::Clean {
                job,
                run,
                policy,
                progress,
                cleanup,
            } => {
                self.admit(&job, &run, Some(&policy))?;
                Ok(DrillResponse::Cleanup(
                    self.clean(&job, &run, &policy, &progress, cleanup).await,
                ))
            }
            DrillRequest::Finish {
                job,
                run,
                progress,
                cleanup,
            } => {
                self.admit(&job, &run, None)?;
                self.finish(&job, &run, &progress, &cleanup, now)
                    .await
                    .map(DrillResponse::Outcome)
            }
        }
    }
}

impl<H, C, E, P, V> RestoreDrill<H, C, E, P, V> {
    /// A step acts only on a drill this deployment would have planned: its own region, a
    /// selected cluster, a DR region with the configured subnets, its own execution's name.
    /// Anything else is refused before any AWS call.
    fn admit(&self, job: &DrillJob, run: &str, policy: Option<&DrillPolicy>) -> Result<(), RestoreDrillError> {
        let refuse = |m: String| Err(RestoreDrillError::InvalidInput(m));
        if job.source_region != self.config.source_region {
            return refuse(format!(
                "job.sourceRegion {} is not this function's region",
                job.source_region
            ));
        }
        let Some(subnets) = self.config.subnets.0.get(&job.destination_region) else {
            return refuse(format!("no drills are configured in {}", job.destination_region));
        };
        if &job.subnet_ids != subnets {
            return refuse("job.subnetIds are not the subnets configured for the region".into());
        }
        if !is_cluster_id(&job.source_cluster_id) || !is_backup_id(&job.backup_id) {
            return refuse("job.sourceClusterId or job.backupId is not a CloudHSM id".into());
        }
        if let Err(why) = self.config.selection.check_ids(Some(&job.source_cluster_id)) {
            return refuse(format!("cluster {} is not selected ({why})", job.source_cluster_id));
        }
        if !matches!(job.mode.as_str(), "FIPS" | "NON_FIPS") || !is_hsm_type(&job.hsm_type) {
            return refuse("job.mode must be FIPS or NON_FIPS and job.hsmType an HSM type".into());
        }
        let expected = run_prefix(&job.source_cluster_id, &job.destination_region);
        if !run
            .strip_prefix(&expected)
            .is_some_and(|stamp| stamp.len() == 10 && stamp.bytes().all(|b| b.is_ascii_digit()))
        {
            return refuse(format!("run {run:?} is not a drill execution of this job"));
        }
        if let Some(policy) = policy {
            policy.validate().map_err(RestoreDrillError::InvalidInput)?;
        }
        Ok(())
    }
}

/// botocore's `HsmType` pattern, `(p|)hsm[0-9][a-z.]*\.[a-zA-Z]+`, at most 32 characters.
fn is_hsm_type(s: &str) -> bool {
    let rest = s.strip_prefix('p').unwrap_or(s);
    let Some(rest) = rest.strip_prefix("hsm") else {
        return false;
    };
    let mut chars = rest.chars();
    let digit = chars.next().is_some_and(|c| c.is_ascii_digit());
    let tail: String = chars.collect();
    let Some((middle, last)) = tail.rsplit_once('.') else {
        return false;
    };
    s.len() <= 32
        && digit
        && middle.chars().all(|c| c.is_ascii_lowercase() || c == '.')
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::is_hsm_type;

    #[test]
    fn hsm_types_follow_the_published_pattern() {
        for ok in ["hsm2m.medium", "hsm1.medium", "phsm2m.large"] {
            assert!(is_hsm_type(ok), "{ok}");
        }
        for bad in ["", "hsm.medium", "hsm2m", "hsm2m.", "hsm2m.med1um", "HSM2m.medium"] {
            assert!(!is_hsm_type(bad), "{bad}");
        }
    }
}
