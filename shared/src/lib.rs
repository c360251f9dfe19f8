//! elastic-jit core: the model, validation, state store, secrets and clock that every
//! function links. Drivers, policy and the scheduler seam are added beside these modules.
#![forbid(unsafe_code)]

pub mod clock;
pub mod driver;
pub mod model;
pub mod secrets;
pub mod store;
pub mod validation;

pub use clock::{Clock, ManualClock, SystemClock};
pub use validation::{FieldError, ValidationErrors};
