//! The three Lambda functions, over the ports, each with its own role: `start_copy` (EventBridge
//! target: plans, starts executions, prunes), `copy_step` (the state machine's copy step) and
//! `check_copy` (the poll loop's check).

pub mod check_copy;
pub mod copy_step;
pub mod start_copy;
