//! Several instances as one service: changes announced across processes (another instance, the command line), each
//! cascade step taken once however many instances sweep, readiness, migrations applied once by instances starting
//! together, and a stop that drains, ends event streams with a hint to reconnect, and loses nothing.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use remit_server::AppState;
use remit_services::obs;
use remit_store::Store;
use tower::ServiceExt;

use crate::helpers::{TestApp, TestClock, TestDb, expect_status, http, http_get, stdout};

crate::tests!(
    changes_reach_the_streams_of_every_instance_from_any_instance_and_the_command_line,
    each_cascade_step_is_taken_once_however_many_instances_sweep,
    health_is_ready_only_when_every_migration_is_applied_and_not_stopping,
    instances_starting_together_apply_each_migration_once_and_one_of_an_older_build_starts_after,
    a_stopping_instance_drains_ends_its_streams_with_a_retry_hint_and_loses_nothing,
);

const MARGARET: &str = "9990001375";
const GEORGE: &str = "9990005486";
/// A set that scores NEWS2 7: an emergency response.
const SEVEN: &str = r#"{"set":{"respiration_rate":25,"spo2":93,"on_oxygen":false,"systolic_bp":105,"pulse":105,"consciousness":"alert","temperature":37.5}}"#;

/// The demo trust on `db`, and a bearer token for each of `who`.
pub(crate) fn seeded_with_tokens<const N: usize>(db: &TestDb, who: [&str; N]) -> Result<[String; N]> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let mut tokens = [(); N].map(|()| String::new());
    for (t, staff) in tokens.iter_mut().zip(who) {
        let out = db.remit(&["token", "create", "--staff", staff]);
        expect_status(&out, 0)?;
        *t = stdout(&out).trim().to_owned();
    }
    Ok(tokens)
}

/// An open `/events` stream of a served remit, read as it arrives.
pub(crate) struct Stream {
    socket: TcpStream,
    seen: String,
}

