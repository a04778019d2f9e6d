//! Starting the planned executions: a few at a time, within each region's budget of copies in
//! flight (backpressure), each through the generations' record (see [`crate::generations`]).

use std::collections::HashMap;

use futures_util::{StreamExt, stream};
use tracing::{Instrument, error, info, warn};

use super::copies::Destinations;
use super::{START_CONCURRENCY, StartCopy, StartCopyError};
use crate::backup::BackupState;
use crate::error::AwsError;
use crate::generations;
use crate::job::{CopyJob, destination_of};
use crate::plan::SkipReason;
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::report::{Failed, StartResult, Started};
use crate::time::{EpochSeconds, to_rfc3339};

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Each region's budget for a sweep: at most MAX_COPIES_IN_FLIGHT copies in flight, counting
    /// running executions (requested or about to be) or copies the region lists as
    /// CREATE_IN_PROGRESS, whichever is more. Events name a few backups each and are not limited.
    pub(super) async fn budgets(
        &self,
        destinations: &Destinations,
    ) -> Result<HashMap<String, generations::Budget>, StartCopyError> {
        let mut running: HashMap<String, usize> = HashMap::new();
        for name in self.executions.running_executions().await? {
            if let Some(region) = destination_of(&name) {
                *running.entry(region.to_owned()).or_default() += 1;
            }
        }
        Ok(destinations
            .reachable
            .iter()
            .map(|region| {
                let in_progress = destinations.copies.get(region).map_or(0, |c| {
                    c.iter().filter(|b| b.state == BackupState::CreateInProgress).count()
                });
                let in_flight = in_progress.max(running.get(region).copied().unwrap_or_default());
                let left = self.config.max_copies_in_flight.saturating_sub(in_flight);
                (region.clone(), generations::Budget::new(left))
            })
            .collect())
    }

    /// Starts the jobs, START_CONCURRENCY at a time, in plan order; `budgets` None: unlimited.
    pub(super) async fn start_all(
        &self,
        jobs: Vec<CopyJob>,
        explicit: bool,
        now: EpochSeconds,
        budgets: Option<&HashMap<String, generations::Budget>>,
    ) -> Vec<StartResult> {
        let unlimited = generations::Budget::unlimited();
        let budget_of = |region: &str| budgets.and_then(|b| b.get(region)).unwrap_or(&unlimited);
        stream::iter(jobs)
            .map(|job| {
                let budget = budget_of(&job.destination_region);
                let span = job.span();
                self.start(job, explicit, now, budget).instrument(span)
            })
            .buffered(START_CONCURRENCY)
            .collect()
            .await
    }

    /// Starts the pair's next tracking execution (which makes the copy), if the retry policy
    /// admits it; the outcome goes into the summary afterwards, so that several starts can run
    /// at once.
    async fn start(
        &self,
        job: CopyJob,
        explicit: bool,
        now: EpochSeconds,
        budget: &generations::Budget,
    ) -> StartResult {
        let region = job.destination_region.clone();
        let backup_id = job.source_backup_id.clone();
        let starter = generations::Starter {
            executions: &self.executions,
            backups: &self.backups,
            policy: self.config.retry,
            explicit,
            now,
        };
        let outcome = starter.start_next(job, budget).await;
        self.report(outcome, backup_id, region)
    }

    /// What starting one pair came to, for the summary (and the log).
    fn report(
        &self,
        outcome: Result<generations::Started, AwsError>,
        backup_id: String,
        region: String,
    ) -> StartResult {
        let skipped = |reason| StartResult::Skipped {
            backup_id: backup_id.clone(),
            region: region.clone(),
            reason,
        };
        match outcome {
            Ok(generations::Started::New { job, execution_arn }) => {
                let name = job.execution_name();
                info!(execution_name = %name, "copy tracking started");
                StartResult::Started(Started {
                    source_backup_id: backup_id,
                    destination_region: region,
                    execution_name: name,
                    execution_arn,
                })
            }
            Ok(generations::Started::Running { job }) => skipped(SkipReason::AlreadyTracking {
                execution_name: job.execution_name(),
            }),
            Ok(generations::Started::GivenUp { job, failed_in_a_row }) => {
                warn!(
                    failed_executions = failed_in_a_row,
                    "copy given up until a CloudHSM Backup Created event names the backup"
                );
                skipped(SkipReason::GivenUp {
                    failed_executions: failed_in_a_row,
                    next_execution_name: job.execution_name(),
                })
            }
            Ok(generations::Started::BackingOff {
                failed_in_a_row,
                not_before,
                ..
            }) => skipped(SkipReason::BackingOff {
                failed_executions: failed_in_a_row,
                not_before: to_rfc3339(not_before),
            }),
            Ok(generations::Started::AlreadyCopied { copy, .. }) => skipped(SkipReason::AlreadyCopied {
                copy_backup_id: copy.id,
                copy_state: copy.state,
            }),
            Ok(generations::Started::Deferred { .. }) => skipped(SkipReason::Deferred {
                max_copies_in_flight: self.config.max_copies_in_flight,
            }),
            Ok(generations::Started::TooManyGenerations { job }) => StartResult::Failed(Failed {
                source_backup_id: backup_id,
                destination_region: region,
                error: format!(
                    "{} executions already ran for this copy; not looking further (next name {})",
                    generations::MAX_GENERATIONS,
                    job.execution_name()
                ),
                retryable: false,
            }),
            Err(e) => {
                error!(error = %e, "cannot start copy tracking");
                StartResult::Failed(Failed::from_aws(backup_id, region, &e))
            }
        }
    }
}
