//! The web interface in a real browser: headless Chromium driven over WebDriver (chromedriver), against remit served
//! on a loopback port with the demo trust. Each test saves screenshots under `artifacts/screenshots/`.
//!
//! The suite runs when `chromedriver` and `chromium` are installed (`.ci/run` installs Debian's packages); without
//! them its trials are listed as ignored and a line says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use remit_domain::obs::Readings;
use remit_domain::staff::Username;
use remit_policy::PolicyPack;
use remit_server::{AppState, Config};
use remit_services::obs::{self, RecordSet};
use serde_json::json;

use crate::helpers::{TestClock, TestDb};

crate::tests!(
    an_assistant_practitioner_records_a_7_and_sees_the_emergency_response,
    a_nurses_open_inbox_shows_a_new_escalation_without_reloading,
    a_support_worker_is_asked_to_name_a_supervisor,
    an_assistant_practitioner_who_tries_to_prescribe_sees_the_reasons,
    the_live_score_never_shows_a_stale_answer,
    the_accessibility_check_finds_a_violation_and_the_sign_in_page_has_none,
    every_page_is_accessible_and_fits_a_phone,
    a_session_ending_mid_set_warns_first_and_loses_nothing,
    no_field_is_hidden_under_the_live_score_on_a_phone,
);

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// axe-core, vendored from the npm registry.
const AXE: &str = "tests/vendor/axe-core-4.14.1/axe.min.js";

