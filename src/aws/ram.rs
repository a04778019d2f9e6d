//! [`ShareApi`] over `aws-sdk-ram`, one client per region (a share lives in the region of the
//! copies it holds).

use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_ram::Client;
use aws_sdk_ram::types::{ResourceOwner, ResourceShareAssociationType, ResourceShareStatus, Tag, TagFilter};

use super::classify;
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{AssociationKind, ShareApi};
use crate::sharing::{Association, AssociationStatus};

#[derive(Debug, Clone)]
pub struct Ram {
    clients: HashMap<String, Client>,
}

impl Ram {
    /// A client for each region, from the shared configuration.
    pub fn new<'a>(shared: &SdkConfig, regions: impl IntoIterator<Item = &'a str>) -> Self {
        let clients = regions
            .into_iter()
            .map(|region| {
                let config = aws_sdk_ram::config::Builder::from(shared)
                    .region(Region::new(region.to_owned()))
                    .build();
                (region.to_owned(), Client::from_conf(config))
            })
            .collect();
        Self { clients }
    }

    /// Uses the given clients and no others (tests).
    pub fn from_clients(clients: HashMap<String, Client>) -> Self {
        Self { clients }
    }

    fn client(&self, region: &str, operation: &'static str) -> Result<&Client, AwsError> {
        self.clients.get(region).ok_or_else(|| {
            AwsError::new(
                operation,
                region,
                AwsErrorKind::Other,
                None,
                "no RAM client for this region",
            )
        })
    }
}

impl ShareApi for Ram {
    async fn find_shares(&self, region: &str, name: &str, tag: (&str, &str)) -> Result<Vec<String>, AwsError> {
        const OPERATION: &str = "GetResourceShares";
        let mut pages = self
            .client(region, OPERATION)?
            .get_resource_shares()
            .resource_owner(ResourceOwner::SelfValue)
            .name(name)
            .resource_share_status(ResourceShareStatus::Active)
            .tag_filters(TagFilter::builder().tag_key(tag.0).tag_values(tag.1).build())
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, region, &e))?;
            for share in page.resource_shares() {
                if let Some(arn) = share.resource_share_arn() {
                    found.push((share.creation_time().map(|t| t.secs()), arn.to_owned()));
                }
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, arn)| arn).collect())
    }

    async fn create_share(
        &self,
        region: &str,
        name: &str,
        tag: (&str, &str),
        principals: &[String],
        client_token: &str,
    ) -> Result<String, AwsError> {
        const OPERATION: &str = "CreateResourceShare";
        let out = self
            .client(region, OPERATION)?
            .create_resource_share()
            .name(name)
            .tags(Tag::builder().key(tag.0).value(tag.1).build())
            .set_principals(Some(principals.to_vec()))
            .allow_external_principals(false)
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        out.resource_share()
            .and_then(|s| s.resource_share_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::new(
                    OPERATION,
                    region,
                    AwsErrorKind::Other,
                    None,
                    "the answer names no share",
                )
            })
    }

    async fn associations(
        &self,
        region: &str,
        share_arn: &str,
        kind: AssociationKind<'_>,
    ) -> Result<Vec<Association>, AwsError> {
        const OPERATION: &str = "GetResourceShareAssociations";
        let request = self
            .client(region, OPERATION)?
            .get_resource_share_associations()
            .resource_share_arns(share_arn);
        let request = match kind {
            AssociationKind::Principals => request.association_type(ResourceShareAssociationType::Principal),
            AssociationKind::Resource(arn) => request
                .association_type(ResourceShareAssociationType::Resource)
                .resource_arn(arn),
            AssociationKind::Resources => request.association_type(ResourceShareAssociationType::Resource),
        };
        let mut pages = request.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, region, &e))?;
            found.extend(page.resource_share_associations().iter().filter_map(|a| {
                Some(Association {
                    entity: a.associated_entity()?.to_owned(),
                    status: a
                        .status()
                        .map_or(AssociationStatus::Other, |s| AssociationStatus::from_wire(s.as_str())),
                    message: a.status_message().map(str::to_owned),
                })
            }));
        }
        Ok(found)
    }

    async fn change(
        &self,
        region: &str,
        share_arn: &str,
        associate: bool,
        resources: &[String],
        principals: &[String],
    ) -> Result<(), AwsError> {
        let (resources, principals) = (
            (!resources.is_empty()).then(|| resources.to_vec()),
            (!principals.is_empty()).then(|| principals.to_vec()),
        );
        if associate {
            const OPERATION: &str = "AssociateResourceShare";
            self.client(region, OPERATION)?
                .associate_resource_share()
                .resource_share_arn(share_arn)
                .set_resource_arns(resources)
                .set_principals(principals)
                .send()
                .await
                .map_err(|e| classify(OPERATION, region, &e))?;
        } else {
            const OPERATION: &str = "DisassociateResourceShare";
            self.client(region, OPERATION)?
                .disassociate_resource_share()
                .resource_share_arn(share_arn)
                .set_resource_arns(resources)
                .set_principals(principals)
                .send()
                .await
                .map_err(|e| classify(OPERATION, region, &e))?;
        }
        Ok(())
    }
}
