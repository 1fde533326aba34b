//! Single sign-on against a real OpenID provider: the Python package `oidc-provider-mock`
//! (installed by `scripts/test` into `target/test-venvs/oidc`; `SEATBROKER_OIDC_MOCK` names
//! another executable). Between the platform and the provider sits a small proxy of this
//! test that forwards everything, records the token requests and key fetches, and alters
//! what the provider cannot produce itself: a token for another client, a tampered token.
//!
//! The browser is played by hand: `/login/oidc`, then the provider's authorization form
//! (the mock signs in whichever subject is posted), then the callback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header;
use seatbroker_platform::{
    AppState, LocalPasswords, Oidc, OidcSettings, Role, RoleMapping, Store, WebSettings, app,
};
use seatbroker_protocol::Secret;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::TestDb;
use crate::console::{ADMIN_PASSWORD, VIEWER_PASSWORD, create_users};

const CLIENT_ID: &str = "seatbroker";

fn mock_executable() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("SEATBROKER_OIDC_MOCK") {
        return path.into();
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-venvs/oidc/bin/oidc-provider-mock");
    assert!(
        path.exists(),
        "the single sign-on tests need the OpenID provider `oidc-provider-mock` at {}: run scripts/test, \
         which installs it (python3 -m venv target/test-venvs/oidc && target/test-venvs/oidc/bin/pip install oidc-provider-mock), \
         or set SEATBROKER_OIDC_MOCK to its executable",
        path.display()
    );
    path
}

/// A running `oidc-provider-mock`; killed when dropped.
struct Provider {
    port: u16,
    token_max_age: Option<u32>,
    child: tokio::process::Child,
}

impl Provider {
    async fn start(token_max_age: Option<u32>) -> Provider {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Provider::start_on(port, token_max_age).await
    }

    async fn start_on(port: u16, token_max_age: Option<u32>) -> Provider {
        let mut command = tokio::process::Command::new(mock_executable());
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(secs) = token_max_age {
            command.args(["--token-max-age", &secs.to_string()]);
        }
        let mut child = command.spawn().expect("start oidc-provider-mock");
        let url = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let http = reqwest::Client::new();
        // Waiting for a process to listen: bounded, and not a timing assertion.
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("oidc-provider-mock exited at start with {status}");
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Provider {
                    port,
                    token_max_age,
                    child,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("oidc-provider-mock did not answer at {url} within 30 s");
    }

    /// Stops the provider and starts a new one on the same port: same issuer, new key.
    async fn restart(mut self) -> Provider {
        let (port, max_age) = (self.port, self.token_max_age);
        self.child.kill().await.unwrap();
        let _ = self.child.wait().await;
        Provider::start_on(port, max_age).await
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sets the claims the provider puts in `sub`'s tokens.
    async fn user(&self, sub: &str, claims: serde_json::Value) {
        let status = reqwest::Client::new()
            .put(format!("{}/users/{sub}", self.url()))
            .json(&claims)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

/// What the proxy changes on the way.
#[derive(Debug, Clone, Default)]
enum Tamper {
    #[default]
    Nothing,
    /// Authenticates token requests as this client instead (a token for another audience).
    ClientId(String),
    /// Rewrites the ID token's payload, keeping the provider's signature.
    IdTokenGroups(Vec<String>),
}

#[derive(Debug, Default)]
struct ProxyLog {
    tamper: Tamper,
    token_requests: Vec<String>,
    key_fetches: usize,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    log: Arc<Mutex<ProxyLog>>,
}

async fn forward(
    State(proxy): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let tamper = {
        let mut log = proxy.log.lock().unwrap();
        if uri.path() == "/jwks" {
            log.key_fetches += 1;
        }
        if uri.path() == "/oauth2/token" {
            log.token_requests
                .push(String::from_utf8_lossy(&body).into_owned());
        }
        log.tamper.clone()
    };
    let mut request = proxy
        .http
        .request(method, format!("{}{path}", proxy.upstream))
        .body(body);
    for (name, value) in &headers {
        // The Host header goes through unchanged: the provider names itself after it, so
        // its issuer and endpoints are the proxy's.
        if name == header::AUTHORIZATION
            && uri.path() == "/oauth2/token"
            && let Tamper::ClientId(other) = &tamper
        {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{other}:secret"));
            request = request.header(header::AUTHORIZATION, format!("Basic {basic}"));
            continue;
        }
        request = request.header(name, value);
    }
    let upstream = request.send().await.unwrap();
    let status = upstream.status();
    let mut out_headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::LOCATION] {
        if let Some(value) = upstream.headers().get(&name) {
            out_headers.insert(name, value.clone());
        }
    }
    let mut body = upstream.bytes().await.unwrap().to_vec();
    if let (Tamper::IdTokenGroups(groups), "/oauth2/token") = (&tamper, uri.path()) {
        let mut answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let token = answer["id_token"].as_str().unwrap().to_owned();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["groups"] = serde_json::json!(groups);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        answer["id_token"] = format!("{}.{payload}.{}", parts[0], parts[2]).into();
        body = answer.to_string().into_bytes();
    }
    (status, out_headers, body).into_response()
}

/// The proxy in front of a provider; stops when dropped.
struct Proxy {
    url: String,
    log: Arc<Mutex<ProxyLog>>,
    shutdown: CancellationToken,
}

impl Proxy {
    async fn start(provider: &Provider) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let state = ProxyState {
            upstream: provider.url(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            log: log.clone(),
        };
        let router = axum::Router::new().fallback(forward).with_state(state);
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { signal.cancelled().await })
                .await
                .unwrap();
        });
        Proxy { url, log, shutdown }
    }

