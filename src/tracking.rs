//! The poll loop of one tracking execution: what it does after each check.
//!
//! The state machine is only a skeleton (Wait -> Check -> Choice); the decisions live here as
//! pure functions over what DescribeBackups reported, so every rule is unit tested. The job's
//! identity is in [`crate::job`], the copy step's guard in [`crate::copy_guard`].
//!
//! "This attempt's copy" is the copy carrying the attempt's marker tag; any live copy of the
//! source, whoever made it, ends the loop in success. Copies are never counted: AWS does not
//! say how long a DELETED copy stays listed.

mod documents;

pub use documents::{
    CheckInput, CheckOutput, CheckResult, CopyState, LoopState, Next, Reason, TrackingError, ValidCheck,
};

use crate::backup::{Backup, BackupState};
use crate::job::{CopyJob, is_attempts_copy};
pub use crate::poll_policy::PollPolicy;
use crate::time::{EpochSeconds, to_rfc3339};

/// Decides what the loop does after listing the source's copies in the destination (`None`:
/// the listing failed retryably).
pub fn decide_check(valid: ValidCheck, listing: Option<&[Backup]>, now: EpochSeconds) -> CheckOutput {
    let ValidCheck {
        input: CheckInput {
            job,
            loop_state,
            copy,
            policy,
        },
        started_at,
        requested_at,
    } = valid;
    let elapsed = (now - started_at).max(0);
    let deadline = i64::from(policy.deadline_seconds);
    let attempt = loop_state.attempt.max(1);
    let (state, listed) = observe(&job, attempt, listing);
    let can_recopy = attempt < policy.max_copy_attempts;
    let (next, reason) = match state {
        CopyState::Ready => (Next::Succeed, None),
        _ if elapsed >= deadline => (Next::Fail, Some(Reason::DeadlineExceeded)),
        CopyState::CreateInProgress | CopyState::Unknown => (Next::Wait, None),
        CopyState::Deleted if can_recopy => (Next::Recopy, Some(Reason::CopyDeleted)),
        CopyState::Deleted => (Next::Fail, Some(Reason::CopyAttemptsExhausted)),
        CopyState::NotVisible if now - requested_at < i64::from(policy.visibility_grace_seconds) => (Next::Wait, None),
        CopyState::NotVisible if can_recopy => (Next::Recopy, Some(Reason::CopyNotVisible)),
        CopyState::NotVisible => (Next::Fail, Some(Reason::CopyNotVisible)),
    };
    let wait_seconds = match next {
        // Never sleep past the deadline: the check after it reports the timeout promptly.
        Next::Wait => {
            let remaining = u32::try_from((deadline - elapsed).max(1)).unwrap_or(u32::MAX);
            policy.next_wait(loop_state.wait_seconds).min(remaining)
        }
        // A new attempt starts its backoff afresh.
        Next::Recopy => 0,
        Next::Succeed | Next::Fail => loop_state.wait_seconds,
    };
    let check = CheckResult {
        state,
        next,
        reason,
        destination_backup_id: listed.map(|b| b.id.clone()),
        copies_seen: u32::try_from(listing.map_or(0, <[Backup]>::len)).unwrap_or(u32::MAX),
        elapsed_seconds: elapsed,
        checked_at: to_rfc3339(now),
    };
    CheckOutput {
        job,
        loop_state: LoopState {
            attempt: if next == Next::Recopy { attempt + 1 } else { attempt },
            checks: loop_state.checks.saturating_add(1),
            wait_seconds,
            started_at: loop_state.started_at,
        },
        copy,
        check,
    }
}