/// Whether the browser suite can run here.
pub fn available() -> bool {
    Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// remit on a loopback port, chromedriver, and a browser session; all stopped on drop.
struct Browser {
    base: String,
    state: AppState,
    clock: Arc<TestClock>,
    client: Client,
    driver: Child,
    server: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(db: &TestDb, config: Config) -> Result<Self> {
        Self::start_on(db, tokio::net::TcpListener::bind("127.0.0.1:0").await?, config).await
    }

    /// [`Browser::start`] with remit on a listener bound already (its address given to others first).
    async fn start_on(db: &TestDb, listener: tokio::net::TcpListener, config: Config) -> Result<Self> {
        let clock = TestClock::new();
        let store = db.store(clock.clone()).await?;
        let pack = Arc::new(PolicyPack::nhs_england());
        remit_services::demo::seed(&store, &pack, &remit_domain::imaging::Catalogue::shipped(), "test").await?;
        let state = AppState::new(store, pack, config);
        let base = format!("http://{}", listener.local_addr()?);
        let served = state.clone();
        let server = tokio::spawn(async move {
            let _ = remit_server::serve(listener, served, std::future::pending()).await;
        });
        let port = free_port()?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-quic", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let mut client = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let client = client.context("chromedriver did not answer")?;
        Ok(Self {
            base,
            state,
            clock,
            client,
            driver,
            server,
            _profile: profile,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn sign_in(&self, username: &str) -> Result<()> {
        let c = &self.client;
        c.goto(&self.url("/login")).await?;
        c.find(Locator::Css("#username")).await?.send_keys(username).await?;
        c.find(Locator::Css("#password")).await?.send_keys("remit-demo").await?;
        c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
        // The click may return before the browser has followed the redirect: wait for it.
        for _ in 0..100 {
            if !c.current_url().await?.path().starts_with("/login") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("still on the sign-in page as {username}")
    }

    /// Saves a screenshot of the page as it stands, after checking it with axe-core: every page state a test shows
    /// is one a person reaches.
    async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        self.accessible(name).await?;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Runs axe-core (vendored, `tests/vendor/axe-core-*`) on the page as it stands, for the WCAG 2.2 A and AA rules:
    /// any violation fails, named with the elements it found.
    async fn accessible(&self, state: &str) -> Result<()> {
        let axe = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(AXE))?;
        // Run as WebDriver's own script, which the page's Content-Security-Policy does not govern.
        self.client.execute(&format!("{axe}\n;return null;"), vec![]).await?;
        let run = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: "tag",
                    values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}, resultTypes: ["violations"]})
               .then(r => done(r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " — "
                    + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join("; "))))
               .catch(e => done(["axe failed: " + e]));
        "#;
        let found = self.client.execute_async(run, vec![]).await?;
        let found: Vec<String> = serde_json::from_value(found)?;
        ensure!(
            found.is_empty(),
            "{state}: {} accessibility violations:\n{}",
            found.len(),
            found.join("\n")
        );
        Ok(())
    }

    async fn text(&self, css: &str) -> Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Waits up to five seconds for the page's text to contain `needle`.
    async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String> {
        let mut last = String::new();
        for _ in 0..50 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(needle) {
                    return Ok(last);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("`{css}` never showed `{needle}`; last text: {last}")
    }

    /// Waits up to `seconds` for the element to be shown with text containing `needle`.
    async fn wait_for_visible(&self, css: &str, needle: &str, seconds: u64) -> Result<String> {
        let mut last = String::new();
        for _ in 0..seconds * 10 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && e.is_displayed().await.unwrap_or(false)
            {
                last = e.text().await.unwrap_or_default();
                if last.contains(needle) {
                    return Ok(last);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("`{css}` never showed `{needle}`; last text: {last}")
    }

    async fn fill(&self, id: &str, value: &str) -> Result<()> {
        let e = self.client.find(Locator::Id(id)).await?;
        e.clear().await?;
        e.send_keys(value).await?;
        Ok(())
    }

    async fn close(mut self) -> Result<()> {
        let r = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        self.server.abort();
        r.map_err(Into::into)
    }
}

/// Runs a browser test, closing the browser whatever happens.
async fn with_browser<F>(db: TestDb, f: F) -> Result<()>
where
    F: for<'a> FnOnce(&'a Browser) -> futures_util::future::BoxFuture<'a, Result<()>>,
{
    with_browser_under(db, Config::default(), f).await
}

/// [`with_browser`] with the server under `config`.
async fn with_browser_under<F>(db: TestDb, config: Config, f: F) -> Result<()>
where
    F: for<'a> FnOnce(&'a Browser) -> futures_util::future::BoxFuture<'a, Result<()>>,
{
    let b = Browser::start(&db, config).await?;
    let outcome = f(&b).await;
    if outcome.is_err() {
        let _ = b.screenshot("failure").await;
    }
    b.close().await?;
    outcome
}

const MARGARET: &str = "9990001375";

async fn an_assistant_practitioner_records_a_7_and_sees_the_emergency_response(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.sign_in("alex.ap").await?;
            // `/` sent Alex to the ward board.
            let mut path = String::new();
            for _ in 0..50 {
                path = b.client.current_url().await?.path().to_owned();
                if path == "/wards/ward-7" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ensure!(path == "/wards/ward-7", "signed in at {path}");
            b.wait_for_text("#board", "David Clarke").await?;
            b.screenshot("ward-board").await?;
            b.client.goto(&b.url(&format!("/patients/{MARGARET}"))).await?;
            b.wait_for_text("main", "NEWS2 chart").await?;
            b.screenshot("patient-chart").await?;
            b.client
                .goto(&b.url(&format!("/patients/{MARGARET}/observations/new")))
                .await?;
            // RR 25 (3), SpO2 93 (2), SBP 105 (1), pulse 105 (1), alert, 37.5: NEWS2 7.
            for (id, v) in [
                ("respiration_rate", "25"),
                ("spo2", "93"),
                ("systolic_bp", "105"),
                ("pulse", "105"),
                ("temperature", "37.5"),
            ] {
                b.fill(id, v).await?;
            }
            b.client
                .find(Locator::Id("consciousness"))
                .await?
                .select_by_value("alert")
                .await?;
            // The score shows as the values are typed, before saving.
            let live = b.wait_for_text("#live-score", "NEWS2 7").await?;
            ensure!(
                live.contains("High risk") && live.contains("Emergency response"),
                "{live}"
            );
            b.client
                .find(Locator::Css("#set-form button[type=submit]"))
                .await?
                .click()
                .await?;
            let saved = b.wait_for_text("#saved", "NEWS2 7").await?;
            ensure!(
                saved.contains("high risk") && saved.contains("Emergency response"),
                "{saved}"
            );
            ensure!(b.text("#escalation-raised").await?.contains("emergency"));
            b.screenshot("recorded-7-emergency").await?;
            Ok(())
        })
    })
    .await
}

