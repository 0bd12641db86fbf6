//! `remit-bench`: the load harness. It seeds a fresh database (the demo trust plus `--patients N` on the wards),
//! starts the real `remit serve` as a child process on a loopback port, and drives `--clients C` concurrent API
//! clients for `--duration S` seconds: each records observation sets as FHIR transaction Bundles and now and then
//! reads a ward board or a patient's chart. It prints throughput, p50/p99/max latency per operation, the server's
//! peak RSS and its CPU time per request answered, and checks at the end that every set it counted as acknowledged
//! is in the database. With `--instances N` it starts N servers on the one database behind HAProxy (the repository's
//! `deploy/haproxy.cfg`, with a `server` line for each), and with `--rolling` restarts each in turn during the load
//! (SIGTERM, wait for it to exit, start it again), as a rolling upgrade does.
//!
//! Before the load it measures the database's own durable write rate from as many clients on the same server (one-row
//! inserts, each its own transaction: `Store::durable_insert_rate`), and reports remit's sets a second as a share of
//! it, which compares across hosts where absolute figures do not. With `--callgrind N` it runs no load: it serves
//! under valgrind's callgrind and counts the server's instructions for N sets, N boards and N charts.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use remit_domain::audit::AuditDraft;
use remit_domain::nhs::NhsNumber;
use remit_domain::patient::{Patient, Sex};
use remit_domain::place::PlaceCode;
use remit_domain::staff::{PersonName, Username};
use remit_domain::time::SystemClock;
use remit_policy::PolicyPack;
use remit_store::Store;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(name = "remit-bench", about = "Drive a real remit server and measure it")]
struct Args {
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// For `--backend postgres`: a server where the harness may create and drop its database.
    #[arg(
        long,
        env = "REMIT_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Patients to add, spread over Ward 7 and Ward 9.
    #[arg(long, default_value_t = 60)]
    patients: usize,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Out of every 20 requests, how many read a ward board and how many a chart (the rest record sets).
    #[arg(long, default_value_t = 1)]
    boards_per_20: u32,
    #[arg(long, default_value_t = 1)]
    charts_per_20: u32,
    /// The `remit` binary to serve with (by default, the one next to this harness).
    #[arg(long)]
    remit: Option<PathBuf>,
    /// Older sets to put in the table before the load, spread over every patient (the chart and board targets are
    /// for a table of 1,000,000).
    #[arg(long, default_value_t = 0)]
    fill_sets: u64,
    /// Audit entries to append before the load (through the store's group commit), so that `audit verify` is
    /// measured over a long chain.
    #[arg(long, default_value_t = 0)]
    fill_audit: u64,
    /// Keep the database afterwards (its URL is printed on standard error), to look into or profile; with
    /// `--callgrind`, keep its dumps too (`callgrind_annotate` reads them).
    #[arg(long)]
    keep: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Serve with this many instances on the one database, behind HAProxy (1 measures the load balancer alone).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=8))]
    instances: Option<u8>,
    /// With `--instances 2` or more: restart each instance in turn during the load, as a rolling upgrade does.
    #[arg(long, requires = "instances")]
    rolling: bool,
    /// The HAProxy configuration for `--instances`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy.cfg"))]
    haproxy_config: PathBuf,
    /// Seconds of the reference run before the load: the database's own durable write rate (one-row inserts, each
    /// its own transaction) from as many clients, on the same server; remit's sets a second are reported as a share
    /// of it. 0 leaves it out.
    #[arg(long, default_value_t = 5)]
    reference_seconds: u64,
    /// Instead of the load: serve under valgrind's callgrind and count the server's instructions for this many
    /// recorded sets, boards and charts, each asked in turn by one client (a cost a request that does not move with
    /// the host's speed or what else it runs).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    callgrind: Option<u32>,
}

