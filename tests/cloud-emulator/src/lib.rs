//! An in-memory emulator of the parts of the Elastic Cloud API that elastic-jit uses:
//! organizations, members, invitations, role assignments, deployments, serverless Elasticsearch
//! projects and Cloud API keys, plus `/_emulator/*` controls for tests. See README.md.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod connection;
mod control;
mod duration;
mod error;
mod faults;
pub mod roles;
pub mod seed;
mod server;
mod state;
mod views;

pub use auth::EXPIRATION_HEADER;
pub use error::ERROR_CODES_HEADER;
pub use seed::Seed;
pub use server::RunningCloud;
pub use state::{OWNER_EMAIL, OWNER_KEY_ID, OWNER_USER_ID};

/// What the emulator serves: one organization, whose owner holds `api_key`.
#[derive(Clone, Debug)]
pub struct CloudConfig {
    pub organization_id: String,
    /// The organization owner's key, accepted as `Authorization: ApiKey <api_key>`.
    pub api_key: String,
    pub seed: Option<Seed>,
}

impl CloudConfig {
    pub fn new(organization_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            organization_id: organization_id.into(),
            api_key: api_key.into(),
            seed: None,
        }
    }

    /// Adds a seed (members, keys, deployments, projects, invitations).
    pub fn with_seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }
}
