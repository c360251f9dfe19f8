//! The fault matrix: each failure kind injected at each target call and each AWS call of
//! provision, revoke, connector rotation and the cleanup sweep, then the retry or sweep runs,
//! and the invariants hold: nothing on a target that no record accounts for, no access after a
//! grant's end, nothing half-applied, and the connector still works. One test binary, so the
//! emulators, moto and the helpers are shared; see README "Testing" for its size and time.

mod aws;
mod cloud;
mod common;
mod dying;
mod es;
mod sweep;
