//! [`RecoveryView`] over `aws-sdk-cloudhsmv2`, as each recovery account: the sweep assumes the
//! role dr-account.yaml makes there (`<stack>-recovery-verifier`, same name in every account)
//! and lists what is shared with it. One client per (account, region), made on first use; the
//! SDK's AssumeRoleProvider refreshes the session.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudhsmv2::Client;

use super::{assume_role, classify};
use crate::error::{AwsError, AwsErrorKind};
use crate::ids::partition;
use crate::ports::RecoveryView;

const OPERATION: &str = "DescribeBackups";
const PAGE_SIZE: i32 = 50;

pub struct RecoveryRole {
    shared: SdkConfig,
    /// None: no recovery role configured (every call is an error, and sweeps make none).
    role_name: Option<String>,
    clients: Mutex<HashMap<(String, String), Client>>,
}

impl RecoveryRole {
    pub fn new(shared: &SdkConfig, role_name: Option<String>) -> Self {
        Self {
            shared: shared.clone(),
            role_name,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, account: &str, region: &str) -> Result<Client, AwsError> {
        let key = (account.to_owned(), region.to_owned());
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(client);
        }
        let Some(name) = &self.role_name else {
            return Err(AwsError::new(
                OPERATION,
                region,
                AwsErrorKind::Other,
                None,
                "no recovery role is configured",
            ));
        };
        let role = format!("arn:{}:iam::{account}:role/{name}", partition(region));
        let session = assume_role(&self.shared, role, "cloudhsm-backup-copy-sweep").await;
        let config = aws_sdk_cloudhsmv2::config::Builder::from(&session)
            .region(Region::new(region.to_owned()))
            .build();
        let client = Client::from_conf(config);
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(key, client.clone());
        }
        Ok(client)
    }
}

impl RecoveryView for RecoveryRole {
    async fn shared_backup_ids(&self, account: &str, region: &str) -> Result<Vec<String>, AwsError> {
        let client = self.client(account, region).await?;
        let mut pages = client
            .describe_backups()
            .shared(true)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, region, &e))?;
            ids.extend(page.backups().iter().map(|b| b.backup_id().to_owned()));
        }
        Ok(ids)
    }
}
