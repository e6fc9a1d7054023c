//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver) logs in, pastes a scanned code, sees the pack's
//! timeline with every proof verified, opens the alert queue, triages an
//! alert with a note, and takes a screenshot that must show the dashboard.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run`
//! installs them); without them the test says it is skipped and passes.

mod alerts_support;
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alerts_support::{alert_from, seed};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use pedigree_ledger::dashboard::auth::create_login;
use pedigree_ledger::dashboard::pages::HEADER_RGB;
use pedigree_ledger::db::testing::TestDatabase;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver this test started, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        eventually("chromedriver to listen", || async {
            client()
                .get(&status)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

async fn page_text(browser: &Client) -> String {
    browser.source().await.expect("the page source")
}

/// Waits for the element `css` on the page the last action led to.
async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulator_finds_a_pack_and_triages_an_alert_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!("skipped: chromium not installed ({CHROMIUM}, {CHROMEDRIVER})");
        return;
    }
    let db = TestDatabase::sqlite();
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let seeded = seed(&ledger, &net).await;
    let token = create_login(
        &db.open().expect("the database"),
        "Inspector Ana",
        net.governance.gln.as_str(),
    )
    .expect("a dashboard login");
    let alert = alert_from(&ledger, &net, "serial_unknown").await;
    let id = alert["id"].as_i64().expect("id");

    let driver = Driver::start().await;
    let profile = std::env::temp_dir().join(format!("pedigree-chromium-{}", free_port()));
    let browser = browser(&driver, &profile).await;

    // Asking for the dashboard leads to the login form.
    browser.goto(&ledger.url("/dashboard")).await.expect("goto");
    wait_for(&browser, "#token")
        .await
        .send_keys(&token)
        .await
        .expect("type");
    wait_for(&browser, "#login")
        .await
        .click()
        .await
        .expect("log in");

    // Paste a scanned code (bracketed, as a scanner app copies it).
    let code = seeded.batch.code("D1").to_bracketed();
    wait_for(&browser, "#code")
        .await
        .send_keys(&code)
        .await
        .expect("paste");
    wait_for(&browser, "#find")
        .await
        .click()
        .await
        .expect("find");
    wait_for(&browser, "#timeline").await;
    let timeline = page_text(&browser).await;
    for kind in ["commission", "ship", "receive", "verify", "decommission"] {
        assert!(
            timeline.contains(&format!(">{kind}<")),
            "{kind} in {timeline}"
        );
    }
    assert_eq!(timeline.matches("✓ verified").count(), 7, "{timeline}");
    assert!(timeline.contains("Corner Pharmacy"));

    // The queue, then the alert, then its triage.
    browser
        .goto(&ledger.url("/dashboard/alerts"))
        .await
        .expect("goto");
    wait_for(&browser, "#alerts").await;
    assert!(page_text(&browser).await.contains("serial_unknown"));
    browser
        .find(Locator::LinkText(&format!("#{id}")))
        .await
        .expect("the alert's link")
        .click()
        .await
        .expect("open the alert");
    wait_for(&browser, "#state")
        .await
        .select_by_value("investigating")
        .await
        .expect("choose a state");
    let note = "Serial never commissioned: asked the outsider pharmacy for the pack";
    wait_for(&browser, "#note")
        .await
        .send_keys(note)
        .await
        .expect("note");
    wait_for(&browser, "#apply")
        .await
        .click()
        .await
        .expect("save");
    wait_for(&browser, "#history").await;
    let page = page_text(&browser).await;
    assert!(page.contains(note), "{page}");
    assert!(page.contains("Open → Investigating"), "{page}");
    let detail = ledger
        .get_signed(&format!("/v1/alerts/{id}"), &net.governance.key())
        .await
        .ok();
    assert_eq!(detail["state"], "investigating");
    assert_eq!(detail["notes"][0]["author"], "Inspector Ana");

    // The screenshot shows the dashboard: a real image, the header's colour.
    let png = browser.screenshot().await.expect("a screenshot");
    // To look at it: PEDIGREE_DASHBOARD_SCREENSHOT=/tmp/dashboard.png.
    if let Ok(path) = std::env::var("PEDIGREE_DASHBOARD_SCREENSHOT") {
        std::fs::write(&path, &png).expect("the screenshot is saved");
    }
    let image = image::load_from_memory(&png).expect("a PNG").to_rgb8();
    assert!(
        image.width() >= 800 && image.height() >= 500,
        "{}x{}",
        image.width(),
        image.height()
    );
    let header = image.pixels().filter(|p| p.0 == HEADER_RGB).count();
    assert!(header > 10_000, "{header} pixels of the header colour");
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "only {} colours: a blank page?",
        colours.len()
    );

    browser.close().await.expect("the browser closes");
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    ledger.stop().await;
}
