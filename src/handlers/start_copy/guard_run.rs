//! Guarding each cluster's newest copy in one region (GuardNewestCopy; see [`crate::guard`]):
//! mark it NeverExpires, clear the superseded copies this stack marked, and record in the kit
//! which marks are ours.

use tracing::{error, info};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::guard;
use crate::ports::{BackupApi, BackupQuery, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::restore_kit::RestoreKit;

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Whether every call it made succeeded; what failed is kept in the kit and tried again by
    /// the next sweep. With GuardNewestCopy off, it only releases the marks the stack set.
    pub(super) async fn guard_newest(
        &self,
        region: &str,
        kit: &mut RestoreKit,
        previous: Option<&RestoreKit>,
        copies: &[Backup],
    ) -> bool {
        let ours: Vec<String> = previous.map(|p| p.guarded_backup_ids.clone()).unwrap_or_default();
        let newest = self.config.guard_newest_copy.then(|| kit.backup_id.clone());
        if newest.is_none() && ours.is_empty() {
            return true;
        }
        let mut listed: Vec<Backup> = copies
            .iter()
            .filter(|c| c.id == kit.backup_id || ours.contains(&c.id))
            .cloned()
            .collect();
        // A superseded copy may be older than the sweep's window: looked up by id.
        let missing: Vec<String> = ours
            .iter()
            .filter(|id| !listed.iter().any(|c| &c.id == *id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            match self.backups.describe_backups(region, BackupQuery::Ids(&missing)).await {
                Ok(found) => listed.extend(found),
                Err(e) => {
                    error!(destination_region = %region, error = %e, "cannot look up the copies this stack marked");
                    kit.guarded_backup_ids = ours;
                    return false;
                }
            }
        }
        // A copy being deleted needs no mark cleared.
        listed.retain(|c| c.state.is_live());
        let mut done = Vec::new();
        let mut all_done = true;
        for mark in guard::marks(newest.as_deref(), &ours, &listed) {
            let call = || {
                self.backups
                    .modify_backup_attributes(region, &mark.backup_id, mark.never_expires)
            };
            match retry_throttled(call).await {
                Ok(()) => {
                    info!(destination_region = %region, backup_id = %mark.backup_id, never_expires = mark.never_expires, "copy guard set");
                    done.push(mark);
                }
                Err(e) => {
                    error!(destination_region = %region, backup_id = %mark.backup_id, error = %e, "cannot set the copy guard");
                    all_done = false;
                }
            }
        }
        kit.guarded_backup_ids = guard::ours_after(newest.as_deref(), &ours, &listed, &done);
        all_done
    }
}
