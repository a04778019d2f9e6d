//! [`BackupApi`] over `aws-sdk-cloudhsmv2`, one client per region.

use std::collections::{BTreeMap, HashMap};

use aws_config::Region;
use aws_config::SdkConfig;
use aws_sdk_cloudhsmv2::Client;
use aws_sdk_cloudhsmv2::types::{Backup as SdkBackup, Certificates, ClusterMode, Tag};

use super::classify;
use crate::backup::{Backup, BackupState};
use crate::cluster::Cluster;
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{BackupApi, BackupQuery, ClusterApi, Restore};

/// DescribeBackups' page size limit (botocore's `BackupsMaxSize`, 1..50).
pub const PAGE_SIZE: i32 = 50;
/// DescribeClusters' page size limit (botocore's `ClustersMaxSize`, 1..25).
pub const CLUSTER_PAGE_SIZE: i32 = 25;
/// Ids per `backupIds`/`sourceBackupIds` filter: the API documents no maximum, so stay modest.
pub const IDS_PER_FILTER: usize = 50;

/// CloudHSM clients, built once at cold start for the regions the function knows about.
#[derive(Debug, Clone)]
pub struct CloudHsm {
    shared: Option<SdkConfig>,
    clients: HashMap<String, Client>,
}

impl CloudHsm {
    /// Builds a client for each region from the shared configuration (credentials, endpoint,
    /// timeouts, retries); other regions get a client on first use.
    pub fn new<'a>(shared: &SdkConfig, regions: impl IntoIterator<Item = &'a str>) -> Self {
        let clients = regions
            .into_iter()
            .map(|r| (r.to_owned(), Self::build(shared, r)))
            .collect();
        Self {
            shared: Some(shared.clone()),
            clients,
        }
    }

    /// Uses the given clients and no others (tests).
    pub fn from_clients(clients: HashMap<String, Client>) -> Self {
        Self { shared: None, clients }
    }

    fn build(shared: &SdkConfig, region: &str) -> Client {
        let config = aws_sdk_cloudhsmv2::config::Builder::from(shared)
            .region(Region::new(region.to_owned()))
            .build();
        Client::from_conf(config)
    }

    fn client(&self, region: &str, operation: &'static str) -> Result<Client, AwsError> {
        match (self.clients.get(region), &self.shared) {
            (Some(client), _) => Ok(client.clone()),
            (None, Some(shared)) => Ok(Self::build(shared, region)),
            (None, None) => Err(AwsError::new(
                operation,
                region,
                AwsErrorKind::Other,
                None,
                "no CloudHSM client for this region",
            )),
        }
    }

    /// Every page of one DescribeBackups filter set; with `since`, newest first and only until
    /// a page reaches backups created before it.
    async fn describe_all(
        &self,
        region: &str,
        filters: &[(&str, Vec<String>)],
        since: Option<i64>,
    ) -> Result<Vec<Backup>, AwsError> {
        const OPERATION: &str = "DescribeBackups";
        let client = self.client(region, OPERATION)?;
        let mut request = client.describe_backups().max_results(PAGE_SIZE);
        for (key, values) in filters {
            request = request.filters(*key, values.clone());
        }
        if since.is_some() {
            request = request.sort_ascending(false);
        }
        let mut pages = request.into_paginator().send();
        let mut backups: Vec<Backup> = Vec::new();
        let mut early_stop = EarlyStop::new(since);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, region, &e))?;
            let start = backups.len();
            backups.extend(page.backups().iter().map(to_domain));
            if early_stop.page_ends_the_window(&backups[start..]) {
                break;
            }
        }
        Ok(backups)
    }
}

/// When a newest-first listing may stop: at the first page that reaches past `since`, but only
/// while every backup so far came newest first. AWS does not define the order SortAscending
/// gives (nor what it does when absent): a listing in any other order is read to the end.
#[derive(Debug, Clone, Copy)]
pub struct EarlyStop {
    since: Option<i64>,
    newest_first: bool,
    previous: Option<i64>,
}

impl EarlyStop {
    pub fn new(since: Option<i64>) -> Self {
        Self {
            since,
            newest_first: true,
            previous: None,
        }
    }

