use std::time::Duration;

use seatbroker_protocol::{Disposition, ErrorCode, Problem};

/// A request to the platform that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The platform refused with a problem+json body.
    #[error("the platform refused {what}: {problem}")]
    Problem {
        what: &'static str,
        problem: Box<Problem>,
        retry_after: Option<Duration>,
    },
    /// An error status without a problem body (a proxy, or a platform that is not one).
    #[error("the platform answered {what} with HTTP {status}{}; check platform.url", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        what: &'static str,
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// The platform (or something in between) answered with a redirect. The agent never
    /// follows one: it would re-send its enrollment token or data to another host.
    #[error(
        "the platform answered {what} at {url} with HTTP {status}, a redirect to {location}; the agent does not follow redirects: set platform.url to the address the platform really answers on"
    )]
    Redirected {
        what: &'static str,
        url: String,
        status: u16,
        location: String,
    },
    /// An answer larger than any the platform sends.
    #[error(
        "the platform's answer to {what} at {url} is larger than {limit} bytes, the most the agent reads; check that platform.url points at a Seatbroker platform"
    )]
    TooLarge {
        what: &'static str,
        url: String,
        limit: usize,
    },
    /// Connection, TLS or timeout trouble.
    #[error(
        "cannot reach the platform at {url} ({what}): {message}; check the network, platform.url and platform.ca_file"
    )]
    Transport {
        what: &'static str,
        url: String,
        message: String,
    },
    /// A success status with a body that does not parse.
    #[error(
        "the platform's answer to {what} is not understood: {message}; the platform may be a different version"
    )]
    Decode { what: &'static str, message: String },
    #[error("this agent has not enrolled yet; run `seatbroker-agent enroll`")]
    NotEnrolled,
    #[error("cannot read the platform CA file {}: {message}", path.display())]
    CaFile {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl UplinkError {
    /// What the agent should do about it.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Problem { problem, .. } => problem.code.disposition(problem.status),
            Self::Status { status, .. } => ErrorCode::Other(String::new()).disposition(*status),
            Self::Transport { .. } => Disposition::Retry,
            // A garbled success: most likely a proxy hiccup; retrying is safe.
            Self::Decode { .. } => Disposition::Retry,
            Self::NotEnrolled => Disposition::ReEnroll,
            // The spool is kept; a person must fix platform.url.
            Self::Redirected { .. } | Self::TooLarge { .. } => Disposition::Permanent,
            Self::CaFile { .. } | Self::Client(_) => Disposition::Permanent,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.disposition() == Disposition::Retry
    }

    /// The stable problem code, if the platform gave one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Problem { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }

    /// The HTTP status, if there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Problem { problem, .. } => Some(problem.status),
            Self::Status { status, .. } | Self::Redirected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Problem { retry_after, .. } | Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