impl Stream {
    /// Opens the stream for the holder of `token`; returns once the server has answered 200.
    pub(crate) fn open(addr: &str, token: &str) -> Result<Self> {
        let mut socket = TcpStream::connect(addr)?;
        socket.set_read_timeout(Some(StdDuration::from_millis(100)))?;
        write!(
            socket,
            "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        )?;
        let mut s = Self {
            socket,
            seen: String::new(),
        };
        let head = s.wait_for("\r\n\r\n", StdDuration::from_secs(5))?;
        ensure!(head.starts_with("HTTP/1.1 200"), "the stream was refused: {head}");
        Ok(s)
    }

    /// Waits up to `within` for `needle`; what came before it (which is forgotten, with the needle).
    pub(crate) fn wait_for(&mut self, needle: &str, within: StdDuration) -> Result<String> {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = self.seen.find(needle) {
                let before = self.seen[..i].to_owned();
                self.seen.drain(..i + needle.len());
                return Ok(before);
            }
            if start.elapsed() > within {
                bail!(
                    "`{needle}` did not come within {within:?}; the stream said: {:?}",
                    self.seen
                );
            }
            match self.socket.read(&mut buf) {
                Ok(0) => bail!("the stream ended before `{needle}`; it said: {:?}", self.seen),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads until the server ends the stream (within `within`); everything it said.
    pub(crate) fn until_end(&mut self, within: StdDuration) -> Result<String> {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < within {
            match self.socket.read(&mut buf) {
                Ok(0) => return Ok(std::mem::take(&mut self.seen)),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => bail!("the stream broke instead of ending: {e}"),
            }
        }
        bail!("the stream did not end within {within:?}: {:?}", self.seen)
    }
}

/// A process the test started, killed when dropped whatever the test's outcome (a failed check must not leave a
/// server running).
pub(crate) struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Killed {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Killed {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Sends SIGTERM to a child process.
pub(crate) fn terminate(child: &std::process::Child) -> Result<()> {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    ensure!(status.success(), "kill -TERM failed");
    Ok(())
}

async fn changes_reach_the_streams_of_every_instance_from_any_instance_and_the_command_line(db: TestDb) -> Result<()> {
    let [alex, priya] = seeded_with_tokens(&db, ["alex.ap", "priya.rn"])?;
    tokio::task::spawn_blocking(move || -> Result<()> {
        let (one, addr_one) = db.serve("warn")?;
        let (two, addr_two) = db.serve("warn")?;
        let _servers = (Killed(one), Killed(two));
        // Priya, the registered nurse on Ward 7, has the ward's board open on each instance.
        let mut on_one = Stream::open(&addr_one, &priya)?;
        let mut on_two = Stream::open(&addr_two, &priya)?;

        // Alex records a 7 for Margaret through the first instance: the second's stream is told within 2 s.
        let (status, text) = http(
            &addr_one,
            "POST",
            &format!("/api/patients/{MARGARET}/observations"),
            &alex,
            SEVEN,
        )?;
        ensure!(status == 201 && text.contains("\"escalation\":{"), "{text}");
        on_two.wait_for("event: escalation", StdDuration::from_secs(2))?;
        on_one.wait_for("event: escalation", StdDuration::from_secs(2))?;

        // A 7 for George from the command line (another process, no server of its own) reaches both.
        seven_from_the_command_line(&db, GEORGE)?;
        on_one.wait_for("event: escalation", StdDuration::from_secs(2))?;
        on_two.wait_for("event: escalation", StdDuration::from_secs(2))?;

        // Priya acknowledges through the second instance; the first is told.
        let id: i64 = {
            let body = text.split("\r\n\r\n").nth(1).context("body")?;
            let v: serde_json::Value = serde_json::from_str(body)?;
            v["escalation"]["id"].as_i64().context("escalation id")?
        };
        let (status, text) = http(
            &addr_two,
            "POST",
            &format!("/api/escalations/{id}/acknowledge"),
            &priya,
            "{}",
        )?;
        ensure!(status == 200, "{text}");
        on_one.wait_for("event: escalation", StdDuration::from_secs(2))?;

        Ok(())
    })
    .await?
}

async fn each_cascade_step_is_taken_once_however_many_instances_sweep(db: TestDb) -> Result<()> {
    // Three instances on the one database, on one clock, each delivering to the paging gateway.
    let (url, got) = crate::delivery::gateway(0).await?;
    let config = || crate::delivery::delivering(&url, remit_server::delivery::PatientData::None);
    let app = TestApp::demo_with_config(&db, config()?).await?;
    let id = app.seven_for_margaret().await?;
    let mut states = vec![app.state.clone()];
    for _ in 0..2 {
        let store = db.store(app.clock.clone()).await?;
        states.push(AppState::new(store, app.pack.clone(), config()?));
    }
    let routes = app.pack.escalation().clone();
    // Nobody answers: every minute for 40 minutes, each instance sweeps and delivers, all at once, twice.
    for _ in 0..40 {
        app.clock.advance(Duration::minutes(1));
        let sweeps = states.iter().flat_map(|s| [s.clone(), s.clone()]).map(|s| {
            let routes = routes.clone();
            tokio::spawn(async move { obs::sweep(&s.store, &routes).await })
        });
        for swept in futures_util::future::join_all(sweeps).await {
            swept??;
        }
        let ticks = states.iter().flat_map(|s| [s.clone(), s.clone()]).map(|s| {
            tokio::spawn(async move {
                let d = s.config.delivery.clone().context("delivery")?;
                remit_server::delivery::tick(&s, &d).await?;
                anyhow::Ok(())
            })
        });
        for ticked in futures_util::future::join_all(ticks).await {
            ticked??;
        }
    }
    let e = app.store.escalation(id).await?;
    ensure!(e.stage >= 3, "the cascade went on: stage {}", e.stage);
    // The history holds each step once, and the gateway's outbox one delivery a step.
    let mut raw = db.raw().await?;
    let history: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT what FROM escalation_event WHERE escalation_id = {id} AND what LIKE 'cascaded%' ORDER BY id"
    )))
    .fetch_all(&mut raw)
    .await?;
    let stages: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(stage AS BIGINT) FROM delivery WHERE escalation_id = {id} AND event = 'cascaded' ORDER BY stage"
    )))
    .fetch_all(&mut raw)
    .await?;
    let steps: Vec<i64> = (1..=i64::from(e.stage)).collect();
    ensure!(
        history.len() == steps.len(),
        "each step once in the history: {history:?}"
    );
    for (what, step) in history.iter().zip(&steps) {
        ensure!(what.starts_with(&format!("cascaded (step {step})")), "{history:?}");
    }
    // A late sweep may take several steps in one move, delivered once as the last of them.
    ensure!(
        stages.windows(2).all(|w| w[0] < w[1]) && stages.len() <= steps.len() && !stages.is_empty(),
        "one delivery a move, never two for a stage: {stages:?}"
    );
    let audited: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM audit_entry WHERE action = 'escalation.cascade' AND target = 'escalation:{id}'"
    )))
    .fetch_one(&mut raw)
    .await?;
    ensure!(
        audited == stages.len() as i64,
        "one audit entry a move: {audited} for {stages:?}"
    );
    // The gateway was sent each delivery once (the raising and each move), however many instances delivered.
    let keys: Vec<String> = got
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(h, _)| Some(h.get("idempotency-key")?.to_str().ok()?.to_owned()))
        .filter(|k| k.starts_with(&format!("remit-escalation-{id}-")))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    ensure!(
        keys.len() == distinct.len() && keys.len() == stages.len() + 1,
        "each delivery posted once: {keys:?} for the raising and {stages:?}"
    );
    Ok(())
}

