//! The guard in front of CopyBackupToRegion, which has no client token and is not idempotent.
//!
//! A copy is requested only when the destination lists no CREATE_IN_PROGRESS or READY copy of
//! the source and no copy carrying this attempt's marker (a retried task whose first call got
//! through). The guard never counts copies: how long dead ones stay listed is undocumented.
//! What a listing cannot show (a copy requested but not listed yet) is covered by the
//! state machine: only errors that prove no copy was made are retried, and an answer that
//! leaves it open ends the step as [`CopyOutcome::RequestUnconfirmed`], after which the poll
//! loop waits out the visibility grace period before it asks for another attempt.

use serde::{Deserialize, Serialize};

use crate::backup::Backup;
use crate::job::{CopyJob, is_attempts_copy};

/// What the copy step did for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CopyOutcome {
    /// CopyBackupToRegion was called and answered.
    CopyRequested,
    /// CopyBackupToRegion was called and the answer (a 5xx, a timeout) leaves open whether the
    /// copy was made; calling again could make two, so the poll loop finds out.
    RequestUnconfirmed,
    /// A CREATE_IN_PROGRESS or READY copy already exists: nothing to do.
    AlreadyLive,
    /// This attempt's copy already exists (a retried task): not copied again.
    AlreadyRequested,
}

/// The copy step's result, stored at `$.copy` in the execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyResult {
    pub outcome: CopyOutcome,
    pub attempt: u32,
    /// When the step ran (RFC 3339); the visibility grace period counts from here.
    pub requested_at: String,
}

/// The copy step's input (`{"action": "copy", "job": ..., "attempt": n}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyRequest {
    pub action: CopyAction,
    pub job: CopyJob,
    pub attempt: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyAction {
    Copy,
}

/// Decides whether attempt `attempt` of `job` calls CopyBackupToRegion, given the source's
/// copies the destination lists.
pub fn decide_copy(job: &CopyJob, attempt: u32, copies: &[Backup]) -> CopyOutcome {
    if copies.iter().any(|c| c.state.is_live()) {
        CopyOutcome::AlreadyLive
    } else if copies.iter().any(|c| is_attempts_copy(job, attempt, &c.tags)) {
        CopyOutcome::AlreadyRequested
    } else {
        CopyOutcome::CopyRequested
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupState;
    use crate::job::TAG_ATTEMPT;

    fn job(generation: u32) -> CopyJob {
        CopyJob {
            source_cluster_id: None,
            ..CopyJob::example(generation)
        }
    }

    fn copy(id: &str, state: BackupState, marker: Option<String>) -> Backup {
        let copy = Backup::original(id, None, state, None).copied_from("backup-4kuraxsqetz", "us-east-1", None);
        match marker {
            Some(m) => copy.tagged(&[(TAG_ATTEMPT, &m)]),
            None => copy,
        }
    }

    #[test]
    fn copies_once_per_attempt_without_counting_copies() {
        let mine = copy(
            "backup-aaaaaaaaaaa",
            BackupState::Deleted,
            Some(job(0).attempt_marker(1)),
        );
        assert_eq!(decide_copy(&job(0), 1, &[]), CopyOutcome::CopyRequested);
        // Attempt 1's copy exists (a retried task): do not copy again.
        assert_eq!(
            decide_copy(&job(0), 1, std::slice::from_ref(&mine)),
            CopyOutcome::AlreadyRequested
        );
        // Attempt 2 after attempt 1's copy died: copy.
        assert_eq!(
            decide_copy(&job(0), 2, std::slice::from_ref(&mine)),
            CopyOutcome::CopyRequested
        );
        // Dead copies of other executions, or made by hand, are not this attempt's.
        let others = [
            copy(
                "backup-bbbbbbbbbbb",
                BackupState::Deleted,
                Some(job(1).attempt_marker(1)),
            ),
            copy("backup-ccccccccccc", BackupState::Deleted, None),
        ];
        assert_eq!(decide_copy(&job(0), 1, &others), CopyOutcome::CopyRequested);
        // The dead copies vanishing from the listing changes nothing for a new generation.
        assert_eq!(decide_copy(&job(1), 1, &[]), CopyOutcome::CopyRequested);
    }

    #[test]
    fn any_live_copy_stops_the_copy_whoever_made_it() {
        for state in [BackupState::CreateInProgress, BackupState::Ready] {
            let by_hand = copy("backup-bbbbbbbbbbb", state, None);
            assert_eq!(decide_copy(&job(3), 2, &[by_hand]), CopyOutcome::AlreadyLive);
        }
    }

    #[test]
    fn outcomes_have_the_names_the_state_machine_stores() {
        let json = serde_json::to_value(CopyOutcome::RequestUnconfirmed).unwrap();
        assert_eq!(json, "REQUEST_UNCONFIRMED");
    }
}
