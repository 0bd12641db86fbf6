//! Storage for remit: one schema on SQLite (the embedded default) and PostgreSQL (production), with the SQL written
//! once (see `db`: SQLite through rusqlite, PostgreSQL through sqlx) and migrations kept per dialect.
//!
//! **Invariant:** every change to clinical or staff data goes through a [`WriteTx`], and every commit of a `WriteTx`
//! appends the command's audit entry in the same transaction: [`Store::command`] (group commit: the commands
//! queued while the last commit synced share the next one, each answered only after it) or [`WriteTx::commit`]. A
//! refusal is committed with [`Store::record`]. Nothing is half-written: a `WriteTx` dropped without commit, or a
//! command whose work fails, rolls back.
#![forbid(unsafe_code)]

// First: its macros are used by the modules after it.
#[macro_use]
mod kept;
pub mod adt;
mod audit;
pub mod changes;
pub mod competency;
pub mod credentials;
mod db;
pub mod delivery;
pub mod demo;
mod error;
pub mod imaging;
pub mod obs;
pub mod patient;
pub mod place;
mod reference;
pub mod revalidation;
pub mod session;
pub mod staff;
pub mod task;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use remit_domain::audit::{AuditDraft, AuditEntry};
use remit_domain::time::Clock;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use db::{Db, FromVal, LitePool, LiteTx, On, PgPool, Row, TxConn, query};

