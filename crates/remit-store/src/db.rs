//! One way to run a statement on either backend. The SQL is written once (`$1`-style parameters, which SQLite reads
//! as named parameters); the arguments and the rows are remit's own small types.
//!
//! - **PostgreSQL** goes through sqlx's PostgreSQL driver, asynchronously, on connections of a small pool of remit's
//!   own: sqlx's pool sends a round trip of its own (a "ping") every time a connection is given back, which was a
//!   third of the round trips of a recorded set.
//! - **SQLite** goes through `rusqlite` (the same SQLite library sqlx links), on the calling thread: a statement
//!   is an indexed read or write of a few rows, far shorter than handing it to a connection thread and the rows
//!   back one message at a time, which is what sqlx does and what cost over a third of the server's CPU under load.
//!   What may wait (taking the write lock, syncing a commit) runs on the writer's own thread or a blocking thread,
//!   never on a request's.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Column, Connection, PgConnection, Postgres, TypeInfo};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Result, Store, StoreError, WriteTx};

/// A bound argument: typed even when null, since PostgreSQL must know a parameter's type.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

pub(crate) trait IntoArg {
    fn into_arg(self) -> Arg;
}

/// `IntoArg` for each type a statement binds: as what kind of argument, and how it becomes one.
macro_rules! into_arg {
    ($($t:ty => $kind:ident($v:ident) $make:expr;)*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                let $v = self;
                Arg::$kind($make)
            }
        }
    )*};
}

into_arg! {
    i64 => Int(v) Some(v);
    Option<i64> => Int(v) v;
    String => Text(v) Some(v);
    Option<String> => Text(v) v;
    &str => Text(v) Some(v.to_owned());
    Option<&str> => Text(v) v.map(str::to_owned);
    &String => Text(v) Some(v.clone());
    Option<&String> => Text(v) v.cloned();
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A row: its columns' names (shared by every row of one statement) and values.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    names: Arc<[String]>,
    values: Vec<Val>,
    /// Where the next column asked for is looked for first: just after the last one found, since a row is mostly
    /// read in the order of its statement's columns (a chart reads some forty columns of fifty rows).
    next: std::cell::Cell<usize>,
}

/// What a column may be read as.
pub(crate) trait FromVal: Sized {
    fn from_val(v: &Val) -> Option<Self>;
}

impl FromVal for i64 {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromVal for String {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            v => T::from_val(v).map(Some),
        }
    }
}

impl Row {
    /// The value of the column `name`, as `T`; a missing column or another type is an error naming the column.
    pub(crate) fn get<T: FromVal>(&self, name: &str) -> Result<T> {
        let i = self
            .position(name)
            .ok_or_else(|| StoreError::Corrupt(format!("no column `{name}` in the row")))?;
        T::from_val(&self.values[i]).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "column `{name}` holds {}, not the type expected",
                match &self.values[i] {
                    Val::Null => "null",
                    Val::Int(_) => "an integer",
                    Val::Real(_) => "a real number",
                    Val::Text(_) => "text",
                }
            ))
        })
    }

    /// Where the column `name` is.
    fn position(&self, name: &str) -> Option<usize> {
        let start = self.next.get().min(self.names.len());
        let (before, after) = self.names.split_at(start);
        let i = match after.iter().position(|n| n == name) {
            Some(i) => start + i,
            None => before.iter().position(|n| n == name)?,
        };
        self.next.set(i + 1);
        Some(i)
    }

    /// The column `name` when it holds text.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        let i = self.position(name)?;
        match &self.values[i] {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    fn from_pg(row: &PgRow, names: &Arc<[String]>) -> Result<Self> {
        use sqlx::{Row as _, ValueRef as _};
        /// Decodes a value whose type the match below has named (so sqlx's own check of it, and a second lookup of
        /// the column, are not needed: they were a fifth of a board's instructions on PostgreSQL).
        fn decode<'r, T: sqlx::Decode<'r, Postgres>>(raw: sqlx::postgres::PgValueRef<'r>, name: &str) -> Result<T> {
            T::decode(raw).map_err(|source| {
                StoreError::Database(sqlx::Error::ColumnDecode {
                    index: format!("`{name}`"),
                    source,
                })
            })
        }
        let mut values = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            let raw = row.try_get_raw(i)?;
            values.push(if raw.is_null() {
                Val::Null
            } else {
                let type_info = raw.type_info().into_owned();
                match type_info.name() {
                    "BOOL" => Val::Int(i64::from(decode::<bool>(raw, &names[i])?)),
                    "INT2" => Val::Int(i64::from(decode::<i16>(raw, &names[i])?)),
                    "INT4" => Val::Int(i64::from(decode::<i32>(raw, &names[i])?)),
                    "INT8" => Val::Int(decode::<i64>(raw, &names[i])?),
                    "FLOAT4" => Val::Real(f64::from(decode::<f32>(raw, &names[i])?)),
                    "FLOAT8" => Val::Real(decode::<f64>(raw, &names[i])?),
                    "TEXT" | "VARCHAR" | "CHAR" | "NAME" => Val::Text(decode::<String>(raw, &names[i])?),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "column `{}` is of type {other}, which remit does not read",
                            names[i]
                        )));
                    }
                }
            });
        }
        Ok(Row {
            names: names.clone(),
            values,
            next: Default::default(),
        })
    }
}