/// The servers under load: one, or several behind HAProxy.
struct Servers {
    remit: PathBuf,
    url: String,
    ports: Vec<u16>,
    children: Vec<tokio::process::Child>,
    haproxy: Option<tokio::process::Child>,
    /// Where the clients send their requests.
    port: u16,
    /// Kept while HAProxy runs: its configuration, written for this run.
    _dir: Option<tempfile::TempDir>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Servers {
    fn spawn_one(remit: &PathBuf, url: &str, port: u16) -> Result<tokio::process::Child> {
        tokio::process::Command::new(remit)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--drain", "2.5"])
            .env("REMIT_DATABASE_URL", url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting remit serve")
    }

    async fn start(args: &Args, remit: PathBuf, url: &str) -> Result<Self> {
        let n = usize::from(args.instances.unwrap_or(1));
        let ports = (0..n).map(|_| free_port()).collect::<Result<Vec<_>>>()?;
        let children = ports
            .iter()
            .map(|&p| Self::spawn_one(&remit, url, p))
            .collect::<Result<Vec<_>>>()?;
        let (haproxy, port, dir) = match args.instances {
            None => (None, ports[0], None),
            Some(_) => {
                // The repository's configuration, with a server line for each instance.
                let text = std::fs::read_to_string(&args.haproxy_config)
                    .with_context(|| format!("reading {}", args.haproxy_config.display()))?;
                let mut config: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("server "))
                    .map(|l| format!("{l}\n"))
                    .collect();
                for (i, p) in ports.iter().enumerate() {
                    config.push_str(&format!("    server i{i} 127.0.0.1:{p}\n"));
                }
                let dir = tempfile::tempdir()?;
                let file = dir.path().join("haproxy.cfg");
                std::fs::write(&file, config)?;
                let port = free_port()?;
                let child = tokio::process::Command::new("haproxy")
                    .args(["-db", "-f"])
                    .arg(&file)
                    .env("REMIT_LB_BIND", format!("127.0.0.1:{port}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting haproxy (Debian's haproxy package)")?;
                (Some(child), port, Some(dir))
            }
        };
        Ok(Self {
            remit,
            url: url.to_owned(),
            ports,
            children,
            haproxy,
            port,
            _dir: dir,
        })
    }

    /// Restarts instance `i`: SIGTERM, its exit awaited, started again. Answers whether it exited cleanly.
    async fn restart(&mut self, i: usize) -> Result<bool> {
        let pid = self.children[i].id().context("instance pid")?;
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        ensure!(status.success(), "kill -TERM {pid}");
        let exited = self.children[i].wait().await?;
        self.children[i] = Self::spawn_one(&self.remit, &self.url, self.ports[i])?;
        Ok(exited.success())
    }

    async fn stop(&mut self) {
        for c in &mut self.children {
            c.kill().await.ok();
        }
        if let Some(h) = &mut self.haproxy {
            h.kill().await.ok();
        }
    }
}

struct Timings {
    record: Vec<u64>,
    board: Vec<u64>,
    chart: Vec<u64>,
    errors: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// A recorded set's body for `seed`: the respiration rate and pulse written into a patient's template (made once per
/// patient by [`set_bundle`]), so that the harness spends its share of the machine's two cores on requests rather
/// than on building JSON.
fn set_body(template: &str, seed: u64) -> String {
    let rr = 12 + (seed % 14) as i64;
    let pulse = 60 + (seed % 50) as i64;
    template
        .replace("\"value\":-1", &format!("\"value\":{rr}"))
        .replace("\"value\":-2", &format!("\"value\":{pulse}"))
}

/// A set as a transaction Bundle, with the respiration rate -1 and the pulse -2 for [`set_body`] to fill in.
fn set_bundle(nhs: &str, when: &str) -> Value {
    let (rr, pulse) = (-1, -2);
    let obs = |code: &str, value: (&str, Value)| {
        let mut o = json!({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/{nhs}")},
            "effectiveDateTime": when
        });
        o[value.0] = value.1;
        json!({"resource": o, "request": {"method": "POST", "url": "Observation"}})
    };
    let q = |v: i64, unit: &str| {
        (
            "valueQuantity",
            json!({"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}),
        )
    };
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        obs("9279-1", q(rr, "/min")),
        obs("59408-5", q(96, "%")),
        obs("3151-8", ("valueQuantity", json!({"value": 0, "unit": "L/min", "system": "http://unitsofmeasure.org", "code": "L/min"}))),
        obs("85354-9", ("component", json!([{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 125, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]))),
        obs("8867-4", q(pulse, "/min")),
        obs("67775-7", ("valueCodeableConcept", json!({"coding": [{"system": "http://loinc.org", "code": "LA9340-6"}]}))),
        obs("8310-5", ("valueQuantity", json!({"value": 37.1, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}))),
    ]})
}

/// NHS numbers from 9991000000 up that pass Modulus 11.
fn nhs_numbers(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut base: u64 = 999_100_000;
    while out.len() < n {
        let s = base.to_string();
        if let Ok(v) = NhsNumber::parse(&format!("{s}0")) {
            out.push(v.to_string());
        } else {
            for d in 0..10 {
                if let Ok(v) = NhsNumber::parse(&format!("{s}{d}")) {
                    out.push(v.to_string());
                    break;
                }
            }
        }
        base += 1;
    }
    out
}

/// The harness's own database: a fresh SQLite file (removed on drop) or a fresh PostgreSQL database (dropped at the
/// end of the run).
struct Database {
    url: String,
    drop: Option<(String, String)>,
    dir: Option<PathBuf>,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

async fn database(args: &Args) -> Result<Database> {
    let stamp = format!("{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    match args.backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("remit-bench-{stamp}"));
            std::fs::create_dir_all(&dir)?;
            Ok(Database {
                url: format!("sqlite://{}/bench.db", dir.display()),
                drop: None,
                dir: Some(dir),
            })
        }
        Backend::Postgres => {
            let name = format!("remit_bench_{stamp}");
            remit_store::admin_execute(&args.postgres_url, &format!("CREATE DATABASE {name}")).await?;
            let (base, _) = args
                .postgres_url
                .rsplit_once('/')
                .context("a postgres URL ends with /DATABASE")?;
            Ok(Database {
                url: format!("{base}/{name}"),
                drop: Some((args.postgres_url.clone(), name)),
                dir: None,
            })
        }
    }
}

async fn seed(url: &str, patients: usize) -> Result<(Vec<(String, &'static str)>, Vec<(&'static str, String)>)> {
    let store = Store::connect(url, Arc::new(SystemClock)).await?;
    store.migrate().await?;
    let pack = PolicyPack::nhs_england();
    remit_services::demo::seed(&store, &pack, &remit_domain::imaging::Catalogue::shipped(), "bench").await?;
    let numbers = nhs_numbers(patients);
    let mut placed = Vec::new();
    let mut tx = store.begin().await?;
    for (i, nhs) in numbers.iter().enumerate() {
        let ward = if i % 2 == 0 { "ward-7" } else { "ward-9" };
        let p = Patient {
            nhs_number: NhsNumber::parse(nhs)?,
            given_name: PersonName::parse("Bench")?,
            family_name: PersonName::parse(&format!("Patient {i}"))?,
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1950, 1, 1).context("date")?,
            sex: Sex::Unknown,
            place: PlaceCode::parse(ward)?,
            bed: Some(format!("B{}", 10 + i / 2)),
        };
        tx.insert_patient(&p).await?;
        placed.push((nhs.clone(), ward));
    }
    let mut tokens = Vec::new();
    for (user, ward) in [("priya.rn", "ward-7"), ("ben.rn", "ward-9")] {
        let id = store.staff_id(&Username::parse(user)?).await?;
        tokens.push((ward, tx.create_token(id, "bench").await?));
    }
    tx.commit(AuditDraft::permit("bench", "bench.seed", "bench")).await?;
    store.close().await;
    Ok((placed, tokens))
}

/// Copies a recorded set `n` times over every patient, each copy a minute older than the last, in one statement.
async fn fill_sets(url: &str, backend: Backend, n: u64) -> Result<()> {
    const COLUMNS: &str = "recorded_by, respiration_rate, spo2, spo2_scale, on_oxygen, oxygen_flow_tenths, \
        oxygen_device, systolic_bp, diastolic_bp, pulse, consciousness, temperature_tenths, missing, scores, total, \
        risk, monitoring, complete";
    let copied = COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let (series, stamp) = match backend {
        Backend::Sqlite => (
            format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n} - 1)"),
            "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-' || (n.i / c.c + 120) || ' minutes') || '.000000Z'",
        ),
        Backend::Postgres => (
            format!("WITH n(i) AS (SELECT generate_series(0, {n} - 1))"),
            "to_char((now() AT TIME ZONE 'UTC') - ((n.i / c.c + 120) * interval '1 minute'), \
             'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000000Z'",
        ),
    };
    let sql = format!(
        "{series}, t AS (SELECT * FROM obs_set WHERE state = 'current' AND complete = 1 ORDER BY id LIMIT 1), \
         p AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k FROM patient), \
         c AS (SELECT COUNT(*) AS c FROM patient) \
         INSERT INTO obs_set (version, patient_id, state, taken_at, recorded_at, next_due_at, {COLUMNS}) \
         SELECT 1, p.id, 'current', {stamp}, {stamp}, {stamp}, {copied} \
         FROM n CROSS JOIN t CROSS JOIN c JOIN p ON p.k = n.i % c.c"
    );
    remit_store::admin_execute(url, &sql).await?;
    if backend == Backend::Postgres {
        remit_store::admin_execute(url, "ANALYZE").await?;
    }
    Ok(())
}