    /// Takes the next page; true when the listing can stop after it.
    pub fn page_ends_the_window(&mut self, page: &[Backup]) -> bool {
        for created in page.iter().map(|b| b.created_at) {
            match (self.previous, created) {
                (Some(previous), Some(t)) if t > previous => self.newest_first = false,
                (_, None) => self.newest_first = false,
                _ => {}
            }
            self.previous = created.or(self.previous);
        }
        let reached_past = match (self.since, page.last().and_then(|b| b.created_at)) {
            (Some(since), Some(t)) => t < since,
            _ => false,
        };
        self.newest_first && reached_past
    }
}

fn to_domain(b: &SdkBackup) -> Backup {
    Backup {
        id: b.backup_id().to_owned(),
        cluster_id: b.cluster_id().map(str::to_owned),
        state: b
            .backup_state()
            .map(|s| BackupState::from_wire(s.as_str()))
            .unwrap_or_else(|| BackupState::Unknown(String::new())),
        source_backup: b.source_backup().map(str::to_owned),
        source_region: b.source_region().map(str::to_owned),
        source_cluster: b.source_cluster().map(str::to_owned),
        created_at: b.create_timestamp().map(|t| t.secs()),
        tags: pairs(b.tag_list()),
        never_expires: b.never_expires().unwrap_or(false),
        hsm_type: b.hsm_type().map(str::to_owned),
        mode: b.mode().map(|m| m.as_str().to_owned()),
        arn: b.backup_arn().map(str::to_owned),
    }
}

impl ClusterApi for CloudHsm {
    async fn create_cluster(&self, region: &str, restore: &Restore<'_>) -> Result<String, AwsError> {
        const OPERATION: &str = "CreateCluster";
        let tags = restore
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::new(OPERATION, region, AwsErrorKind::InvalidRequest, None, e.to_string()))?;
        let out = self
            .client(region, OPERATION)?
            .create_cluster()
            .source_backup_id(restore.backup_id)
            .hsm_type(restore.hsm_type)
            .mode(ClusterMode::from(restore.mode))
            .set_subnet_ids(Some(restore.subnet_ids.to_vec()))
            .set_tag_list((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        out.cluster()
            .and_then(|c| c.cluster_id())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::new(
                    OPERATION,
                    region,
                    AwsErrorKind::Other,
                    None,
                    "CreateCluster named no cluster",
                )
            })
    }

    async fn delete_cluster(&self, region: &str, cluster_id: &str) -> Result<(), AwsError> {
        const OPERATION: &str = "DeleteCluster";
        self.client(region, OPERATION)?
            .delete_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        Ok(())
    }
}

/// The certificates DescribeClusters returns, by their API names, leaving out empty ones (which
/// of them a cluster has depends on its state).
fn certificates(c: &Certificates) -> BTreeMap<String, String> {
    [
        ("ClusterCertificate", c.cluster_certificate()),
        ("ClusterCsr", c.cluster_csr()),
        ("HsmCertificate", c.hsm_certificate()),
        ("AwsHardwareCertificate", c.aws_hardware_certificate()),
        ("ManufacturerHardwareCertificate", c.manufacturer_hardware_certificate()),
    ]
    .into_iter()
    .filter_map(|(name, pem)| pem.filter(|p| !p.is_empty()).map(|p| (name.to_owned(), p.to_owned())))
    .collect()
}

fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

impl BackupApi for CloudHsm {
    async fn describe_backups(&self, region: &str, query: BackupQuery<'_>) -> Result<Vec<Backup>, AwsError> {
        let ready = || ("states", vec![BackupState::Ready.as_str().to_owned()]);
        match query {
            BackupQuery::Ids(ids) | BackupQuery::CopiesOf(ids) => {
                let key = if matches!(query, BackupQuery::Ids(_)) {
                    "backupIds"
                } else {
                    "sourceBackupIds"
                };
                let mut all = Vec::new();
                for chunk in ids.chunks(IDS_PER_FILTER) {
                    all.extend(self.describe_all(region, &[(key, chunk.to_vec())], None).await?);
                }
                Ok(all)
            }
            BackupQuery::ReadyInCluster { cluster, since } => {
                self.describe_all(region, &[("clusterIds", vec![cluster.to_owned()]), ready()], since)
                    .await
            }
            BackupQuery::AllReady { since } => self.describe_all(region, &[ready()], since).await,
            BackupQuery::All { since } => self.describe_all(region, &[], since).await,
        }
    }

