//! Protocol version negotiation.
//!
//! Every agent request carries the `Seatbroker-Protocol` header (and enrollment repeats it
//! in the body). The platform serves versions [`MIN_SUPPORTED`]..=[`CURRENT`]; an agent
//! outside that range gets a `protocol_too_old` or `protocol_too_new` problem that names the
//! supported range and says what to do.

use crate::{ErrorCode, Problem, VersionRange};

/// The protocol version this crate describes.
pub const CURRENT: u32 = 1;
/// The oldest version a platform built from this crate still serves.
pub const MIN_SUPPORTED: u32 = 1;

/// Checks an agent's version against the range this build supports.
pub fn negotiate(agent_version: u32) -> Result<u32, Box<Problem>> {
    check(agent_version, MIN_SUPPORTED, CURRENT)
}

/// Checks `agent_version` against `min..=max`; the problem says what to do.
pub fn check(agent_version: u32, min: u32, max: u32) -> Result<u32, Box<Problem>> {
    let supported = Some(VersionRange { min, max });
    if agent_version < min {
        let mut problem = Problem::new(
            400,
            ErrorCode::ProtocolTooOld,
            format!(
                "this agent speaks protocol version {agent_version}; the platform supports {min} to {max}"
            ),
        )
        .with_action("upgrade the agent to a release that speaks a supported version");
        problem.supported = supported;
        return Err(Box::new(problem));
    }
    if agent_version > max {
        let mut problem = Problem::new(
            400,
            ErrorCode::ProtocolTooNew,
            format!(
                "this agent speaks protocol version {agent_version}; the platform supports {min} to {max}"
            ),
        )
        .with_action(
            "upgrade the platform, or install an agent release that speaks a supported version; the agent keeps its data and retries",
        );
        problem.supported = supported;
        return Err(Box::new(problem));
    }
    Ok(agent_version)
}