async fn a_nurses_open_inbox_shows_a_new_escalation_without_reloading(db: TestDb) -> Result<()> {
    // Pages that do not update themselves ask every second here (every 20 by default).
    let config = Config {
        inbox_poll: Duration::from_secs(1),
        ..Config::default()
    };
    with_browser_under(db, config, |b| {
        Box::pin(async move {
            b.sign_in("priya.rn").await?;
            b.client.goto(&b.url("/inbox")).await?;
            b.wait_for_text("#escalations", "David Clarke").await?;
            ensure!(!b.text("#escalations").await?.contains("Margaret Hughes"));
            // A marker that a reload would wipe.
            b.client.execute("window.stillHere = 42; return null;", vec![]).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // The header counts what waits for her acknowledgement, as the page's title does.
            let count = "return Number(document.getElementById('inbox-count').textContent || 0);";
            let titled = |n: i64| {
                if n > 0 {
                    format!("({n}) Inbox")
                } else {
                    "Inbox".to_owned()
                }
            };
            let before = b.client.execute(count, vec![]).await?.as_i64().unwrap_or(0);
            let title = b.client.execute("return document.title;", vec![]).await?;
            ensure!(
                title.as_str().is_some_and(|t| t.starts_with(&titled(before))),
                "{title}"
            );
            // Alex records a 7 for Margaret elsewhere.
            let set = json!({"respiration_rate": 25, "spo2": 93, "on_oxygen": false, "systolic_bp": 105, "pulse": 105,
                             "consciousness": "alert", "temperature": 37.5});
            let (readings, _) = Readings::from_json(set.as_object().context("set")?)?;
            let r = RecordSet {
                patient: remit_domain::nhs::NhsNumber::parse(MARGARET)?,
                by: Username::parse("alex.ap")?,
                supervisor: None,
                taken_at: None,
                readings,
                scale: None,
            };
            let s = &b.state;
            match obs::record(&s.store, &s.pack, &r, "staff:alex.ap", None).await? {
                // The service announces it: the page hears of it through its stream.
                remit_services::scope::Outcome::Done(_) => {}
                remit_services::scope::Outcome::Refused(r) => bail!("refused: {r:?}"),
            }
            b.wait_for_text("#escalations", "Margaret Hughes").await?;
            let marker = b.client.execute("return window.stillHere;", vec![]).await?;
            ensure!(marker == json!(42), "the page was reloaded: {marker}");
            // The count rises in the header and the title, and the rise is alerted (a tone, a notification where
            // allowed), once.
            let mut now = (0, json!(null), json!(null));
            for _ in 0..50 {
                now = (
                    b.client.execute(count, vec![]).await?.as_i64().unwrap_or(0),
                    b.client.execute("return document.title;", vec![]).await?,
                    b.client
                        .execute("return document.body.dataset.alerts || null;", vec![])
                        .await?,
                );
                if now.0 == before + 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ensure!(now.0 == before + 1, "the header's count did not rise: {now:?}");
            ensure!(
                now.1.as_str().is_some_and(|t| t.starts_with(&titled(before + 1))),
                "{now:?}"
            );
            ensure!(now.2 == json!("1"), "one alert raised: {now:?}");
            // Most urgent first: Margaret's new emergency waits for acknowledgement, ahead of any escalation that
            // waits only for review.
            let order: Vec<String> = b
                .client
                .execute(
                    "return [...document.querySelectorAll('[data-escalation]')].map(e => e.dataset.state);",
                    vec![],
                )
                .await?
                .as_array()
                .context("states")?
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect();
            let first_reviewed = order.iter().position(|s| s != "open").unwrap_or(order.len());
            ensure!(
                order[first_reviewed..].iter().all(|s| s != "open"),
                "unacknowledged first: {order:?}"
            );
            b.screenshot("inbox-new-escalation").await?;
            // Acknowledge it.
            let buttons = b.client.find_all(Locator::Css("[data-escalation] button")).await?;
            let mut clicked = false;
            for button in buttons {
                if button.text().await?.contains("Acknowledge") {
                    let html = button.html(false).await?;
                    if html.contains("Margaret Hughes") {
                        button.click().await?;
                        clicked = true;
                        break;
                    }
                }
            }
            ensure!(clicked, "no Acknowledge button for Margaret Hughes");
            // Waited for by name: the inbox already says "acknowledged" of the escalations acknowledged before.
            let msg = b.wait_for_text("main", "Margaret Hughes acknowledged").await?;
            ensure!(msg.contains("Margaret Hughes acknowledged"), "{msg}");
            b.screenshot("inbox-acknowledged").await?;
            // On a page that does not update itself (her own work), a new escalation is still counted and alerted.
            b.client.goto(&b.url("/me")).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = b.client.execute(count, vec![]).await?.as_i64().unwrap_or(0);
            let (readings, _) = Readings::from_json(set.as_object().context("set")?)?;
            let george = RecordSet {
                patient: remit_domain::nhs::NhsNumber::parse("9990005486")?,
                by: Username::parse("alex.ap")?,
                supervisor: None,
                taken_at: None,
                readings,
                scale: None,
            };
            match obs::record(&s.store, &s.pack, &george, "staff:alex.ap", None).await? {
                // The service announces it: the page hears of it through its stream.
                remit_services::scope::Outcome::Done(_) => {}
                remit_services::scope::Outcome::Refused(r) => bail!("refused: {r:?}"),
            }
            let mut heard = (0, json!(null));
            for _ in 0..50 {
                heard = (
                    b.client.execute(count, vec![]).await?.as_i64().unwrap_or(0),
                    b.client
                        .execute("return document.body.dataset.alerts || null;", vec![])
                        .await?,
                );
                if heard.0 == before + 1 && heard.1 == json!("1") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ensure!(
                heard.0 == before + 1 && heard.1 == json!("1"),
                "a page that is not live did not hear the escalation: {heard:?}"
            );
            b.client.goto(&b.url("/inbox")).await?;
            // The session ends behind the page's back: its stream ends, and the page says it is no longer live.
            let cookie = b.client.get_named_cookie("remit_session").await?;
            b.state.store.end_session(cookie.value()).await?;
            b.state.events.credentials_changed();
            let mut stopped = String::new();
            for _ in 0..150 {
                if let Ok(e) = b.client.find(Locator::Id("live-stopped")).await {
                    stopped = e.text().await.unwrap_or_default();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ensure!(
                stopped.contains("stopped updating"),
                "no notice that the page stopped updating"
            );
            b.screenshot("inbox-no-longer-live").await?;
            Ok(())
        })
    })
    .await
}

async fn a_support_worker_is_asked_to_name_a_supervisor(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.sign_in("sam.hca").await?;
            b.client
                .goto(&b.url(&format!("/patients/{MARGARET}/observations/new")))
                .await?;
            let label = b.text("label[for=supervisor]").await?;
            ensure!(label.contains("required at your level"), "{label}");
            for (id, v) in [
                ("respiration_rate", "16"),
                ("spo2", "97"),
                ("systolic_bp", "124"),
                ("pulse", "76"),
                ("temperature", "37.0"),
            ] {
                b.fill(id, v).await?;
            }
            b.client
                .find(Locator::Id("consciousness"))
                .await?
                .select_by_value("alert")
                .await?;
            b.client
                .find(Locator::Css("#set-form button[type=submit]"))
                .await?
                .click()
                .await?;
            let reasons = b.wait_for_text("#reasons", "supervision").await?;
            ensure!(reasons.contains("name a registered colleague on duty"), "{reasons}");
            b.screenshot("support-worker-needs-supervisor").await?;
            // Naming Priya, on duty on the ward, records the set.
            b.client
                .find(Locator::Id("supervisor"))
                .await?
                .select_by_value("priya.rn")
                .await?;
            b.client
                .find(Locator::Css("#set-form button[type=submit]"))
                .await?
                .click()
                .await?;
            b.wait_for_text("#saved", "NEWS2 0").await?;
            Ok(())
        })
    })
    .await
}

