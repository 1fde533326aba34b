//! Bearer tokens, their scopes and owners, and revocation at runtime.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::http::{HeaderMap, header};

use super::error::ApiError;

pub(crate) const PUBLIC_READ: &str = "public:read";
pub(crate) const PRIVATE_READ: &str = "private:read";

/// What a token may do, and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) label: &'static str,
    pub(crate) person_pos: usize,
    pub(crate) scopes: Vec<&'static str>,
}

impl Grant {
    pub(crate) fn has(&self, scope: &str) -> bool {
        self.scopes.contains(&scope)
    }

    pub(crate) fn private(&self) -> bool {
        self.has(PRIVATE_READ)
    }

    pub(crate) fn require(&self, scope: &'static str, what: &str) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This API access token lacks the '{scope}' scope needed to read {what}; \
                 generate a token with that scope"
            )))
        }
    }
}

#[derive(Debug)]
pub(crate) struct TokenTable {
    grants: HashMap<String, Grant>,
    revoked: Mutex<HashSet<String>>,
}

impl TokenTable {
    pub(crate) fn new(grants: HashMap<String, Grant>) -> Self {
        Self {
            grants,
            revoked: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn revoke(&self, token: &str) -> bool {
        let known = self.grants.contains_key(token);
        if known {
            self.revoked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(token.to_owned());
        }
        known
    }

    /// The grant behind the request's bearer token, or the 401 to answer.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<&Grant, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::not_authenticated(
                    "No API access token: send the header 'Authorization: Bearer <token>'",
                )
            })?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                ApiError::not_authenticated(
                    "The Authorization header is not a bearer token: send 'Authorization: Bearer <token>'",
                )
            })?;
        let revoked = self
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(token);
        match self.grants.get(token) {
            Some(grant) if !revoked => Ok(grant),
            _ => Err(ApiError::not_authenticated(
                "Invalid API access token: it is unknown, expired or revoked",
            )),
        }
    }
}
