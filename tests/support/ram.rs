//! RAM in memory, for the handlers that share copies.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use cloudhsm_backup_copy::error::AwsError;
use cloudhsm_backup_copy::ports::{AssociationKind, RecoveryView, ShareApi};
use cloudhsm_backup_copy::sharing::{Association, AssociationStatus};

/// An association: whether it is a resource's, its status and message.
pub type Entry = (bool, AssociationStatus, Option<String>);

/// RAM in memory: shares by region, associations by (share, entity), every call recorded.
#[derive(Default)]
pub struct FakeRam {
    pub shares: Mutex<Vec<(String, String, String)>>,
    pub associations: Mutex<HashMap<(String, String), Entry>>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeRam {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    /// Every ASSOCIATING association settles: ASSOCIATED, or FAILED with `failure`.
    pub fn settle(&self, failure: Option<&str>) {
        for (is_resource, status, message) in self.associations.lock().unwrap().values_mut() {
            if *status == AssociationStatus::Associating {
                let fails = *is_resource && failure.is_some();
                *status = if fails {
                    AssociationStatus::Failed
                } else {
                    AssociationStatus::Associated
                };
                *message = fails.then(|| failure.unwrap().to_owned());
            }
        }
    }
    /// Sets the status of `entity`'s association, in whichever share holds it.
    pub fn set(&self, entity: &str, status: AssociationStatus) {
        let mut all = self.associations.lock().unwrap();
        let found = all.iter_mut().find(|((_, e), _)| e == entity).unwrap();
        found.1.1 = status;
    }
}

impl ShareApi for FakeRam {
    async fn find_shares(&self, region: &str, name: &str, tag: (&str, &str)) -> Result<Vec<String>, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("GetResourceShares {region} {name}"));
        let wanted = format!("{}={}", tag.0, tag.1);
        Ok(self
            .shares
            .lock()
            .unwrap()
            .iter()
            .filter(|(arn, n, t)| arn.contains(region) && n == name && *t == wanted)
            .map(|(arn, _, _)| arn.clone())
            .collect())
    }

    async fn create_share(
        &self,
        region: &str,
        name: &str,
        tag: (&str, &str),
        principals: &[String],
        _token: &str,
    ) -> Result<String, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("CreateResourceShare {region} {name}"));
        let arn = format!("arn:aws:ram:{region}:123456789012:resource-share/s1");
        self.shares
            .lock()
            .unwrap()
            .push((arn.clone(), name.to_owned(), format!("{}={}", tag.0, tag.1)));
        for p in principals {
            self.associations
                .lock()
                .unwrap()
                .insert((arn.clone(), p.clone()), (false, AssociationStatus::Associating, None));
        }
        Ok(arn)
    }

    async fn associations(
        &self,
        _region: &str,
        share: &str,
        kind: AssociationKind<'_>,
    ) -> Result<Vec<Association>, AwsError> {
        let all = self.associations.lock().unwrap();
        Ok(all
            .iter()
            .filter(|((s, entity), (is_resource, _, _))| {
                s == share
                    && match kind {
                        AssociationKind::Principals => !is_resource,
                        AssociationKind::Resource(arn) => *is_resource && entity == arn,
                        AssociationKind::Resources => *is_resource,
                    }
            })
            .map(|((_, entity), (_, status, message))| Association {
                entity: entity.clone(),
                status: *status,
                message: message.clone(),
            })
            .collect())
    }

    async fn change(
        &self,
        _region: &str,
        share: &str,
        associate: bool,
        resources: &[String],
        principals: &[String],
    ) -> Result<(), AwsError> {
        let verb = if associate { "Associate" } else { "Disassociate" };
        self.calls
            .lock()
            .unwrap()
            .push(format!("{verb}ResourceShare {resources:?} {principals:?}"));
        let status = if associate {
            AssociationStatus::Associating
        } else {
            AssociationStatus::Disassociated
        };
        let mut all = self.associations.lock().unwrap();
        for (entity, is_resource) in resources
            .iter()
            .map(|r| (r, true))
            .chain(principals.iter().map(|p| (p, false)))
        {
            all.insert((share.to_owned(), entity.clone()), (is_resource, status, None));
        }
        Ok(())
    }
}

/// What each recovery account sees: backup ids per (account, region); a region with no entry
/// fails the call.
#[derive(Default)]
pub struct FakeRecovery {
    pub seen: Mutex<HashMap<(String, String), Vec<String>>>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeRecovery {
    pub fn sees(&self, account: &str, region: &str, ids: &[&str]) {
        self.seen.lock().unwrap().insert(
            (account.to_owned(), region.to_owned()),
            ids.iter().map(|i| (*i).to_owned()).collect(),
        );
    }
}

impl RecoveryView for FakeRecovery {
    async fn shared_backup_ids(&self, account: &str, region: &str) -> Result<Vec<String>, AwsError> {
        self.calls.lock().unwrap().push(format!("{account} {region}"));
        self.seen
            .lock()
            .unwrap()
            .get(&(account.to_owned(), region.to_owned()))
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "DescribeBackups",
                    region,
                    cloudhsm_backup_copy::error::AwsErrorKind::AccessDenied,
                    None,
                    "not assumable",
                )
            })
    }
}
