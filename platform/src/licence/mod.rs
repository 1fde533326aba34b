//! Application licences joined to HR people: the seat state of each licence held, prices and
//! what is reclaimable. Pure: the store loads and writes, this module decides.
//!
//! - `state.rs`: [`SeatLicenceState`], the nine states after the join, with plain-language
//!   labels and the reason codes the join adds;
//! - `join.rs`: matching an account to a person by address ([`match_account`]) and the
//!   ordered state rules ([`classify_known`], with the account's exclusion looked up once);
//! - `money.rs`: [`Price`] (integer hundredths, never floats), monthly amounts and savings.

pub(crate) mod join;
pub(crate) mod money;
pub(crate) mod state;

pub(crate) use join::{
    Account, ExclusionRules, HrPerson, People, classify_known, match_account, normalise,
};
pub use money::{Period, Price};
pub(crate) use state::SeatLicenceState;
