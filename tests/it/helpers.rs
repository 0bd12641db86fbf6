//! The test harness: fresh databases, a controllable clock, the app driven in-process, and the CLI binary.

use std::future::Future;
use std::pin::Pin;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use remit_domain::time::Clock;
use remit_policy::PolicyPack;
use remit_server::{AppState, Config};
use remit_store::Store;
use sqlx::{AnyConnection, Connection, Executor};
use tower::ServiceExt;

pub type TestFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
pub type TestFn = fn(TestDb) -> TestFuture;

/// Registers async test functions by name.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pub fn tests() -> Vec<(&'static str, $crate::helpers::TestFn)> {
            vec![$((stringify!($name), |db| Box::pin($name(db)))),*]
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_admin_url() -> Option<String> {
    std::env::var("REMIT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A database made for one test (the harness drops it afterwards).
#[derive(Debug, Clone)]
pub struct TestDb {
    pub url: String,
}

enum Cleanup {
    Dir(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!("remit_test_{}_{n}_{nanos}", std::process::id())
}

impl TestDb {
    async fn create(backend: Backend) -> Result<(Self, Cleanup)> {
        sqlx::any::install_default_drivers();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("remit.db").display());
                Ok((Self { url }, Cleanup::Dir(dir)))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url().context("REMIT_TEST_DATABASE_URL is not set")?;
                let name = unique_name();
                let mut conn = AnyConnection::connect(&admin_url)
                    .await
                    .context("connecting to PostgreSQL")?;
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await?;
                conn.close().await?;
                let base = admin_url.split('?').next().unwrap_or(&admin_url);
                let (server, _db) = base
                    .rsplit_once('/')
                    .context("the PostgreSQL URL has no database part")?;
                Ok((
                    Self {
                        url: format!("{server}/{name}"),
                    },
                    Cleanup::Postgres { admin_url, name },
                ))
            }
        }
    }
}

impl Cleanup {
    async fn destroy(self) -> Result<()> {
        match self {
            Cleanup::Dir(dir) => {
                dir.close()?;
            }
            Cleanup::Postgres { admin_url, name } => {
                let mut conn = AnyConnection::connect(&admin_url).await?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
                conn.close().await?;
            }
        }
        Ok(())
    }
}

impl TestDb {
    /// A plain connection for poking at tables behind remit's back (tamper tests).
    pub async fn raw(&self) -> Result<AnyConnection> {
        Ok(AnyConnection::connect(&self.url).await?)
    }

    /// A store on this database with its own clock, migrated.
    pub async fn store(&self, clock: Arc<TestClock>) -> Result<Store> {
        let store = Store::connect(&self.url, clock).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the `remit` binary against this database.
    pub fn remit(&self, args: &[&str]) -> Output {
        self.remit_with_stdin(args, "")
    }

    /// Runs `remit serve` on a free loopback port with JSON logs at `rust_log`, standard output and error piped;
    /// returns once it listens, with its address (`127.0.0.1:PORT`).
    pub fn serve(&self, rust_log: &str) -> Result<(Child, String)> {
        self.serve_with(rust_log, &[])
    }

    /// As [`TestDb::serve`], with more arguments to `remit serve`.
    pub fn serve_with(&self, rust_log: &str, more: &[&str]) -> Result<(Child, String)> {
        self.serve_on(rust_log, "127.0.0.1:0", more)
    }

    /// As [`TestDb::serve_with`], listening on `listen`.
    pub fn serve_on(&self, rust_log: &str, listen: &str, more: &[&str]) -> Result<(Child, String)> {
        use std::io::BufRead as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_remit"))
            .args([
                "--database-url",
                &self.url,
                "--log-format",
                "json",
                "serve",
                "--listen",
                listen,
            ])
            .args(more)
            .env_remove("REMIT_DATABASE_URL")
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("remit listening on http://")
            .with_context(|| format!("no address line from the server: `{line}`"))?
            .to_owned();
        Ok((child, addr))
    }

    pub fn remit_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_remit"))
            .arg("--database-url")
            .arg(&self.url)
            .args(args)
            .env_remove("REMIT_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the remit binary runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("the remit binary finishes")
    }
}

/// Runs one test on a fresh database of the given backend, dropping the database whatever the outcome.
pub fn run(backend: Backend, f: TestFn) -> Result<(), libtest_mimic::Failed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let (db, cleanup) = TestDb::create(backend)
            .await
            .map_err(|e| format!("creating the test database: {e:#}"))?;
        let outcome = tokio::spawn(f(db)).await;
        cleanup
            .destroy()
            .await
            .map_err(|e| format!("dropping the test database: {e:#}"))?;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}").into()),
            Err(join) => Err(format!("the test panicked: {join}").into()),
        }
    })
}

