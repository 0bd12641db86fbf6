//! Crash safety: the real server, under load from concurrent clients, killed with SIGKILL at random moments and
//! restarted each time. Every acknowledged set must survive, nothing may be half-written, the audit chain must
//! verify and (SQLite) the file must pass `PRAGMA integrity_check`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use remit_domain::audit::Decision;
use sqlx::Row;

use crate::helpers::{TestClock, TestDb, expect_status, http, stdout};

crate::tests!(
    acknowledged_sets_survive_sigkill_under_load,
    the_reference_write_rate_is_measured_and_leaves_nothing_behind
);

/// The load harness's reference, the database's own durable write rate, runs on either database and leaves its table
/// gone (a second run creates it again).
async fn the_reference_write_rate_is_measured_and_leaves_nothing_behind(db: TestDb) -> Result<()> {
    let store = db.store(TestClock::new()).await?;
    store.migrate().await?;
    let rate = store.durable_insert_rate(4, Duration::from_millis(300)).await?;
    ensure!(rate > 1.0, "{rate} inserts a second");
    let again = store.durable_insert_rate(1, Duration::from_millis(100)).await?;
    ensure!(again > 1.0, "{again} inserts a second");
    Ok(())
}

/// How many times the server is killed.
const KILLS: usize = 20;
/// Clients posting sets at once.
const CLIENTS: usize = 6;
/// Patients on Ward 7, where the assistant practitioner is on duty.
const WARD_7: [&str; 3] = ["9990001375", "9990004110", "9990005486"];

/// A small, seeded generator: the kill times vary from run to run, and a failure prints the seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Posts one set; `Some(set_id)` only when the server answered 201 with the whole body.
fn post_set(addr: &str, token: &str, nhs: &str, seq: u64) -> Option<i64> {
    let rr = 12 + seq % 14;
    let body = format!(
        r#"{{"set":{{"respiration_rate":{rr},"spo2":96,"on_oxygen":false,"systolic_bp":124,"pulse":{},"consciousness":"alert","temperature":37.1}}}}"#,
        60 + seq % 50
    );
    let (status, text) = http(addr, "POST", &format!("/api/patients/{nhs}/observations"), token, &body).ok()?;
    if status != 201 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(text.split("\r\n\r\n").nth(1)?).ok()?;
    json["set"]["set_id"].as_i64()
}

async fn acknowledged_sets_survive_sigkill_under_load(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let out = db.remit(&["token", "create", "--staff", "alex.ap"]);
    expect_status(&out, 0)?;
    let token = stdout(&out).trim().to_owned();
    let store = db.store(TestClock::new()).await?;
    let sets_before = store.count_obs_sets().await?;
    let records_before = records(&store).await?;
    store.close().await;

    let seed = u64::from(chrono::Utc::now().timestamp_subsec_nanos());
    let acknowledged: Arc<Mutex<Vec<i64>>> = Arc::default();
    let db_url = db.url.clone();
    let ack = acknowledged.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let db = TestDb { url: db_url };
        let mut rng = Lcg(seed);
        for round in 0..KILLS {
            let (mut server, addr) = db
                .serve("error")
                .with_context(|| format!("round {round}, seed {seed}"))?;
            let stop = Arc::new(AtomicBool::new(false));
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (stop, ack, token, addr) = (stop.clone(), ack.clone(), token.clone(), addr.clone());
                    std::thread::spawn(move || {
                        let mut seq = (round * CLIENTS + c) as u64 * 1000;
                        while !stop.load(Ordering::Relaxed) {
                            seq += 1;
                            if let Some(id) = post_set(&addr, &token, WARD_7[(seq as usize) % 3], seq) {
                                ack.lock().expect("lock").push(id);
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(30 + rng.next(400)));
            server.kill()?; // SIGKILL
            server.wait()?;
            stop.store(true, Ordering::Relaxed);
            for c in clients {
                c.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
            }
        }
        // The last restart recovers the database and serves.
        let (mut server, _) = db.serve("error")?;
        server.kill()?;
        server.wait()?;
        Ok(())
    })
    .await??;

    let acknowledged = acknowledged.lock().expect("lock").clone();
    ensure!(
        acknowledged.len() > KILLS,
        "too little load: {} sets acknowledged",
        acknowledged.len()
    );
    let store = db.store(TestClock::new()).await?;
    // Every acknowledged set is there, whole.
    for id in &acknowledged {
        let versions = store.obs_history(*id).await?;
        ensure!(
            versions.len() == 1 && versions[0].state == "current",
            "set {id}: {versions:?} (seed {seed})"
        );
    }
    // Nothing half-written: every stored set came with its audit entry, and the other way round.
    let sets = store.count_obs_sets().await? - sets_before;
    let recorded = records(&store).await? - records_before;
    ensure!(
        sets == recorded,
        "{sets} sets stored but {recorded} recordings audited (seed {seed})"
    );
    ensure!(
        sets >= acknowledged.len() as i64,
        "{sets} sets for {} acknowledged",
        acknowledged.len()
    );
    eprintln!(
        "crash test ({}): {KILLS} kills, {} sets acknowledged, {} more committed as the server died (seed {seed})",
        if db.url.starts_with("sqlite:") {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        acknowledged.len(),
        sets - acknowledged.len() as i64
    );
    if db.url.starts_with("sqlite:") {
        let mut raw = db.raw().await?;
        let check: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&mut raw)
            .await?
            .try_get(0)?;
        ensure!(check == "ok", "integrity_check: {check}");
    }
    store.close().await;
    let out = db.remit(&["audit", "verify"]);
    expect_status(&out, 0).with_context(|| format!("audit verify after {KILLS} kills (seed {seed})"))?;
    Ok(())
}

/// Recordings in the audit log (each set recorded is one permitted `vitals.record` entry).
async fn records(store: &remit_store::Store) -> Result<i64> {
    Ok(store
        .audit_log(1_000_000)
        .await?
        .iter()
        .filter(|e| e.action == "vitals.record" && e.decision == Decision::Permit)
        .count() as i64)
}