    fn tamper(&self, tamper: Tamper) {
        self.log.lock().unwrap().tamper = tamper;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A platform with single sign-on through `proxy`; stops when dropped.
struct Platform {
    url: String,
    shutdown: CancellationToken,
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn roles(default: Option<Role>) -> RoleMapping {
    RoleMapping {
        claim: "groups".to_owned(),
        admin: vec!["sb-admins".to_owned()],
        viewer: vec!["sb-viewers".to_owned()],
        default,
    }
}

async fn platform(
    store: Store,
    issuer: &str,
    roles: RoleMapping,
    local_passwords: LocalPasswords,
) -> Platform {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let oidc = Oidc::new(OidcSettings {
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new("client secret 1".to_owned()),
        redirect_url: format!("{url}{}", seatbroker_platform::CALLBACK_PATH),
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        username_claim: "email".to_owned(),
        roles,
        display_name: "Mock IdP".to_owned(),
    })
    .unwrap();
    let settings = WebSettings {
        oidc: Some(Arc::new(oidc)),
        local_passwords,
        ..WebSettings::default()
    };
    let router = app(AppState::new(store), settings);
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { signal.cancelled().await })
        .await
        .unwrap();
    });
    Platform { url, shutdown }
}

/// One answer, as the browser saw it.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

/// A browser: cookies for the platform kept by hand, no redirects followed.
struct Browser {
    platform: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(platform: &str) -> Browser {
        Browser {
            platform: platform.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, ours: bool) -> Answer {
        let request = if ours {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.header(header::COOKIE, jar.join("; "))
        } else {
            request
        };
        let response = request.send().await.unwrap();
        if ours {
            for value in response.headers().get_all(header::SET_COOKIE) {
                let value = value.to_str().unwrap();
                let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
                let (name, val) = pair.split_once('=').unwrap();
                assert!(attributes.contains("HttpOnly"), "{value}");
                if val.is_empty() || attributes.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), val.to_owned());
                }
            }
        }
        Answer {
            status: response.status(),
            location: response
                .headers()
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path_or_url: &str) -> Answer {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.platform)
        };
        let ours = url.starts_with(&self.platform);
        self.send(self.http.get(url), ours).await
    }

    /// `/login/oidc`: the authorization URL the platform sends the browser to.
    async fn start(&mut self) -> String {
        let answer = self.get("/login/oidc").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
        assert!(self.cookies.contains_key("seatbroker_sso"));
        answer.location
    }

    /// Signs in `sub` on the provider's form: the callback URL it sends the browser to.
    async fn authorize(&mut self, authorization_url: &str, sub: &str) -> String {
        let answer = self
            .send(
                self.http.post(authorization_url).form(&[("sub", sub)]),
                false,
            )
            .await;
        assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
        assert!(
            answer.location.contains("/login/oidc/callback?"),
            "{answer:?}"
        );
        answer.location
    }

    /// The whole sign-in of `sub`: the callback's answer and its URL.
    async fn sign_in(&mut self, sub: &str) -> (Answer, String) {
        let authorization = self.start().await;
        let callback = self.authorize(&authorization, sub).await;
        (self.get(&callback).await, callback)
    }
}

