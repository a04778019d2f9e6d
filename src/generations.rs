//! Which tracking execution a (backup, region) pair that lacks a live copy gets next, whatever
//! earlier executions did.
//!
//! Generation `g` is the execution named `<backup>-to-<region>-<g>`. The planner asks Step
//! Functions about generations 0, 1, 2, ... until it finds a name no execution holds or one
//! that is still running. A closed execution's name can never be started again (for 90 days),
//! so every closed one moves the pair to the next generation, and every planner, concurrent or
//! not, reads the same record and arrives at the same name. Nothing here depends on what the
//! destination lists.
//!
//! The noise is bounded: after [`RetryPolicy::max_failed_executions`] executions in a row that
//! did not succeed, sweeps and cluster events give up on the pair (reported as `GIVEN_UP` and
//! in the `CopiesGivenUp` metric, which has an alarm) until a "CloudHSM Backup Created" event
//! names the backup, which always starts one more. Between failures, retries back off: the
//! first comes with the next sweep, each later one waits twice as long (1 h, 2 h, 4 h, ...).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::backup::{Backup, BackupState};
use crate::error::AwsError;
use crate::job::{CopyJob, execution_name};
use crate::ports::{BackupApi, BackupQuery, ExecutionApi, ExecutionStatus, StartOutcome};
use crate::time::EpochSeconds;

/// Generations asked about per pair before the planner stops looking (a pair that has failed
/// this often has been given up long before, unless someone keeps asking for it by hand).
pub const MAX_GENERATIONS: u32 = 200;
/// The longest wait between two automatic attempts.
pub const MAX_BACKOFF_SECONDS: i64 = 24 * 3600;

/// How often a pair is tried again by later sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed executions in a row after which only an explicit event tries again.
    pub max_failed_executions: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_failed_executions: 5,
        }
    }
}

/// What Step Functions knows about the pair's earlier executions, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Failed (or timed out, or aborted) executions since the last one that succeeded.
    pub failed_in_a_row: u32,
    /// When the newest failed one stopped.
    pub last_failed_at: Option<EpochSeconds>,
    /// The newest closed execution succeeded.
    pub last_succeeded: bool,
}

impl History {
    fn record(&mut self, status: &str, stopped_at: Option<EpochSeconds>) {
        if status == "SUCCEEDED" {
            *self = Self {
                last_succeeded: true,
                ..Self::default()
            };
        } else {
            self.failed_in_a_row += 1;
            self.last_failed_at = stopped_at.or(self.last_failed_at);
            self.last_succeeded = false;
        }
    }
}

/// The decision once the first unused generation is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Start,
    /// Too many failures in a row: only an explicit event starts another.
    GiveUp {
        failed_in_a_row: u32,
    },
    /// The last failure is too recent.
    BackOff {
        failed_in_a_row: u32,
        not_before: EpochSeconds,
    },
}

/// Whether the next generation starts now. `explicit`: a "CloudHSM Backup Created" event named
/// the backup, which overrides both the cap and the backoff.
pub fn admit(history: &History, policy: RetryPolicy, explicit: bool, now: EpochSeconds) -> Admission {
    let failed = history.failed_in_a_row;
    if explicit || failed == 0 {
        return Admission::Start;
    }
    if failed >= policy.max_failed_executions {
        return Admission::GiveUp {
            failed_in_a_row: failed,
        };
    }
    let wait = backoff_seconds(failed);
    match history.last_failed_at {
        Some(at) if now < at + wait => Admission::BackOff {
            failed_in_a_row: failed,
            not_before: at + wait,
        },
        _ => Admission::Start,
    }
}

/// The wait after `failed` failures in a row: none after the first, then 1 h, 2 h, 4 h, ...
pub fn backoff_seconds(failed: u32) -> i64 {
    match failed {
        0 | 1 => 0,
        n => 3600_i64
            .checked_shl(n - 2)
            .unwrap_or(MAX_BACKOFF_SECONDS)
            .min(MAX_BACKOFF_SECONDS),
    }
}

/// How many new executions one run may still start in one destination region: backpressure, so
/// a first sweep over a large fleet does not request thousands of copies at once. Only new
/// starts count; pairs already running, backing off or given up take nothing.
#[derive(Debug)]
pub struct Budget(AtomicUsize);

impl Budget {
    pub fn new(starts: usize) -> Self {
        Self(AtomicUsize::new(starts))
    }

    pub fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    fn try_take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give_back(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn is_spent(&self) -> bool {
        self.0.load(Ordering::SeqCst) == 0
    }
}

/// What starting the pair's next execution came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// This call started it.
    New { job: CopyJob, execution_arn: String },
    /// The pair's execution is running already (a repeated event, another sweep).
    Running { job: CopyJob },
    /// [`Admission::GiveUp`]; `job` is the generation an explicit event would start.
    GivenUp { job: CopyJob, failed_in_a_row: u32 },
    /// [`Admission::BackOff`].
    BackingOff {
        job: CopyJob,
        failed_in_a_row: u32,
        not_before: EpochSeconds,
    },
    /// Step Functions holds more closed executions for the pair than [`MAX_GENERATIONS`].
    TooManyGenerations { job: CopyJob },
    /// The run's [`Budget`] for the region is spent: a later sweep starts it.
    Deferred { job: CopyJob },
    /// The pair's newest execution succeeded after the plan was made: its copy is there.
    AlreadyCopied { job: CopyJob, copy: Box<Backup> },
}

/// What [`Starter::start_next`] needs to know and call.
pub struct Starter<'a, E, B> {
    pub executions: &'a E,
    pub backups: &'a B,
    pub policy: RetryPolicy,
    /// A "CloudHSM Backup Created" event named the backup (see [`admit`]).
    pub explicit: bool,
    pub now: EpochSeconds,
}

