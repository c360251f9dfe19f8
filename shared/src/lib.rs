//! elastic-jit core: the model, validation, state store, secrets and clock that every
//! function links. Drivers, policy and the scheduler seam are added beside these modules.
#![forbid(unsafe_code)]

pub mod api;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod discovery;
pub mod driver;
pub mod model;
pub mod password;
pub mod secrets;
pub mod store;
pub mod targets;
pub mod validation;

pub use clock::{Clock, ManualClock, SystemClock};
pub use validation::{FieldError, ValidationErrors};