fn query_param(url: &str, name: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} not in {url}"))
}

/// A store whose clock is now (the provider's tokens carry real times).
async fn db() -> TestDb {
    let db = TestDb::sqlite().await;
    db.clock.set(Utc::now());
    db
}

async fn audit_actions(store: &Store) -> Vec<(String, String)> {
    store
        .list_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| (e.action, e.target))
        .collect()
}

async fn user_role(store: &Store, username: &str) -> Option<String> {
    use sqlx::Row;
    sqlx::query("SELECT role FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(store.pool())
        .await
        .unwrap()
        .map(|row| row.get::<String, _>("role"))
}

on_both_backends!(
    first_sign_in,
    first_sign_in_creates_the_user_with_the_mapped_role_using_pkce
);

async fn first_sign_in_creates_the_user_with_the_mapped_role_using_pkce(db: TestDb) {
    db.clock.set(Utc::now());
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["staff", "sb-admins"]}),
        )
        .await;

    let mut browser = Browser::new(&platform.url);
    let login = browser.get("/login").await;
    assert!(
        login.body.contains("href=\"/login/oidc\""),
        "{}",
        login.body
    );
    assert!(login.body.contains("Sign in with Mock IdP"));

    let authorization = browser.start().await;
    assert!(authorization.starts_with(&format!("{}/oauth2/authorize?", proxy.url)));
    assert_eq!(query_param(&authorization, "client_id"), CLIENT_ID);
    assert_eq!(query_param(&authorization, "code_challenge_method"), "S256");
    assert!(query_param(&authorization, "nonce").len() >= 32);
    assert!(query_param(&authorization, "state").len() >= 32);
    let callback = browser.authorize(&authorization, "ann").await;
    let signed_in = browser.get(&callback).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert!(
        signed_in
            .body
            .contains("Signed in as ann@example.com (admin)")
    );
    assert!(signed_in.body.contains("http-equiv=\"refresh\""));
    assert!(!browser.cookies.contains_key("seatbroker_sso"));

    // PKCE: the verifier the platform sent hashes to the challenge it announced.
    let token_request = proxy.log.lock().unwrap().token_requests[0].clone();
    let form: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://x/?{token_request}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes()));
    assert_eq!(challenge, query_param(&authorization, "code_challenge"));
    assert_eq!(form["grant_type"], "authorization_code");

    // The session works, with the admin role.
    let users = browser.get("/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    assert!(users.body.contains("ann@example.com (admin)"));
    assert_eq!(
        user_role(&db.store, "ann@example.com").await.as_deref(),
        Some("admin")
    );

    // The provider moves Ann to the viewers: her next sign-in changes the role, no new user.
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["sb-viewers"]}),
        )
        .await;
    let mut again = Browser::new(&platform.url);
    let (answer, _) = again.sign_in("ann").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("(viewer)"));
    assert_eq!(again.get("/users").await.status, StatusCode::FORBIDDEN);
    // Her first session has the new role too: roles are read from the user, not the session.
    assert_eq!(browser.get("/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        user_role(&db.store, "ann@example.com").await.as_deref(),
        Some("viewer")
    );

    let ann = "ann@example.com".to_owned();
    assert_eq!(
        audit_actions(&db.store).await,
        vec![
            ("user.sso_create".to_owned(), ann.clone()),
            ("user.sso_login".to_owned(), ann.clone()),
            ("user.sso_role_change".to_owned(), ann.clone()),
            ("user.sso_login".to_owned(), ann.clone()),
        ]
    );
    // A single sign-on user has no password to guess.
    let mut password = crate::console::Session::new(&platform.url);
    let page = password.login("ann@example.com", "").await;
    assert_ne!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_returns_to_the_page_asked_for() {
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let db = db().await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["sb-viewers"]}),
        )
        .await;
    let mut browser = Browser::new(&platform.url);
    // The reclaim page without a session leads to the login, whose sign-on button keeps
    // the way back.
    let asked = browser.get("/reclaim?state=orphaned").await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{asked:?}");
    let login = browser.get(&asked.location).await;
    let start = login
        .body
        .find("href=\"/login/oidc?next=")
        .unwrap_or_else(|| panic!("no way back on the sign-on button: {}", login.body))
        + "href=\"".len();
    let link = &login.body[start..start + login.body[start..].find('"').unwrap()];
    assert!(link.contains("reclaim%3Fstate%3Dorphaned"), "{link}");
    let started = browser.get(link).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{started:?}");
    assert!(browser.cookies.contains_key("seatbroker_sso_next"));
    let callback = browser.authorize(&started.location, "ann").await;
    let signed_in = browser.get(&callback).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert!(
        signed_in
            .body
            .contains("content=\"0;url=/reclaim?state=orphaned\""),
        "{}",
        signed_in.body
    );
    assert!(!browser.cookies.contains_key("seatbroker_sso_next"));

    // Another site is never a way back: the sign-in then lands on the Overview.
    let mut other = Browser::new(&platform.url);
    let started = other.get("/login/oidc?next=//evil.example/").await;
    assert!(!other.cookies.contains_key("seatbroker_sso_next"));
    let callback = other.authorize(&started.location, "ann").await;
    let signed_in = other.get(&callback).await;
    assert!(
        signed_in.body.contains("content=\"0;url=/\""),
        "{}",
        signed_in.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_group_is_refused_or_given_the_default_role() {
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    provider
        .user(
            "carl",
            serde_json::json!({"email": "carl@example.com", "groups": ["contractors"]}),
        )
        .await;

    let strict = db().await;
    let refusing = platform(
        strict.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    let mut browser = Browser::new(&refusing.url);
    let (answer, _) = browser.sign_in("carl").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(
        answer.body.contains("none of the groups"),
        "{}",
        answer.body
    );
    assert!(!browser.cookies.contains_key("seatbroker_session"));
    assert_eq!(user_role(&strict.store, "carl@example.com").await, None);
    assert_eq!(
        audit_actions(&strict.store).await,
        vec![("user.sso_refused".to_owned(), "carl@example.com".to_owned())]
    );

    let lenient = db().await;
    let defaulting = platform(
        lenient.store.clone(),
        &proxy.url,
        roles(Some(Role::Viewer)),
        LocalPasswords::On,
    )
    .await;
    let (answer, _) = Browser::new(&defaulting.url).sign_in("carl").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        user_role(&lenient.store, "carl@example.com")
            .await
            .as_deref(),
        Some("viewer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_client_is_refused() {
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let db = db().await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["sb-admins"]}),
        )
        .await;
    // The code is issued to, and redeemed by, another client of the same provider: its ID
    // token is genuine, signed by the provider, and meant for that client.
    proxy.tamper(Tamper::ClientId("someone-else".to_owned()));
    let mut browser = Browser::new(&platform.url);
    let authorization = browser
        .start()
        .await
        .replace(&format!("client_id={CLIENT_ID}"), "client_id=someone-else");
    let callback = browser.authorize(&authorization, "ann").await;
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains("is meant for"), "{}", answer.body);
    assert!(answer.body.contains("someone-else"), "{}", answer.body);
    assert!(!browser.cookies.contains_key("seatbroker_session"));
    assert_eq!(user_role(&db.store, "ann@example.com").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    // Tokens live 60 s; the platform's clock is 3 minutes ahead when the token arrives
    // (the sign-in itself may take 10 minutes, so only the token is too old).
    let provider = Provider::start(Some(60)).await;
    let proxy = Proxy::start(&provider).await;
    let db = db().await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["sb-admins"]}),
        )
        .await;
    let mut browser = Browser::new(&platform.url);
    let authorization = browser.start().await;
    let callback = browser.authorize(&authorization, "ann").await;
    db.clock.set(Utc::now() + chrono::Duration::minutes(3));
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains("expired"), "{}", answer.body);
    assert!(!browser.cookies.contains_key("seatbroker_session"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_token_is_refused() {
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let db = db().await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "mallory",
            serde_json::json!({"email": "mallory@example.com", "groups": ["sb-viewers"]}),
        )
        .await;
    // Someone between the two promotes the viewer to admin in the token.
    proxy.tamper(Tamper::IdTokenGroups(vec!["sb-admins".to_owned()]));
    let mut browser = Browser::new(&platform.url);
    let (answer, _) = browser.sign_in("mallory").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(
        answer.body.contains("signature does not verify"),
        "{}",
        answer.body
    );
    assert!(!browser.cookies.contains_key("seatbroker_session"));
    assert_eq!(user_role(&db.store, "mallory@example.com").await, None);
    assert_eq!(
        audit_actions(&db.store)
            .await
            .first()
            .map(|(action, _)| action.clone()),
        Some("user.sso_refused".to_owned())
    );
}

on_both_backends!(replayed_state, a_replayed_or_foreign_state_is_refused);

async fn a_replayed_or_foreign_state_is_refused(db: TestDb) {
    db.clock.set(Utc::now());
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["sb-admins"]}),
        )
        .await;

    // The same callback twice: the second finds nothing, even with the same cookies.
    let mut browser = Browser::new(&platform.url);
    let authorization = browser.start().await;
    let binding = browser.cookies["seatbroker_sso"].clone();
    let callback = browser.authorize(&authorization, "ann").await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::OK);
    browser.cookies.remove("seatbroker_session");
    browser.cookies.insert("seatbroker_sso".to_owned(), binding);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert!(replay.body.contains("already used"), "{}", replay.body);
    assert!(!browser.cookies.contains_key("seatbroker_session"));
    assert_eq!(proxy.log.lock().unwrap().token_requests.len(), 1);

    // A callback carried to another browser (login CSRF) is refused, and burns the state.
    let mut victim = Browser::new(&platform.url);
    let mut attacker = Browser::new(&platform.url);
    let authorization = attacker.start().await;
    let callback = attacker.authorize(&authorization, "ann").await;
    victim.start().await;
    let foreign = victim.get(&callback).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "{}", foreign.body);
    assert!(foreign.body.contains("another browser"), "{}", foreign.body);
    assert_eq!(
        attacker.get(&callback).await.status,
        StatusCode::BAD_REQUEST
    );

    // A state the platform never issued, and no state at all.
    let forged = callback.replace(&query_param(&callback, "state"), "forged-state");
    assert_eq!(victim.get(&forged).await.status, StatusCode::BAD_REQUEST);
    let bare = victim.get("/login/oidc/callback?code=x").await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert!(bare.body.contains("no state"), "{}", bare.body);
    assert_eq!(proxy.log.lock().unwrap().token_requests.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_provider_keys_are_fetched_again() {
    let provider = Provider::start(None).await;
    let proxy = Proxy::start(&provider).await;
    let db = db().await;
    let platform = platform(
        db.store.clone(),
        &proxy.url,
        roles(None),
        LocalPasswords::On,
    )
    .await;
    let ann = serde_json::json!({"email": "ann@example.com", "groups": ["sb-admins"]});
    provider.user("ann", ann.clone()).await;
    let (answer, _) = Browser::new(&platform.url).sign_in("ann").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let (answer, _) = Browser::new(&platform.url).sign_in("ann").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(proxy.log.lock().unwrap().key_fetches, 1, "keys are cached");

    // A new provider process signs with a new key under the same issuer.
    let provider = provider.restart().await;
    provider.user("ann", ann).await;
    let (answer, _) = Browser::new(&platform.url).sign_in("ann").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        proxy.log.lock().unwrap().key_fetches,
        2,
        "keys fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_passwords_off_only_the_break_glass_admin_uses_a_password() {
    let db = db().await;
    create_users(&db.store).await; // alice (admin), victor (viewer)
    // The provider is never contacted here: password logins only.
    let platform = platform(
        db.store.clone(),
        "http://127.0.0.1:9",
        roles(None),
        LocalPasswords::BreakGlassOnly("alice".to_owned()),
    )
    .await;
    let mut victor = crate::console::Session::new(&platform.url);
    let page = victor.get("/login").await;
    assert!(
        page.body.contains("Break-glass admin sign-in"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Sign in with Mock IdP"));
    let page = victor.login("victor", VIEWER_PASSWORD).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("Password sign-in is switched off"));
    // After a refusal the form stays open, next to its message.
    assert!(page.body.contains("<details open>"), "{}", page.body);

    let mut alice = crate::console::Session::new(&platform.url);
    alice.login_ok("alice", ADMIN_PASSWORD).await;
    assert!(
        audit_actions(&db.store)
            .await
            .contains(&("user.break_glass_login".to_owned(), "alice".to_owned()))
    );

    // The break-glass account must be an admin.
    let demoted = platform_with_viewer_break_glass(&db).await;
    let mut victor = crate::console::Session::new(&demoted.url);
    let page = victor.login("victor", VIEWER_PASSWORD).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("must be an admin"));
}

async fn platform_with_viewer_break_glass(db: &TestDb) -> Platform {
    platform(
        db.store.clone(),
        "http://127.0.0.1:9",
        roles(None),
        LocalPasswords::BreakGlassOnly("victor".to_owned()),
    )
    .await
}

/// The real binary, configured the way an operator does it: settings from the environment,
/// the secret from `SEATBROKER_OIDC_CLIENT_SECRET`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_binary_signs_in_with_settings_from_the_environment() {
    use tokio::io::AsyncBufReadExt;
    let provider = Provider::start(None).await;
    provider
        .user(
            "ann",
            serde_json::json!({"email": "ann@example.com", "groups": ["ops", "sb-viewers"]}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let serve = |extra: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-platform"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .env_remove("SEATBROKER_DATABASE_URL")
            .env("SEATBROKER_LOG", "warn")
            .env("SEATBROKER_OIDC_ISSUER", provider.url())
            .env("SEATBROKER_OIDC_CLIENT_ID", CLIENT_ID)
            .env(
                "SEATBROKER_OIDC_CLIENT_SECRET",
                "secret from the environment",
            )
            .env("SEATBROKER_OIDC_ADMIN_GROUPS", "sb-admins")
            .env("SEATBROKER_OIDC_VIEWER_GROUPS", "sb-viewers,auditors")
            .env("SEATBROKER_OIDC_DISPLAY_NAME", "Acme")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    };

    // Passwords off without a break-glass admin is a configuration error (exit 64).
    let output = serve(&["--local-passwords", "off"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--break-glass-admin"), "{stderr}");

    let mut child = serve(&["--local-passwords", "off", "--break-glass-admin", "admin"])
        .spawn()
        .unwrap();
    let line = tokio::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("the platform printed its URL line");
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::new(&url);
    let login = browser.get("/login").await;
    assert!(login.body.contains("Sign in with Acme"), "{}", login.body);
    assert!(login.body.contains("Break-glass admin sign-in"));
    let authorization = browser.start().await;
    assert_eq!(
        query_param(&authorization, "redirect_uri"),
        format!("{url}/login/oidc/callback")
    );
    assert_eq!(query_param(&authorization, "scope"), "openid email profile");
    let (answer, _) = browser.sign_in("ann").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("Signed in as ann@example.com (viewer)"),
        "{}",
        answer.body
    );
    let overview = browser.get("/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("ann@example.com (viewer)"));
    child.kill().await.unwrap();
}