async fn an_assistant_practitioner_who_tries_to_prescribe_sees_the_reasons(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.sign_in("alex.ap").await?;
            b.client.goto(&b.url("/patients/9990002746/prescribe")).await?;
            b.fill("medicine", "Amoxicillin").await?;
            b.fill("dose", "500 mg").await?;
            b.fill("frequency", "three times a day").await?;
            b.client
                .find(Locator::Css("main form button[type=submit]"))
                .await?
                .click()
                .await?;
            let reasons = b.wait_for_text("#reasons", "Prescribing").await?;
            ensure!(
                reasons.contains("GMC registration") && reasons.contains("independent-prescriber"),
                "{reasons}"
            );
            ensure!(!reasons.to_lowercase().contains("forbidden"));
            b.screenshot("prescribing-refused").await?;
            Ok(())
        })
    })
    .await
}

/// H1: an earlier answer arriving after a later one is ignored, so the live score always belongs to what is typed
/// now; and the page says how often the next set is due.
async fn the_live_score_never_shows_a_stale_answer(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.sign_in("alex.ap").await?;
            b.client
                .goto(&b.url(&format!("/patients/{MARGARET}/observations/new")))
                .await?;
            b.wait_for_text("#live-score", "Type the values").await?;
            // The network made slow for the first answer only: it arrives a second and a half late, after every
            // later one.
            b.client
                .execute(
                    "var real = window.fetch, n = 0; window.fetch = function (u, o) { var p = real(u, o); \
                     if (++n !== 1) return p; return new Promise(function (ok) { setTimeout(function () { ok(p); }, \
                     1500); }); }; return null;",
                    vec![],
                )
                .await?;
            // The first question: consciousness alone (NEWS2 0 so far).
            b.client
                .find(Locator::Id("consciousness"))
                .await?
                .select_by_value("alert")
                .await?;
            // Then the rest, for NEWS2 7.
            for (id, v) in [
                ("respiration_rate", "25"),
                ("spo2", "93"),
                ("systolic_bp", "105"),
                ("pulse", "105"),
                ("temperature", "37.5"),
            ] {
                b.fill(id, v).await?;
            }
            // Only the whole set, temperature included, is NEWS2 7 with continuous monitoring (without the
            // temperature it is "NEWS2 7 so far", due within the hour).
            let live = b.wait_for_text("#live-score", "continuous monitoring").await?;
            ensure!(live.contains("NEWS2 7 —"), "the frequency that follows: {live}");
            // Wait past the late answer: it must not replace the score of what is typed now.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let live = b.text("#live-score").await?;
            ensure!(
                live.contains("NEWS2 7") && !live.contains("so far"),
                "a stale answer was shown: {live}"
            );
            b.screenshot("live-score").await?;
            b.client
                .find(Locator::Css("#set-form button[type=submit]"))
                .await?
                .click()
                .await?;
            let due = b.wait_for_text("#next-due", "continuous monitoring").await?;
            ensure!(due.contains("Next set due by"), "{due}");
            Ok(())
        })
    })
    .await
}