/// What the listing shows of the source's copies: any READY or CREATE_IN_PROGRESS copy (the
/// newest), else this attempt's own dead copy, else nothing; `None` (a failed listing) is no news.
fn observe<'a>(job: &CopyJob, attempt: u32, listing: Option<&'a [Backup]>) -> (CopyState, Option<&'a Backup>) {
    let Some(copies) = listing else {
        return (CopyState::Unknown, None);
    };
    let newest = |state: BackupState| {
        copies
            .iter()
            .filter(|c| c.state == state)
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)))
    };
    if let Some(ready) = newest(BackupState::Ready) {
        (CopyState::Ready, Some(ready))
    } else if let Some(pending) = newest(BackupState::CreateInProgress) {
        (CopyState::CreateInProgress, Some(pending))
    } else if let Some(dead) = copies.iter().find(|c| {
        matches!(c.state, BackupState::Deleted | BackupState::PendingDeletion)
            && is_attempts_copy(job, attempt, &c.tags)
    }) {
        (CopyState::Deleted, Some(dead))
    } else {
        (CopyState::NotVisible, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy_guard::{CopyOutcome, CopyResult};
    use crate::job::TAG_ATTEMPT;

    const T0: EpochSeconds = 1_795_665_600; // 2026-11-26T04:00:00Z

    fn job(generation: u32) -> CopyJob {
        CopyJob::example(generation)
    }

    fn policy() -> PollPolicy {
        crate::poll_policy::tests::policy()
    }

    fn copy(id: &str, state: BackupState, created_at: EpochSeconds) -> Backup {
        Backup::original(id, None, state, Some(created_at)).copied_from("backup-4kuraxsqetz", "us-east-1", None)
    }

    /// A copy made by `job(generation)`'s attempt `attempt`.
    fn marked(id: &str, state: BackupState, generation: u32, attempt: u32) -> Backup {
        copy(id, state, T0).tagged(&[(TAG_ATTEMPT, &job(generation).attempt_marker(attempt))])
    }

    fn input(generation: u32, attempt: u32, wait: u32, requested_at: EpochSeconds) -> CheckInput {
        CheckInput {
            job: job(generation),
            loop_state: LoopState {
                attempt,
                checks: 4,
                wait_seconds: wait,
                started_at: to_rfc3339(T0),
            },
            copy: CopyResult {
                outcome: CopyOutcome::CopyRequested,
                attempt,
                requested_at: to_rfc3339(requested_at),
            },
            policy: policy(),
        }
    }

    fn check(input: CheckInput, copies: &[Backup], now: EpochSeconds) -> CheckOutput {
        decide_check(input.validate().unwrap(), Some(copies), now)
    }

    #[test]
    fn ready_copy_ends_in_success_with_its_id() {
        let copies = [
            copy("backup-ddddddddddd", BackupState::Deleted, T0),
            copy("backup-rrrrrrrrrrr", BackupState::Ready, T0 + 5),
        ];
        let out = check(input(0, 2, 270, T0), &copies, T0 + 900);
        assert_eq!(out.check.state, CopyState::Ready);
        assert_eq!(out.check.next, Next::Succeed);
        assert_eq!(out.check.destination_backup_id.as_deref(), Some("backup-rrrrrrrrrrr"));
        assert_eq!(out.check.elapsed_seconds, 900);
        assert_eq!(out.loop_state.checks, 5);
        assert_eq!(out.check.copies_seen, 2);
    }

    #[test]
    fn a_copy_in_progress_waits_longer_each_time() {
        let copies = [copy("backup-ppppppppppp", BackupState::CreateInProgress, T0)];
        let first = check(input(0, 1, 0, T0), &copies, T0 + 1);
        assert_eq!((first.check.next, first.loop_state.wait_seconds), (Next::Wait, 120));
        let later = check(input(0, 1, 405, T0), &copies, T0 + 2000);
        assert_eq!((later.check.next, later.loop_state.wait_seconds), (Next::Wait, 600));
        assert_eq!(later.check.destination_backup_id.as_deref(), Some("backup-ppppppppppp"));
    }

    #[test]
    fn a_deleted_copy_is_recopied_until_the_budget_is_spent() {
        let one_dead = [marked("backup-ddddddddddd", BackupState::Deleted, 0, 1)];
        let out = check(input(0, 1, 270, T0), &one_dead, T0 + 600);
        assert_eq!(
            (out.check.state, out.check.next, out.check.reason),
            (CopyState::Deleted, Next::Recopy, Some(Reason::CopyDeleted))
        );
        assert_eq!((out.loop_state.attempt, out.loop_state.wait_seconds), (2, 0));
        assert_eq!(out.check.destination_backup_id.as_deref(), Some("backup-ddddddddddd"));

        // Attempt 3's copy died; the earlier two have dropped out of the listing already.
        let third_dead = [marked("backup-ccccccccccc", BackupState::Deleted, 0, 3)];
        let out = check(input(0, 3, 270, T0), &third_dead, T0 + 600);
        assert_eq!(
            (out.check.next, out.check.reason),
            (Next::Fail, Some(Reason::CopyAttemptsExhausted))
        );
        assert_eq!(out.loop_state.attempt, 3);
    }

    #[test]
    fn dead_copies_of_other_executions_or_attempts_are_not_this_attempts_result() {
        // Dead copies of an earlier generation, by hand and of attempt 1; attempt 2 just
        // requested, not listed yet: wait.
        let others = [
            marked("backup-aaaaaaaaaaa", BackupState::Deleted, 0, 3),
            copy("backup-bbbbbbbbbbb", BackupState::PendingDeletion, T0 - 86_400),
            marked("backup-ddddddddddd", BackupState::Deleted, 1, 1),
        ];
        let out = check(input(1, 2, 0, T0 + 100), &others, T0 + 110);
        assert_eq!((out.check.state, out.check.next), (CopyState::NotVisible, Next::Wait));
        // A live copy, whoever made it, is success.
        let by_hand = [copy("backup-rrrrrrrrrrr", BackupState::Ready, T0)];
        assert_eq!(check(input(1, 2, 0, T0), &by_hand, T0 + 110).check.next, Next::Succeed);
    }

    #[test]
    fn a_copy_that_never_appears_is_recopied_after_the_grace_period() {
        let within = check(input(0, 1, 120, T0), &[], T0 + 299);
        assert_eq!(
            (within.check.state, within.check.next),
            (CopyState::NotVisible, Next::Wait)
        );
        let after = check(input(0, 1, 120, T0), &[], T0 + 300);
        assert_eq!(
            (after.check.next, after.check.reason),
            (Next::Recopy, Some(Reason::CopyNotVisible))
        );
        let last = check(input(0, 3, 120, T0), &[], T0 + 300);
        assert_eq!(
            (last.check.next, last.check.reason),
            (Next::Fail, Some(Reason::CopyNotVisible))
        );
    }

    #[test]
    fn a_failed_listing_is_no_news_the_loop_waits_until_the_deadline() {
        let valid = input(0, 1, 180, T0).validate().unwrap();
        let out = decide_check(valid, None, T0 + 600);
        assert_eq!(
            (out.check.state, out.check.next, out.check.reason),
            (CopyState::Unknown, Next::Wait, None)
        );
        assert_eq!((out.loop_state.wait_seconds, out.loop_state.checks), (270, 5));
        let late = decide_check(input(0, 1, 600, T0).validate().unwrap(), None, T0 + 86_400);
        assert_eq!(
            (late.check.next, late.check.reason),
            (Next::Fail, Some(Reason::DeadlineExceeded))
        );
    }

    #[test]
    fn the_deadline_ends_the_loop_but_not_a_success() {
        let pending = [copy("backup-ppppppppppp", BackupState::CreateInProgress, T0)];
        let out = check(input(0, 1, 600, T0), &pending, T0 + 86_400);
        assert_eq!(
            (out.check.next, out.check.reason),
            (Next::Fail, Some(Reason::DeadlineExceeded))
        );
        let ready = [copy("backup-rrrrrrrrrrr", BackupState::Ready, T0)];
        assert_eq!(
            check(input(0, 1, 600, T0), &ready, T0 + 90_000).check.next,
            Next::Succeed
        );
        // Close to the deadline the wait shrinks so the timeout is reported on time.
        let out = check(input(0, 1, 600, T0), &pending, T0 + 86_300);
        assert_eq!((out.check.next, out.loop_state.wait_seconds), (Next::Wait, 100));
    }

    #[test]
    fn malformed_times_are_invalid_input() {
        let mut bad = input(0, 1, 0, T0);
        bad.loop_state.started_at = "yesterday".into();
        assert!(matches!(bad.validate(), Err(TrackingError::InvalidInput(m)) if m.contains("loop.startedAt")));
        let mut bad = input(0, 1, 0, T0);
        bad.copy.requested_at = "2026-13-01T00:00:00Z".into();
        assert!(matches!(bad.validate(), Err(TrackingError::InvalidInput(m)) if m.contains("copy.requestedAt")));
        let mut bad = input(0, 1, 0, T0);
        bad.policy.max_copy_attempts = 0;
        assert!(matches!(bad.validate(), Err(TrackingError::InvalidInput(m)) if m.contains("maxCopyAttempts")));
    }

    #[test]
    fn output_names_match_the_state_machine_choice() {
        let out = check(input(0, 1, 0, T0), &[], T0 + 1);
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["check"]["next"], "WAIT");
        assert_eq!(json["check"]["state"], "NOT_VISIBLE");
        assert_eq!(json["loop"]["waitSeconds"], 120);
        assert!(json["job"]["generation"].is_number());
    }
}