async fn health_is_ready_only_when_every_migration_is_applied_and_not_stopping(db: TestDb) -> Result<()> {
    let clock = TestClock::new();
    let store = Store::connect(&db.url, clock.clone()).await?;
    let pack = Arc::new(remit_policy::PolicyPack::nhs_england());
    let state = AppState::new(store.clone(), pack, remit_server::Config::default());
    let router = remit_server::app(state.clone());
    let health = || async {
        let res = router
            .clone()
            .oneshot(Request::get("/health").body(Body::empty())?)
            .await?;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 16).await?;
        anyhow::Ok((status, serde_json::from_slice::<serde_json::Value>(&body)?))
    };
    // Not migrated: reachable, but not ready, and it says what is missing.
    let (status, body) = health().await?;
    ensure!(status == StatusCode::SERVICE_UNAVAILABLE, "{status}: {body}");
    ensure!(body["status"] == "unavailable" && body["database"] == "ok", "{body}");
    ensure!(
        body["migrations"]["missing"].as_array().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    // Migrated: ready, naming the latest.
    store.migrate().await?;
    let (status, body) = health().await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");
    ensure!(body["status"] == "ready", "{body}");
    let known = body["migrations"]["known"].as_i64().context("known")?;
    ensure!(body["migrations"]["latest"] == known && known >= 18, "{body}");
    ensure!(body["migrations"]["missing"] == serde_json::json!([]), "{body}");
    // Stopping: taken out.
    state
        .standing
        .stopping
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, body) = health().await?;
    ensure!(
        status == StatusCode::SERVICE_UNAVAILABLE && body["status"] == "stopping",
        "{status}: {body}"
    );
    state
        .standing
        .stopping
        .store(false, std::sync::atomic::Ordering::Relaxed);
    // The database gone (PostgreSQL's pool refuses once closed; an SQLite file would be opened again): not ready,
    // and nothing about it but that.
    if !db.url.starts_with("postgres") {
        return Ok(());
    }
    store.close().await;
    let (status, body) = health().await?;
    ensure!(status == StatusCode::SERVICE_UNAVAILABLE, "{status}: {body}");
    ensure!(
        body["database"] == "unreachable" && body["migrations"].is_null(),
        "{body}"
    );
    Ok(())
}