/// The accessibility check every screenshot runs can fail: a field with no label, added to the sign-in page, is found;
/// the page as served has no violation.
async fn the_accessibility_check_finds_a_violation_and_the_sign_in_page_has_none(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.client.goto(&b.url("/login")).await?;
            b.accessible("the sign-in page").await?;
            b.client
                .execute(
                    "document.querySelector('form').appendChild(document.createElement('input')); return null;",
                    vec![],
                )
                .await?;
            let found = b.accessible("the sign-in page with an unlabelled field").await;
            let err = found.err().context("an unlabelled field was not found")?.to_string();
            ensure!(err.contains("label"), "{err}");
            Ok(())
        })
    })
    .await
}

/// Every page each role reaches from its navigation, on a desktop and on a 390 px phone: no WCAG 2.2 A/AA violation
/// that axe-core finds, and nothing that makes the phone's page scroll sideways.
async fn every_page_is_accessible_and_fits_a_phone(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            let pages: [(&str, &[&str]); 4] = [
                (
                    "priya.rn",
                    &[
                        "/wards/ward-7",
                        "/patients/9990002746",
                        "/patients/9990001375",
                        "/patients/9990001375/observations/new",
                        "/inbox",
                        "/me",
                        "/me/progression?activity=procedure.catheterisation",
                        "/me/revalidation",
                        "/pay",
                        "/pay?band=4&salary=27000",
                    ],
                ),
                ("tom.rad", &["/imaging", "/imaging/requests/1", "/imaging/requests/2"]),
                ("lee.edu", &["/education"]),
                ("admin", &["/audit"]),
            ];
            let mut problems = Vec::new();
            for (who, paths) in pages {
                b.client.delete_all_cookies().await?;
                b.sign_in(who).await?;
                for path in paths {
                    for width in [1280, 390] {
                        b.client.set_window_size(width, 900).await?;
                        b.client.goto(&b.url(path)).await?;
                        if let Err(e) = b.accessible(&format!("{path} as {who} at {width} px")).await {
                            problems.push(e.to_string());
                        }
                        let sizes = b
                            .client
                            .execute(
                                "return [document.documentElement.scrollWidth, window.innerWidth];",
                                vec![],
                            )
                            .await?;
                        let (wide, view) = (sizes[0].as_i64().unwrap_or(0), sizes[1].as_i64().unwrap_or(0));
                        if wide > view {
                            problems.push(format!(
                                "{path} as {who} at {width} px scrolls sideways: {wide} > {view}"
                            ));
                        }
                        if *path == "/wards/ward-7" && width == 390 {
                            b.screenshot("ward-board-phone").await?;
                        }
                        // The NHS.UK frontend library styles the page: its header, in NHS blue.
                        let blue =
                            "return getComputedStyle(document.querySelector('header.nhsuk-header')).backgroundColor;";
                        if b.client.execute(blue, vec![]).await? != json!("rgb(0, 94, 184)") {
                            problems.push(format!("{path} as {who}: the NHS.UK header is not styled"));
                        }
                        if width == 390 {
                            // One line of header: its height is one row of links, not two or three.
                            let tall = b
                                .client
                                .execute("return document.querySelector('header').offsetHeight;", vec![])
                                .await?;
                            if tall.as_i64().is_none_or(|h| h > 64) {
                                problems.push(format!("{path} as {who}: the header is {tall} px tall at 390 px"));
                            }
                        }
                        if *path == "/patients/9990001375" && width == 390 {
                            // The chart is wider than the phone: it opens with her newest set in view.
                            let at_end = "const c = document.querySelector('.chart'); \
                                          const n = c.querySelector('[data-newest]').getBoundingClientRect(); \
                                          const v = c.getBoundingClientRect(); \
                                          return c.scrollWidth > c.clientWidth && c.scrollLeft > 0 \
                                              && n.left >= v.left - 1 && n.right <= v.right + 1;";
                            if b.client.execute(at_end, vec![]).await? != json!(true) {
                                problems.push("the chart does not open on its newest set at 390 px".into());
                            }
                        }
                    }
                }
            }
            b.client.set_window_size(1280, 900).await?;
            ensure!(problems.is_empty(), "{}", problems.join("\n"));
            Ok(())
        })
    })
    .await
}

