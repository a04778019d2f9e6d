//! start-copy: turns a "backup created" signal (or a schedule tick) into copies.
//!
//! Two payloads arrive here:
//! - an EventBridge event: plan which READY source backups lack a copy in each destination and
//!   start one tracking execution per (backup, destination), named deterministically;
//! - `{"action": "prune"}` from the daily schedule: a deep sweep that also prunes copies.
//!
//! The copy itself is requested by the executions' copy step, a function of its own
//! ([`super::copy_step`]): this function's role cannot copy or tag, the copy step's cannot delete.

use std::collections::HashMap;

use futures_util::{StreamExt, stream};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::backoff::retry_throttled;
use crate::backup::{Backup, BackupState};
use crate::config::StartCopyConfig;
use crate::error::{AwsError, INVALID_INPUT, NON_RETRYABLE, RETRYABLE, diagnostic};
use crate::event::{
    BACKUP_CREATED_DETAIL_TYPE, EventError, Home, ParsedEvent, Trigger, parse_event, parse_prune_request,
};
use crate::freshness;
use crate::generations;
use crate::job::{CopyJob, JobError, destination_of};
use crate::metrics;
use crate::payload::Payload;
use crate::plan::{PlanItem, SkipReason, eligibility, plan};
use crate::ports::{BackupApi, BackupQuery, ExecutionApi};
use crate::pruning;
pub use crate::report::MAX_LISTED;
use crate::report::{Failed, StartResult, Started, Summary, push_listed};
use crate::time::{self, EpochSeconds, to_rfc3339};

/// StartExecution calls in flight at once: a first sweep over a large fleet starts thousands,
/// one at a time they would take minutes. Step Functions allows StartExecution bursts of
/// hundreds per second per account and region; 8 stays far inside that, and the SDK retries a
/// throttled call.
pub const START_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StartCopyError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{0}")]
    Unreadable(String),
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

impl From<StartCopyError> for Diagnostic {
    fn from(e: StartCopyError) -> Self {
        let error_type = match &e {
            StartCopyError::Event(_) | StartCopyError::Unreadable(_) | StartCopyError::Job(_) => INVALID_INPUT,
            StartCopyError::Aws(aws) if aws.is_retryable() => RETRYABLE,
            StartCopyError::Incomplete { retryable: true, .. } => RETRYABLE,
            StartCopyError::Aws(_) | StartCopyError::Incomplete { .. } => NON_RETRYABLE,
        };
        diagnostic(error_type, &e)
    }
}

pub struct StartCopy<B, E> {
    pub backups: B,
    pub executions: E,
    pub config: StartCopyConfig,
}