async fn instances_starting_together_apply_each_migration_once_and_one_of_an_older_build_starts_after(
    db: TestDb,
) -> Result<()> {
    let clock = TestClock::new();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Store::connect(&db.url, clock.clone()).await?);
    }
    let migrating = stores.iter().map(|s| {
        let s = s.clone();
        tokio::spawn(async move { s.migrate().await })
    });
    for m in futures_util::future::join_all(migrating).await {
        m?.context("an instance starting beside others could not migrate")?;
    }
    let m = stores[0].migrations().await?;
    ensure!(m.ready() && m.unknown.is_empty(), "{m:?}");
    let mut raw = db.raw().await?;
    let (rows, distinct): (i64, i64) = sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
        .fetch_one(&mut raw)
        .await?;
    ensure!(
        rows == distinct && rows == m.known as i64,
        "{rows} rows, {distinct} versions"
    );
    // A newer build migrates the database during a rolling upgrade: this build can still start against it, and
    // stays ready, naming the migration it does not know.
    let checksum = if db.url.starts_with("postgres") {
        "decode('00', 'hex')"
    } else {
        "x'00'"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'a newer build', TRUE, {checksum}, 0)"
    )))
    .execute(&mut raw)
    .await?;
    stores[1]
        .migrate()
        .await
        .context("starting beside a newer build's database")?;
    let m = stores[1].migrations().await?;
    ensure!(m.ready() && m.unknown == vec![9999], "{m:?}");
    Ok(())
}

async fn a_stopping_instance_drains_ends_its_streams_with_a_retry_hint_and_loses_nothing(db: TestDb) -> Result<()> {
    let [alex, priya] = seeded_with_tokens(&db, ["alex.ap", "priya.rn"])?;
    tokio::task::spawn_blocking(move || -> Result<()> {
        let (server, addr) = db.serve_with("warn", &["--drain", "1.5"])?;
        let mut server = Killed(server);
        let mut stream = Stream::open(&addr, &priya)?;
        // A client posting sets, one connection each, until the server stops accepting.
        let poster = {
            let (addr, alex) = (addr.clone(), alex.clone());
            std::thread::spawn(move || -> Result<Vec<i64>> {
                let mut acknowledged = Vec::new();
                let start = Instant::now();
                while start.elapsed() < StdDuration::from_secs(20) {
                    let Ok((status, text)) = http(
                        &addr,
                        "POST",
                        &format!("/api/patients/{MARGARET}/observations"),
                        &alex,
                        SEVEN,
                    ) else {
                        // Refused: the server stopped accepting.
                        return Ok(acknowledged);
                    };
                    ensure!(status == 201, "a request during the stop failed: {text}");
                    acknowledged.push(set_id(&text).context("a set id")?);
                }
                bail!("the server never stopped accepting")
            })
        };
        std::thread::sleep(StdDuration::from_millis(300));
        terminate(&server)?;
        // Draining: still serving, but no longer ready.
        std::thread::sleep(StdDuration::from_millis(300));
        let (status, body) = http_get(&addr, "/health")?;
        ensure!(status == 503 && body.contains("\"stopping\""), "{body}");
        // The stream ends with a hint to reconnect soon (to another instance).
        let said = stream.until_end(StdDuration::from_secs(10))?;
        ensure!(
            said.contains("event: stopping") && said.contains("retry: 1000"),
            "{said:?}"
        );
        let acknowledged = poster.join().map_err(|_| anyhow::anyhow!("the client panicked"))??;
        ensure!(acknowledged.len() > 3, "too little load: {acknowledged:?}");
        // It exits by itself, cleanly.
        let start = Instant::now();
        let status = loop {
            if let Some(status) = server.try_wait()? {
                break status;
            }
            ensure!(
                start.elapsed() < StdDuration::from_secs(15),
                "still running after SIGTERM"
            );
            std::thread::sleep(StdDuration::from_millis(50));
        };
        ensure!(status.success(), "{status}");
        // Every acknowledged set is stored, and the audit chain verifies.
        all_stored_and_the_chain_verifies(&db, &acknowledged)
    })
    .await?
}

/// The trials that need PostgreSQL alone (what several instances share in production).
pub fn postgres_tests() -> Vec<(&'static str, crate::helpers::TestFn)> {
    vec![(
        "a_dropped_listener_is_listening_again_and_open_pages_are_told_to_read_again",
        |db| Box::pin(a_dropped_listener_is_listening_again_and_open_pages_are_told_to_read_again(db)),
    )]
}

