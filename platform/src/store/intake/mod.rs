//! Snapshot intake: everything between an agent's uploaded part and a source's new
//! current state. One module, one approval check ([`refusal::approval`]).
//!
//! - `refusal.rs`: [`PartRefusal`] and the checks both steps share (approval, staleness);
//! - `receive.rs`: storing parts idempotently (`Store::receive_part`), applying when the
//!   last one is in;
//! - `apply.rs`: decode and validate a complete snapshot outside any transaction, then
//!   claim, gate and write it in one (`Store::apply_snapshot`);
//! - `validate.rs`: the payload's own checks (pure);
//! - `write.rs`: writing an HR snapshot into its source, phase by phase;
//! - `write_licences.rs`: writing an app source's snapshot (accounts, licences, pools) and
//!   the join with HR, through `store::licences`;
//! - `discard.rs`: deleting a snapshot that will never be applied.
//!
//! Dependencies run one way: receive → apply → {validate, write}; every step → refusal,
//! discard. A refused upload stores nothing.

mod apply;
mod discard;
mod receive;
mod refusal;
mod validate;
mod write;
mod write_licences;

pub use apply::DecodeGate;
pub(crate) use apply::Decodes;
pub use discard::IncompleteUploads;
pub use receive::{PartOutcome, ReceivedPart};
pub use refusal::PartRefusal;
pub use write::ApplyReport;
pub(crate) use write::{in_list, values_list};
