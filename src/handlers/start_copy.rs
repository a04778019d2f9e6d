//! start-copy: turns a "backup created" signal (or a schedule tick) into copies.
//!
//! Two payloads arrive here:
//! - an EventBridge event: plan which READY source backups lack a copy in each destination and
//!   start one tracking execution per (backup, destination), named deterministically;
//! - `{"action": "prune"}` from the daily schedule: a deep sweep that also prunes copies.
//!
//! The copy itself is requested by the executions' copy step, a function of its own
//! ([`super::copy_step`]): this function's role cannot copy or tag, the copy step's cannot delete.

mod copies;
mod drill_ages;
mod fan_out;
mod guard_run;
mod kit_run;
mod prune_run;
mod share_run;
mod sources;
mod sweep_report;

use sweep_report::Swept;

use std::collections::HashMap;

use serde_json::Value;
use tracing::info;

use crate::config::StartCopyConfig;
use crate::error::{AwsError, Classified, ErrorType};
use crate::event::{BACKUP_CREATED_DETAIL_TYPE, EventError, Home, ParsedEvent, StartCopyRequest, Trigger};
use crate::handlers::Handler;
use crate::job::JobError;
use crate::payload::{NotJson, Request};
use crate::plan::{Candidates, SkipReason, candidates, plan};
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
pub use crate::report::MAX_LISTED;
use crate::report::{StartResult, Summary};
use crate::time::EpochSeconds;

/// StartExecution calls in flight at once: a first sweep over a large fleet starts thousands,
/// one at a time they would take minutes. Step Functions allows StartExecution bursts of
/// hundreds per second per account and region; 8 stays far inside that, and the SDK retries a
/// throttled call.
pub const START_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StartCopyError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Unreadable(#[from] NotJson),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{failed} of {attempted} copies could not be started (first: {first})")]
    Incomplete {
        failed: usize,
        attempted: usize,
        first: String,
        retryable: bool,
    },
}

impl Classified for StartCopyError {
    fn error_type(&self) -> ErrorType {
        match self {
            Self::Event(_) | Self::Unreadable(_) | Self::Job(_) => ErrorType::InvalidInput,
            Self::Aws(aws) => aws.error_type(),
            Self::Incomplete { retryable: true, .. } => ErrorType::Retryable,
            Self::Incomplete { .. } => ErrorType::NonRetryable,
        }
    }
}

impl Request for StartCopyRequest {
    type Error = StartCopyError;
    fn from_json(value: Value) -> Result<Self, StartCopyError> {
        Ok(Self::read(value)?)
    }
}

pub struct StartCopy<B, E, P, V, S, R> {
    pub backups: B,
    pub executions: E,
    /// Where the restore kits are kept (each destination's Parameter Store).
    pub parameters: P,
    /// Where readiness failures are announced (the stack's bus).
    pub events: V,
    /// The stack's RAM shares, when copies are shared with recovery accounts.
    pub shares: S,
    /// What the recovery accounts see (through dr-account.yaml's role), when it is checked.
    pub recovery: R,
    pub config: StartCopyConfig,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView> Handler
    for StartCopy<B, E, P, V, S, R>
{
    type Request = StartCopyRequest;
    type Output = Summary;
    type Error = StartCopyError;

    /// Handles either request and returns the run's summary.
    async fn handle(&self, request: StartCopyRequest, now: EpochSeconds) -> Result<Summary, StartCopyError> {
        let home = Home {
            account: &self.config.account_id,
            region: &self.config.source_region,
        };
        let event = request.parse(&home)?;
        let summary = self.run(event, now).await?;
        info!(
            origin = %summary.origin,
            examined = summary.examined,
            started = summary.started_count,
            skipped = summary.skipped_counts.values().sum::<usize>(),
            pruned = summary.pruned_count,
            failed = summary.failed_count,
            "event handled"
        );
        if let Some(first) = summary.failed.first() {
            return Err(StartCopyError::Incomplete {
                failed: summary.failed_count,
                attempted: summary.failed_count + summary.started_count,
                first: format!(
                    "{} to {}: {}",
                    first.source_backup_id, first.destination_region, first.error
                ),
                retryable: summary.non_retryable_failures == 0,
            });
        }
        Ok(summary)
    }
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Plans and starts the copies an event asks for.
    pub async fn run(&self, event: ParsedEvent, now: EpochSeconds) -> Result<Summary, StartCopyError> {
        let config = &self.config;
        let mut summary = Summary {
            origin: event.origin,
            event_id: event.event_id,
            source_region: config.source_region.clone(),
            destination_regions: config.destination_regions.clone(),
            ..Summary::default()
        };
        if let Trigger::Ignored { reason } = &event.trigger {
            info!(reason = %reason, "event ignored");
            summary.ignored = Some(reason.clone());
            return Ok(summary);
        }
        let window_start = now - i64::from(config.lookback_hours) * 3600;
        let (sources, window) = self.list_sources(&event.trigger, window_start, &mut summary).await?;
        // A newest-first listing may run a little past the window (to the end of its last page);
        // planning skips those as OUTSIDE_WINDOW.
        summary.examined = sources.len();
        let (sources, clusters) = self.select(&event.trigger, sources, &mut summary).await?;

        // Eligibility is decided once; freshness and the destination lookups concern the
        // eligible backups only (a deep run lists older ones too).
        let Candidates { eligible, ineligible } = candidates(sources, window);
        for (backup_id, reason) in ineligible {
            summary.skip(&backup_id, None, reason);
        }
        let eligible_ids: Vec<String> = eligible.iter().map(|b| b.id.clone()).collect();
        let sweep = matches!(event.trigger, Trigger::Sweep { .. });
        let prune = matches!(event.trigger, Trigger::Sweep { deep: true }) && config.prune.is_enabled();
        let destinations = self.lookup_copies(&eligible_ids, prune, &mut summary).await;

        let planned = plan(
            &eligible,
            &config.source_region,
            &destinations.reachable,
            &destinations.copies,
        );
        let jobs = summary.take_jobs(planned);
        // Only our documented event asks again for a copy that sweeps gave up on.
        let explicit = matches!(event.trigger, Trigger::Backup { .. }) && summary.origin == BACKUP_CREATED_DETAIL_TYPE;
        let budgets = if sweep && !jobs.is_empty() {
            Some(self.budgets(&destinations).await?)
        } else {
            None
        };
        let results = self.start_all(jobs, explicit, now, budgets.as_ref()).await;
        let given_up = given_up_per_region(&results);
        for result in results {
            summary.record(result);
        }
        if sweep {
            let swept = Swept {
                destinations: &destinations,
                eligible: &eligible,
                clusters: &clusters,
                given_up: &given_up,
            };
            self.report_sweep(&swept, prune, now, &mut summary).await;
        }
        Ok(summary)
    }
}

/// How many copies each region's sweep gave up on (for the CopiesGivenUp metric).
fn given_up_per_region(results: &[StartResult]) -> HashMap<String, usize> {
    let mut given_up: HashMap<String, usize> = HashMap::new();
    for result in results {
        if let StartResult::Skipped {
            region,
            reason: SkipReason::GivenUp { .. },
            ..
        } = result
        {
            *given_up.entry(region.clone()).or_default() += 1;
        }
    }
    given_up
}