/// The trials that need PostgreSQL and HAProxy from Debian's packages.
pub fn load_balancer_tests() -> Vec<(&'static str, crate::helpers::TestFn)> {
    vec![(
        "a_rolling_restart_behind_haproxy_loses_nothing_and_a_killed_instance_is_retried_elsewhere",
        |db| Box::pin(a_rolling_restart_behind_haproxy_loses_nothing_and_a_killed_instance_is_retried_elsewhere(db)),
    )]
}

async fn a_dropped_listener_is_listening_again_and_open_pages_are_told_to_read_again(db: TestDb) -> Result<()> {
    let [admin, priya] = seeded_with_tokens(&db, ["admin", "priya.rn"])?;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let (mut server, addr) = db.serve("warn")?;
        let outcome = (|| -> Result<()> {
            let mut stream = Stream::open(&addr, &priya)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            // The server's listening connection is cut, as a network fault or a restarted database would.
            let cut = rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                let start = Instant::now();
                loop {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
                    )
                    .fetch_one(&mut conn)
                    .await?;
                    if n > 0 {
                        return anyhow::Ok(n);
                    }
                    ensure!(
                        start.elapsed() < StdDuration::from_secs(5),
                        "no listening connection found"
                    );
                    tokio::time::sleep(StdDuration::from_millis(50)).await;
                }
            })?;
            ensure!(cut == 1, "one listening connection an instance: {cut}");
            // The open page is told at once that anything may have changed, and the instance listens again within
            // seconds.
            stream.wait_for("event: change", StdDuration::from_secs(5))?;
            ready_saying(&addr, "\"following\"", StdDuration::from_secs(5))?;
            // And it hears the others again: a set recorded from the command line reaches the stream.
            seven_from_the_command_line(&db, GEORGE)?;
            stream.wait_for("event: escalation", StdDuration::from_secs(2))?;
            // What an operator watches says so.
            let (status, metrics) = http(&addr, "GET", "/metrics", &admin, "")?;
            ensure!(status == 200, "{metrics}");
            ensure!(
                metrics.contains("remit_changes_following 1") && metrics.contains("remit_changes_resumed_total 1"),
                "{metrics}"
            );
            Ok(())
        })();
        let _ = server.kill();
        let _ = server.wait();
        outcome
    })
    .await?
}

/// The trials that make PostgreSQL clusters of their own (a primary and a hot standby), with the server's programs
/// from Debian's packages, run as the `postgres` user.
pub fn standby_tests() -> Vec<(&'static str, crate::helpers::TestFn)> {
    vec![(
        "remit_carries_on_against_a_promoted_standby_with_every_acknowledged_set",
        |_| Box::pin(remit_carries_on_against_a_promoted_standby_with_every_acknowledged_set()),
    )]
}

/// PostgreSQL's own programs (initdb, pg_ctl, pg_basebackup), of the newest version installed.
pub fn postgres_bin() -> Option<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_basebackup").exists())
        .collect();
    found.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// HAProxy, as the tests run it.
pub const HAPROXY: &str = "/usr/sbin/haproxy";

/// A free loopback port (bound and let go).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `GET /health` at `addr` answers 200.
fn ready(addr: &str, within: StdDuration) -> Result<()> {
    ready_saying(addr, "", within)
}

/// Waits until `GET /health` at `addr` answers 200 with `said` in its body.
fn ready_saying(addr: &str, said: &str, within: StdDuration) -> Result<()> {
    let start = Instant::now();
    loop {
        let answer = http_get(addr, "/health");
        if matches!(&answer, Ok((200, body)) if body.contains(said)) {
            return Ok(());
        }
        ensure!(
            start.elapsed() < within,
            "{addr} was not ready saying `{said}` within {within:?}: {answer:?}"
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
}

/// Checks that every set in `acknowledged` is stored, and that the audit chain verifies (`remit audit verify`).
fn all_stored_and_the_chain_verifies(db: &TestDb, acknowledged: &[i64]) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let store = db.store(TestClock::new()).await?;
        for id in acknowledged {
            ensure!(
                !store.obs_history(*id).await?.is_empty(),
                "set {id} acknowledged and lost"
            );
        }
        store.close().await;
        anyhow::Ok(())
    })?;
    expect_status(&db.remit(&["audit", "verify"]), 0)
}