/// A clock that tests move by hand.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Utc::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The application in-process, on a test database, with a test clock.
pub struct TestApp {
    pub state: AppState,
    pub store: Store,
    pub clock: Arc<TestClock>,
    pub pack: Arc<PolicyPack>,
    pub router: axum::Router,
    /// Bearer tokens and signed-in sessions (cookie and CSRF token) made once a person, for tables.
    pub(crate) tokens: tokio::sync::Mutex<std::collections::HashMap<String, Auth>>,
    pub(crate) sessions: tokio::sync::Mutex<std::collections::HashMap<String, (Auth, String)>>,
}

/// A response with its body read.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON: {}", self.body))
    }
}

impl TestApp {
    /// A set scoring 7 for Margaret Hughes (Ward 7, demo trust), recorded by alex.ap: an emergency escalation.
    /// Returns its id.
    pub async fn seven_for_margaret(&self) -> Result<i64> {
        let alex = self.token_for("alex.ap").await?;
        let set = serde_json::json!({"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false,
            "systolic_bp": 105, "pulse": 105, "consciousness": "alert", "temperature": 37.5}});
        let res = self
            .post_json("/api/patients/9990001375/observations", &alex, &set)
            .await?;
        anyhow::ensure!(res.status == StatusCode::CREATED, "{}", res.body);
        res.json()?["escalation"]["id"].as_i64().context("an escalation")
    }

    /// The app on `db`, with the demo trust seeded.
    pub async fn demo(db: &TestDb) -> Result<Self> {
        Self::demo_with_pack(db, PolicyPack::nhs_england()).await
    }

    /// The app on `db` under an employer's own policy pack, with the demo trust seeded.
    pub async fn demo_with_pack(db: &TestDb, pack: PolicyPack) -> Result<Self> {
        Self::demo_under(db, pack, Config::default()).await
    }

    /// The app on `db` under `config`, with the demo trust seeded (if it is not there already).
    pub async fn demo_with_config(db: &TestDb, config: Config) -> Result<Self> {
        Self::demo_under(db, PolicyPack::nhs_england(), config).await
    }

    async fn demo_under(db: &TestDb, pack: PolicyPack, config: Config) -> Result<Self> {
        let clock = TestClock::new();
        let store = db.store(clock.clone()).await?;
        let pack = Arc::new(pack);
        remit_services::demo::seed(&store, &pack, &remit_domain::imaging::Catalogue::shipped(), "test").await?;
        let state = AppState::new(store.clone(), pack.clone(), config);
        let router = remit_server::app(state.clone());
        Ok(Self {
            state,
            store,
            clock,
            pack,
            router,
            tokens: Default::default(),
            sessions: Default::default(),
        })
    }

    pub async fn send(&self, req: Request<Body>) -> Result<TestResponse> {
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024).await?;
        Ok(TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Result<TestResponse> {
        self.send(auth.apply(Request::get(path)).body(Body::empty())?).await
    }

    /// Posts JSON as an API client.
    pub async fn post_json(&self, path: &str, auth: &Auth, body: &serde_json::Value) -> Result<TestResponse> {
        let req = auth
            .apply(Request::post(path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))?;
        self.send(req).await
    }

    /// Posts a form as a browser on remit's own page would.
    pub async fn post_form(&self, path: &str, auth: &Auth, form: &[(&str, &str)]) -> Result<TestResponse> {
        let body = form_encode(form);
        let req = auth
            .apply(Request::post(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "remit.test")
            .header(header::ORIGIN, "http://remit.test")
            .body(Body::from(body))?;
        self.send(req).await
    }

    /// Signs in through the form; returns the session cookie.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Auth> {
        let res = self
            .post_form("/login", &Auth::None, &[("username", username), ("password", password)])
            .await?;
        if res.status != StatusCode::SEE_OTHER {
            bail!("sign-in as {username} answered {}: {}", res.status, res.body);
        }
        let cookie = res.header("set-cookie").context("no session cookie")?;
        let value = cookie.split(';').next().context("cookie")?.to_owned();
        Ok(Auth::Cookie(value))
    }

    /// The CSRF token a signed-in page carries.
    pub async fn csrf(&self, auth: &Auth) -> Result<String> {
        let home = self.get("/me", auth).await?;
        let marker = "name=\"csrf\" value=\"";
        let start = home.body.find(marker).context("no csrf field on the home page")? + marker.len();
        Ok(home.body[start..].split('"').next().unwrap_or_default().to_owned())
    }

    /// A bearer token of `username`'s, made on first use and kept.
    pub async fn bearer_of(&self, username: &str) -> Result<Auth> {
        let mut tokens = self.tokens.lock().await;
        if !tokens.contains_key(username) {
            tokens.insert(username.to_owned(), self.token_for(username).await?);
        }
        Ok(tokens[username].clone())
    }

    /// A session of `username`'s, signed in through the form with the demo password on first use and kept, with the
    /// CSRF token its pages carry.
    pub async fn session_of(&self, username: &str) -> Result<(Auth, String)> {
        let mut sessions = self.sessions.lock().await;
        if !sessions.contains_key(username) {
            let cookie = self.sign_in(username, remit_store::demo::DEMO_PASSWORD).await?;
            let csrf = self.csrf(&cookie).await?;
            sessions.insert(username.to_owned(), (cookie, csrf));
        }
        Ok(sessions[username].clone())
    }

    /// Creates an API token for a user, as `remit token create` does.
    pub async fn token_for(&self, username: &str) -> Result<Auth> {
        let id = self
            .store
            .staff_id(&remit_domain::staff::Username::parse(username)?)
            .await?;
        let mut tx = self.store.begin().await?;
        let token = tx.create_token(id, "test").await?;
        tx.commit(remit_domain::audit::AuditDraft::permit(
            "test",
            "token.create",
            format!("staff:{username}"),
        ))
        .await?;
        Ok(Auth::Bearer(token))
    }
}

