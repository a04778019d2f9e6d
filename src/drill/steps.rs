//! The drill state machine's documents (what each step takes and returns) and the pure rules
//! that move a drill from one step to the next.
//!
//! `progress` is carried from Create through the checks; a step the state machine catches
//! leaves its error in `progress.error` (Catch `ResultPath`), and the drill is failed by it.
//! `cleanup` is carried through the clean-up loop.

use serde::{Deserialize, Serialize};

use super::DrillNext;
use crate::error::{MAX_MESSAGE_CHARS, excerpt};
use crate::poll_policy::{grown_wait, number_or_string};
use crate::time::{EpochSeconds, parse_rfc3339};

/// Where the drill's loop goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Next {
    Wait,
    Verified,
    Failed,
}

/// The drill's loop policy, from the state machine definition (template parameters; numbers may
/// arrive as strings, because DefinitionSubstitutions substitutes text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillPolicy {
    #[serde(deserialize_with = "number_or_string")]
    pub initial_wait_seconds: u32,
    #[serde(deserialize_with = "number_or_string")]
    pub max_wait_seconds: u32,
    /// Growth of the wait between checks, in percent (150 = x1.5).
    #[serde(deserialize_with = "number_or_string")]
    pub backoff_percent: u32,
    /// How long the restore may take before the drill fails.
    #[serde(deserialize_with = "number_or_string")]
    pub deadline_seconds: u32,
    /// How many times clean-up looks again for a cluster it could not delete yet (one still
    /// being created cannot be deleted); then the next planning run deletes it.
    #[serde(deserialize_with = "number_or_string")]
    pub max_clean_attempts: u32,
}

impl DrillPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if self.initial_wait_seconds == 0 || self.max_wait_seconds < self.initial_wait_seconds {
            return Err("policy: waits must be 1 s or more, maxWaitSeconds at least initialWaitSeconds".into());
        }
        if self.backoff_percent < 100 || self.deadline_seconds < self.initial_wait_seconds {
            return Err("policy: backoffPercent at least 100, deadlineSeconds at least initialWaitSeconds".into());
        }
        if self.max_clean_attempts == 0 {
            return Err("policy: maxCleanAttempts must be at least 1".into());
        }
        Ok(())
    }

    /// The wait after one that lasted `previous` seconds (0: the first).
    pub fn next_wait(&self, previous: u32) -> u32 {
        grown_wait(
            previous,
            self.initial_wait_seconds,
            self.backoff_percent,
            self.max_wait_seconds,
        )
    }
}

/// An error the state machine caught (Catch `ResultPath`): its name and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl CaughtError {
    fn describe(&self, step: &str) -> String {
        // A Lambda error's Cause is its JSON Diagnostic; its message is what a person reads.
        let message = serde_json::from_str::<serde_json::Value>(&self.cause)
            .ok()
            .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| self.cause.clone());
        excerpt(
            &format!("the {step} step failed ({}): {message}", self.error),
            MAX_MESSAGE_CHARS,
        )
    }
}

/// Where a drill is, carried from step to step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Progress {
    /// When the execution started (`$$.Execution.StartTime`).
    pub started_at: String,
    pub next: Next,
    /// The drill cluster, once CreateCluster named it.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Why the drill failed.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub checks: u32,
    #[serde(default)]
    pub wait_seconds: u32,
    #[serde(default)]
    pub elapsed_seconds: i64,
    /// The last state the cluster was seen in.
    #[serde(default)]
    pub cluster_state: Option<String>,
    /// A step that failed for good (after its retries), as the state machine caught it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
}

impl Progress {
    /// Seconds since the drill started (0 when the start time is unreadable: the deadline then
    /// counts from the first check, never earlier).
    pub fn elapsed(&self, now: EpochSeconds) -> i64 {
        parse_rfc3339(&self.started_at).map_or(0, |t| (now - t).max(0))
    }