/// Whether no two of a statement's columns share a name: a row's columns are found by name, from where the last
/// was found, so of two alike the one found would depend on the order they are read in.
fn distinct(names: &[String]) -> bool {
    names.iter().enumerate().all(|(i, n)| !names[..i].contains(n))
}

/// Where a statement runs: on the store (a connection of the pool) or in a write transaction.
pub(crate) enum On<'a> {
    Store(&'a Store),
    Tx(&'a mut WriteTx),
}

/// A statement with its arguments.
#[must_use]
pub(crate) struct Query {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

/// A statement written into the source.
pub(crate) fn query(sql: &'static str) -> Query {
    Query {
        sql: Cow::Borrowed(sql),
        args: Vec::new(),
    }
}

/// A statement put together at run time. Only from the source's own fragments, never from input.
pub(crate) fn query_built(sql: String) -> Query {
    Query {
        sql: Cow::Owned(sql),
        args: Vec::new(),
    }
}

enum Want {
    Rows,
    Changes,
}

enum Ran {
    Rows(Vec<Row>),
    Changes(u64),
}

impl Query {
    pub(crate) fn bind(mut self, value: impl IntoArg) -> Self {
        self.args.push(value.into_arg());
        self
    }

    pub(crate) async fn fetch_all(self, on: On<'_>) -> Result<Vec<Row>> {
        match self.run(on, Want::Rows).await? {
            Ran::Rows(rows) => Ok(rows),
            Ran::Changes(_) => Ok(Vec::new()),
        }
    }

    pub(crate) async fn fetch_optional(self, on: On<'_>) -> Result<Option<Row>> {
        Ok(self.fetch_all(on).await?.into_iter().next())
    }

    pub(crate) async fn fetch_one(self, on: On<'_>) -> Result<Row> {
        self.fetch_optional(on)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute(self, on: On<'_>) -> Result<u64> {
        match self.run(on, Want::Changes).await? {
            Ran::Changes(n) => Ok(n),
            Ran::Rows(rows) => Ok(rows.len() as u64),
        }
    }

    async fn run(self, on: On<'_>, want: Want) -> Result<Ran> {
        match on {
            On::Store(store) => match &store.shared.db {
                Db::Lite(lite) => lite.with(|conn| self.run_lite(conn, want)),
                Db::Pg(pool) => {
                    let mut lease = pool.take().await?;
                    let ran = self.run_pg(lease.conn()?, want).await;
                    if ran.is_ok() {
                        lease.keep();
                    }
                    ran
                }
            },
            On::Tx(tx) => match &mut tx.conn {
                TxConn::Lite(lite) => self.run_lite(lite.conn()?, want),
                TxConn::Pg(lease) => self.run_pg(lease.conn()?, want).await,
            },
        }
    }

    async fn run_pg(self, conn: &mut PgConnection, want: Want) -> Result<Ran> {
        let mut q = match self.sql {
            Cow::Borrowed(sql) => sqlx::query::<Postgres>(sql),
            Cow::Owned(sql) => sqlx::query::<Postgres>(sqlx::AssertSqlSafe(sql)),
        };
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        Ok(match want {
            Want::Rows => {
                let rows = q.fetch_all(conn).await?;
                let Some(first) = rows.first() else {
                    return Ok(Ran::Rows(Vec::new()));
                };
                // The columns' names once for the statement, shared by its rows.
                let names: Arc<[String]> = sqlx::Row::columns(first).iter().map(|c| c.name().to_owned()).collect();
                debug_assert!(distinct(&names), "a statement names two columns alike: {names:?}");
                Ran::Rows(rows.iter().map(|r| Row::from_pg(r, &names)).collect::<Result<_>>()?)
            }
            Want::Changes => Ran::Changes(q.execute(conn).await?.rows_affected()),
        })
    }

    /// Runs the statement on an SQLite connection. A parameter `$n` takes the n-th argument, wherever it appears
    /// and however often.
    fn run_lite(self, conn: &rusqlite::Connection, want: Want) -> Result<Ran> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        for i in 1..=stmt.parameter_count() {
            let n = match stmt.parameter_name(i) {
                Some(name) => name
                    .strip_prefix(['$', '?'])
                    .and_then(|d| d.parse::<usize>().ok())
                    .ok_or_else(|| StoreError::Invalid(format!("statement parameter `{name}` is not numbered")))?,
                None => i,
            };
            let arg = self.args.get(n.wrapping_sub(1)).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "statement parameter ${n} has no argument ({} given)",
                    self.args.len()
                ))
            })?;
            match arg {
                Arg::Int(v) => stmt.raw_bind_parameter(i, v)?,
                Arg::Text(v) => stmt.raw_bind_parameter(i, v)?,
            }
        }
        if let Want::Changes = want
            && stmt.column_count() == 0
        {
            return Ok(Ran::Changes(stmt.raw_execute()? as u64));
        }
        let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        debug_assert!(distinct(&names), "a statement names two columns alike: {names:?}");
        let width = names.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Real(v) => Val::Real(v),
                    ValueRef::Text(t) => Val::Text(
                        std::str::from_utf8(t)
                            .map_err(|_| StoreError::Corrupt(format!("column {i} holds text that is not UTF-8")))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(_) => Val::Null,
                });
            }
            out.push(Row {
                names: names.clone(),
                values,
                next: Default::default(),
            });
        }
        drop(rows);
        Ok(match want {
            Want::Rows => Ran::Rows(out),
            // A statement with RETURNING run for its changes.
            Want::Changes => Ran::Changes(conn.changes()),
        })
    }
}