impl<E: ExecutionApi, B: BackupApi> Starter<'_, E, B> {
    /// Finds the pair's next generation and starts it if [`admit`] and the budget say so.
    /// `job` names the pair; its generation is replaced.
    pub async fn start_next(&self, mut job: CopyJob, budget: &Budget) -> Result<Started, AwsError> {
        // Once the region's budget is spent, the rest wait for a later run without a probe: a
        // first sweep over thousands of pairs would otherwise describe every one of them each
        // hour only to defer it.
        if budget.is_spent() {
            return Ok(Started::Deferred { job });
        }
        let mut history = History::default();
        let mut generation = 0;
        while generation < MAX_GENERATIONS {
            let name = execution_name(&job.source_backup_id, &job.destination_region, generation);
            match self.executions.execution_status(&name).await? {
                Some(ExecutionStatus::Running) => {
                    job.generation = generation;
                    return Ok(Started::Running { job });
                }
                Some(ExecutionStatus::Closed { status, stopped_at }) => {
                    history.record(&status, stopped_at);
                    generation += 1;
                }
                None => {
                    job.generation = generation;
                    match admit(&history, self.policy, self.explicit, self.now) {
                        Admission::Start => {}
                        Admission::GiveUp { failed_in_a_row } => return Ok(Started::GivenUp { job, failed_in_a_row }),
                        Admission::BackOff {
                            failed_in_a_row,
                            not_before,
                        } => {
                            return Ok(Started::BackingOff {
                                job,
                                failed_in_a_row,
                                not_before,
                            });
                        }
                    }
                    if history.last_succeeded
                        && let Some(copy) = self.live_copy(&job).await?
                    {
                        return Ok(Started::AlreadyCopied {
                            job,
                            copy: Box::new(copy),
                        });
                    }
                    if !budget.try_take() {
                        return Ok(Started::Deferred { job });
                    }
                    match self.executions.start_execution(&name, &job.execution_input()).await {
                        Ok(StartOutcome::Started { execution_arn }) => return Ok(Started::New { job, execution_arn }),
                        // Another planner took the name a moment ago: look at it again.
                        Ok(StartOutcome::AlreadyExists) => budget.give_back(),
                        Err(e) => {
                            budget.give_back();
                            return Err(e);
                        }
                    }
                }
            }
        }
        job.generation = generation;
        Ok(Started::TooManyGenerations { job })
    }

    /// The pair's live copy, looked up again: a succeeded execution means its copy was READY
    /// when it closed, so a plan that found none may be a moment old (or the copy is gone).
    async fn live_copy(&self, job: &CopyJob) -> Result<Option<Backup>, AwsError> {
        let ids = [job.source_backup_id.clone()];
        let copies = self
            .backups
            .describe_backups(&job.destination_region, BackupQuery::CopiesOf(&ids))
            .await?;
        Ok(copies
            .into_iter()
            .filter(|c| c.state.is_live())
            .min_by_key(|c| c.state != BackupState::Ready))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: EpochSeconds = 1_795_665_600;

    fn history(failed: u32, ago: i64) -> History {
        History {
            failed_in_a_row: failed,
            last_failed_at: Some(NOW - ago),
            last_succeeded: false,
        }
    }

    #[test]
    fn retries_back_off_then_give_up_until_asked() {
        let policy = RetryPolicy::default();
        assert_eq!(admit(&History::default(), policy, false, NOW), Admission::Start);
        // The first failure is retried by the very next sweep.
        assert_eq!(admit(&history(1, 60), policy, false, NOW), Admission::Start);
        // The second waits an hour, the third two.
        assert_eq!(
            admit(&history(2, 1800), policy, false, NOW),
            Admission::BackOff {
                failed_in_a_row: 2,
                not_before: NOW + 1800
            }
        );
        assert_eq!(admit(&history(2, 3600), policy, false, NOW), Admission::Start);
        assert!(matches!(
            admit(&history(3, 3600), policy, false, NOW),
            Admission::BackOff { .. }
        ));
        assert_eq!(
            admit(&history(5, 999_999), policy, false, NOW),
            Admission::GiveUp { failed_in_a_row: 5 }
        );
        // An explicit event always starts one more.
        assert_eq!(admit(&history(5, 1), policy, true, NOW), Admission::Start);
        assert_eq!(admit(&history(9, 1), policy, true, NOW), Admission::Start);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<i64> = (0..8).map(backoff_seconds).collect();
        assert_eq!(waits, vec![0, 0, 3600, 7200, 14_400, 28_800, 57_600, 86_400]);
        assert_eq!(backoff_seconds(u32::MAX), MAX_BACKOFF_SECONDS);
    }

    #[test]
    fn a_budget_hands_out_what_it_holds() {
        let budget = Budget::new(2);
        assert!(budget.try_take() && !budget.is_spent() && budget.try_take());
        assert!(budget.is_spent() && !budget.try_take());
        budget.give_back();
        assert!(budget.try_take());
        assert!(Budget::unlimited().try_take());
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut h = History::default();
        h.record("FAILED", Some(NOW - 10));
        h.record("TIMED_OUT", Some(NOW - 5));
        assert_eq!(h.failed_in_a_row, 2);
        assert_eq!(h.last_failed_at, Some(NOW - 5));
        h.record("SUCCEEDED", Some(NOW - 4));
        assert_eq!((h.failed_in_a_row, h.last_failed_at, h.last_succeeded), (0, None, true));
        h.record("ABORTED", None);
        assert_eq!(
            (h.failed_in_a_row, h.last_failed_at, h.last_succeeded),
            (1, None, false)
        );
    }
}
