//! Where drills may run: the subnets CreateCluster needs, per DR region (`RestoreDrillSubnets`).

use std::collections::BTreeMap;

use crate::ids::is_region;

/// Where drills may run: the subnets CreateCluster needs, per DR region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrillSubnets(pub BTreeMap<String, Vec<String>>);

impl DrillSubnets {
    /// `us-west-2=subnet-0a1b2c3d;subnet-1a2b3c4d,eu-west-1=subnet-...` (1 to 10 subnets each,
    /// as CreateCluster takes them).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut regions = BTreeMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (region, subnets) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not REGION=SUBNET[;SUBNET...]"))?;
            let region = region.trim();
            if !is_region(region) {
                return Err(format!("{region:?} is not a region name"));
            }
            let subnets: Vec<String> = subnets.split(';').map(|s| s.trim().to_owned()).collect();
            if subnets.is_empty() || subnets.len() > 10 {
                return Err(format!("{region} needs 1 to 10 subnets"));
            }
            if let Some(bad) = subnets.iter().find(|s| !is_subnet_id(s)) {
                return Err(format!("{bad:?} is not a subnet id (subnet-[0-9a-fA-F]{{8,17}})"));
            }
            if regions.insert(region.to_owned(), subnets).is_some() {
                return Err(format!("{region} is named twice"));
            }
        }
        Ok(Self(regions))
    }
}

/// botocore's `SubnetId` pattern.
fn is_subnet_id(s: &str) -> bool {
    s.strip_prefix("subnet-")
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_read_per_region_as_create_cluster_takes_them() {
        let parsed =
            DrillSubnets::parse("us-west-2=subnet-0a1b2c3d;subnet-1a2b3c4d5e, eu-west-1=subnet-abcdef01").unwrap();
        assert_eq!(parsed.0["us-west-2"], vec!["subnet-0a1b2c3d", "subnet-1a2b3c4d5e"]);
        assert_eq!(parsed.0["eu-west-1"], vec!["subnet-abcdef01"]);
        assert_eq!(DrillSubnets::parse("").unwrap(), DrillSubnets::default());
        for (bad, says) in [
            ("us-west-2", "is not REGION=SUBNET"),
            ("mars-1=subnet-0a1b2c3d", "not a region"),
            ("us-west-2=sg-0a1b2c3d", "not a subnet id"),
            ("us-west-2=subnet-0a1b", "not a subnet id"),
            ("us-west-2=subnet-0a1b2c3d,us-west-2=subnet-1a2b3c4d", "named twice"),
        ] {
            let err = DrillSubnets::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let eleven = (0..11)
            .map(|i| format!("subnet-0a1b2c{i:02}"))
            .collect::<Vec<_>>()
            .join(";");
        assert!(DrillSubnets::parse(&format!("us-west-2={eleven}")).is_err());
    }
}