/// Appends `n` audit entries from 64 concurrent writers, as commands arrive in a busy server.
async fn fill_audit(url: &str, n: u64) -> Result<()> {
    let store = Store::connect(url, Arc::new(SystemClock)).await?;
    let mut tasks = Vec::new();
    for w in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                store
                    .record(AuditDraft::permit("bench", "bench.fill", format!("entry:{i}")).with_payload(&i))
                    .await?;
                i += 64;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    store.close().await;
    Ok(())
}

/// Verifies the whole audit chain as `remit audit verify` does; answers the entries and the seconds it took.
async fn time_verify(url: &str) -> Result<(i64, f64)> {
    let store = Store::connect(url, Arc::new(SystemClock)).await?;
    let t0 = Instant::now();
    let v = store.verify_audit().await?;
    let secs = t0.elapsed().as_secs_f64();
    store.close().await;
    ensure!(
        v.outcome == remit_store::VerifyOutcome::Intact,
        "the audit chain does not verify: {:?}",
        v.outcome
    );
    Ok((v.verified, secs))
}

async fn count_sets(url: &str) -> Result<i64> {
    let store = Store::connect(url, Arc::new(SystemClock)).await?;
    let n = store.count_obs_sets().await?;
    store.close().await;
    Ok(n)
}

/// The CPU time the process has used so far (user and system), in seconds: `/proc/PID/stat` fields 14 and 15, in
/// clock ticks (100 a second on Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its closing parenthesis.
    let mut after = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: f64 = after.nth(11)?.parse().ok()?;
    let stime: f64 = after.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Whether a PostgreSQL URL names a server on this host (loopback, or a socket), whose processes can be read here:
/// its host, else a `host=` parameter, else `PGHOST`, else the default socket.
fn database_is_here(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_owned(),
        None => host.split(':').next().unwrap_or("").to_owned(),
    };
    let host = if host.is_empty() {
        let parameter = rest
            .split_once('?')
            .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("host=")))
            .map(str::to_owned);
        parameter.or_else(|| std::env::var("PGHOST").ok()).unwrap_or_default()
    } else {
        host
    };
    host.is_empty() || host.starts_with('/') || host.starts_with("127.") || matches!(host.as_str(), "localhost" | "::1")
}

/// The processor the whole host has been busy for so far, in seconds summed over its cores (`/proc/stat`'s first
/// line: everything but idle and waiting for the disk), and how many cores it has.
fn host_busy_seconds() -> Option<(f64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user, nice, system, idle, iowait, irq, softirq, steal (guest time is already in user).
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Some((busy / 100.0, cores))
}

/// The processor used so far by every process of this host whose command is `name` (PostgreSQL's server processes
/// are all `postgres`), by process id: a process that starts later is counted from zero, one that ends is not counted.
fn cpu_of_named(name: &str) -> std::collections::HashMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name))
        .filter_map(|pid| Some((pid, cpu_seconds(pid)?)))
        .collect()
}

/// Where the host's processor went during the load, a request answered: remit's servers, the database's server (for
/// PostgreSQL on this host), this harness, and the rest (the kernel's own threads, anything else running).
#[derive(Debug, Clone, Copy)]
struct Split {
    cores: usize,
    busy_cores: f64,
    host_ms: f64,
    database_ms: Option<f64>,
    harness_ms: f64,
}

/// What [`Split`] is measured from, taken at the start of the load.
struct SplitStart {
    host: Option<(f64, usize)>,
    database: Option<std::collections::HashMap<u32, f64>>,
    harness: Option<f64>,
    at: Instant,
}

impl SplitStart {
    /// `database_local`: PostgreSQL on this host, whose processes can be read here.
    fn now(database_local: bool) -> Self {
        Self {
            host: host_busy_seconds(),
            // None where no server process is found here (one in a container of its own, say): not counted as 0.
            database: database_local
                .then(|| cpu_of_named("postgres"))
                .filter(|found| !found.is_empty()),
            harness: cpu_seconds(std::process::id()),
            at: Instant::now(),
        }
    }