/// Before an idle session ends the page warns and offers to stay signed in; once it has ended, the page says so and
/// offers to sign in again and come back; signed in again, the set being typed is filled back in.
async fn a_session_ending_mid_set_warns_first_and_loses_nothing(db: TestDb) -> Result<()> {
    let mut config = Config::default();
    // Twelve seconds without a request: the warning comes three seconds before the end.
    config.sessions.idle = chrono::Duration::seconds(12);
    with_browser_under(db, config, |b| {
        Box::pin(async move {
            b.sign_in("alex.ap").await?;
            let form = format!("/patients/{MARGARET}/observations/new");
            b.client.goto(&b.url(&form)).await?;
            b.fill("respiration_rate", "25").await?;
            b.fill("pulse", "105").await?;
            let warned = b.wait_for_visible("#session-warning", "signed out in", 15).await?;
            ensure!(warned.contains("privacy"), "{warned}");
            b.screenshot("session-warning").await?;
            b.client
                .find(Locator::Css("#session-warning button"))
                .await?
                .click()
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let hidden = b
                .client
                .execute("return document.getElementById('session-warning').hidden;", vec![])
                .await?;
            ensure!(hidden == json!(true), "staying signed in hides the warning");
            // The session then ends (the server's clock moved on with the page's).
            let ended = b
                .wait_for_visible("#session-warning", "You have been signed out", 20)
                .await?;
            ensure!(ended.contains("kept"), "{ended}");
            b.clock.advance(chrono::Duration::seconds(30));
            b.screenshot("session-ended").await?;
            b.client.find(Locator::Css("#session-warning a")).await?.click().await?;
            let c = &b.client;
            c.find(Locator::Css("#username")).await?.send_keys("alex.ap").await?;
            c.find(Locator::Css("#password")).await?.send_keys("remit-demo").await?;
            c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
            b.wait_for_text("main", "filled back in").await?;
            ensure!(c.current_url().await?.path() == form, "back on the form");
            let rr = c.find(Locator::Id("respiration_rate")).await?.prop("value").await?;
            let pulse = c.find(Locator::Id("pulse")).await?.prop("value").await?;
            ensure!(
                rr.as_deref() == Some("25") && pulse.as_deref() == Some("105"),
                "{rr:?} {pulse:?}"
            );
            b.screenshot("set-kept-after-signing-in-again").await?;
            // A correction half typed over the set as it stands is kept too: the page opened again fills it back in.
            b.client.goto(&b.url(&format!("/patients/{MARGARET}"))).await?;
            let amend = c
                .execute(
                    "return document.querySelector('a[href$=\"/amend\"]').getAttribute('href');",
                    vec![],
                )
                .await?;
            let amend = amend.as_str().context("a Correct link")?.to_owned();
            c.goto(&b.url(&amend)).await?;
            let served = c.find(Locator::Id("pulse")).await?.prop("value").await?;
            b.fill("pulse", "99").await?;
            b.fill("change_reason", "pulse recounted").await?;
            c.goto(&b.url(&amend)).await?;
            let said = b.wait_for_text("main", "filled back in").await?;
            ensure!(said.contains("save the correction"), "{said}");
            let pulse = c.find(Locator::Id("pulse")).await?.prop("value").await?;
            let why = c.find(Locator::Id("change_reason")).await?.prop("value").await?;
            ensure!(
                pulse.as_deref() == Some("99") && why.as_deref() == Some("pulse recounted") && served != pulse,
                "{served:?} {pulse:?} {why:?}"
            );
            Ok(())
        })
    })
    .await
}