/// The store's connections.
#[derive(Clone)]
pub(crate) enum Db {
    Lite(Arc<LitePool>),
    Pg(Arc<PgPool>),
}

/// PostgreSQL connections kept for reuse. A statement or transaction takes one for as long as it runs and gives it
/// back only when it ended normally: one whose work failed or was cancelled part-way is closed instead (the server
/// then ends whatever it was doing), so a connection in the pool is always idle and outside any transaction.
pub(crate) struct PgPool {
    hosts: Hosts,
    /// Idle connections: each with when it went idle and when it was opened.
    idle: Mutex<Vec<(PgConnection, std::time::Instant, std::time::Instant)>>,
    /// One permit a connection: bounds how many are open.
    permits: Arc<Semaphore>,
    limits: PgLimits,
}

/// The bounds of a PostgreSQL pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PgLimits {
    /// Connections open at once.
    pub max: usize,
    /// How long a statement waits for a connection to come free before it is answered [`StoreError::Busy`].
    pub wait: std::time::Duration,
    /// How long a connection is used before it is closed and replaced: a server's memory per backend grows with
    /// what it has cached, and a failover or a changed setting reaches every connection within this long.
    pub lifetime: std::time::Duration,
}

impl PgLimits {
    pub(crate) const fn of(max: usize) -> Self {
        Self {
            max,
            wait: std::time::Duration::from_secs(5),
            lifetime: std::time::Duration::from_secs(30 * 60),
        }
    }
}

/// How long a connection may sit idle before it is checked with a ping when it is next taken (the server may have
/// closed it meanwhile).
const PG_IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(10);

impl PgPool {
    /// A pool of at most `max` connections to `url`; the first is opened now, so that a bad URL or an unreachable
    /// server is reported at once.
    pub(crate) async fn connect(url: &str, limits: PgLimits) -> Result<Arc<Self>> {
        let pool = Self::lazy(url, limits)?;
        pool.take().await?.keep();
        Ok(pool)
    }