/// The set a 201 answer to a recorded set names.
fn set_id(answer: &str) -> Option<i64> {
    let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1)?).ok()?;
    body["set"]["set_id"].as_i64()
}

/// Records a 7 for `patient` by Alex from the command line: another process, with no server of its own.
fn seven_from_the_command_line(db: &TestDb, patient: &str) -> Result<()> {
    let out = db.remit(&[
        "obs",
        "record",
        "--patient",
        patient,
        "--by",
        "alex.ap",
        "--rr",
        "25",
        "--spo2",
        "93",
        "--sbp",
        "105",
        "--pulse",
        "105",
        "--acvpu",
        "alert",
        "--temp",
        "37.5",
    ]);
    expect_status(&out, 0)
}

/// Whether the clients' failures are allowed now (an instance was killed) or not (a graceful restart).
#[derive(Default)]
struct Load {
    acknowledged: std::sync::Mutex<Vec<i64>>,
    /// Failures while none was allowed: what failed.
    failed: std::sync::Mutex<Vec<String>>,
    /// Failures while an instance was killed, tried again.
    retried: std::sync::atomic::AtomicUsize,
    killing: std::sync::atomic::AtomicBool,
    stop: std::sync::atomic::AtomicBool,
}

impl Load {
    /// `n` clients recording sets for Alex at `addr`, one request a connection, until told to stop: a set answered
    /// 201 is acknowledged; any other answer is a failure, or, while an instance is killed, tried again.
    fn clients(self: &Arc<Self>, addr: &str, token: &str, n: usize) -> Vec<std::thread::JoinHandle<()>> {
        use std::sync::atomic::Ordering::Relaxed;
        (0..n)
            .map(|c| {
                let (load, addr, token) = (self.clone(), addr.to_owned(), token.to_owned());
                std::thread::spawn(move || {
                    let patients = [MARGARET, GEORGE, "9990004110"];
                    let mut i = c;
                    while !load.stop.load(Relaxed) {
                        i += n;
                        let path = format!("/api/patients/{}/observations", patients[i % 3]);
                        let answer = http(&addr, "POST", &path, &token, SEVEN);
                        let acknowledged = match &answer {
                            Ok((201, text)) => set_id(text),
                            _ => None,
                        };
                        if let Some(id) = acknowledged {
                            load.acknowledged.lock().expect("lock").push(id);
                        } else if load.killing.load(Relaxed) {
                            // The client tries again, and reaches the other instance (or the promoted standby).
                            load.retried.fetch_add(1, Relaxed);
                            std::thread::sleep(StdDuration::from_millis(20));
                        } else {
                            let failure = match answer {
                                Ok((status, text)) => format!("{status}: {}", text.lines().next().unwrap_or_default()),
                                Err(e) => e.to_string(),
                            };
                            load.failed.lock().expect("lock").push(failure);
                        }
                    }
                })
            })
            .collect()
    }
}

/// Stops the clients of a [`Load`] when dropped, whatever the test's outcome.
struct Stops(Arc<Load>);