pub use audit::{AuditFilter, AuditVerification, VerifyOutcome};
pub use error::StoreError;
pub use kept::Versions;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a [`Store`] speaks to, chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Invalid(format!(
                "database url must start with `sqlite:` or `postgres://`, not `{}`",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

/// PostgreSQL connections a store keeps for requests (the group-commit writer has one of its own).
const PG_CONNECTIONS: usize = 16;

/// The database, with the clock that stamps what is written. A clone shares everything but [`Store::under`]: it is
/// one count on one shared allocation, since every request clones the store (and the server's state around it)
/// several times.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    /// Set on a view of the store for a principal it kept and nobody has confirmed yet (see [`Store::under`]).
    under: Option<Versions>,
}

/// What every view of a store shares.
pub(crate) struct Shared {
    db: Db,
    /// As connected (an SQLite URL with its `mode`): the migrations and PostgreSQL's audit verification open
    /// connections of their own.
    url: Arc<str>,
    clock: Arc<dyn Clock>,
    writer: writer::Writer,
    /// Staff profiles and patients' records already read (see `kept`).
    profiles: Arc<staff::Profiles>,
    records: Arc<patient::Records>,
    /// What this process's commits announced, and what its follower heard from others (see `changes`).
    changes: Arc<changes::Changes>,
}

impl Store {
    /// Connects, creating an absent SQLite file. Migrations are not applied: call [`Store::migrate`].
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let db = match backend {
            Backend::Sqlite => {
                let options: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(StoreError::Connect)?;
                create_private(options.get_filename()).map_err(|e| {
                    StoreError::Connect(sqlx::Error::Configuration(
                        format!("cannot create the SQLite file: {e}").into(),
                    ))
                })?;
                let pool = LitePool::open(options.get_filename().to_owned()).map_err(|e| {
                    StoreError::Connect(sqlx::Error::Configuration(
                        format!("cannot open the SQLite file: {e}").into(),
                    ))
                })?;
                Db::Lite(Arc::new(pool))
            }
            Backend::Postgres => Db::Pg(PgPool::connect(&url, db::PgLimits::of(PG_CONNECTIONS)).await?),
        };
        let batching = match backend {
            Backend::Sqlite => writer::Batching::SQLITE,
            Backend::Postgres => writer::Batching::POSTGRES,
        };
        let changes = Arc::new(changes::Changes::default());
        let writer = writer::Writer::start(db.clone(), &url, clock.clone(), batching, changes.clone());
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                url: url.into(),
                clock,
                writer,
                profiles: Arc::default(),
                records: Arc::default(),
                changes,
            }),
            under: None,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.shared.db {
            Db::Lite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// Where a statement outside any write transaction runs.
    pub(crate) fn pool(&self) -> On<'_> {
        On::Store(self)
    }

    /// Applies the migrations of this backend's dialect that have not been applied yet. On PostgreSQL the
    /// migrator holds an advisory lock while it runs, so that instances starting together apply each migration once.
    pub async fn migrate(&self) -> Result<()> {
        let known = migrator(self.backend());
        // Migrations applied by a newer build are passed over, not refused: during a rolling upgrade an instance of
        // the build before must be able to start again (a migration only adds; see `Migrations::ready`).
        let migrator = &Migrator {
            migrations: known.migrations.clone(),
            ignore_missing: true,
            locking: known.locking,
            no_tx: known.no_tx,
            table_name: known.table_name.clone(),
            create_schemas: known.create_schemas.clone(),
        };
        // On a connection of its own (sqlx's: its migrator keeps the table of applied migrations).
        let ran = match &self.shared.db {
            Db::Lite(lite) => {
                // sqlx takes no lock on SQLite: processes starting together on one file take turns by a lock file
                // beside it (held until the migrator is done).
                let _turn = migration_turn(lite.path()).await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&self.shared.url)
                    .await
                    .map_err(StoreError::Connect)?;
                let ran = migrator.run(&pool).await;
                pool.close().await;
                ran
            }
            Db::Pg(pg) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(pg.options().await?)
                    .await
                    .map_err(StoreError::Connect)?;
                let ran = migrator.run(&pool).await;
                pool.close().await;
                ran
            }
        };
        ran.map_err(|e| StoreError::Migrate(e.to_string()))
    }

    /// The migrations applied to the database, beside those this build knows: what readiness reports.
    pub async fn migrations(&self) -> Result<Migrations> {
        let known: Vec<i64> = migrator(self.backend()).iter().map(|m| m.version).collect();
        let applied = query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(self.pool())
            .await;
        let applied = match applied {
            Ok(rows) => rows,
            // Not migrated at all (the table is not there), if the database answers.
            Err(e) => match self.ping().await {
                Ok(()) => Vec::new(),
                Err(_) => return Err(e),
            },
        }
        .iter()
        .map(|r| r.get::<i64>("version"))
        .collect::<Result<Vec<_>>>()?;
        Ok(Migrations {
            missing: known.iter().filter(|v| !applied.contains(v)).copied().collect(),
            unknown: applied.iter().filter(|v| !known.contains(v)).copied().collect(),
            latest: applied.last().copied(),
            known: known.len(),
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.shared.db {
            Db::Lite(pool) => pool.close(),
            Db::Pg(pool) => pool.close().await,
        }
    }

    /// Begins a command. On SQLite the write lock is taken at once (`BEGIN IMMEDIATE`), so a command never fails
    /// half-way for want of it; on PostgreSQL the audit chain's head (see `WriteTx::begin`).
    pub async fn begin(&self) -> Result<WriteTx> {
        WriteTx::begin(
            &self.shared.db,
            self.shared.clock.as_ref(),
            Waits::Blocking,
            &self.shared.changes,
        )
        .await
    }

    /// This store, for commands decided on what it kept under `under` without asking the database (a bearer
    /// token's holder as [`Store::kept_token_holder`] answered, not yet confirmed): a command is run only if its
    /// commit finds the versions unchanged, and is otherwise answered [`StoreError::Unconfirmed`] with nothing
    /// written, to be decided again on what is read now. A refusal is not recorded under them either
    /// ([`Store::record`] answers `Unconfirmed`): it is recorded by the decision made again once the principal is
    /// confirmed. With `None`, the store as it is. The services never see the difference.
    pub fn under(&self, under: Option<Versions>) -> Store {
        Store {
            shared: self.shared.clone(),
            under,
        }
    }

    /// Records an audit entry and nothing else (a refusal, or a question and its answer).
    pub async fn record(&self, draft: AuditDraft) -> Result<AuditEntry> {
        if self.under.is_some() {
            return Err(StoreError::Unconfirmed);
        }
        let ((), entry) = self.command(draft, |_| Box::pin(async { Ok(()) })).await?;
        Ok(entry)
    }

    /// Runs one command: `work` in a transaction, committed with `draft` as its audit entry, and answered only once
    /// that commit is durable. If the data refuses the command (a conflict with what is already recorded), its work
    /// rolls back and the refusal alone is recorded, with its reason. Unknown references and invalid values write
    /// nothing: they are bad input, not refusals. Commands arriving together share one commit (see `writer`), and
    /// `work` may be run a second time (from a clone) if another command in that commit fails: it must do nothing
    /// but statements in the transaction it is given. On a view made by [`Store::under`], only if its versions
    /// stand.
    pub async fn command<T, F>(&self, draft: AuditDraft, work: F) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx) -> futures_util::future::BoxFuture<'a, Result<T>> + Clone + Send + 'static,
    {
        self.shared.writer.command(self.under, draft, work).await
    }

    /// As [`Store::command`], for a command that begins by storing the first version of a set: `work` is given it as
    /// stored ([`WriteTx::insert_set`]'s answer). The writer may store it together with the sets of the commands
    /// queued beside it, in one statement, before the first of them runs: so `work` may find later commands' sets
    /// already stored, and its own set's open escalation is as it stood before the commands before it ran. Both are
    /// the same for it only if `work` reads and changes nothing of another patient's (their sets, their
    /// escalations), as recording a set's work does not. `work` must change no profile or record either (see
    /// `kept`): the commands after it in its commit are checked against the versions it is taken to have left as
    /// they were.
    pub async fn command_with_set<T, F>(
        &self,
        set: remit_domain::obs::NewSet,
        draft: AuditDraft,
        work: F,
    ) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx, obs::StoredSet) -> futures_util::future::BoxFuture<'a, Result<T>>
            + Clone
            + Send
            + 'static,
    {
        self.shared.writer.command_with_set(self.under, set, draft, work).await
    }
}

