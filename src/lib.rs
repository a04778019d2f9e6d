//! Keeps every AWS CloudHSM backup copied to one or more disaster-recovery regions.
//!
//! The library holds everything; the binaries in `src/bin/` only wire it to the Lambda runtime.
//! Domain modules (`event`, `plan`, `job`, `copy_guard`, `generations`, `tracking`, `pruning`,
//! `selection`, `scope`, ...) are pure or take narrow traits (`ports`); `aws` holds the SDK
//! adapters; `handlers` joins them into the Lambda functions (start-copy, copy-step,
//! check-copy, share-copy, restore-drill), each a typed [`handlers::Handler`] behind one entry
//! point.

pub mod aws;
pub mod backoff;
pub mod backup;
pub mod cluster;
pub mod config;
pub mod copy_guard;
pub mod dr_status;
pub mod drill;
pub mod error;
pub mod event;
pub mod freshness;
pub mod generations;
pub mod guard;
pub mod handlers;
pub mod ids;
pub mod job;
pub mod metrics;
pub mod payload;
pub mod plan;
pub mod poll_policy;
pub mod ports;
pub mod posture;
pub mod pruning;
pub mod readiness;
pub mod report;
pub mod restore_kit;
pub mod scope;
pub mod selection;
pub mod sharing;
pub mod tags;
pub mod time;
pub mod tracking;