/// How a test request proves who it is.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Cookie(String),
    Bearer(String),
}

impl Auth {
    pub fn apply(&self, b: axum::http::request::Builder) -> axum::http::request::Builder {
        match self {
            Auth::None => b,
            Auth::Cookie(c) => b.header(header::COOKIE, c),
            Auth::Bearer(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        }
    }
}

/// Delegates an accepted `vitals.record` task for the patient `nhs` from `delegator` to `delegatee` at a SQL prompt on
/// `raw` (behind the server's back, as another process would).
pub async fn delegate_at_sql_prompt(
    raw: &mut AnyConnection,
    nhs: &str,
    delegator: &str,
    delegatee: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO task (patient_id, activity, delegator_id, delegatee_id, supervision, notes, status, created_at, \
         updated_at) SELECT p.id, 'vitals.record', d.id, b.id, 'none', '', 'accepted', '2026-01-01T00:00:00.000000Z', \
         '2026-01-01T00:00:00.000000Z' FROM patient p, staff d, staff b WHERE p.nhs_number = '{nhs}' \
         AND d.username = '{delegator}' AND b.username = '{delegatee}'"
    );
    raw.execute(sqlx::AssertSqlSafe(sql)).await?;
    Ok(())
}

pub fn form_encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asserts a CLI run's exit status, showing its output when it differs.
pub fn expect_status(out: &Output, code: i32) -> Result<()> {
    if out.status.code() != Some(code) {
        bail!(
            "expected exit {code}, got {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One plain HTTP/1.1 GET to a served remit; the status and the whole response text.
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// One plain HTTP/1.1 request with a bearer token and a JSON body; the status and the whole response text.
pub fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> Result<(u16, String)> {
    exchange(
        addr,
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Sends a whole request on a new connection and reads the whole response.
fn exchange(addr: &str, request: String) -> Result<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.write_all(request.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).context("status")?.parse()?;
    Ok((status, text))
}
