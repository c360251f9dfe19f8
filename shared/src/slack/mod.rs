//! Slack: the Web API calls elastic-jit makes with its bot token ([`client`]), the check of the
//! interactivity requests Slack signs with the app's signing secret ([`signature`]), and the
//! approve/reject buttons those requests carry ([`interactions`]).

pub mod client;
pub mod interactions;
pub mod signature;

pub use client::{SlackClient, SlackError, SlackUser};
