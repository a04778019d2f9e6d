//! What the domain knows about a CloudHSM cluster: a small, SDK-free view of DescribeClusters.

use std::collections::BTreeMap;

/// A cluster as DescribeClusters reports it, reduced to what selection and the restore kit need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    pub id: String,
    pub tags: Vec<(String, String)>,
    pub hsm_type: Option<String>,
    /// `FIPS` or `NON_FIPS`, fixed when the cluster is created.
    pub mode: Option<String>,
    /// The certificates DescribeClusters returns, by their API names (`ClusterCertificate`,
    /// ...), empty ones left out: which a cluster has depends on its state.
    pub certificates: BTreeMap<String, String>,
    /// `CREATE_IN_PROGRESS`, `ACTIVE`, `DEGRADED`, ... and what the service says about it.
    pub state: Option<String>,
    pub state_message: Option<String>,
    /// The backup a restored cluster was made from.
    pub source_backup_id: Option<String>,
}

impl Cluster {
    /// A cluster known by its id and tags only (tests and examples).
    pub fn tagged(id: &str, tags: &[(&str, &str)]) -> Self {
        Self {
            id: id.to_owned(),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Self::default()
        }
    }
}
