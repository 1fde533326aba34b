//! The provider client: discovery, the authorization URL, the code exchange and the
//! provider's keys (cached per process, fetched again when a token names a key the cache
//! does not hold: the provider rotated its keys).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use reqwest::Url;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::OidcSettings;
use super::verify::{self, Expected, TokenProblem};

/// The most the platform reads of any answer of the provider.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A sign-in step that failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OidcError {
    #[error(
        "cannot reach the identity provider at {url}: {reason}; try again, and tell the operator if it persists"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "the identity provider answered {status} at {url}: {detail}; the operator should check --oidc-issuer, the client id and secret"
    )]
    Refused {
        url: String,
        status: u16,
        detail: String,
    },
    #[error(
        "the identity provider's {what} at {url} cannot be used: {reason}; the operator should check --oidc-issuer"
    )]
    BadDocument {
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error("{0}")]
    Token(#[from] TokenProblem),
}

impl OidcError {
    /// Whether the provider, not the token, failed (502 rather than 403).
    pub(crate) fn is_provider(&self) -> bool {
        !matches!(self, OidcError::Token(_))
    }
}

/// The endpoints discovery names.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
    jwks: String,
}

#[derive(Debug, Default)]
struct Cache {
    endpoints: Option<Endpoints>,
    keys: Vec<Jwk>,
}