    async fn copy_backup_to_region(
        &self,
        source_region: &str,
        backup_id: &str,
        destination_region: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        const OPERATION: &str = "CopyBackupToRegion";
        let tag_list = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                AwsError::new(
                    OPERATION,
                    source_region,
                    AwsErrorKind::InvalidRequest,
                    None,
                    e.to_string(),
                )
            })?;
        self.client(source_region, OPERATION)?
            .copy_backup_to_region()
            .backup_id(backup_id)
            .destination_region(destination_region)
            .set_tag_list((!tag_list.is_empty()).then_some(tag_list))
            // Not idempotent: an SDK retry after a 5xx or a timeout could make a second copy.
            // The copy guard and the state machine decide what to retry.
            .customize()
            .config_override(
                aws_sdk_cloudhsmv2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| classify(OPERATION, source_region, &e))?;
        Ok(())
    }

    async fn modify_backup_attributes(
        &self,
        region: &str,
        backup_id: &str,
        never_expires: bool,
    ) -> Result<(), AwsError> {
        const OPERATION: &str = "ModifyBackupAttributes";
        self.client(region, OPERATION)?
            .modify_backup_attributes()
            .backup_id(backup_id)
            .never_expires(never_expires)
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        Ok(())
    }

    async fn delete_backup(&self, region: &str, backup_id: &str) -> Result<(), AwsError> {
        const OPERATION: &str = "DeleteBackup";
        self.client(region, OPERATION)?
            .delete_backup()
            .backup_id(backup_id)
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        Ok(())
    }

    async fn describe_clusters(&self, region: &str, ids: Option<&[String]>) -> Result<Vec<Cluster>, AwsError> {
        const OPERATION: &str = "DescribeClusters";
        let client = self.client(region, OPERATION)?;
        // One unfiltered listing, or the ids in chunks (the filter documents no maximum).
        let chunks: Vec<Option<Vec<String>>> = match ids {
            None => vec![None],
            Some(ids) => ids.chunks(IDS_PER_FILTER).map(|c| Some(c.to_vec())).collect(),
        };
        let mut clusters = Vec::new();
        for chunk in chunks {
            let mut request = client.describe_clusters().max_results(CLUSTER_PAGE_SIZE);
            if let Some(chunk) = chunk {
                request = request.filters("clusterIds", chunk);
            }
            let mut pages = request.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify(OPERATION, region, &e))?;
                clusters.extend(page.clusters().iter().filter_map(|c| {
                    Some(Cluster {
                        id: c.cluster_id()?.to_owned(),
                        tags: pairs(c.tag_list()),
                        hsm_type: c.hsm_type().map(str::to_owned),
                        mode: c.mode().map(|m| m.as_str().to_owned()),
                        certificates: c.certificates().map(certificates).unwrap_or_default(),
                        state: c.state().map(|s| s.as_str().to_owned()),
                        state_message: c.state_message().map(str::to_owned),
                        source_backup_id: c.source_backup_id().map(str::to_owned),
                    })
                }));
            }
        }
        Ok(clusters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: Option<i64>) -> Backup {
        Backup::original("backup-aaaaaaaaaaa", None, BackupState::Ready, t)
    }

    #[test]
    fn stops_only_while_the_listing_is_newest_first() {
        let mut stop = EarlyStop::new(Some(500));
        assert!(!stop.page_ends_the_window(&[at(Some(900)), at(Some(800))]));
        assert!(stop.page_ends_the_window(&[at(Some(700)), at(Some(400))]));
        // Out of order once: never stops again.
        let mut stop = EarlyStop::new(Some(500));
        assert!(!stop.page_ends_the_window(&[at(Some(100)), at(Some(900)), at(Some(400))]));
        assert!(!stop.page_ends_the_window(&[at(Some(300)), at(Some(200))]));
        // A backup without a time cannot be ordered: read on.
        let mut stop = EarlyStop::new(Some(500));
        assert!(!stop.page_ends_the_window(&[at(None), at(Some(100))]));
        // Without a window, never.
        assert!(!EarlyStop::new(None).page_ends_the_window(&[at(Some(1))]));
    }
}
