//! The HTTP API edge shared by every function: events in, JSON out, identity only from the
//! token the JWT authorizer verified, and errors with stable codes that never expose internals.

mod error;
mod event;
mod identity;
mod routes;
mod token;

pub use error::ApiError;
pub use event::{
    ApiRequest, Incoming, MAX_BODY_BYTES, Routes, json_response, no_content, respond, serve,
};
pub use identity::{AuthConfig, Caller};
pub use routes::{Route, match_route};