impl Drop for Stops {
    fn drop(&mut self) {
        self.0.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn a_rolling_restart_behind_haproxy_loses_nothing_and_a_killed_instance_is_retried_elsewhere(
    db: TestDb,
) -> Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let [alex] = seeded_with_tokens(&db, ["alex.ap"])?;
    tokio::task::spawn_blocking(move || -> Result<()> {
        let ports = [free_port()?, free_port()?];
        let lb = format!("127.0.0.1:{}", free_port()?);
        let start = |i: usize| {
            db.serve_on("warn", &format!("127.0.0.1:{}", ports[i]), &["--drain", "2.5"])
                .map(|(child, _)| Killed(child))
        };
        let mut instances = [start(0)?, start(1)?];
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");
        let _haproxy = Killed(
            std::process::Command::new(HAPROXY)
                .args(["-db", "-f", config])
                .env("REMIT_LB_BIND", &lb)
                .env("REMIT_ONE", format!("127.0.0.1:{}", ports[0]))
                .env("REMIT_TWO", format!("127.0.0.1:{}", ports[1]))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("starting haproxy")?,
        );
        ready(&lb, StdDuration::from_secs(10))?;
        // Both up (two good checks each).
        std::thread::sleep(StdDuration::from_millis(1500));
        let load = Arc::new(Load::default());
        let _stops = Stops(load.clone());
        let clients = load.clients(&lb, &alex, 8);
        std::thread::sleep(StdDuration::from_millis(500));
        // A rolling restart: each in turn is told to stop, exits by itself, and starts again.
        for i in 0..2 {
            terminate(&instances[i])?;
            let exited = instances[i].wait()?;
            ensure!(exited.success(), "instance {i} exited {exited}");
            instances[i] = start(i)?;
            ready(&format!("127.0.0.1:{}", ports[i]), StdDuration::from_secs(10))?;
            // HAProxy takes it back after two good checks.
            std::thread::sleep(StdDuration::from_millis(1500));
        }
        let graceful = load.acknowledged.lock().expect("lock").len();
        let failed = load.failed.lock().expect("lock").clone();
        ensure!(
            failed.is_empty(),
            "requests failed during a graceful restart: {failed:?}"
        );
        // One killed outright: clients that try again reach the other.
        load.killing.store(true, Relaxed);
        instances[0].kill()?;
        instances[0].wait()?;
        std::thread::sleep(StdDuration::from_secs(2));
        let after_kill = load.acknowledged.lock().expect("lock").len();
        instances[0] = start(0)?;
        ready(&format!("127.0.0.1:{}", ports[0]), StdDuration::from_secs(10))?;
        load.stop.store(true, Relaxed);
        for c in clients {
            c.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
        }
        ensure!(graceful > 20, "too little load: {graceful} sets through the restarts");
        ensure!(
            load.acknowledged.lock().expect("lock").len() > after_kill && after_kill > graceful,
            "the other instance served after the kill"
        );
        eprintln!(
            "rolling restart: {graceful} sets acknowledged through two graceful restarts, none failed; {} \
             acknowledged in all, {} tried again after the kill",
            load.acknowledged.lock().expect("lock").len(),
            load.retried.load(Relaxed)
        );
        // Every acknowledged set is stored, and the audit chain verifies.
        let acknowledged = load.acknowledged.lock().expect("lock").clone();
        all_stored_and_the_chain_verifies(&db, &acknowledged)
    })
    .await?
}

/// Two PostgreSQL clusters of the test's own: a primary, and a hot standby replicating from it synchronously.
struct Pair {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    ports: [u16; 2],
}

impl Pair {
    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .output()?;
        ensure!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    fn data(&self, which: &str) -> String {
        self.dir.path().join(which).display().to_string()
    }

    fn pg_ctl(&self, which: &str, args: &[&str]) -> Result<()> {
        let (data, log) = (self.data(which), self.data(&format!("{which}.log")));
        let mut all = vec!["-D", &data, "-l", &log];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn start() -> Result<Self> {
        let bin = postgres_bin().context("PostgreSQL's programs are not installed")?;
        let dir = tempfile::tempdir()?;
        let chown = std::process::Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()?;
        ensure!(chown.success(), "chown");
        let pair = Self {
            dir,
            bin,
            ports: [free_port()?, free_port()?],
        };
        let primary = pair.data("primary");
        pair.run(
            "initdb",
            &["-D", &primary, "-U", "postgres", "-A", "trust", "--no-sync"],
        )?;
        // The primary commits only once the standby has the commit. The standby, once promoted, has no standby of
        // its own to wait for.
        let settings = |port: u16, waits_for: &str| {
            format!(
                "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = '{waits_for}'\n\
                 synchronous_commit = on\nshared_buffers = 16MB\n",
                pair.dir.path().display()
            )
        };
        let append = |file: String, text: String| -> Result<()> {
            let mut f = std::fs::OpenOptions::new().append(true).open(file)?;
            f.write_all(text.as_bytes())?;
            Ok(())
        };
        append(format!("{primary}/postgresql.conf"), settings(pair.ports[0], "standby"))?;
        pair.pg_ctl("primary", &["-w", "start"])?;
        let standby = pair.data("standby");
        let port = pair.ports[0].to_string();
        pair.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &standby,
                "-R",
                "-X",
                "stream",
            ],
        )?;
        append(
            format!("{standby}/postgresql.auto.conf"),
            format!(
                "\nprimary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=standby'\n",
                pair.ports[0]
            ),
        )?;
        append(format!("{standby}/postgresql.conf"), settings(pair.ports[1], ""))?;
        pair.pg_ctl("standby", &["-w", "start"])?;
        Ok(pair)
    }

