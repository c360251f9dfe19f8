//! What every API handler works with.

use crate::authn::Principal;
use crate::request::Req;
use crate::state::State;

pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub req: &'a Req,
    pub principal: &'a Principal,
}
