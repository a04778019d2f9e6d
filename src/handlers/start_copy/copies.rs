//! What each destination already holds: the copies of the run's backups (or, for pruning,
//! every copy there).

use std::collections::HashMap;

use tracing::error;

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::ports::{BackupApi, BackupQuery, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::report::{Summary, WHOLE_REGION};

/// The copies found per region, and the regions that could be listed.
pub(super) struct Destinations {
    pub copies: HashMap<String, Vec<Backup>>,
    pub reachable: Vec<String>,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Lists each destination once. A region that cannot be listed fails every eligible backup
    /// there (retryably, when the error is) and is left out of planning.
    pub(super) async fn lookup_copies(&self, eligible: &[String], prune: bool, summary: &mut Summary) -> Destinations {
        let mut found = Destinations {
            copies: HashMap::new(),
            reachable: Vec::new(),
        };
        if eligible.is_empty() && !prune {
            return found;
        }
        for region in &self.config.destination_regions {
            // The copies of the eligible backups, 50 source ids per call: a lookup whose result
            // does not depend on the listing's order, which AWS does not define (a copy's
            // CreateTimestamp is its source's, its CopyTimestamp when it was copied). Pruning
            // needs every copy in the region.
            let query = if prune {
                BackupQuery::All { since: None }
            } else {
                BackupQuery::CopiesOf(eligible)
            };
            // Checks of running copies share the region's rate limit: a throttled lookup is
            // tried again here before it becomes a failure of the whole run.
            match retry_throttled(|| self.backups.describe_backups(region, query)).await {
                Ok(copies) => {
                    found.copies.insert(region.clone(), copies);
                    found.reachable.push(region.clone());
                }
                Err(e) => {
                    error!(destination_region = %region, error = %e, "cannot list copies in destination");
                    for id in eligible {
                        summary.fail(id, region, &e);
                    }
                    if eligible.is_empty() {
                        // Listed for pruning only: the region's failure, not any backup's.
                        summary.fail(WHOLE_REGION, region, &e);
                    }
                }
            }
        }
        found
    }
}