    /// The database `remit` on the primary, once the standby replicates synchronously; the URL naming both.
    async fn database(&self) -> Result<String> {
        use sqlx::{Connection as _, Executor as _};
        let primary = format!("postgres://postgres@127.0.0.1:{}/postgres", self.ports[0]);
        let mut conn = sqlx::PgConnection::connect(&primary).await?;
        let start = Instant::now();
        loop {
            let sync: Option<String> =
                sqlx::query_scalar("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'")
                    .fetch_optional(&mut conn)
                    .await?;
            if sync.as_deref() == Some("sync") {
                break;
            }
            ensure!(
                start.elapsed() < StdDuration::from_secs(20),
                "the standby never replicated synchronously"
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        conn.execute("CREATE DATABASE remit").await?;
        conn.close().await?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/remit?target_session_attrs=read-write",
            self.ports[0], self.ports[1]
        ))
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for which in ["primary", "standby"] {
            let _ = self.pg_ctl(which, &["-m", "immediate", "stop"]);
        }
    }
}

async fn remit_carries_on_against_a_promoted_standby_with_every_acknowledged_set() -> Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let pair = tokio::task::spawn_blocking(Pair::start).await??;
    let db = TestDb {
        url: pair.database().await?,
    };
    let [alex] = seeded_with_tokens(&db, ["alex.ap"])?;
    let pair = Arc::new(pair);
    tokio::task::spawn_blocking(move || -> Result<()> {
        let (mut server, addr) = db.serve("warn")?;
        let outcome = (|| -> Result<()> {
            let load = Arc::new(Load::default());
            let _stops = Stops(load.clone());
            load.killing.store(true, Relaxed);
            let clients = load.clients(&addr, &alex, 4);
            std::thread::sleep(StdDuration::from_secs(1));
            // The primary dies under load; the standby is promoted.
            pair.pg_ctl("primary", &["-m", "immediate", "stop"])?;
            let before = load.acknowledged.lock().expect("lock").len();
            pair.pg_ctl("standby", &["-w", "promote"])?;
            // remit finds the new primary by itself.
            let start = Instant::now();
            while load.acknowledged.lock().expect("lock").len() < before + 20 {
                ensure!(
                    start.elapsed() < StdDuration::from_secs(30),
                    "remit did not carry on against the promoted standby"
                );
                std::thread::sleep(StdDuration::from_millis(50));
            }
            load.stop.store(true, Relaxed);
            for c in clients {
                c.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
            }
            // It listens for other instances' changes on the new primary too, and says it is ready.
            ready_saying(&addr, "\"following\"", StdDuration::from_secs(15))?;
            let acknowledged = load.acknowledged.lock().expect("lock").clone();
            ensure!(before > 10, "too little load before the failover: {before}");
            eprintln!(
                "failover: {before} sets acknowledged before the primary died, {} in all; {} requests tried again, \
                 resumed after {:?}",
                acknowledged.len(),
                load.retried.load(Relaxed),
                start.elapsed()
            );
            // Every acknowledged set is on the new primary, and the audit chain verifies there.
            all_stored_and_the_chain_verifies(&db, &acknowledged)
        })();
        let _ = server.kill();
        let _ = server.wait();
        outcome
    })
    .await?
}