    /// After CreateCluster named the cluster: wait, then look.
    pub fn created(self, cluster_id: String, policy: &DrillPolicy, now: EpochSeconds) -> Self {
        Self {
            next: Next::Wait,
            cluster_id: Some(cluster_id),
            wait_seconds: policy.next_wait(0),
            elapsed_seconds: self.elapsed(now),
            ..self
        }
    }

    /// After a step that ends the drill unverified.
    pub fn failed(self, reason: String, now: EpochSeconds) -> Self {
        Self {
            next: Next::Failed,
            reason: Some(excerpt(&reason, MAX_MESSAGE_CHARS)),
            elapsed_seconds: self.elapsed(now),
            ..self
        }
    }

    /// After one check decided `decision`, seeing the cluster in `state`.
    pub fn checked(self, decision: DrillNext, state: Option<String>, policy: &DrillPolicy, now: EpochSeconds) -> Self {
        let checked = Self {
            checks: self.checks.saturating_add(1),
            elapsed_seconds: self.elapsed(now),
            cluster_state: state.or(self.cluster_state.clone()),
            ..self
        };
        match decision {
            DrillNext::Wait => Self {
                next: Next::Wait,
                wait_seconds: policy.next_wait(checked.wait_seconds),
                ..checked
            },
            DrillNext::Verified => Self {
                next: Next::Verified,
                ..checked
            },
            DrillNext::Failed { reason } => checked.failed(reason, now),
        }
    }

    /// The drill's verdict: verified only when the checks said so and no step failed.
    pub fn verdict(&self) -> Result<(), String> {
        match (&self.error, self.next) {
            (Some(caught), _) => Err(caught.describe("drill")),
            (None, Next::Verified) => Ok(()),
            (None, Next::Failed) => Err(self.reason.clone().unwrap_or_else(|| "the drill failed".into())),
            (None, Next::Wait) => Err("the drill ended before the cluster was verified".into()),
        }
    }
}

/// Where clean-up goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CleanNext {
    /// Not done yet (the state before the first attempt).
    #[default]
    Wait,
    /// Every cluster the drill made is deleted or on its way out.
    Done,
    /// Some could not be deleted in the attempts allowed: the next planning run deletes them.
    GaveUp,
}

/// The clean-up loop's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cleanup {
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next: CleanNext,
    /// Clusters whose deletion was accepted (or that were already on their way out).
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Clusters that could not be deleted yet, and why.
    #[serde(default)]
    pub remaining: Vec<String>,
    #[serde(default)]
    pub wait_seconds: u32,
    /// The clean-up step failed for good, as the state machine caught it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
}

impl Cleanup {
    /// After one attempt that deleted `deleted` and left `remaining`.
    pub fn attempted(self, deleted: Vec<String>, remaining: Vec<String>, policy: &DrillPolicy) -> Self {
        let attempts = self.attempts.saturating_add(1);
        let mut all_deleted = self.deleted;
        all_deleted.extend(
            deleted
                .into_iter()
                .filter(|id| !all_deleted.contains(id))
                .collect::<Vec<_>>(),
        );
        let next = match (remaining.is_empty(), attempts >= policy.max_clean_attempts) {
            (true, _) => CleanNext::Done,
            (false, true) => CleanNext::GaveUp,
            (false, false) => CleanNext::Wait,
        };
        Self {
            attempts,
            next,
            deleted: all_deleted,
            remaining,
            wait_seconds: policy.next_wait(self.wait_seconds),
            error: None,
        }
    }

    pub fn cleaned_up(&self) -> bool {
        self.next == CleanNext::Done && self.error.is_none()
    }