/// Runs one administrative statement (such as `CREATE DATABASE`) on its own connection: for harnesses that make and
/// drop their own databases. Never used with input from outside.
pub async fn admin_execute(url: &str, sql: &str) -> Result<()> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.map_err(StoreError::Connect)?;
    conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await?;
    conn.close().await?;
    Ok(())
}

/// One command's transaction. Dropped without [`WriteTx::commit`], it rolls back and leaves no trace.
pub struct WriteTx {
    conn: TxConn,
    now: DateTime<Utc>,
    /// A statement that keeps the transaction whole (a savepoint) failed: it must not be committed.
    broken: bool,
    /// The audit chain's head, once taken.
    head: Option<audit::Head>,
    /// The version counters as the transaction found them when it took the head, or read again since (see
    /// [`WriteTx::versions_now`]).
    versions: Versions,
    /// A command has run since `versions` were read that may have moved them.
    versions_moved: bool,
    /// On SQLite, where taking the write lock and syncing the commit may wait.
    waits: Waits,
    /// What the transaction's commands announced (see `changes`), and where it is told once committed.
    announced: Vec<changes::Change>,
    changes: Arc<changes::Changes>,
    /// Sets stored ahead of their commands (see `writer`), each until its command takes it.
    stored_ahead: Vec<(Arc<remit_domain::obs::NewSet>, obs::StoredSet)>,
}

/// Where an SQLite transaction may wait for the write lock and for its commit's sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waits {
    /// Here: the writer's own thread.
    Here,
    /// On a blocking thread, not the async task's.
    Blocking,
}

impl WriteTx {
    /// Begins a transaction: on SQLite with the write lock taken at once (`BEGIN IMMEDIATE`), and the audit chain's
    /// head taken before anything else (on PostgreSQL a row lock that makes other appenders wait; outside any
    /// savepoint, since rolling one back would let it go). Every write transaction takes the head first: a change to
    /// the staff or patient tables also takes a version counter's row (see `kept`), and one transaction holding that
    /// row while waiting for the head, with another holding the head and waiting for the row, would deadlock.
    pub(crate) async fn begin(
        db: &Db,
        clock: &dyn Clock,
        waits: Waits,
        changes: &Arc<changes::Changes>,
    ) -> Result<Self> {
        let conn = match db {
            Db::Lite(pool) => {
                let pool = pool.clone();
                TxConn::Lite(match waits {
                    Waits::Here => LiteTx::begin(pool)?,
                    Waits::Blocking => blocking(move || LiteTx::begin(pool)).await?,
                })
            }
            Db::Pg(pool) => {
                let mut lease = pool.take().await?;
                sqlx::Executor::execute(lease.conn()?, "BEGIN").await?;
                TxConn::Pg(lease)
            }
        };
        let mut tx = WriteTx {
            conn,
            now: clock.now(),
            broken: false,
            head: None,
            versions: Versions {
                profiles: 0,
                records: 0,
            },
            versions_moved: false,
            waits,
            announced: Vec::new(),
            changes: changes.clone(),
            stored_ahead: Vec::new(),
        };
        let (head, versions) = audit::Head::take(&mut tx).await?;
        tx.head = Some(head);
        tx.versions = versions;
        Ok(tx)
    }

