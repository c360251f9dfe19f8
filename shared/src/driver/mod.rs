//! The driver seam: what the functions ask of a target (an Elasticsearch cluster or an
//! Elastic Cloud organization), behind one trait both targets implement.

pub mod elasticsearch;
mod error;
pub mod http;

use async_trait::async_trait;

pub use error::DriverError;

use crate::model::ResourceKind;

/// A resource as the target reports it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredResource {
    pub name: String,
    pub kind: ResourceKind,
    pub display_name: Option<String>,
    pub owner: Option<String>,
}

#[async_trait]
pub trait Driver: Send + Sync {
    /// Can the connector do its job? A missing privilege or role is named in the error.
    async fn check_prerequisites(&self) -> Result<(), DriverError>;
    /// The integration's selected resources, with owners read from the configured tag.
    async fn discover(&self) -> Result<Vec<DiscoveredResource>, DriverError>;
}