/// On a phone, tabbing through the record form with the live score's panel held at the top of the screen: each field
/// that takes the focus is below the panel, never under it.
async fn no_field_is_hidden_under_the_live_score_on_a_phone(db: TestDb) -> Result<()> {
    with_browser(db, |b| {
        Box::pin(async move {
            b.sign_in("alex.ap").await?;
            b.client.set_window_size(390, 700).await?;
            b.client
                .goto(&b.url(&format!("/patients/{MARGARET}/observations/new")))
                .await?;
            // A score that fills the panel with words.
            b.fill("respiration_rate", "25").await?;
            b.fill("spo2", "93").await?;
            b.fill("pulse", "105").await?;
            let pick = "document.getElementById('consciousness').value = 'alert'; \
                        document.getElementById('consciousness').dispatchEvent(new Event('change', {bubbles: true})); \
                        return null;";
            b.client.execute(pick, vec![]).await?;
            b.wait_for_text("#live-score", "NEWS2").await?;
            let ids = [
                "respiration_rate",
                "spo2",
                "systolic_bp",
                "pulse",
                "temperature",
                "oxygen_flow",
                "diastolic_bp",
                "missing_reason",
            ];
            let mut hidden = Vec::new();
            // Scrolled to the foot of the form first, so that going back up passes under the panel.
            b.client
                .execute("window.scrollTo(0, document.body.scrollHeight); return null;", vec![])
                .await?;
            for id in ids.iter().rev() {
                let check = format!(
                    "const f = document.getElementById('{id}'); f.focus(); \
                     const p = document.getElementById('live-score').getBoundingClientRect(); \
                     const r = f.getBoundingClientRect(); \
                     return p.top <= 1 && r.top < p.bottom - 1;"
                );
                if b.client.execute(&check, vec![]).await? == json!(true) {
                    hidden.push(*id);
                }
            }
            b.client.set_window_size(1280, 1000).await?;
            ensure!(
                hidden.is_empty(),
                "fields under the live score when focused: {hidden:?}"
            );
            Ok(())
        })
    })
    .await
}

/// The browser tests that need the OpenID provider too (see `crate::oidc`).
pub fn oidc_tests() -> Vec<(&'static str, crate::helpers::TestFn)> {
    vec![("oidc_a_nurse_signs_in_through_the_trusts_provider", |db| {
        Box::pin(oidc_a_nurse_signs_in_through_the_trusts_provider(db))
    })]
}

