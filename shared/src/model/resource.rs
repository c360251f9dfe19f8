//! Discovered resources: what a flow's patterns and a request's names refer to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Index,
    DataStream,
    Alias,
    Organization,
    Deployment,
    ElasticsearchProject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub integration: String,
    /// The name a request uses: index/data stream/alias name, or the Cloud object's id.
    pub name: String,
    pub kind: ResourceKind,
    /// Human name where it differs from `name` (Cloud deployments and projects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Value of the integration's resource-owner tag, if the resource carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// An alias's indices or data streams, a data stream's backing indices, as last
    /// discovered. A grant never names an alias: it names these (see `policy::concrete`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub discovered_at: DateTime<Utc>,
    /// Set when a later discovery no longer found it; such resources cannot be requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_since: Option<DateTime<Utc>>,
}

impl Resource {
    pub fn is_gone(&self) -> bool {
        self.gone_since.is_some()
    }

    pub fn is_alias(&self) -> bool {
        self.kind == ResourceKind::Alias
    }
}
