//! elastic-jit core: the model, validation, state store, secrets and clock that every
//! function links. Drivers, policy and the scheduler seam are added beside these modules.
#![forbid(unsafe_code)]

pub mod api;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod discovery;
pub mod driver;
pub mod extension;
pub mod grant_scope;
pub mod grants;
pub mod key_hygiene;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notifications;
pub mod password;
pub mod policy;
pub mod proxy_credentials;
pub mod requester_rotation;
pub mod revocation;
pub mod rotation;
pub mod scheduled_start;
pub mod scheduler;
pub mod secrets;
pub mod services;
pub mod slack;
pub mod store;
pub mod targets;
pub mod tls_roots;
pub mod validation;

pub use clock::{Clock, ManualClock, SystemClock};
pub use validation::{FieldError, ValidationErrors};