    /// A pool that opens its first connection when it is first used.
    pub(crate) fn lazy(url: &str, limits: PgLimits) -> Result<Arc<Self>> {
        Ok(Arc::new(PgPool {
            hosts: Hosts::parse(url)?,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(limits.max)),
            limits,
        }))
    }

    /// A connection for one statement or transaction: an idle one (checked with a ping if it has been idle a while,
    /// replaced if it has lived its lifetime), or a new one. Waits at most [`PgLimits::wait`] for one to come free.
    pub(crate) async fn take(self: &Arc<Self>) -> Result<PgLease> {
        let closed = || StoreError::Connect(sqlx::Error::PoolClosed);
        // A free connection is taken at once; only a wait for one is timed (a timer a statement would cost more than
        // the take).
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(closed()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.limits.wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(closed()),
                    Err(_) => {
                        return Err(StoreError::Busy(format!(
                            "all {} database connections stayed busy for {} s",
                            self.limits.max,
                            self.limits.wait.as_secs_f64()
                        )));
                    }
                }
            }
        };
        loop {
            let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let (conn, opened) = match kept {
                Some((conn, _, opened)) if opened.elapsed() >= self.limits.lifetime => {
                    let _ = conn.close().await;
                    continue;
                }
                Some((conn, since, opened)) if since.elapsed() < PG_IDLE_BEFORE_PING => (conn, opened),
                Some((mut conn, _, opened)) => match conn.ping().await {
                    Ok(()) => (conn, opened),
                    // Gone while idle: try the next, or open a new one.
                    Err(_) => continue,
                },
                None => (self.hosts.connect().await?, std::time::Instant::now()),
            };
            return Ok(PgLease {
                conn: Some(conn),
                pool: self.clone(),
                keep: false,
                opened,
                _permit: permit,
            });
        }
    }

    /// A connection of its own, outside the pool, to the host the pool's connections go to now.
    pub(crate) async fn connect_single(&self) -> Result<PgConnection> {
        self.hosts.connect().await
    }

    /// The options of the host the pool's connections go to now (checked by connecting).
    pub(crate) async fn options(&self) -> Result<PgConnectOptions> {
        let conn = self.hosts.connect().await?;
        let _ = sqlx::Connection::close(conn).await;
        Ok(self.hosts.current())
    }

    /// Closes the idle connections and refuses new work.
    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for (conn, ..) in idle {
            let _ = conn.close().await;
        }
    }
}

/// How long one PostgreSQL host is given to accept a connection before the next is tried.
const HOST_CONNECT: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL servers a URL names, tried in order (`postgres://h1:p1,h2:p2/db`, as libpq takes them), and
/// whether a connection must be able to write (`target_session_attrs=read-write`, or `primary`): after a failover
/// the standby promoted is found among them, and a server still in recovery (a standby) is passed over. The host
/// that answered last is tried first.
pub(crate) struct Hosts {
    options: Vec<PgConnectOptions>,
    read_write: bool,
    current: std::sync::atomic::AtomicUsize,
}

/// The `application_name` remit's connections give PostgreSQL where the URL gives none.
const APPLICATION_NAME: &str = "remit";

