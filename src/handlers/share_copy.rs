//! share-copy: the tracker's share step, between the copy turning READY and the success being
//! announced. It shares the copy with the recovery accounts through the stack's RAM share in
//! the copy's region (see [`crate::sharing`]), and answers only once RAM says the copy is
//! shared with every one of them; until then it fails `Pending`, which the state machine
//! retries. With no recovery accounts it makes no call and reports the copy shared with no one.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{Instrument, info, warn};

use crate::backup::BackupState;
use crate::config::ShareCopyConfig;
use crate::error::{AwsError, Classified, ErrorType};
use crate::handlers::Handler;
use crate::ids::is_backup_id;
use crate::job::{CopyJob, JobError};
use crate::payload::{NotJson, Request, from_serde};
use crate::ports::{AssociationKind, BackupApi, BackupQuery, ShareApi};
use crate::scope::OutOfScope;
use crate::sharing::{Verdict, ensure_share, plan};
use crate::time::EpochSeconds;

/// `{"job": ..., "destinationBackupId": ...}`, as the tracker's ShareCopy sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareRequest {
    pub job: CopyJob,
    pub destination_backup_id: String,
}

/// With whom the copy is shared (empty when sharing is off), in which share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareResult {
    pub shared_with: Vec<String>,
    pub resource_share_arn: Option<String>,
    pub backup_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShareCopyError {
    #[error("invalid share request: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("share refused: {0}")]
    OutOfScope(#[from] OutOfScope),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{backup_id} in {region} is not a READY copy of {source_backup_id}: {found}")]
    NotTheCopy {
        backup_id: String,
        region: String,
        source_backup_id: String,
        found: String,
    },
    #[error("sharing {backup_id} in {region} is under way")]
    Pending { backup_id: String, region: String },
    #[error("RAM could not share {backup_id} in {region} (asked again): {reason}")]
    Failed {
        backup_id: String,
        region: String,
        reason: String,
    },
}

impl Classified for ShareCopyError {
    fn error_type(&self) -> ErrorType {
        match self {
            Self::InvalidInput(_) | Self::Job(_) | Self::OutOfScope(_) => ErrorType::InvalidInput,
            Self::Aws(aws) => aws.error_type(),
            Self::NotTheCopy { .. } => ErrorType::NonRetryable,
            Self::Pending { .. } => ErrorType::Pending,
            // The cause may pass (a copy not yet visible to RAM, a principal being added to the
            // organization): retried like a throttled call, then announced with the reason.
            Self::Failed { .. } => ErrorType::Retryable,
        }
    }
}

impl From<NotJson> for ShareCopyError {
    fn from(e: NotJson) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

impl Request for ShareRequest {
    type Error = ShareCopyError;
    fn from_json(value: Value) -> Result<Self, ShareCopyError> {
        from_serde(value, ShareCopyError::InvalidInput)
    }
}

pub struct ShareCopy<B, S> {
    pub backups: B,
    pub shares: S,
    pub config: ShareCopyConfig,
}

impl<B: BackupApi, S: ShareApi> Handler for ShareCopy<B, S> {
    type Request = ShareRequest;
    type Output = ShareResult;
    type Error = ShareCopyError;

    async fn handle(&self, request: ShareRequest, now: EpochSeconds) -> Result<ShareResult, ShareCopyError> {
        // Every input check comes before the first AWS call.
        request.job.validate()?;
        self.config.scope.admit(&request.job)?;
        if !is_backup_id(&request.destination_backup_id) {
            return Err(ShareCopyError::InvalidInput(format!(
                "destinationBackupId {:?} is not valid",
                request.destination_backup_id
            )));
        }
        if self.config.recovery_accounts.is_empty() {
            return Ok(ShareResult {
                shared_with: Vec::new(),
                resource_share_arn: None,
                backup_arn: None,
            });
        }
        let span = request.job.span();
        self.share(&request, now).instrument(span).await
    }
}

impl<B: BackupApi, S: ShareApi> ShareCopy<B, S> {
    async fn share(&self, request: &ShareRequest, now: EpochSeconds) -> Result<ShareResult, ShareCopyError> {
        let region = request.job.destination_region.as_str();
        let backup_id = request.destination_backup_id.as_str();
        let arn = self.copy_arn(request).await?;
        let config = &self.config;
        let share = ensure_share(&self.shares, region, &config.stack_name, &config.recovery_accounts, now).await?;
        let accounts = &self.config.recovery_accounts;
        let principals = self
            .shares
            .associations(region, &share, AssociationKind::Principals)
            .await?;
        let resource = self
            .shares
            .associations(region, &share, AssociationKind::Resource(&arn))
            .await?;
        let step = plan(accounts, &principals, resource.iter().find(|a| a.entity == arn));
        if step.associate_copy || !step.add_principals.is_empty() {
            let resources = if step.associate_copy {
                vec![arn.clone()]
            } else {
                Vec::new()
            };
            self.shares
                .change(region, &share, true, &resources, &step.add_principals)
                .await?;
        }
        if !step.remove_principals.is_empty() {
            info!(destination_region = region, removed = ?step.remove_principals, "accounts no longer configured are unshared");
            self.shares
                .change(region, &share, false, &[], &step.remove_principals)
                .await?;
        }
        let owned = |s: &str| s.to_owned();
        match step.verdict {
            Verdict::Shared => {
                info!(destination_region = region, backup_id, resource_share_arn = %share, shared_with = ?accounts, "copy shared");
                Ok(ShareResult {
                    shared_with: accounts.clone(),
                    resource_share_arn: Some(share),
                    backup_arn: Some(arn),
                })
            }
            Verdict::Pending => Err(ShareCopyError::Pending {
                backup_id: owned(backup_id),
                region: owned(region),
            }),
            Verdict::Failed(reason) => {
                warn!(destination_region = region, backup_id, reason = %reason, "RAM failed to share the copy; asked again");
                Err(ShareCopyError::Failed {
                    backup_id: owned(backup_id),
                    region: owned(region),
                    reason,
                })
            }
        }
    }

    /// The copy's ARN, once it is known to be a READY copy of the job's backup: only this
    /// stack's copies are shared, whatever the request says.
    async fn copy_arn(&self, request: &ShareRequest) -> Result<String, ShareCopyError> {
        let region = &request.job.destination_region;
        let ids = [request.destination_backup_id.clone()];
        let found = self.backups.describe_backups(region, BackupQuery::Ids(&ids)).await?;
        let copy = found.iter().find(|b| b.id == request.destination_backup_id);
        let refuse = |found: String| ShareCopyError::NotTheCopy {
            backup_id: request.destination_backup_id.clone(),
            region: region.clone(),
            source_backup_id: request.job.source_backup_id.clone(),
            found,
        };
        let Some(copy) = copy else {
            return Err(refuse("it is not listed".into()));
        };
        if copy.source_backup.as_deref() != Some(request.job.source_backup_id.as_str()) {
            return Err(refuse(format!("its source is {:?}", copy.source_backup)));
        }
        if copy.state != BackupState::Ready {
            return Err(refuse(format!("it is {}", copy.state)));
        }
        copy.arn
            .clone()
            .ok_or_else(|| refuse("DescribeBackups gave no BackupArn".into()))
    }
}