/// Waits up to ten seconds for an element.
async fn find_soon(c: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return Ok(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no `{css}` on {}", c.current_url().await?)
}

/// Signs in at the provider as `who` from remit's sign-in page, consenting where asked, until the browser is back at
/// remit.
async fn provider_sign_in(b: &Browser, who: &str) -> Result<()> {
    let c = &b.client;
    c.goto(&b.url("/login?next=/wards/ward-9")).await?;
    ensure!(
        c.find(Locator::Css("#password")).await.is_err(),
        "no password form when password sign-in is off"
    );
    c.find(Locator::Id("sign-in-provider")).await?.click().await?;
    find_soon(c, "input[name=login]").await?.send_keys(who).await?;
    c.find(Locator::Css("input[name=password]"))
        .await?
        .send_keys("anything")
        .await?;
    c.find(Locator::Css("button[type=submit]")).await?.click().await?;
    for _ in 0..100 {
        let url = c.current_url().await?;
        // Back at remit, past the callback's redirect (or refused there, on its page).
        if url.as_str().starts_with(&b.base)
            && (url.path() != "/login/oidc/callback" || c.find(Locator::Css("main h1")).await.is_ok())
        {
            return Ok(());
        }
        if c.find(Locator::Css("input[name=prompt][value=consent]")).await.is_ok()
            && let Ok(go) = c.find(Locator::Css("button[type=submit]")).await
        {
            let _ = go.click().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = c.source().await.unwrap_or_default();
    bail!(
        "never came back from the provider: {}\n{}",
        c.current_url().await?,
        page.chars().take(3000).collect::<String>()
    )
}

async fn oidc_a_nurse_signs_in_through_the_trusts_provider(db: TestDb) -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let provider = crate::oidc::start(&base)?;
    let oidc = remit_server::oidc::Oidc::discover(crate::oidc::settings(&provider, &base))
        .await
        .map_err(anyhow::Error::msg)?;
    let config = Config {
        oidc: Some(Arc::new(oidc)),
        password_sign_in: false,
        ..Config::default()
    };
    let b = Browser::start_on(&db, listener, config).await?;
    let outcome = oidc_story(&b).await;
    if outcome.is_err() {
        let _ = b.screenshot("failure-oidc").await;
    }
    b.close().await?;
    drop(provider);
    outcome
}

async fn oidc_story(b: &Browser) -> Result<()> {
    let c = &b.client;
    c.goto(&b.url("/login")).await?;
    ensure!(b.text("#sign-in-provider").await? == "Sign in with NHS Care Identity");
    b.screenshot("sign-in-through-the-provider").await?;

    // An administrator links Ben to his identity at the provider (its `sub`).
    let ben = b.state.store.staff_id(&Username::parse("ben.rn")?).await?;
    b.state
        .store
        .command(
            remit_domain::audit::AuditDraft::permit("test", "staff.link-identity", "staff:ben.rn"),
            move |tx| Box::pin(async move { tx.link_oidc_subject(ben, Some("cis2-5551234")).await }),
        )
        .await?;

    // Ben signs in at the provider and lands where he was going, signed in to remit.
    provider_sign_in(b, "cis2-5551234").await?;
    ensure!(
        c.current_url().await?.path() == "/wards/ward-9",
        "{}: {}",
        c.current_url().await?,
        b.text("main").await.unwrap_or_default()
    );
    b.wait_for_text("h1", "Ward 9").await?;

    // Signing out of remit signs out of the provider too (its end-session page asks to confirm).
    c.find(Locator::Css("form[action='/logout'] button"))
        .await?
        .click()
        .await?;
    find_soon(c, "button[name=logout]").await?.click().await?;
    for _ in 0..100 {
        if c.current_url().await?.as_str() == b.url("/login") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        c.current_url().await?.as_str() == b.url("/login"),
        "{}",
        c.current_url().await?
    );
    c.goto(&b.url("/wards/ward-9")).await?;
    b.wait_for_text("h1", "Sign in needed").await?;

    // Someone the provider knows and remit does not is refused, and gains nothing — even with a remit username as
    // their identity there: only a link an administrator made counts.
    provider_sign_in(b, "priya.rn").await?;
    let refused = b.wait_for_text("main", "no remit staff member is linked").await?;
    ensure!(refused.contains("`priya.rn`"), "{refused}");
    c.goto(&b.url("/wards/ward-9")).await?;
    b.wait_for_text("h1", "Sign in needed").await?;

    // A way back that this browser did not start is refused.
    c.goto(&b.url("/login/oidc/callback?code=stolen&state=forged")).await?;
    b.wait_for_text("main", "was not started in this browser").await?;

    let log = b.state.store.audit_log(1000).await?;
    let oidc: Vec<_> = log.iter().filter(|e| e.action == "session.sign-in-oidc").collect();
    ensure!(
        oidc.iter()
            .any(|e| e.target == "staff:ben.rn" && e.decision == remit_domain::audit::Decision::Permit)
            && oidc
                .iter()
                .any(|e| e.target == "oidc:priya.rn" && e.decision == remit_domain::audit::Decision::Deny),
        "{oidc:?}"
    );
    Ok(())
}
