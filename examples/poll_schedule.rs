//! Prints what the poll loop costs per copied backup under a backoff schedule: checks,
//! Step Functions state transitions, history events and detection delay, for copies that take
//! 1, 10, 30 and 120 minutes, plus the worst case up to the deadline. It drives the real
//! decision function (`tracking::decide_check`) with a simulated clock.
//!
//! `cargo run --example poll_schedule -- [initial max percent deadline]` (defaults: the template's).

use cloudhsm_backup_copy::backup::{Backup, BackupState};
use cloudhsm_backup_copy::copy_guard::{CopyOutcome, CopyResult};
use cloudhsm_backup_copy::job::CopyJob;
use cloudhsm_backup_copy::time::to_rfc3339;
use cloudhsm_backup_copy::tracking::{CheckInput, LoopState, Next, PollPolicy, decide_check};

const T0: i64 = 1_795_665_600;

/// One loop's figures for a copy that turns READY after `duration` seconds.
struct Run {
    checks: u32,
    transitions: u32,
    history_events: u32,
    detected_at: i64,
}

fn simulate(policy: &PollPolicy, duration: i64) -> Result<Run, String> {
    let job = CopyJob {
        source_backup_id: "backup-4kuraxsqetz".into(),
        source_cluster_id: None,
        source_region: "us-east-1".into(),
        destination_region: "us-west-2".into(),
        generation: 0,
    };
    let copy = |state| {
        Backup::original("backup-copycopycop", None, state, Some(T0)).copied_from(
            &job.source_backup_id,
            "us-east-1",
            None,
        )
    };
    let mut loop_state = LoopState {
        attempt: 1,
        checks: 0,
        wait_seconds: 0,
        started_at: to_rfc3339(T0),
    };
    // Prepare, RequestCopy; then CheckCopy + Route per check, Wait per wait; then the
    // announcement and the final state. History: a Task state writes 5 events, Pass/Choice/Wait/
    // Succeed 2, the execution 2.
    let (mut transitions, mut history) = (2, 2 + 2 + 5);
    let mut now = T0;
    loop {
        let state = if now >= T0 + duration {
            BackupState::Ready
        } else {
            BackupState::CreateInProgress
        };
        let input = CheckInput {
            job: job.clone(),
            loop_state: loop_state.clone(),
            copy: CopyResult {
                outcome: CopyOutcome::CopyRequested,
                attempt: 1,
                requested_at: to_rfc3339(T0),
            },
            policy: policy.clone(),
        };
        let out = decide_check(input.validate().map_err(|e| e.to_string())?, Some(&[copy(state)]), now);
        transitions += 2;
        history += 5 + 2;
        match out.check.next {
            Next::Wait => {
                now += i64::from(out.loop_state.wait_seconds);
                transitions += 1;
                history += 2;
                loop_state = out.loop_state;
            }
            Next::Succeed | Next::Fail => {
                return Ok(Run {
                    checks: out.loop_state.checks,
                    transitions: transitions + 2,
                    history_events: history + 5 + 2,
                    detected_at: now,
                });
            }
            Next::Recopy => return Err("unexpected re-copy".into()),
        }
    }
}

fn main() -> Result<(), String> {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().map_err(|e| format!("{a}: {e}")))
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u32| args.get(i).copied().unwrap_or(default);
    let policy = PollPolicy {
        initial_wait_seconds: arg(0, 120),
        max_wait_seconds: arg(1, 450),
        backoff_percent: arg(2, 150),
        deadline_seconds: arg(3, 86_400),
        max_copy_attempts: 3,
        visibility_grace_seconds: 300,
    };
    policy.validate().map_err(|e| e.to_string())?;
    println!(
        "backoff: first wait {} s, x{:.2} per check, capped at {} s; deadline {} s",
        policy.initial_wait_seconds,
        f64::from(policy.backoff_percent) / 100.0,
        policy.max_wait_seconds,
        policy.deadline_seconds
    );
    println!(
        "{:>14} {:>7} {:>12} {:>15} {:>16} {:>10}",
        "copy takes", "checks", "transitions", "history events", "detection delay", "of copy"
    );
    for minutes in [1, 10, 30, 120] {
        let d = minutes * 60;
        let run = simulate(&policy, d)?;
        let delay = run.detected_at - T0 - d;
        println!(
            "{:>10} min {:>7} {:>12} {:>15} {:>14} s {:>9.0}%",
            minutes,
            run.checks,
            run.transitions,
            run.history_events,
            delay,
            100.0 * delay as f64 / d as f64
        );
    }
    let worst = simulate(&policy, i64::from(policy.deadline_seconds) + 1)?;
    println!(
        "never READY (runs to the deadline): {} checks, {} transitions, {} history events (limit 25,000)",
        worst.checks, worst.transitions, worst.history_events
    );
    Ok(())
}