impl Hosts {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let bad = |why: String| StoreError::Connect(sqlx::Error::Configuration(why.into()));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("a PostgreSQL URL starts with postgres://".into()))?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut read_write = false;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("target_session_attrs", v)) => {
                    read_write = match v {
                        "any" => false,
                        "read-write" | "primary" => true,
                        other => {
                            return Err(bad(format!(
                                "target_session_attrs must be any, read-write or primary, not `{other}`"
                            )));
                        }
                    }
                }
                _ => kept.push(pair),
            }
        }
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        let options = hosts
            .split(',')
            .map(|host| {
                let options = format!("{scheme}://{user}{host}{path}{query}")
                    .parse::<PgConnectOptions>()
                    .map_err(StoreError::Connect)?;
                // So that an administrator tells remit's connections apart in `pg_stat_activity` and the server's
                // log, unless the URL names them otherwise.
                Ok(match options.get_application_name() {
                    Some(_) => options,
                    None => options.application_name(APPLICATION_NAME),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            options,
            read_write,
            current: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn current(&self) -> PgConnectOptions {
        self.options[self.current.load(std::sync::atomic::Ordering::Relaxed) % self.options.len()].clone()
    }

    /// A connection to the first host, from the one that answered last, that answers (and can write, if asked).
    async fn connect(&self) -> Result<PgConnection> {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.options.len();
        let first = self.current.load(Relaxed) % n;
        let mut last = None;
        for i in (0..n).map(|k| (first + k) % n) {
            // A host that is gone without a word (its machine lost) must not hold up the next for the system's
            // connect timeout, minutes long.
            let attempt = tokio::time::timeout(HOST_CONNECT, PgConnection::connect_with(&self.options[i])).await;
            match attempt.unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut)) {
                Ok(mut conn) => {
                    if self.read_write {
                        let standby: std::result::Result<bool, _> = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                            .fetch_one(&mut conn)
                            .await;
                        if !matches!(standby, Ok(false)) {
                            let _ = sqlx::Connection::close(conn).await;
                            last = Some(sqlx::Error::Configuration(
                                "no server named in the URL accepts writes (each is a standby, or did not answer)"
                                    .into(),
                            ));
                            continue;
                        }
                    }
                    self.current.store(i, Relaxed);
                    return Ok(conn);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(StoreError::Connect(last.unwrap_or(sqlx::Error::PoolClosed)))
    }
}

/// A connection taken from the pool: given back when dropped after [`PgLease::keep`], closed otherwise.
pub(crate) struct PgLease {
    conn: Option<PgConnection>,
    pool: Arc<PgPool>,
    keep: bool,
    opened: std::time::Instant,
    _permit: OwnedSemaphorePermit,
}

impl PgLease {
    pub(crate) fn conn(&mut self) -> Result<&mut PgConnection> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Commit("the connection has already been given back".into()))
    }

    /// Marks the connection as idle and sound: it goes back to the pool when the lease is dropped.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        if let (true, Some(conn)) = (self.keep, self.conn.take()) {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push((
                conn,
                std::time::Instant::now(),
                self.opened,
            ));
        }
    }
}

/// SQLite connections to one file, kept for reuse; a statement takes one for as long as it runs.
pub(crate) struct LitePool {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Connections kept idle: enough for the request threads, the writer and a few blocking tasks.
const LITE_IDLE: usize = 8;
/// Prepared statements kept per connection.
const LITE_STATEMENTS: usize = 128;

pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

impl LitePool {
    pub(crate) fn open(path: PathBuf) -> Result<Self> {
        let pool = LitePool {
            path,
            idle: Mutex::new(Vec::new()),
        };
        // Opened once here so that a bad path is reported at connection time.
        let conn = pool.take()?;
        pool.put(conn);
        Ok(pool)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn take(&self) -> Result<rusqlite::Connection> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.execute_batch(SQLITE_PRAGMAS)?;
        conn.set_prepared_statement_cache_capacity(LITE_STATEMENTS);
        Ok(conn)
    }

    /// Returns a connection for reuse. One left inside a transaction (a panic part-way) is closed instead.
    pub(crate) fn put(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < LITE_IDLE {
            idle.push(conn);
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<R>) -> Result<R> {
        let conn = self.take()?;
        let out = f(&conn);
        self.put(conn);
        out
    }

    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// A write transaction's connection. On PostgreSQL the transaction is begun, committed and rolled back with plain
/// statements; a lease dropped unfinished closes its connection, and with it the transaction.
pub(crate) enum TxConn {
    Lite(LiteTx),
    Pg(PgLease),
}

/// An SQLite write transaction: `BEGIN IMMEDIATE` taken on a pooled connection, rolled back if dropped unfinished.
pub(crate) struct LiteTx {
    conn: Option<rusqlite::Connection>,
    pool: Arc<LitePool>,
}

impl LiteTx {
    /// Begins on this thread: waits for the write lock if another connection holds it.
    pub(crate) fn begin(pool: Arc<LitePool>) -> Result<Self> {
        let conn = pool.take()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(LiteTx { conn: Some(conn), pool })
    }

    pub(crate) fn conn(&self) -> Result<&rusqlite::Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Commit("the transaction has already ended".into()))
    }

    /// Commits on this thread (the sync to disk included).
    pub(crate) fn commit(mut self) -> Result<()> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Commit("the transaction has already ended".into()))?;
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.pool.put(conn);
                Ok(())
            }
            Err(e) => {
                // A failed commit leaves the transaction open: roll it back before the connection is reused.
                if conn.execute_batch("ROLLBACK").is_ok() {
                    self.pool.put(conn);
                }
                Err(e.into())
            }
        }
    }
}