impl<B: BackupApi, E: ExecutionApi> StartCopy<B, E> {
    /// Handles either payload and returns the run's summary.
    pub async fn handle(&self, payload: Value, now: EpochSeconds) -> Result<Summary, StartCopyError> {
        let home = Home {
            account: &self.config.account_id,
            region: &self.config.source_region,
        };
        let event = match payload.get("action") {
            Some(_) => parse_prune_request(&payload)?,
            None => parse_event(&payload, &home)?,
        };
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

    /// Plans and starts the copies an event asks for.
    pub async fn run(&self, event: ParsedEvent, now: EpochSeconds) -> Result<Summary, StartCopyError> {
        let config = &self.config;
        let source = config.source_region.as_str();
        let mut summary = Summary {
            origin: event.origin,
            event_id: event.event_id,
            source_region: config.source_region.clone(),
            destination_regions: config.destination_regions.clone(),
            ..Summary::default()
        };
        let window_start = now - i64::from(config.lookback_hours) * 3600;
        let (sources, window) = match &event.trigger {
            Trigger::Ignored { reason } => {
                info!(reason = %reason, "event ignored");
                summary.ignored = Some(reason.clone());
                return Ok(summary);
            }
            Trigger::Backup { backup_id, .. } => {
                let ids = [backup_id.clone()];
                let found = self.backups.describe_backups(source, BackupQuery::Ids(&ids)).await?;
                if found.is_empty() {
                    summary.skip(backup_id, None, SkipReason::NotFound);
                }
                // A backup named explicitly is copied whatever its age.
                (found, None)
            }
            Trigger::Cluster { cluster_id } => {
                let query = BackupQuery::ReadyInCluster {
                    cluster: cluster_id,
                    since: Some(window_start),
                };
                (self.backups.describe_backups(source, query).await?, Some(window_start))
            }
            Trigger::Sweep { deep } => {
                let since = (!deep).then_some(window_start);
                let query = BackupQuery::AllReady { since };
                (self.backups.describe_backups(source, query).await?, Some(window_start))
            }
        };
        // A newest-first listing may run a little past the window (to the end of its last page);
        // planning skips those as OUTSIDE_WINDOW.
        summary.examined = sources.len();
        let sources = self.select(&event.trigger, sources, &mut summary).await?;

        // Freshness and the destination lookups concern the window's backups only (a deep run
        // lists older ones too).
        let in_window: Vec<Backup> = sources
            .iter()
            .filter(|b| eligibility(b, window).is_ok())
            .cloned()
            .collect();
        let eligible: Vec<String> = in_window.iter().map(|b| b.id.clone()).collect();
        let sweep = matches!(event.trigger, Trigger::Sweep { .. });
        let prune = matches!(event.trigger, Trigger::Sweep { deep: true }) && config.prune.is_enabled();
        let mut copies = HashMap::new();
        let mut reachable = Vec::new();
        if !eligible.is_empty() || prune {
            for region in &config.destination_regions {
                // The copies of the eligible backups, 50 source ids per call: a lookup whose
                // result does not depend on the listing's order, which AWS does not define (a
                // copy's CreateTimestamp is its source's, its CopyTimestamp when it was copied).
                // Pruning needs every copy in the region.
                let query = if prune {
                    BackupQuery::All { since: None }
                } else {
                    BackupQuery::CopiesOf(&eligible)
                };
                // Checks of running copies share the region's rate limit: a throttled lookup is
                // tried again here before it becomes a failure of the whole run.
                match retry_throttled(|| self.backups.describe_backups(region, query)).await {
                    Ok(found) => {
                        copies.insert(region.clone(), found);
                        reachable.push(region.clone());
                    }
                    Err(e) => {
                        error!(destination_region = %region, error = %e, "cannot list copies in destination");
                        for id in &eligible {
                            summary.fail(id, region, &e);
                        }
                    }
                }
            }
        }

        let mut jobs = Vec::new();
        for item in plan(&sources, source, &reachable, &copies, window) {
            match item {
                PlanItem::Skip {
                    backup_id,
                    destination_region,
                    reason,
                } => summary.skip(&backup_id, destination_region.as_deref(), reason),
                PlanItem::Copy(job) => jobs.push(job),
            }
        }
        // A first sweep may start thousands of executions: a few at a time, in plan order.
        let explicit = matches!(event.trigger, Trigger::Backup { .. }) && summary.origin == BACKUP_CREATED_DETAIL_TYPE;
        // Backpressure: a sweep keeps at most MAX_COPIES_IN_FLIGHT copies per region in flight:
        // running executions (requested or about to be) or copies the region lists as
        // CREATE_IN_PROGRESS, whichever is more. Events name a few backups each.
        let mut running: HashMap<String, usize> = HashMap::new();
        if sweep && !jobs.is_empty() {
            for name in self.executions.running_executions().await? {
                if let Some(region) = destination_of(&name) {
                    *running.entry(region.to_owned()).or_default() += 1;
                }
            }
        }
        let unlimited = generations::Budget::unlimited();
        let budgets: HashMap<&str, generations::Budget> = reachable
            .iter()
            .map(|region| {
                let in_progress = copies.get(region).map_or(0, |c: &Vec<Backup>| {
                    c.iter().filter(|b| b.state == BackupState::CreateInProgress).count()
                });
                let in_flight = in_progress.max(running.get(region).copied().unwrap_or_default());
                (
                    region.as_str(),
                    generations::Budget::new(config.max_copies_in_flight.saturating_sub(in_flight)),
                )
            })
            .collect();
        let budget_of = |region: &str| {
            if sweep {
                budgets.get(region).unwrap_or(&unlimited)
            } else {
                &unlimited
            }
        };
        let results: Vec<StartResult> = stream::iter(jobs)
            .map(|job| {
                let budget = budget_of(&job.destination_region);
                self.start(job, explicit, now, budget)
            })
            .buffered(START_CONCURRENCY)
            .collect()
            .await;
        let mut given_up: HashMap<String, usize> = HashMap::new();
        for result in results {
            if let StartResult::Skipped {
                region,
                reason: SkipReason::GivenUp { .. },
                ..
            } = &result
            {
                *given_up.entry(region.clone()).or_default() += 1;
            }
            summary.record(result);
        }
        if sweep {
            for region in &reachable {
                let count = given_up.get(region).copied().unwrap_or_default();
                metrics::emit(&metrics::given_up_line(region, count, now));
                let in_region = copies.get(region).map(Vec::as_slice).unwrap_or_default();
                for figure in freshness::measure(&in_window, source, region, in_region, now) {
                    metrics::emit(&freshness::emf_line(&figure, now));
                    summary.freshness.push(figure);
                }
                if prune {
                    self.prune(region, in_region, now, &mut summary).await;
                }
            }
        }
        Ok(summary)
    }

    /// Deletes (or, in dry-run mode, reports) the copies the pruning policy chooses.
    async fn prune(&self, region: &str, copies: &[Backup], now: EpochSeconds, summary: &mut Summary) {
        let policy = &self.config.prune;
        for chosen in pruning::choose(policy, &self.config.source_region, region, copies, now) {
            if policy.dry_run {
                info!(backup_id = %chosen.backup_id, destination_region = %region, reason = %chosen.reason, "would prune copy (dry run)");
                push_listed(&mut summary.would_prune, &mut summary.would_prune_count, chosen);
                continue;
            }
            match self.backups.delete_backup(region, &chosen.backup_id).await {
                Ok(()) => {
                    info!(backup_id = %chosen.backup_id, destination_region = %region, reason = %chosen.reason, "pruned copy");
                    push_listed(&mut summary.pruned, &mut summary.pruned_count, chosen);
                }
                Err(e) => {
                    error!(backup_id = %chosen.backup_id, destination_region = %region, error = %e, "cannot prune copy");
                    summary.fail(&chosen.backup_id, region, &e);
                }
            }
        }
    }

    /// Keeps the backups of selected clusters; the others are skipped with the reason.
    async fn select(
        &self,
        trigger: &Trigger,
        sources: Vec<Backup>,
        summary: &mut Summary,
    ) -> Result<Vec<Backup>, StartCopyError> {
        let selection = &self.config.selection;
        if selection.is_everything() {
            return Ok(sources);
        }
        let source = self.config.source_region.as_str();
        let sweep = matches!(trigger, Trigger::Sweep { .. });
        let clusters = if sweep {
            // A sweep lists every cluster once: it needs tags and reports unknown configured ids.
            self.backups.describe_clusters(source, None).await?
        } else if selection.needs_tags() {
            let mut ids: Vec<String> = sources.iter().filter_map(|b| b.cluster_id.clone()).collect();
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                Vec::new()
            } else {
                self.backups.describe_clusters(source, Some(&ids)).await?
            }
        } else {
            Vec::new()
        };
        if sweep {
            summary.unknown_cluster_ids = selection.unknown_ids(&clusters);
            if !summary.unknown_cluster_ids.is_empty() {
                warn!(unknown_cluster_ids = ?summary.unknown_cluster_ids, "configured cluster ids match no cluster in this region");
            }
        }
        let mut kept = Vec::with_capacity(sources.len());
        for backup in sources {
            let cluster = backup
                .cluster_id
                .as_deref()
                .and_then(|id| clusters.iter().find(|c| c.id == id));
            match selection.check(backup.cluster_id.as_deref(), cluster) {
                Ok(()) => kept.push(backup),
                Err(why) => summary.skip(
                    &backup.id,
                    None,
                    SkipReason::ClusterNotSelected {
                        detail: why.to_string(),
                    },
                ),
            }
        }
        Ok(kept)
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
        let skipped = |reason| StartResult::Skipped {
            backup_id: backup_id.clone(),
            region: region.clone(),
            reason,
        };
        let starter = generations::Starter {
            executions: &self.executions,
            backups: &self.backups,
            policy: self.config.retry,
            explicit,
            now,
        };
        match starter.start_next(job, budget).await {
            Ok(generations::Started::New { job, execution_arn }) => {
                let name = job.execution_name();
                info!(source_backup_id = %backup_id, destination_region = %region, execution_name = %name, "copy tracking started");
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
                warn!(source_backup_id = %backup_id, destination_region = %region, failed_executions = failed_in_a_row, "copy given up until a CloudHSM Backup Created event names the backup");
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
                error!(source_backup_id = %backup_id, destination_region = %region, error = %e, "cannot start copy tracking");
                StartResult::Failed(Failed::from_aws(backup_id, region, &e))
            }
        }
    }
}

/// The Lambda entry point.
pub async fn function_handler<B: BackupApi, E: ExecutionApi>(
    event: LambdaEvent<Payload>,
    service: &StartCopy<B, E>,
) -> Result<Summary, StartCopyError> {
    let payload = event.payload.into_json().map_err(StartCopyError::Unreadable)?;
    service.handle(payload, time::now()).await
}
