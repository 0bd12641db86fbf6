//! Escalations delivered to the employer's paging gateway: a real receiver on loopback that fails the first attempts,
//! the signature checked by an independent implementation (Python's `hmac`), at least once under one idempotency key,
//! nothing lost when the server stops between the write and the delivery, and a delivery that fails for good shown
//! on the escalation's pages and counted.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, ensure};
use axum::http::{HeaderMap, StatusCode};
use remit_server::Config;
use remit_server::delivery::{Delivery, PatientData, tick};
use serde_json::Value;

use crate::helpers::{TestApp, TestDb};

crate::tests!(
    escalations_reach_the_gateway_at_least_once_and_signed,
    an_escalation_written_before_a_stop_is_delivered_after_it,
    a_delivery_that_fails_for_good_is_shown_and_counted
);

const SECRET: &str = "a-shared-secret-of-the-trust";
const MARGARET: &str = "9990001375";

/// What the gateway received: each request's headers and body.
pub(crate) type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A gateway on loopback that answers 503 to the first `failures` attempts of each delivery (by its idempotency
/// key), then 200.
pub(crate) async fn gateway(failures: usize) -> Result<(String, Received)> {
    let got: Received = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/page",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().unwrap();
                let key = headers.get("idempotency-key").cloned();
                all.push((headers, body));
                let tries = all
                    .iter()
                    .filter(|(h, _)| h.get("idempotency-key") == key.as_ref())
                    .count();
                if tries <= failures {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/page"), got))
}

pub(crate) fn delivering(url: &str, data: PatientData) -> Result<Config> {
    let d = Delivery::new(url, SECRET.as_bytes().to_vec(), data).map_err(anyhow::Error::msg)?;
    Ok(Config {
        delivery: Some(d),
        ..Config::default()
    })
}

/// The requests the gateway received about escalation `id`.
fn about(got: &Received, id: i64) -> Vec<(HeaderMap, Value)> {
    got.lock()
        .unwrap()
        .iter()
        .filter_map(|(h, b)| {
            let v: Value = serde_json::from_str(b).ok()?;
            (v["escalation"] == id).then(|| (h.clone(), v))
        })
        .collect()
}

/// Checks a signature as a gateway would, with Python's own HMAC.
fn signature_holds(headers: &HeaderMap, body: &str) -> Result<bool> {
    let sig = headers.get("remit-signature").context("a signature")?.to_str()?;
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|r| r.split_once(",v1="))
        .context("t=…,v1=…")?;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; \
             print(hmac.compare_digest(hmac.new(sys.argv[1].encode(), (sys.argv[2] + '.' + sys.argv[3]).encode(), \
             hashlib.sha256).hexdigest(), sys.argv[4]))",
            SECRET,
            t,
            body,
            v1,
        ])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "True")
}

