//! [`ParameterStore`] over `aws-sdk-ssm`, one client per region (the restore kits live in the
//! destination regions).

use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};

use super::classify;
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::ParameterStore;

/// GetParameters takes at most 10 names.
pub const NAMES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct Ssm {
    clients: HashMap<String, Client>,
}

impl Ssm {
    /// A client for each region, from the shared configuration.
    pub fn new<'a>(shared: &SdkConfig, regions: impl IntoIterator<Item = &'a str>) -> Self {
        let clients = regions
            .into_iter()
            .map(|region| {
                let config = aws_sdk_ssm::config::Builder::from(shared)
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
                "no SSM client for this region",
            )
        })
    }
}

impl ParameterStore for Ssm {
    async fn get_parameters(&self, region: &str, names: &[String]) -> Result<HashMap<String, String>, AwsError> {
        const OPERATION: &str = "GetParameters";
        let client = self.client(region, OPERATION)?;
        let mut found = HashMap::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let out = client
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify(OPERATION, region, &e))?;
            for p in out.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    found.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Ok(found)
    }

    async fn put_parameter(&self, region: &str, name: &str, value: &str) -> Result<(), AwsError> {
        const OPERATION: &str = "PutParameter";
        self.client(region, OPERATION)?
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            // Standard (free) while the kit fits in 4 KB, Advanced only when it does not.
            .tier(ParameterTier::IntelligentTiering)
            .send()
            .await
            .map_err(|e| classify(OPERATION, region, &e))?;
        Ok(())
    }
}