    fn split(&self, answered: usize) -> Option<Split> {
        let per = |seconds: f64| seconds * 1000.0 / answered.max(1) as f64;
        let ((before, cores), (after, _)) = self.host.zip(host_busy_seconds())?;
        let database = self.database.as_ref().map(|before| {
            cpu_of_named("postgres")
                .into_iter()
                .map(|(pid, now)| now - before.get(&pid).copied().unwrap_or(0.0))
                .sum::<f64>()
        });
        Some(Split {
            cores,
            busy_cores: (after - before) / self.at.elapsed().as_secs_f64(),
            host_ms: per(after - before),
            database_ms: database.map(per),
            harness_ms: per(cpu_seconds(std::process::id())? - self.harness?),
        })
    }
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.clients > 0 && args.duration > 0 && args.patients > 0,
        "clients, duration and patients must be above 0"
    );
    ensure!(
        args.boards_per_20 + args.charts_per_20 <= 20,
        "boards and charts are out of 20 requests"
    );
    ensure!(
        !args.rolling || args.instances.is_some_and(|n| n >= 2),
        "--rolling restarts each instance in turn: it needs --instances 2 or more"
    );
    let remit = match &args.remit {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("remit"),
    };
    ensure!(
        remit.exists(),
        "no remit binary at {} (build it, or pass --remit)",
        remit.display()
    );
    let mut db = database(&args).await?;
    if args.keep {
        eprintln!("database kept: {}", db.url);
        db.dir = None;
    }
    let (patients, tokens) = seed(&db.url, args.patients).await?;
    if args.fill_sets > 0 {
        fill_sets(&db.url, args.backend, args.fill_sets).await?;
    }
    if args.fill_audit > 0 {
        fill_audit(&db.url, args.fill_audit).await?;
    }
    if let Some(n) = args.callgrind {
        let counted = callgrind(&args, &remit, &db, &patients, &tokens, n).await;
        if let (Some((admin, name)), false) = (&db.drop, args.keep) {
            remit_store::admin_execute(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        }
        return counted;
    }
    let reference = match args.reference_seconds {
        0 => None,
        s => {
            let store = Store::connect(&db.url, Arc::new(SystemClock)).await?;
            let rate = store.durable_insert_rate(args.clients, Duration::from_secs(s)).await?;
            store.close().await;
            Some(rate)
        }
    };
    let before = count_sets(&db.url).await?;
    let mut servers = Servers::start(&args, remit, &db.url).await?;
    let pids: Vec<u32> = servers.children.iter().filter_map(tokio::process::Child::id).collect();
    let base = format!("http://127.0.0.1:{}", servers.port);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.clients * 2)
        .build(connector);
    for _ in 0..100 {
        let req = hyper::Request::get(format!("{base}/health")).body(Full::new(Bytes::new()))?;
        if client.request(req).await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if args.instances.is_some() {
        // Every instance up at the load balancer (two good checks, 500 ms apart).
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let patients = Arc::new(patients);
    let tokens = Arc::new(tokens);
    let when = remit_domain::time::format_instant(chrono::Utc::now() - chrono::Duration::minutes(5));
    let templates: Arc<std::collections::HashMap<String, String>> = Arc::new(
        patients
            .iter()
            .map(|(nhs, _)| (nhs.clone(), set_bundle(nhs, &when).to_string()))
            .collect(),
    );
    let started = Instant::now();
    let cpu = |pids: &[u32]| pids.iter().map(|&p| cpu_seconds(p)).sum::<Option<f64>>();
    let cpu_before = cpu(&pids);
    let split_start = SplitStart::now(args.backend == Backend::Postgres && database_is_here(&args.postgres_url));
    let mut handles = Vec::new();
    for c in 0..args.clients {
        let (client, base, patients, tokens, templates) = (
            client.clone(),
            base.clone(),
            patients.clone(),
            tokens.clone(),
            templates.clone(),
        );
        let (boards, charts) = (args.boards_per_20, args.charts_per_20);
        handles.push(tokio::spawn(async move {
            let mut t = Timings {
                record: Vec::new(),
                board: Vec::new(),
                chart: Vec::new(),
                errors: 0,
            };
            let mut i: u64 = c as u64 * 7919;
            while Instant::now() < deadline {
                i += 1;
                let (nhs, ward) = &patients[(i as usize * 31 + c) % patients.len()];
                let token = &tokens
                    .iter()
                    .find(|(w, _)| w == ward)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default();
                let slot = (i % 20) as u32;
                let (req, kind) = if slot < boards {
                    (
                        hyper::Request::get(format!("{base}/wards/{ward}")).body(Full::new(Bytes::new())),
                        1,
                    )
                } else if slot < boards + charts {
                    (
                        hyper::Request::get(format!("{base}/patients/{nhs}")).body(Full::new(Bytes::new())),
                        2,
                    )
                } else {
                    let body = set_body(&templates[nhs.as_str()], i);
                    (
                        hyper::Request::post(format!("{base}/fhir"))
                            .header("content-type", "application/fhir+json")
                            .body(Full::new(Bytes::from(body))),
                        0,
                    )
                };
                let Ok(mut req) = req else {
                    t.errors += 1;
                    continue;
                };
                if let Ok(v) = format!("Bearer {token}").parse() {
                    req.headers_mut().insert("authorization", v);
                }
                let t0 = Instant::now();
                let ok = match client.request(req).await {
                    Ok(res) => {
                        let status = res.status();
                        match res.into_body().collect().await {
                            Ok(_) if status.is_success() => true,
                            Ok(body) => {
                                if t.errors < 3 {
                                    let text = String::from_utf8_lossy(&body.to_bytes())
                                        .chars()
                                        .take(300)
                                        .collect::<String>();
                                    eprintln!("error: {status}: {text}");
                                }
                                false
                            }
                            Err(e) => {
                                if t.errors < 3 {
                                    eprintln!("error: {status}: the body did not arrive: {e}");
                                }
                                false
                            }
                        }
                    }
                    Err(e) => {
                        if t.errors < 3 {
                            eprintln!("error: no answer: {e}");
                        }
                        false
                    }
                };
                let us = t0.elapsed().as_micros() as u64;
                if !ok {
                    t.errors += 1;
                    continue;
                }
                match kind {
                    0 => t.record.push(us),
                    1 => t.board.push(us),
                    _ => t.chart.push(us),
                }
            }
            t
        }));
    }
    // A rolling restart during the load: each instance in turn, a third of the way in and then as soon as the last is
    // back and taken again by the load balancer.
    let mut restarts = Vec::new();
    if args.rolling {
        tokio::time::sleep(Duration::from_secs(args.duration) / 3).await;
        for i in 0..servers.children.len() {
            restarts.push(servers.restart(i).await?);
            tokio::time::sleep(Duration::from_millis(2000)).await;
        }
    }
    let mut all = Timings {
        record: Vec::new(),
        board: Vec::new(),
        chart: Vec::new(),
        errors: 0,
    };
    for h in handles {
        let t = h.await?;
        all.record.extend(t.record);
        all.board.extend(t.board);
        all.chart.extend(t.chart);
        all.errors += t.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Of the instances as they were started (a rolling restart replaces them: then neither is reported).
    let rss = pids.iter().map(|&p| peak_rss_mb(p)).sum::<Option<f64>>();
    // The servers' own CPU per request answered (on PostgreSQL the database's processes are not counted).
    let answered = all.record.len() + all.board.len() + all.chart.len();
    let cpu_ms_per_request = cpu_before
        .zip(cpu(&pids))
        .map(|(before, after)| (after - before) * 1000.0 / answered.max(1) as f64);
    let split = split_start.split(answered);
    servers.stop().await;
    ensure!(
        restarts.iter().all(|clean| *clean),
        "an instance did not exit cleanly on SIGTERM: {restarts:?}"
    );
    let after = count_sets(&db.url).await?;
    let stored = after - before;
    let (audit_entries, verify_s) = time_verify(&db.url).await?;
    let acked = all.record.len() as i64;
    if let (Some((admin, name)), false) = (&db.drop, args.keep) {
        remit_store::admin_execute(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    }
    if stored < acked {
        bail!("{acked} sets were acknowledged but only {stored} are in the database");
    }
    for v in [&mut all.record, &mut all.board, &mut all.chart] {
        v.sort_unstable();
    }
    let report = json!({
        "backend": format!("{:?}", args.backend).to_lowercase(),
        "instances": args.instances,
        "rolling_restarts": restarts.len(),
        "clients": args.clients,
        "patients": args.patients,
        "duration_s": elapsed,
        "sets_acknowledged": acked,
        "sets_stored": stored,
        "sets_per_s": acked as f64 / elapsed,
        "reference_inserts_per_s": reference,
        "sets_per_reference": reference.map(|r| acked as f64 / elapsed / r),
        "record_p50_ms": percentile(&all.record, 0.50),
        "record_p99_ms": percentile(&all.record, 0.99),
        "record_max_ms": percentile(&all.record, 1.0),
        "board_reads": all.board.len(),
        "board_p50_ms": percentile(&all.board, 0.50),
        "board_p99_ms": percentile(&all.board, 0.99),
        "board_max_ms": percentile(&all.board, 1.0),
        "chart_reads": all.chart.len(),
        "chart_p50_ms": percentile(&all.chart, 0.50),
        "chart_p99_ms": percentile(&all.chart, 0.99),
        "chart_max_ms": percentile(&all.chart, 1.0),
        "errors": all.errors,
        "rss_mb": rss,
        "server_cpu_ms_per_request": cpu_ms_per_request,
        "host_cores": split.map(|s| s.cores),
        "host_busy_cores": split.map(|s| s.busy_cores),
        "host_cpu_ms_per_request": split.map(|s| s.host_ms),
        "database_cpu_ms_per_request": split.and_then(|s| s.database_ms),
        "harness_cpu_ms_per_request": split.map(|s| s.harness_ms),
        "sets_in_table": after,
        "audit_entries": audit_entries,
        "audit_verify_s": verify_s,
        "audit_verify_entries_per_s": audit_entries as f64 / verify_s,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} clients, {} patients, {:.1} s on {:?}{}",
            args.clients,
            args.patients,
            elapsed,
            args.backend,
            match args.instances {
                None => String::new(),
                Some(n) => format!(
                    ", {n} instance(s) behind HAProxy{}",
                    if args.rolling {
                        format!(", each restarted once ({} restarts)", restarts.len())
                    } else {
                        String::new()
                    }
                ),
            }
        );
        println!(
            "record: {:.0} sets/s acknowledged ({} sets, all {} in the database); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            report["sets_per_s"].as_f64().unwrap_or(0.0),
            acked,
            stored,
            report["record_p50_ms"].as_f64().unwrap_or(0.0),
            report["record_p99_ms"].as_f64().unwrap_or(0.0),
            report["record_max_ms"].as_f64().unwrap_or(0.0)
        );
        if let Some(r) = reference {
            println!(
                "reference: {r:.0} durable one-row inserts/s from {} on the same database; remit's sets/s are {:.1}% of it",
                if args.backend == Backend::Sqlite {
                    "SQLite's one writer".to_owned()
                } else {
                    format!("{} clients", args.clients)
                },
                acked as f64 / elapsed / r * 100.0
            );
        }
        for (name, n) in [("board", all.board.len()), ("chart", all.chart.len())] {
            println!(
                "{name}: {n} reads; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                report[format!("{name}_p50_ms")].as_f64().unwrap_or(0.0),
                report[format!("{name}_p99_ms")].as_f64().unwrap_or(0.0),
                report[format!("{name}_max_ms")].as_f64().unwrap_or(0.0)
            );
        }
        println!(
            "errors: {}; server peak RSS: {:.1} MB; server CPU {:.2} ms a request",
            all.errors,
            rss.unwrap_or(0.0),
            cpu_ms_per_request.unwrap_or(0.0)
        );
        if let Some(s) = split {
            println!(
                "host: {:.2} of {} cores busy; its processor a request {:.2} ms: remit {:.2}, {}this harness {:.2}, the rest {:.2}",
                s.busy_cores,
                s.cores,
                s.host_ms,
                cpu_ms_per_request.unwrap_or(0.0),
                s.database_ms.map_or(String::new(), |d| format!("PostgreSQL {d:.2}, ")),
                s.harness_ms,
                s.host_ms - cpu_ms_per_request.unwrap_or(0.0) - s.database_ms.unwrap_or(0.0) - s.harness_ms
            );
        }
        println!(
            "sets in the table: {after}; audit verify: {audit_entries} entries in {verify_s:.2} s ({:.0} entries/s)",
            audit_entries as f64 / verify_s
        );
    }
    Ok(())
}

/// The total instructions (`Ir`) of a callgrind dump.
fn callgrind_total(text: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Serves under callgrind and counts the server's instructions a request: `n` sets recorded, `n` boards and `n`
/// charts read, one at a time, after one of each to warm up. Each kind is counted from zeroed counters to a dump of
/// its own, so that starting the server is not charged to any.
async fn callgrind(
    args: &Args,
    remit: &std::path::Path,
    db: &Database,
    patients: &[(String, &'static str)],
    tokens: &[(&'static str, String)],
    n: u32,
) -> Result<()> {
    ensure!(
        args.instances.is_none(),
        "--callgrind measures one server: leave out --instances"
    );
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let out = dir.path().join("callgrind.out");

    let mut child = tokio::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(remit)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("REMIT_DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting remit serve under valgrind (Debian's valgrind package)")?;
    let pid = child.id().context("the server's pid")?.to_string();
    let base = format!("http://127.0.0.1:{port}");
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut up = false;
    for _ in 0..600 {
        let req = hyper::Request::get(format!("{base}/health")).body(Full::new(Bytes::new()))?;
        if client.request(req).await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(up, "remit serve did not answer under valgrind within two minutes");
    let when = remit_domain::time::format_instant(chrono::Utc::now() - chrono::Duration::minutes(5));
    let (nhs, ward) = &patients[0];
    let token = tokens
        .iter()
        .find(|(w, _)| w == ward)
        .map(|(_, t)| t.clone())
        .context("a token for the ward")?;
    let template = set_bundle(nhs, &when).to_string();
    let ask = |kind: usize, i: u64| -> Result<hyper::Request<Full<Bytes>>> {
        let req = match kind {
            0 => hyper::Request::post(format!("{base}/fhir"))
                .header("content-type", "application/fhir+json")
                .body(Full::new(Bytes::from(set_body(&template, i))))?,
            1 => hyper::Request::get(format!("{base}/wards/{ward}")).body(Full::new(Bytes::new()))?,
            _ => hyper::Request::get(format!("{base}/patients/{nhs}")).body(Full::new(Bytes::new()))?,
        };
        let mut req = req;
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        Ok(req)
    };
    let control = |what: &str| -> Result<()> {
        let status = std::process::Command::new("callgrind_control")
            .args([what, &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("callgrind_control")?;
        ensure!(status.success(), "callgrind_control {what} {pid}");
        Ok(())
    };
    let mut i = 0;
    let mut per = Vec::new();
    for kind in 0..3 {
        // One to warm up, uncounted.
        i += 1;
        let res = client.request(ask(kind, i)?).await?;
        ensure!(res.status().is_success(), "warm-up: {}", res.status());
        res.into_body().collect().await?;
        control("-z")?;
        for _ in 0..n {
            i += 1;
            let res = client.request(ask(kind, i)?).await?;
            let status = res.status();
            res.into_body().collect().await?;
            ensure!(status.is_success(), "request {i}: {status}");
        }
        control("-d")?;
        // Each dump is a file of its own, numbered from 1: this kind's is the next.
        let dump = dir.path().join(format!("callgrind.out.{}", kind + 1));
        let text = std::fs::read_to_string(&dump).with_context(|| format!("reading {}", dump.display()))?;
        let total = callgrind_total(&text).context("the dump's total instructions")?;
        per.push(total / u64::from(n));
    }
    child.kill().await.ok();
    if args.keep {
        // Numbered 1 (the sets), 2 (the boards) and 3 (the charts).
        eprintln!("callgrind dumps kept in {}", dir.keep().display());
    }
    let report = json!({
        "backend": format!("{:?}", args.backend).to_lowercase(),
        "sample": n,
        "instructions_per_set": per[0],
        "instructions_per_board": per[1],
        "instructions_per_chart": per[2],
        "patients": args.patients,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "server instructions a request ({n} of each, one at a time, on {:?}): set {:.2} M, board {:.2} M, chart {:.2} M",
            args.backend,
            per[0] as f64 / 1e6,
            per[1] as f64 / 1e6,
            per[2] as f64 / 1e6
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callgrind_dump_s_total_is_read() {
        assert_eq!(
            callgrind_total("events: Ir\nsummary: 1234\nfl=x\n0 5\ntotals: 98765\n"),
            Some(98765)
        );
        assert_eq!(callgrind_total("events: Ir\nsummary: 1234\n"), Some(1234));
        assert_eq!(callgrind_total("events: Ir\n"), None);
    }

    #[test]
    fn only_a_database_on_this_host_has_its_processes_read() {
        for here in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://u:p@localhost/db",
            "postgres://[::1]:5432/db",
            "postgres:///db?host=/var/run/postgresql",
            "postgres:///db?user=x&host=localhost",
            "postgres://127.0.0.2/db",
        ] {
            assert!(database_is_here(here), "{here}");
        }
        for elsewhere in [
            "postgres://postgres@db.example:5432/postgres",
            "postgres://u:p@10.0.0.5/db",
            "postgres://[2001:db8::1]:5432/db",
            "postgres://localhost.example/db",
            "postgres:///db?host=db.example",
            "not a url",
        ] {
            assert!(!database_is_here(elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn the_host_s_processor_is_read_and_moves_with_work() {
        let (before, cores) = host_busy_seconds().expect("/proc/stat is read");
        assert!(cores >= 1);
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (after, _) = host_busy_seconds().expect("/proc/stat is read");
        assert!(after - before >= 0.1, "300 ms of work counted as {} s", after - before);
        let comm = std::fs::read_to_string("/proc/self/comm").expect("comm");
        let own = cpu_of_named(comm.trim_end());
        assert!(
            own.contains_key(&std::process::id()),
            "this process is found by its name"
        );
    }

    #[test]
    fn a_set_body_carries_its_seed_s_respiration_rate_and_pulse_and_nothing_else_changes() {
        let template = set_bundle("9991000000", "2026-11-26T10:00:00.000000Z").to_string();
        for seed in [0, 13, 49, 700, 7919] {
            let body: Value = serde_json::from_str(&set_body(&template, seed)).expect("a set body is JSON");
            let value = |i: usize| body["entry"][i]["resource"]["valueQuantity"]["value"].as_i64();
            assert_eq!(value(0), Some(12 + (seed % 14) as i64), "respiration rate");
            assert_eq!(value(4), Some(60 + (seed % 50) as i64), "pulse");
            let mut rest = body.clone();
            let mut expected: Value = serde_json::from_str(&template).expect("the template is JSON");
            for v in [&mut rest, &mut expected] {
                v["entry"][0]["resource"]["valueQuantity"]["value"] = Value::Null;
                v["entry"][4]["resource"]["valueQuantity"]["value"] = Value::Null;
            }
            assert_eq!(rest, expected);
        }
    }
}