    /// What to tell about clean-up when it is not complete.
    pub fn problem(&self) -> Option<String> {
        if let Some(caught) = &self.error {
            return Some(caught.describe("clean-up"));
        }
        (!self.cleaned_up()).then(|| {
            format!(
                "not deleted yet (the next drill run deletes them): {}",
                self.remaining.join("; ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn policy() -> DrillPolicy {
        DrillPolicy {
            initial_wait_seconds: 60,
            max_wait_seconds: 300,
            backoff_percent: 200,
            deadline_seconds: 3600,
            max_clean_attempts: 3,
        }
    }

    fn start() -> Progress {
        serde_json::from_value(serde_json::json!({"startedAt": "2026-11-26T04:00:00.123Z", "next": "WAIT"})).unwrap()
    }

    const T0: i64 = 1_795_665_600;

    #[test]
    fn a_drill_waits_longer_each_time_and_is_verified_only_without_a_caught_error() {
        let created = start().created("cluster-drilldrill1".into(), &policy(), T0 + 5);
        assert_eq!(
            (created.next, created.wait_seconds, created.elapsed_seconds),
            (Next::Wait, 60, 5)
        );
        let waiting = created.checked(DrillNext::Wait, Some("CREATE_IN_PROGRESS".into()), &policy(), T0 + 65);
        assert_eq!((waiting.wait_seconds, waiting.checks), (120, 1));
        let waiting = waiting.checked(DrillNext::Wait, None, &policy(), T0 + 185);
        // The state last seen is kept when a listing does not show the cluster.
        assert_eq!(waiting.cluster_state.as_deref(), Some("CREATE_IN_PROGRESS"));
        let verified = waiting.checked(DrillNext::Verified, Some("ACTIVE".into()), &policy(), T0 + 425);
        assert_eq!(
            (verified.next, verified.checks, verified.elapsed_seconds),
            (Next::Verified, 3, 425)
        );
        assert_eq!(verified.verdict(), Ok(()));
        let caught = Progress {
            error: Some(CaughtError {
                error: "Retryable".into(),
                cause: r#"{"errorType":"Retryable","errorMessage":"DescribeClusters throttled"}"#.into(),
            }),
            ..verified
        };
        assert_eq!(
            caught.verdict(),
            Err("the drill step failed (Retryable): DescribeClusters throttled".into())
        );
        let failed = start().failed("quota".into(), T0 + 1);
        assert_eq!((failed.next, failed.verdict()), (Next::Failed, Err("quota".into())));
        assert!(start().verdict().is_err());
    }

    #[test]
    fn clean_up_looks_again_a_bounded_number_of_times() {
        let first = Cleanup::default().attempted(vec![], vec!["cluster-a is CREATE_IN_PROGRESS".into()], &policy());
        assert_eq!(
            (first.next, first.attempts, first.wait_seconds),
            (CleanNext::Wait, 1, 60)
        );
        let second = first.attempted(vec!["cluster-a".into()], vec![], &policy());
        assert_eq!(
            (second.next, second.deleted.clone()),
            (CleanNext::Done, vec!["cluster-a".to_owned()])
        );
        assert!(second.cleaned_up() && second.problem().is_none());
        let mut stuck = Cleanup::default();
        for _ in 0..3 {
            stuck = stuck.attempted(vec![], vec!["cluster-b is CREATE_IN_PROGRESS".into()], &policy());
        }
        assert_eq!(stuck.next, CleanNext::GaveUp);
        assert!(stuck.problem().unwrap().contains("cluster-b is CREATE_IN_PROGRESS"));
    }

    #[test]
    fn the_policy_arrives_as_text_and_is_checked() {
        let raw = serde_json::json!({"initialWaitSeconds": "1", "maxWaitSeconds": "2", "backoffPercent": "200",
            "deadlineSeconds": "30", "maxCleanAttempts": "5"});
        let parsed: DrillPolicy = serde_json::from_value(raw).unwrap();
        assert_eq!(parsed.validate(), Ok(()));
        assert!(
            DrillPolicy {
                max_clean_attempts: 0,
                ..policy()
            }
            .validate()
            .is_err()
        );
        assert!(
            DrillPolicy {
                backoff_percent: 50,
                ..policy()
            }
            .validate()
            .is_err()
        );
    }
}