async fn escalations_reach_the_gateway_at_least_once_and_signed(db: TestDb) -> Result<()> {
    let (url, got) = gateway(2).await?;
    let app = TestApp::demo_with_config(&db, delivering(&url, PatientData::None)?).await?;
    let d = app.state.config.delivery.clone().context("delivery")?;
    let id = app.seven_for_margaret().await?;
    let priya = app.token_for("priya.rn").await?;
    let path = format!("/api/escalations/{id}");
    let status = || async { anyhow::Ok(app.get(&path, &priya).await?.json()?["delivery"].clone()) };
    ensure!(status().await?["state"] == "pending", "{}", status().await?);

    // First attempt: the gateway is down (503); tried again after 5 s, not before.
    tick(&app.state, &d).await?;
    let s = status().await?;
    ensure!(
        s["state"] == "pending" && s["attempts"] == 1 && s["last_error"].as_str().unwrap_or("").contains("503"),
        "{s}"
    );
    tick(&app.state, &d).await?;
    ensure!(about(&got, id).len() == 1, "not tried again before its time");
    app.clock.advance(chrono::Duration::seconds(5));
    tick(&app.state, &d).await?;
    app.clock.advance(chrono::Duration::seconds(10));
    tick(&app.state, &d).await?;
    let s = status().await?;
    ensure!(s["state"] == "delivered" && s["attempts"] == 3, "{s}");
    tick(&app.state, &d).await?;

    // Three attempts, one delivery: the same idempotency key each time, each signed.
    let sent = about(&got, id);
    ensure!(sent.len() == 3, "{} attempts", sent.len());
    let keys: Vec<&str> = sent
        .iter()
        .map(|(h, _)| h.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or(""))
        .collect();
    ensure!(!keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    for (headers, body) in got.lock().unwrap().iter() {
        ensure!(
            signature_holds(headers, body)?,
            "the signature does not hold for {body}"
        );
    }
    // What it says: the escalation, how urgent, where, who it is for and what to do; of the patient, nothing the
    // employer did not allow (no name, no NHS number, not even in the link).
    let (_, body) = &sent[2];
    ensure!(
        body["event"] == "raised" && body["level"] == "emergency" && body["score"] == 7,
        "{body}"
    );
    ensure!(
        body["place"] == "Ward 7 — Acute Medical Unit" && body["bed"] == "1",
        "{body}"
    );
    ensure!(
        body["response"].as_str().unwrap_or("").contains("Emergency response"),
        "{body}"
    );
    let to: Vec<&str> = body["to"]
        .as_array()
        .context("to")?
        .iter()
        .filter_map(|r| r["username"].as_str())
        .collect();
    ensure!(to.contains(&"priya.rn"), "{to:?}");
    let text = body.to_string();
    ensure!(
        !text.contains("Margaret") && !text.contains("Hughes") && !text.contains(MARGARET),
        "patient data the employer did not allow: {text}"
    );

    // Not acknowledged in time: the cascade's step is delivered too.
    app.clock.advance(chrono::Duration::minutes(20));
    remit_services::obs::sweep(&app.store, app.pack.escalation()).await?;
    tick(&app.state, &d).await?;
    let events: Vec<String> = about(&got, id)
        .iter()
        .map(|(_, b)| b["event"].as_str().unwrap_or("").to_owned())
        .collect();
    ensure!(events.last().map(String::as_str) == Some("cascaded"), "{events:?}");
    Ok(())
}

async fn an_escalation_written_before_a_stop_is_delivered_after_it(db: TestDb) -> Result<()> {
    let (url, got) = gateway(0).await?;
    let id = {
        // The server raises the escalation and stops before its deliverer runs.
        let app = TestApp::demo_with_config(&db, delivering(&url, PatientData::Full)?).await?;
        app.seven_for_margaret().await?
    };
    ensure!(about(&got, id).is_empty());
    // Started again: the outbox still holds it, and it is delivered, with what the employer allows (here all).
    let app = TestApp::demo_with_config(&db, delivering(&url, PatientData::Full)?).await?;
    let d = app.state.config.delivery.clone().context("delivery")?;
    tick(&app.state, &d).await?;
    let sent = about(&got, id);
    ensure!(sent.len() == 1, "{} deliveries", sent.len());
    let body = &sent[0].1;
    ensure!(
        body["patient_name"] == "Margaret Hughes" && body["nhs_number"] == MARGARET,
        "{body}"
    );
    Ok(())
}

async fn a_delivery_that_fails_for_good_is_shown_and_counted(db: TestDb) -> Result<()> {
    let (url, got) = gateway(usize::MAX).await?;
    let mut config = delivering(&url, PatientData::Name)?;
    if let Some(d) = config.delivery.as_mut() {
        d.max_attempts = 3;
    }
    let app = TestApp::demo_with_config(&db, config).await?;
    let d = app.state.config.delivery.clone().context("delivery")?;
    let id = app.seven_for_margaret().await?;
    for _ in 0..4 {
        tick(&app.state, &d).await?;
        app.clock.advance(chrono::Duration::minutes(1));
    }
    ensure!(about(&got, id).len() == 3, "three attempts, then no more");
    ensure!(about(&got, id)[0].1["patient_name"] == "Margaret Hughes");
    let priya = app.sign_in("priya.rn", remit_store::demo::DEMO_PASSWORD).await?;
    let inbox = app.get("/inbox", &priya).await?;
    let card = inbox
        .body
        .split("data-escalation=")
        .find(|c| c.starts_with(&format!("\"{id}\"")))
        .context("Margaret's escalation in the inbox")?;
    ensure!(
        card.contains("data-delivery=\"failed\"") && card.contains("not delivered</strong> after 3 attempts"),
        "{card}"
    );
    let admin = app.token_for("admin").await?;
    let metrics = app.get("/metrics", &admin).await?;
    ensure!(
        metrics
            .body
            .contains("remit_escalation_deliveries_total{outcome=\"failed\"} 1"),
        "{}",
        metrics.body
    );
    Ok(())
}