    /// Appends an audit entry to the chain (its head was taken when the transaction began). The entry is written
    /// with the head, before the commit.
    pub(crate) async fn append(&mut self, draft: AuditDraft) -> Result<AuditEntry> {
        let now = self.now;
        match &mut self.head {
            Some(head) => head.append(draft, now),
            // Only `finish` takes it, and it ends the transaction.
            None => Err(StoreError::Commit("the transaction's audit head is gone".into())),
        }
    }

    /// Writes the audit head back, sends what was announced, commits, and tells this process's subscribers.
    pub(crate) async fn finish(mut self) -> Result<()> {
        if let Some(head) = self.head.take() {
            head.store(&mut self).await?;
        }
        self.send_announced().await?;
        let announced = std::mem::take(&mut self.announced);
        let changes = self.changes.clone();
        match (self.conn, self.waits) {
            (TxConn::Lite(tx), Waits::Here) => tx.commit(),
            (TxConn::Lite(tx), Waits::Blocking) => blocking(move || tx.commit()).await,
            (TxConn::Pg(mut lease), _) => {
                sqlx::Executor::execute(lease.conn()?, "COMMIT").await?;
                lease.keep();
                Ok(())
            }
        }?;
        announced.into_iter().for_each(|c| changes.publish(c));
        Ok(())
    }

    /// Rolls back now. (Dropped, a transaction also rolls back, but on PostgreSQL only once its connection is next
    /// used: until then it holds its locks.)
    pub async fn rollback(self) -> Result<()> {
        match (self.conn, self.waits) {
            (TxConn::Lite(tx), Waits::Here) => {
                drop(tx);
                Ok(())
            }
            (TxConn::Lite(tx), Waits::Blocking) => {
                blocking(move || {
                    drop(tx);
                    Ok(())
                })
                .await
            }
            (TxConn::Pg(mut lease), _) => {
                sqlx::Executor::execute(lease.conn()?, "ROLLBACK").await?;
                lease.keep();
                Ok(())
            }
        }
    }

    /// The set `set` as it was stored ahead of its command, taken (the command's own: the same allocation).
    pub(crate) fn stored_ahead(&mut self, set: &Arc<remit_domain::obs::NewSet>) -> Option<obs::StoredSet> {
        let i = self.stored_ahead.iter().position(|(s, _)| Arc::ptr_eq(s, set))?;
        Some(self.stored_ahead.remove(i).1)
    }

    pub(crate) fn keep_stored_ahead(&mut self, sets: Vec<(Arc<remit_domain::obs::NewSet>, obs::StoredSet)>) {
        self.stored_ahead = sets;
    }

    pub(crate) fn has_stored_ahead(&self) -> bool {
        !self.stored_ahead.is_empty()
    }

    /// The version counters (see `kept`) as they stand in this transaction: as read when it began, or read again
    /// if a command that may have moved them has run in it since (a change to a profile or a record moves a counter,
    /// by trigger, in the change's own transaction). A command decided under versions is run only if these are
    /// they; compared with those the transaction began with, it would run after a command of the same commit had
    /// changed what it was decided on. If the read fails the transaction is not committed.
    pub(crate) async fn versions_now(&mut self) -> Result<Versions> {
        if self.versions_moved {
            match kept::read_versions(self.conn()).await {
                Ok(versions) => {
                    self.versions = versions;
                    self.versions_moved = false;
                }
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
        Ok(self.versions)
    }

    /// Says that a command has run which may have changed a profile or a record: the versions are read again before
    /// they are next compared.
    pub(crate) fn versions_may_have_moved(&mut self) {
        self.versions_moved = true;
    }

    /// The instant this command is stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Where a statement in this transaction runs.
    pub(crate) fn conn(&mut self) -> On<'_> {
        On::Tx(self)
    }

    /// Runs a statement that keeps the transaction whole; if it fails, the transaction is marked broken.
    pub(crate) async fn statement(&mut self, sql: &'static str) -> Result<()> {
        let ran = query(sql).execute(self.conn()).await.map(|_| ());
        if ran.is_err() {
            self.broken = true;
        }
        ran
    }

    /// Appends the command's audit entry and commits: the response that says "done" may be sent after this returns.
    pub async fn commit(mut self, draft: AuditDraft) -> Result<AuditEntry> {
        let entry = self.append(draft).await?;
        self.finish().await?;
        Ok(entry)
    }
}

/// Runs `f` on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StoreError::Commit("the database thread stopped".into()))?
}