impl Drop for LiteTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && conn.execute_batch("ROLLBACK").is_ok()
        {
            self.pool.put(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool on a new file of its own, removed when dropped.
    struct Scratch(Arc<LitePool>);

    impl Scratch {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("remit-db-{name}-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            Scratch(Arc::new(LitePool::open(path).expect("open")))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            self.0.close();
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.0.path().as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn rows(q: Query, conn: &rusqlite::Connection) -> Vec<Row> {
        match q.run_lite(conn, Want::Rows).expect("runs") {
            Ran::Rows(rows) => rows,
            Ran::Changes(_) => panic!("rows expected"),
        }
    }

    #[test]
    fn a_numbered_parameter_takes_its_argument_wherever_and_however_often_it_appears() {
        let db = Scratch::new("params");
        db.0.with(|conn| {
            let got = rows(
                query("SELECT $2 AS b, $1 AS a, $2 AS c, $3 AS n")
                    .bind(7i64)
                    .bind("x")
                    .bind(None::<i64>),
                conn,
            );
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].get::<String>("b")?, "x");
            assert_eq!(got[0].get::<i64>("a")?, 7);
            assert_eq!(got[0].get::<String>("c")?, "x");
            assert_eq!(got[0].get::<Option<i64>>("n")?, None);
            // Read as the wrong type, or a column that is not there: an error that names the column.
            let wrong = got[0].get::<i64>("b").unwrap_err().to_string();
            assert!(wrong.contains("`b`") && wrong.contains("text"), "{wrong}");
            assert!(got[0].get::<i64>("z").unwrap_err().to_string().contains("`z`"));
            Ok(())
        })
        .expect("queries");
    }

    #[test]
    fn a_parameter_without_an_argument_is_named() {
        let db = Scratch::new("missing");
        let e = db.0.with(|conn| {
            query("SELECT $1 AS a, $2 AS b")
                .bind(1i64)
                .run_lite(conn, Want::Rows)
                .map(|_| ())
        });
        let message = e.unwrap_err().to_string();
        assert!(message.contains("$2") && message.contains("1 given"), "{message}");
    }

    #[test]
    fn sqlite_constraint_errors_are_recognised_and_an_unfinished_transaction_rolls_back() {
        let db = Scratch::new("tx");
        db.0.with(|conn| {
            conn.execute_batch(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY); \
                 CREATE TABLE t (code TEXT UNIQUE, parent INTEGER REFERENCES parent (id)); INSERT INTO parent VALUES (1);",
            )?;
            Ok(())
        })
        .expect("schema");
        let insert = |code: &str, parent: i64| {
            db.0.with(|conn| {
                query("INSERT INTO t (code, parent) VALUES ($1, $2)")
                    .bind(code)
                    .bind(parent)
                    .run_lite(conn, Want::Changes)
                    .map(|_| ())
            })
        };
        insert("a", 1).expect("first");
        let twice = insert("a", 1).unwrap_err();
        assert!(
            twice.is_unique_violation() && !twice.is_foreign_key_violation(),
            "{twice}"
        );
        let orphan = insert("b", 2).unwrap_err();
        assert!(
            orphan.is_foreign_key_violation() && !orphan.is_unique_violation(),
            "{orphan}"
        );

        let tx = LiteTx::begin(db.0.clone()).expect("begin");
        query("INSERT INTO t (code, parent) VALUES ($1, $2)")
            .bind("c")
            .bind(1i64)
            .run_lite(tx.conn().expect("open"), Want::Changes)
            .expect("insert");
        drop(tx);
        let count = db.0.with(|conn| Ok(rows(query("SELECT COUNT(*) AS n FROM t"), conn)));
        assert_eq!(
            count.expect("count")[0].get::<i64>("n").expect("n"),
            1,
            "the dropped transaction rolled back"
        );
        // And the connection it held was handed back usable: a new write transaction can begin and commit.
        let tx = LiteTx::begin(db.0.clone()).expect("begin again");
        query("INSERT INTO t (code, parent) VALUES ('d', 1)")
            .run_lite(tx.conn().expect("open"), Want::Changes)
            .expect("insert");
        tx.commit().expect("commit");
        let count = db.0.with(|conn| Ok(rows(query("SELECT COUNT(*) AS n FROM t"), conn)));
        assert_eq!(count.expect("count")[0].get::<i64>("n").expect("n"), 2);
    }

    #[test]
    fn sqlite_is_built_with_a_page_cache_per_connection_and_no_allocation_statistics() {
        // `.cargo/config.toml` sets these for libsqlite3-sys: its default shares one page cache, behind one mutex,
        // between every connection of the process.
        let db = Scratch::new("options");
        let options =
            db.0.with(|conn| Ok(rows(query("PRAGMA compile_options"), conn)))
                .expect("options");
        let options: Vec<String> = options
            .iter()
            .map(|r| r.get::<String>("compile_options").expect("text"))
            .collect();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "one shared page cache: {options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "allocation statistics on: {options:?}"
        );
    }

    /// The backend process serving a connection of `pool`, which is given back afterwards.
    async fn backend_pid(pool: &Arc<PgPool>) -> i64 {
        let mut lease = pool.take().await.expect("a connection");
        let rows = match query("SELECT pg_backend_pid()::BIGINT AS pid")
            .run_pg(lease.conn().expect("held"), Want::Rows)
            .await
            .expect("pid")
        {
            Ran::Rows(rows) => rows,
            Ran::Changes(_) => Vec::new(),
        };
        lease.keep();
        rows[0].get("pid").expect("pid")
    }

    /// Every PostgreSQL type remit reads comes back as its value, a null as null, and any other type is an error
    /// that names the column.
    #[tokio::test]
    async fn postgres_values_are_read_by_their_type() {
        let Some((admin, name, url)) = crate::test_database("remit_types", "the PostgreSQL types test").await else {
            return;
        };
        let pool = PgPool::connect(&url, PgLimits::of(1)).await.expect("connect");
        let mut lease = pool.take().await.expect("a connection");
        let rows = match query(
            "SELECT TRUE AS b, 2::int2 AS s, 4::int4 AS i, 8000000000::int8 AS l, 1.5::float4 AS f, \
             2.25::float8 AS d, 'x'::text AS t, 'y'::varchar AS v, 'z'::char(1) AS c, NULL::int8 AS n",
        )
        .run_pg(lease.conn().expect("held"), Want::Rows)
        .await
        .expect("runs")
        {
            Ran::Rows(rows) => rows,
            Ran::Changes(_) => panic!("rows expected"),
        };
        let r = &rows[0];
        // Read out of order too: the column looked for first is not always the next one.
        assert_eq!(r.get::<String>("c").expect("c"), "z");
        assert_eq!(r.get::<i64>("b").expect("b"), 1);
        assert_eq!(r.get::<i64>("s").expect("s"), 2);
        assert_eq!(r.get::<i64>("i").expect("i"), 4);
        assert_eq!(r.get::<i64>("l").expect("l"), 8_000_000_000);
        assert!(matches!(r.values[4], Val::Real(f) if f == 1.5));
        assert!(matches!(r.values[5], Val::Real(d) if d == 2.25));
        assert_eq!(r.get::<String>("t").expect("t"), "x");
        assert_eq!(r.get::<String>("v").expect("v"), "y");
        assert_eq!(r.get::<Option<i64>>("n").expect("n"), None);
        let numeric = query("SELECT 1.5::numeric AS amount")
            .run_pg(lease.conn().expect("held"), Want::Rows)
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(numeric.contains("`amount`") && numeric.contains("NUMERIC"), "{numeric}");
        lease.keep();
        pool.close().await;
        crate::admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }

    #[tokio::test]
    async fn a_postgres_connection_goes_back_to_the_pool_only_after_its_work_ended_normally() {
        let Some((admin, name, url)) = crate::test_database("remit_pool", "the PostgreSQL pool test").await else {
            return;
        };
        // One connection, so that every statement below is served by whichever connection the pool holds.
        let pool = PgPool::connect(&url, PgLimits::of(1)).await.expect("connect");

        // Work that ends normally: the same connection serves the next statement (no new one, no ping between).
        let first = backend_pid(&pool).await;
        assert_eq!(backend_pid(&pool).await, first, "a connection given back is reused");

        // A statement that fails: its connection is closed, not given back.
        let mut lease = pool.take().await.expect("a connection");
        assert!(
            query("SELECT 1 / 0 AS x")
                .run_pg(lease.conn().expect("held"), Want::Rows)
                .await
                .is_err()
        );
        drop(lease);
        let after_error = backend_pid(&pool).await;
        assert_ne!(
            after_error, first,
            "the connection of a failed statement was given back"
        );

        // Work cancelled part-way (its future dropped while the server is still busy): closed too, and the next
        // statement is answered at once by a new connection rather than after the cancelled one.
        let slow = async {
            let mut lease = pool.take().await?;
            query("SELECT pg_sleep(30)").run_pg(lease.conn()?, Want::Rows).await?;
            lease.keep();
            Ok::<_, StoreError>(())
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(300), slow)
                .await
                .is_err()
        );
        let started = std::time::Instant::now();
        let after_cancel = backend_pid(&pool).await;
        assert_ne!(
            after_cancel, after_error,
            "the connection of a cancelled statement was given back"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "waited for the cancelled statement"
        );

        // A transaction left unfinished (dropped) is closed with its connection: nothing of it remains.
        let mut lease = pool.take().await.expect("a connection");
        query("BEGIN")
            .run_pg(lease.conn().expect("held"), Want::Changes)
            .await
            .expect("begin");
        query("CREATE TABLE half (x BIGINT)")
            .run_pg(lease.conn().expect("held"), Want::Changes)
            .await
            .expect("create");
        drop(lease);
        let mut lease = pool.take().await.expect("a connection");
        let ran = query("SELECT COUNT(*) AS n FROM pg_class WHERE relname = 'half'")
            .run_pg(lease.conn().expect("held"), Want::Rows)
            .await
            .expect("count");
        lease.keep();
        let Ran::Rows(rows) = ran else { panic!("rows") };
        assert_eq!(
            rows[0].get::<i64>("n").expect("n"),
            0,
            "an unfinished transaction was kept"
        );

        pool.close().await;
        crate::admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }

    /// Also: the pool's connections give the server remit's `application_name`, or the URL's.
    #[tokio::test]
    async fn a_postgres_pool_waits_a_bounded_time_and_replaces_old_connections() {
        let Some((admin, name, url)) =
            crate::test_database("remit_pool_bounds", "the PostgreSQL pool bounds test").await
        else {
            return;
        };
        let limits = PgLimits {
            max: 2,
            wait: std::time::Duration::from_millis(200),
            lifetime: std::time::Duration::from_secs(3600),
        };
        let pool = PgPool::connect(&url, limits).await.expect("connect");
        // The server is told whose connections they are, unless the URL says otherwise.
        let named = |pool: Arc<PgPool>| async move {
            let mut lease = pool.take().await.expect("a connection");
            let row = query("SELECT current_setting('application_name') AS name")
                .run_pg(lease.conn().expect("open"), Want::Rows)
                .await
                .expect("asked");
            lease.keep();
            match row {
                Ran::Rows(rows) => rows[0].get::<String>("name").expect("name"),
                Ran::Changes(_) => panic!("rows expected"),
            }
        };
        assert_eq!(named(pool.clone()).await, "remit");
        let sep = if url.contains('?') { '&' } else { '?' };
        let elsewhere = PgPool::connect(&format!("{url}{sep}application_name=remit-ops"), limits)
            .await
            .expect("connect");
        assert_eq!(named(elsewhere.clone()).await, "remit-ops");
        elsewhere.close().await;

        // Every connection held: the next statement waits its bound, then is answered `Busy`, naming the cause.
        let held = (
            pool.take().await.expect("the first"),
            pool.take().await.expect("the second"),
        );
        let started = std::time::Instant::now();
        let busy = pool.take().await;
        let waited = started.elapsed();
        match busy {
            Err(StoreError::Busy(m)) => assert!(m.contains("all 2 database connections"), "{m}"),
            Err(e) => panic!("not busy: {e}"),
            Ok(_) => panic!("a third connection was opened beyond the bound of two"),
        }
        assert!(waited >= limits.wait, "answered before the wait was up: {waited:?}");
        // One given back: the next statement has it.
        let (first, second) = held;
        first.keep();
        let again = backend_pid(&pool).await;
        drop(second);

        // A connection that has lived its lifetime is closed when it is next taken, and a new one serves.
        let old = PgPool::connect(
            &url,
            PgLimits {
                lifetime: std::time::Duration::from_millis(50),
                ..limits
            },
        )
        .await
        .expect("connect");
        let before = backend_pid(&old).await;
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        assert_ne!(
            backend_pid(&old).await,
            before,
            "a connection past its lifetime was used again"
        );
        assert!(again > 0);

        pool.close().await;
        old.close().await;
        crate::admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }
}