/// One configured provider. Cheap to share behind an `Arc`; the cache is per process.
#[derive(Debug)]
pub struct Oidc {
    pub(crate) settings: OidcSettings,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

/// The PKCE S256 challenge of `verifier`.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 2.3.1 asks it of
/// the client id and secret before HTTP Basic).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'*') {
            out.push(byte as char);
        } else if byte == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Oidc {
    /// A client for `settings`: rustls, no redirects followed, 10 s to connect, 20 s per
    /// request.
    pub fn new(settings: OidcSettings) -> Result<Oidc, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(20))
            .user_agent(concat!("seatbroker-platform/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Oidc {
            settings,
            http,
            cache: tokio::sync::Mutex::new(Cache::default()),
        })
    }

    /// Reads an answer up to [`MAX_ANSWER_BYTES`] as JSON; a non-2xx status is `Refused`
    /// with the provider's `error` / `error_description` when it sent them.
    async fn json(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Value, OidcError> {
        let unreachable = |e: reqwest::Error| OidcError::Unreachable {
            url: url.to_owned(),
            reason: e.without_url().to_string(),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(OidcError::Unreachable {
                    url: url.to_owned(),
                    reason: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            let detail = json
                .as_ref()
                .and_then(|j| {
                    let error = j.get("error")?.as_str()?;
                    let description = j
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    Some(format!("{error} {description}").trim().to_owned())
                })
                .unwrap_or_else(|| "no OAuth error in the answer".to_owned());
            return Err(OidcError::Refused {
                url: url.to_owned(),
                status: status.as_u16(),
                detail,
            });
        }
        json.ok_or_else(|| OidcError::Refused {
            url: url.to_owned(),
            status: status.as_u16(),
            detail: "the answer is not JSON".to_owned(),
        })
    }

    /// Fetches discovery: `{issuer}/.well-known/openid-configuration`, whose `issuer` must
    /// be the configured one exactly.
    async fn discover(&self) -> Result<Endpoints, OidcError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let doc = self.json(self.http.get(&url), &url).await?;
        let bad = |reason: String| OidcError::BadDocument {
            what: "discovery document",
            url: url.clone(),
            reason,
        };
        let field = |name: &str| -> Result<String, OidcError> {
            doc.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("it has no `{name}`")))
        };
        let issuer = field("issuer")?;
        if issuer != self.settings.issuer {
            return Err(bad(format!(
                "it names the issuer {issuer:?}, not {:?}: give --oidc-issuer exactly as the provider spells it",
                self.settings.issuer
            )));
        }
        let endpoints = Endpoints {
            authorization: field("authorization_endpoint")?,
            token: field("token_endpoint")?,
            jwks: field("jwks_uri")?,
        };
        for url in [&endpoints.authorization, &endpoints.token, &endpoints.jwks] {
            super::check_provider_url(url).map_err(|reason| bad(format!("{url}: {reason}")))?;
        }
        Ok(endpoints)
    }

    async fn endpoints(&self) -> Result<Endpoints, OidcError> {
        let mut cache = self.cache.lock().await;
        if let Some(endpoints) = &cache.endpoints {
            return Ok(endpoints.clone());
        }
        let endpoints = self.discover().await?;
        cache.endpoints = Some(endpoints.clone());
        Ok(endpoints)
    }

    /// The URL that sends the browser to the provider, with `state`, `nonce` and the PKCE
    /// challenge of `verifier`.
    pub(crate) async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, OidcError> {
        let endpoints = self.endpoints().await?;
        let mut url = Url::parse(&endpoints.authorization).map_err(|e| OidcError::BadDocument {
            what: "authorization endpoint",
            url: endpoints.authorization.clone(),
            reason: e.to_string(),
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchanges `code` (with the PKCE `verifier`) for the ID token, authenticating with
    /// the client secret (HTTP Basic).
    pub(crate) async fn exchange(&self, code: &str, verifier: &str) -> Result<String, OidcError> {
        let endpoints = self.endpoints().await?;
        let request = self
            .http
            .post(&endpoints.token)
            .basic_auth(
                form_encode(&self.settings.client_id),
                Some(form_encode(self.settings.client_secret.expose())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.settings.redirect_url),
                ("code_verifier", verifier),
            ]);
        let answer = self.json(request, &endpoints.token).await?;
        answer
            .get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| OidcError::BadDocument {
                what: "token answer",
                url: endpoints.token.clone(),
                reason: "it has no id_token (is `openid` among --oidc-scopes?)".to_owned(),
            })
    }

    /// Fetches discovery and the key set again, keeping the keys it can read.
    async fn refresh_keys(&self) -> Result<Vec<Jwk>, OidcError> {
        let endpoints = self.discover().await?;
        let set = self
            .json(self.http.get(&endpoints.jwks), &endpoints.jwks)
            .await?;
        let keys: Vec<Jwk> = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| OidcError::BadDocument {
                what: "key set",
                url: endpoints.jwks.clone(),
                reason: "it has no `keys` array".to_owned(),
            })?
            .iter()
            .filter_map(|key| serde_json::from_value(key.clone()).ok())
            .collect();
        tracing::info!(keys = keys.len(), url = %endpoints.jwks, "Fetched the identity provider's signing keys.");
        let mut cache = self.cache.lock().await;
        cache.endpoints = Some(endpoints);
        cache.keys = keys.clone();
        Ok(keys)
    }

    /// Verifies `id_token`: signature with the cached keys, or, when none fits or verifies,
    /// with the keys fetched again once (a rotation); then the claims against `nonce` and
    /// `now`. Returns the claims.
    pub(crate) async fn verify(
        &self,
        id_token: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Value, OidcError> {
        verify::header(id_token)?;
        let cached = self.cache.lock().await.keys.clone();
        let claims = match verify::verify_signature(id_token, &cached) {
            Ok(claims) => claims,
            Err(TokenProblem::NoKey(_) | TokenProblem::BadSignature) => {
                let fresh = self.refresh_keys().await?;
                verify::verify_signature(id_token, &fresh)?
            }
            Err(other) => return Err(other.into()),
        };
        verify::check_claims(
            &claims,
            &Expected {
                issuer: &self.settings.issuer,
                client_id: &self.settings.client_id,
                nonce,
                now,
            },
        )?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // The example of RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic_auth() {
        assert_eq!(form_encode("abc-1.2_3"), "abc-1.2_3");
        assert_eq!(form_encode("a b:c/d+e%"), "a+b%3Ac%2Fd%2Be%25");
    }
}
