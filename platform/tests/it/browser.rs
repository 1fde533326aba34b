//! The console in a real browser: headless Chromium driven through chromedriver's W3C
//! WebDriver HTTP API. Logs in, approves a pending agent and its source, and reads the
//! inactive-seats table; asks for Reclaim without a session and lands there after the
//! login, checks that the navigation fits one line at 1280 px and that the Overview, with
//! the demo's long HR tenant, does not scroll sideways there, and walks (through the
//! navigation) Overview → Applications (setting a price) → Reclaim → Person; all without
//! JavaScript of our own.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). Without them the test fails and says so.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::TestDb;
use crate::console::{ADMIN_PASSWORD, Agent, Platform, company, create_users};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A company id in the form `humaans-sim` gives the demo's company (24 letters and digits).
const DEMO_COMPANY_ID: &str = "q7ZKt2WmXbR4cN8vLp3HdYsE";

struct Driver {
    base: String,
    session: String,
    http: reqwest::Client,
    _child: Child,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        assert!(
            std::path::Path::new(&chromium).exists(),
            "the browser test needs Chromium at {chromium}: install it with \
             `apt-get install chromium chromium-driver` (or set CHROMIUM to its path)"
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "the browser test needs chromedriver ({chromedriver}) and could not start it: {error}. \
                     Install it with `apt-get install chromium chromium-driver` (or set CHROMEDRIVER to its path)."
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // Wait for chromedriver to answer (it starts in well under a second).
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(response) = http.get(format!("{base}/status")).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not become ready on port {port}");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }},
        });
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start a Chromium session: {response}"))
            .to_owned();
        Driver {
            base,
            session,
            http,
            _child: child,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = response["value"].get("error") {
            panic!(
                "WebDriver {path}: {error}: {}",
                response["value"]["message"]
            );
        }
        response["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        value[ELEMENT_KEY].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks and waits until the browser is at a URL containing `url_part` (the page the
    /// form's redirect leads to), so the next look-up cannot hit the old page.
    async fn click_to(&self, css: &str, url_part: &str) {
        self.click(css).await;
        for _ in 0..500 {
            if self.current_url().await.contains(url_part) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("clicking {css} did not lead to a URL with {url_part}");
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    async fn attribute(&self, css: &str, name: &str) -> String {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// The value a script returns (`return ...;`), run in the current page.
    async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The element's position and size in CSS pixels: `{x, y, width, height}`.
    async fn rect(&self, css: &str) -> Value {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/rect"),
            None,
        )
        .await
    }

    async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_approve_and_read_inactive_seats_in_chromium() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let token = db
        .store
        .create_enrollment_token("test", "browser", None, Some(1))
        .await
        .unwrap();
    let agent = Agent::enroll(&platform.url, token.token.expose(), &[("main", "tenant-1")]).await;

    let driver = Driver::start().await;
    driver.goto(&format!("{}/", platform.url)).await;
    assert!(
        driver.current_url().await.ends_with("/login"),
        "not logged in: sent to the login page"
    );
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", ADMIN_PASSWORD).await;
    driver.click("#login").await;
    for _ in 0..500 {
        if !driver.current_url().await.ends_with("/login") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(driver.current_url().await, format!("{}/", platform.url));

    driver.goto(&format!("{}/approvals", platform.url)).await;
    let pending = driver
        .text(&format!("#agent-{}", agent.enrolled.agent_id))
        .await;
    assert!(pending.contains("hr-box"), "{pending}");
    driver
        .click_to("button.approve-agent", "done=agent_approved")
        .await;
    assert!(driver.text("p.notice").await.contains("Agent approved"));
    driver
        .click_to(
            &format!("#link-{} button.approve-source", agent.source_id(0)),
            "done=source_approved",
        )
        .await;
    assert!(driver.text("p.notice").await.contains("Source approved"));

    let ack = agent
        .upload(
            &[&platform.url],
            &agent.source_id(0),
            &"c".repeat(32),
            1,
            crate::t0(),
            company(),
        )
        .await;
    assert!(ack.snapshot_applied);

    driver.goto(&format!("{}/seats", platform.url)).await;
    let table = driver.text("#seats tbody").await;
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].contains("O'Neil, \"Ghost\"") && rows[0].contains("Bea Boss"),
        "{table}"
    );
    assert!(
        rows[1].contains("Gone Person")
            && rows[1].contains("employment ended, but not offboarded in Humaans"),
        "{table}"
    );
    // Sort by person: follow the column header's link (navigating by URL waits for the
    // new page, where a click on a plain link may return before it has loaded).
    let href = driver
        .attribute("#seats thead a[href*='sort=person']", "href")
        .await;
    assert!(href.contains("dir=asc"), "{href}");
    let href = if href.starts_with('/') {
        format!("{}{href}", platform.url)
    } else {
        href
    };
    driver.goto(&href).await;
    let table = driver.text("#seats tbody").await;
    assert!(
        table.lines().next().unwrap().contains("Gone Person"),
        "{table}"
    );
    driver.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_overview_applications_reclaim_and_person_in_chromium() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    // The HR tenant as the demo's simulated Humaans has it: the company's name and its
    // 24-character id, which has no space to wrap at.
    let fixture =
        crate::licences::setup_hr(&db.store, DEMO_COMPANY_ID, "Brightfield Robotics").await;
    crate::licences::load(&db.store, &fixture).await;
    let platform = Platform::start(db.store.clone()).await;
    let driver = Driver::start().await;
    // A laptop screen: the navigation must fit on one line at 1280 px, and no page is wider.
    driver
        .call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": 1280, "height": 900 })),
        )
        .await;
    // Asking for a page without a session: log in, and land on that page.
    driver
        .goto(&format!("{}/reclaim?state=orphaned", platform.url))
        .await;
    assert!(
        driver
            .current_url()
            .await
            .ends_with("/login?next=%2Freclaim%3Fstate%3Dorphaned"),
        "{}",
        driver.current_url().await
    );
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", ADMIN_PASSWORD).await;
    driver.click_to("#login", "/reclaim?state=orphaned").await;
    assert!(
        driver
            .text("#reclaim tbody")
            .await
            .contains("Holder has left")
    );

    // The navigation: one line, inside the window; the favicon is linked.
    let first = driver.rect("#nav a[href='/']").await;
    let more = driver.rect("#nav details.more summary").await;
    let logout = driver.rect("header .who button").await;
    assert_eq!(first["y"], more["y"], "one line: {first} {more}");
    assert!(
        logout["x"].as_f64().unwrap() + logout["width"].as_f64().unwrap() <= 1280.0,
        "the logout button fits: {logout}"
    );
    let header = driver.rect("header").await;
    assert!(header["height"].as_f64().unwrap() < 60.0, "{header}");
    assert!(
        driver
            .attribute("link[rel=icon]", "href")
            .await
            .ends_with("/favicon.svg")
    );

    driver.click("#nav a[href='/']").await;
    let overview = format!("{}/", platform.url);
    for _ in 0..500 {
        if driver.current_url().await == overview {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(driver.current_url().await, overview);
    // The HR sources table fits the window, and still shows the whole company id.
    let width = driver
        .execute("return document.documentElement.scrollWidth;")
        .await;
    assert!(
        width.as_f64().unwrap() <= 1280.0,
        "the Overview is {width} px wide in a 1280 px window: it scrolls sideways"
    );
    let sources = driver.text("#overview tbody").await;
    assert!(
        sources.contains(&format!("Brightfield Robotics · {DEMO_COMPANY_ID}")),
        "{sources}"
    );
    assert_eq!(driver.text("#licences-reclaimable").await, "15");
    assert_eq!(driver.text("#licences-savings").await, "no price set");

    driver
        .click_to("#nav a[href='/applications']", "/applications")
        .await;
    let row = format!("tr[data-pool='{}']", crate::licences::E3);
    driver
        .type_into(&format!("{row} input[name=amount]"), "12.50")
        .await;
    driver
        .click_to(&format!("{row} button.set-price"), "done=price_set")
        .await;
    assert!(driver.text("p.notice").await.contains("Price saved"));
    let text = driver.text(&row).await;
    assert!(
        text.contains("12.50 EUR / month") && text.contains("125.00 EUR"),
        "{text}"
    );

    driver.click_to("#nav a[href='/reclaim']", "/reclaim").await;
    driver
        .goto(&format!("{}/reclaim?state=orphaned", platform.url))
        .await;
    let table = driver.text("#reclaim tbody").await;
    assert_eq!(table.matches("Holder has left").count(), 3, "{table}");
    let href = driver
        .attribute("#reclaim a[href='/people/p3']", "href")
        .await;
    let href = if href.starts_with('/') {
        format!("{}{href}", platform.url)
    } else {
        href
    };
    driver.goto(&href).await;
    let accounts = driver.text("#accounts").await;
    assert!(accounts.contains("by its alias cy@acme.test"), "{accounts}");
    assert!(accounts.contains("Holder has left"), "{accounts}");
    driver.quit().await;
}
