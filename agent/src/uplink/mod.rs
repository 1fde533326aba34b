//! The platform client: the only part of the agent that knows the platform's URLs.
//!
//! - [`Uplink`]: one method per endpoint of the agent API (enroll, status, heartbeat, upload
//!   a part), each carrying the protocol header and, but for enroll, the agent credential.
//!   Refusals come back as [`UplinkError::Problem`] with the platform's problem body.
//! - [`retry`]: jittered exponential backoff with no attempt limit for transient errors,
//!   a bounded delay, `Retry-After` honoured, cancellable by shutdown.
//! - [`upload`]: sends one spooled snapshot part by part.

mod error;
pub(crate) mod retry;
pub(crate) mod upload;

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use seatbroker_protocol::{
    EnrollRequest, EnrollResponse, Heartbeat, HeartbeatAck, PROBLEM_JSON, PROTOCOL_HEADER, Problem,
    Secret, StatusResponse, UploadAck, UploadPart, paths, version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::PlatformConfig;
use crate::http::{Capped, read_capped};

pub(crate) use error::UplinkError;

/// The largest answer the agent reads from the platform; its answers are a few KiB.
pub(crate) const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Timeouts of platform requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    /// Whole request, body included.
    pub request: Duration,
}

impl Timeouts {
    /// For a command a person waits on (`status`, `check`): a platform that does not
    /// answer within seconds is reported as unreachable.
    pub(crate) const INTERACTIVE: Self = Self {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(15),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
        }
    }
}

/// A client of the platform's agent API.
#[derive(Debug, Clone)]
pub(crate) struct Uplink {
    http: reqwest::Client,
    base: Url,
}

impl Uplink {
    /// A client for the configured platform. Validation of the configuration already made
    /// sure the URL is https, or http to loopback or explicitly allowed.
    pub(crate) fn new(platform: &PlatformConfig) -> Result<Self, UplinkError> {
        Self::with_timeouts(platform, Timeouts::default())
    }

    pub(crate) fn with_timeouts(
        platform: &PlatformConfig,
        timeouts: Timeouts,
    ) -> Result<Self, UplinkError> {
        let base = Url::parse(platform.url.trim_end_matches('/'))
            .map_err(|e| UplinkError::Client(format!("platform.url `{}`: {e}", platform.url)))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            PROTOCOL_HEADER,
            HeaderValue::from_str(&version::CURRENT.to_string())
                .map_err(|e| UplinkError::Client(e.to_string()))?,
        );
        let mut builder = reqwest::Client::builder()
            .user_agent(format!("seatbroker-agent/{}", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            // A redirect would carry the enrollment token or a snapshot part to another
            // host, perhaps over plain http: never follow one; `call` reports it.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!(platform.allow_insecure_http || crate::config::is_loopback(&base)));
        if let Some(path) = &platform.ca_file {
            let pem = std::fs::read(path).map_err(|e| UplinkError::CaFile {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| UplinkError::CaFile {
                    path: path.clone(),
                    message: format!("not a PEM certificate bundle ({e})"),
                })?;
            if certs.is_empty() {
                return Err(UplinkError::CaFile {
                    path: path.clone(),
                    message: "no certificate in the file".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| UplinkError::Client(e.to_string()))?;
        Ok(Self { http, base })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// `POST /api/agent/v1/enroll`.
    pub(crate) async fn enroll(
        &self,
        request: &EnrollRequest,
    ) -> Result<EnrollResponse, UplinkError> {
        self.call(
            "enrollment",
            Method::POST,
            paths::ENROLL,
            None,
            Some(request),
        )
        .await
    }

    /// `GET /api/agent/v1/status`.
    pub(crate) async fn status(&self, credential: &Secret) -> Result<StatusResponse, UplinkError> {
        self.call::<(), _>(
            "the status request",
            Method::GET,
            paths::STATUS,
            Some(credential),
            None,
        )
        .await
    }

    /// `POST /api/agent/v1/heartbeat`.
    pub(crate) async fn heartbeat(
        &self,
        credential: &Secret,
        heartbeat: &Heartbeat,
    ) -> Result<HeartbeatAck, UplinkError> {
        self.call(
            "the heartbeat",
            Method::POST,
            paths::HEARTBEAT,
            Some(credential),
            Some(heartbeat),
        )
        .await
    }

    /// `PUT /api/agent/v1/snapshots/{id}/parts/{n}`.
    pub(crate) async fn put_part(
        &self,
        credential: &Secret,
        part: &UploadPart,
    ) -> Result<UploadAck, UplinkError> {
        let path = paths::snapshot_part(&part.snapshot_id, part.part);
        self.call(
            "an upload",
            Method::PUT,
            &path,
            Some(credential),
            Some(part),
        )
        .await
    }

    /// Whether the platform answers at all: `GET status` without a credential. Any HTTP
    /// answer (a 401 included) means reachable; returns the status code.
    pub(crate) async fn probe(&self) -> Result<u16, UplinkError> {
        let url = self.url(paths::STATUS);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport("the reachability check", &url, &e))?;
        Ok(response.status().as_u16())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        credential: Option<&Secret>,
        body: Option<&B>,
    ) -> Result<T, UplinkError> {
        let url = self.url(path);
        let mut request = self.http.request(method, &url);
        if let Some(credential) = credential {
            // `bearer_auth` marks the header sensitive, so it never shows in debug output.
            request = request.bearer_auth(credential.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport(what, &url, &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let is_problem = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(PROBLEM_JSON));
        if status.is_redirection() {
            return Err(UplinkError::Redirected {
                what,
                url,
                status: status.as_u16(),
                location: crate::http::location(&response),
            });
        }
        let bytes =
            read_capped(response, MAX_RESPONSE_BYTES)
                .await
                .map_err(|error| match error {
                    Capped::TooLarge => UplinkError::TooLarge {
                        what,
                        url: url.clone(),
                        limit: MAX_RESPONSE_BYTES,
                    },
                    Capped::Read(e) => transport(what, &url, &e),
                })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| UplinkError::Decode {
                what,
                message: e.to_string(),
            });
        }
        // A problem body is recognised by its media type, or by its shape when a proxy
        // rewrote the header.
        if let Ok(mut problem) = serde_json::from_slice::<Problem>(&bytes)
            && (is_problem || problem.code.is_known())
        {
            if problem.status == 0 {
                problem.status = status.as_u16();
            }
            return Err(UplinkError::Problem {
                what,
                problem: Box::new(problem),
                retry_after,
            });
        }
        let body = String::from_utf8_lossy(&bytes);
        Err(UplinkError::Status {
            what,
            status: status.as_u16(),
            body: body.chars().take(200).collect::<String>().trim().to_owned(),
            retry_after,
        })
    }
}

fn transport(what: &'static str, url: &str, error: &reqwest::Error) -> UplinkError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    UplinkError::Transport {
        what,
        url: url.to_owned(),
        message,
    }
}