/// The turn to migrate an SQLite file: an exclusive lock on `FILE-migrate` beside it, waited for on a blocking
/// thread and released when the returned file is dropped. (Not the database file itself: closing another descriptor
/// of it would release SQLite's own locks in this process.)
async fn migration_turn(db: &std::path::Path) -> Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    if db.as_os_str().is_empty() || db.to_str() == Some(":memory:") {
        return Ok(None);
    }
    let mut name = db.as_os_str().to_owned();
    name.push("-migrate");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&name)
        .map_err(|e| StoreError::Migrate(format!("cannot open the migration lock {}: {e}", name.display())))?;
    blocking(move || {
        file.lock()
            .map_err(|e| StoreError::Migrate(format!("cannot take the migration lock: {e}")))?;
        Ok(Some(file))
    })
    .await
}

/// Creates a new SQLite file readable and writable by its owner only (it holds patient data); SQLite gives its
/// journal files the same permissions. An existing file is left as it is.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The migrations a database has, beside those this build knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migrations {
    /// The number of the latest applied (`NNNN` of its file), if any.
    pub latest: Option<i64>,
    /// How many this build knows.
    pub known: usize,
    /// Known to this build and not applied: the database is behind it.
    pub missing: Vec<i64>,
    /// Applied and unknown to this build: the database is ahead of it (a newer build migrated it).
    pub unknown: Vec<i64>,
}

impl Migrations {
    /// Whether this build can serve the database: every migration it knows is applied. (One applied that it does
    /// not know came from a newer build, which adds and never takes away: a rolling upgrade serves on.)
    pub fn ready(&self) -> bool {
        self.missing.is_empty()
    }
}

/// The migrations of each dialect, embedded from `migrations/sqlite` and `migrations/postgres` (`NNNN_what.sql`, in
/// order; a new one is a file in each folder with the next number). The checksum of each applied migration is kept
/// by sqlx, which refuses to run against a database whose applied migrations were changed since.
static SQLITE_MIGRATIONS: Migrator = sqlx_macros::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx_macros::migrate!("migrations/postgres");

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Reads a column that must be present, turning a decoding failure into a store error.
pub(crate) fn col<T: FromVal>(row: &Row, name: &str) -> Result<T> {
    row.get(name)
}

/// Parses a stored value with a domain parser; a failure means the database holds what remit would never write.
pub(crate) fn stored<T>(what: &str, r: Result<T, remit_domain::InvalidValue>) -> Result<T> {
    r.map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// For the store's own tests on PostgreSQL: a new database with a unique name on `REMIT_TEST_DATABASE_URL`'s server,
/// as (the admin URL, the database's name, its URL); `None`, saying so, when no server is given. The test drops it.
#[cfg(test)]
pub(crate) async fn test_database(prefix: &str, needs: &str) -> Option<(String, String, String)> {
    let Ok(admin) = std::env::var("REMIT_TEST_DATABASE_URL") else {
        eprintln!("skipped: REMIT_TEST_DATABASE_URL is not set ({needs} needs PostgreSQL)");
        return None;
    };
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    admin_execute(&admin, &format!("CREATE DATABASE {name}"))
        .await
        .expect("create");
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /DATABASE");
    let url = format!("{base}/{name}");
    Some((admin, name, url))
}

/// For the store's own tests: runs `test` on a new SQLite database in a temporary folder, given the store and its URL.
#[cfg(test)]
pub(crate) async fn on_sqlite<F: std::future::Future<Output = ()>>(test: impl FnOnce(Store, String) -> F) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = Store::connect(&url, std::sync::Arc::new(remit_domain::time::SystemClock))
        .await
        .expect("connect");
    test(store, url).await;
}

/// For the store's own tests: runs `test` on a new PostgreSQL database named from `prefix` (see [`test_database`]),
/// given the store and its URL, and drops the database afterwards; skipped, saying so, where no server is given.
#[cfg(test)]
pub(crate) async fn on_postgres<F: std::future::Future<Output = ()>>(
    prefix: &str,
    what: &str,
    test: impl FnOnce(Store, String) -> F,
) {
    let Some((admin, name, url)) = test_database(prefix, what).await else {
        return;
    };
    let store = Store::connect(&url, std::sync::Arc::new(remit_domain::time::SystemClock))
        .await
        .expect("connect");
    test(store.clone(), url).await;
    store.close().await;
    admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop");
}
