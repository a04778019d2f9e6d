//! The two Lambda functions, over the ports: `start_copy` (EventBridge target, and the copy
//! step of the state machine) and `check_copy` (the poll loop's check).

pub mod check_copy;
pub mod copy_step;
pub mod start_copy;
