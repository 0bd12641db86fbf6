//! Changes that open pages must see (an escalation raised or moved on, a set recorded, a task moved, a patient come
//! or gone), carried from the transaction that made them to every process using the same database.
//!
//! A command announces what it changed with [`WriteTx::announce`]. The announcement leaves with the commit and only
//! with it: on PostgreSQL as a `NOTIFY` sent in the transaction (the server delivers it only if the transaction
//! commits), on SQLite as a row of `change_feed` written in it. Once the commit is known, this process's subscribers
//! are told at once ([`Changes::subscribe`]); other processes learn of it through their [`Follower`], which listens
//! (PostgreSQL) or reads the feed every [`LITE_POLL`] (SQLite), and passes on what other processes announced. A
//! follower that lost its way (the listening connection dropped, the feed pruned past it) announces
//! [`Kind::Everything`], so that pages read again what they show.

use std::sync::Arc;
use std::time::Duration;

use crate::db::{Db, LitePool, PgPool, query};
use crate::{Result, Store, StoreError, WriteTx};
use remit_domain::time::format_instant;

/// The PostgreSQL channel changes are announced on.
const CHANNEL: &str = "remit_changes";
/// How often an SQLite follower reads the feed.
pub const LITE_POLL: Duration = Duration::from_millis(500);
/// How long a PostgreSQL follower waits for a notification before it checks that its connection still answers (a
/// connection whose peer vanished without closing it would otherwise be waited on for ever).
const PG_HEARTBEAT: Duration = Duration::from_secs(20);
/// How long that check may take.
const PG_CHECK: Duration = Duration::from_secs(5);
/// How long an SQLite feed row is kept: followers read every [`LITE_POLL`], so this is ample.
const LITE_KEEP: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An escalation raised, raised again, acknowledged, reviewed, moved along its cascade or delivered.
    Escalation,
    /// A set of observations recorded, corrected or struck out.
    Set,
    /// A delegated task moved.
    Task,
    /// A ward board's patients: one came, left or was corrected.
    Board,
    /// Anything may have changed (announcements were missed): read again.
    Everything,
    /// A credential ended in this process (a sign-out): open streams check theirs at once. Never leaves the process.
    Credentials,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::Escalation => "e",
            Kind::Set => "s",
            Kind::Task => "t",
            Kind::Board => "b",
            Kind::Everything => "*",
            Kind::Credentials => "c",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "e" => Kind::Escalation,
            "s" => Kind::Set,
            "t" => Kind::Task,
            "b" => Kind::Board,
            "*" => Kind::Everything,
            _ => return None,
        })
    }
}

/// One announcement: what changed, and the place (ward or department) of the patient it is about; empty for
/// [`Kind::Everything`] and [`Kind::Credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub place: Arc<str>,
}

impl Change {
    pub fn new(kind: Kind, place: &str) -> Self {
        Self {
            kind,
            place: Arc::from(place),
        }
    }
}

/// This process's announcements: what its own commits announced, and what its follower heard from others.
pub struct Changes {
    tx: tokio::sync::broadcast::Sender<Change>,
    /// This process among those using the database: a follower passes on only others' announcements.
    origin: String,
}

impl Default for Changes {
    fn default() -> Self {
        let mut bytes = [0u8; 8];
        // Without randomness, the process id and the time: two processes on one database must never share an
        // origin, or each would pass over the other's announcements.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = (nanos ^ (u64::from(std::process::id()) << 40)).to_le_bytes();
        }
        Self {
            tx: tokio::sync::broadcast::channel(256).0,
            origin: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

impl Changes {
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Tells this process's subscribers (having none is not an error).
    pub fn publish(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// The notifications that carry `changes` to the other processes: this process's origin on the first line, then
    /// one change a line (`KIND PLACE`), as few notifications as fit PostgreSQL's limit of 8,000 bytes each.
    fn payloads(&self, changes: &[Change]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in changes {
            let line = format!("\n{} {}", c.kind.code(), c.place);
            match out.last_mut() {
                Some(p) if p.len() + line.len() <= PAYLOAD_MAX => p.push_str(&line),
                _ => out.push(format!("{}{line}", self.origin)),
            }
        }
        out
    }

    /// The changes a notification carries from another process; none from this process's own (told already) or
    /// in a line that does not read.
    fn heard(&self, payload: &str) -> Vec<Change> {
        let mut lines = payload.lines();
        if lines.next().is_none_or(|origin| origin == self.origin) {
            return Vec::new();
        }
        lines
            .filter_map(|l| {
                let (kind, place) = l.split_once(' ')?;
                // Only a place remit could name (anyone who may use the database may also notify on it).
                if !place.is_empty() && remit_domain::place::PlaceCode::parse(place).is_err() {
                    return None;
                }
                Kind::from_code(kind).map(|k| Change::new(k, place))
            })
            .collect()
    }
}

/// The most a notification carries (PostgreSQL's limit is 8,000 bytes).
const PAYLOAD_MAX: usize = 7_000;

/// The statement that sends a notification to the other processes.
fn send(pg: bool, payload: String, now: chrono::DateTime<chrono::Utc>) -> crate::db::Query {
    if pg {
        query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload)
    } else {
        query("INSERT INTO change_feed (payload, at) VALUES ($1, $2)")
            .bind(payload)
            .bind(format_instant(now))
    }
}

impl WriteTx {
    /// Announces that this command changed what open pages of `place` show; the announcement leaves with the commit
    /// (and is dropped with the command if it fails).
    pub fn announce(&mut self, kind: Kind, place: &str) {
        if !self.announced.iter().any(|c| c.kind == kind && &*c.place == place) {
            self.announced.push(Change::new(kind, place));
        }
    }

    /// Announces a change about the patient with NHS number `nhs`, at the place they are now; answers that place (to
    /// announce more there without reading it again), or `None` if there is no such patient.
    pub async fn announce_patient(&mut self, kind: Kind, nhs: &str) -> Result<Option<String>> {
        let Some(row) = query("SELECT place_code FROM patient WHERE nhs_number = $1")
            .bind(nhs)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let place: String = row.get("place_code")?;
        self.announce(kind, &place);
        Ok(Some(place))
    }

    /// Sends what was announced, inside the transaction, just before it commits: one statement for the whole
    /// transaction (a group commit's commands together), whatever it announced.
    pub(crate) async fn send_announced(&mut self) -> Result<()> {
        let (now, pg) = (self.now, matches!(self.conn, crate::db::TxConn::Pg(_)));
        for payload in self.changes.payloads(&self.announced) {
            send(pg, payload, now).execute(self.conn()).await?;
        }
        Ok(())
    }

    /// How many changes are announced so far: a command that fails takes back what it announced with
    /// [`WriteTx::unannounce_after`].
    pub(crate) fn announced_len(&self) -> usize {
        self.announced.len()
    }

    pub(crate) fn unannounce_after(&mut self, len: usize) {
        self.announced.truncate(len);
    }
}

impl Store {
    /// This process's announcements.
    pub fn changes(&self) -> &Arc<Changes> {
        &self.shared.changes
    }

    /// Announces a change that was written outside any command (a delivery's outcome), to this process and the
    /// others.
    pub async fn announce(&self, kind: Kind, place: &str) -> Result<()> {
        let pg = self.backend() == crate::Backend::Postgres;
        let change = Change::new(kind, place);
        for payload in self.shared.changes.payloads(std::slice::from_ref(&change)) {
            send(pg, payload, self.now()).execute(self.pool()).await?;
        }
        self.shared.changes.publish(change);
        Ok(())
    }

    /// A follower of what other processes announce: see [`Follower::next`].
    pub fn follower(&self) -> Follower {
        Follower {
            db: self.shared.db.clone(),
            changes: self.shared.changes.clone(),
            clock: self.shared.clock.clone(),
            listening: None,
            last: None,
            lost: false,
            pruned: None,
        }
    }
}

/// Hears what other processes using the database announce, and passes it on to this process's subscribers.
pub struct Follower {
    db: Db,
    changes: Arc<Changes>,
    clock: Arc<dyn remit_domain::time::Clock>,
    /// PostgreSQL: the listening connection.
    listening: Option<sqlx::postgres::PgListener>,
    /// SQLite: the number of the last feed row read.
    last: Option<i64>,
    /// The way was lost since the last announcement passed on: the next success announces [`Kind::Everything`].
    lost: bool,
    /// SQLite: when the feed was last pruned.
    pruned: Option<std::time::Instant>,
}

/// What a follower's step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Announcements of other processes passed on (how many).
    Heard(usize),
    /// Listening (again) after the way was lost: [`Kind::Everything`] was announced.
    Resumed,
}

impl Follower {
    /// Waits for what other processes announce next and passes it on. An error means the way is lost (the connection
    /// dropped, the database unreachable): call again, after a pause, to resume; the first success after it announces
    /// [`Kind::Everything`]. The first call starts following from now.
    pub async fn next(&mut self) -> Result<Followed> {
        let heard = match self.db.clone() {
            Db::Pg(pool) => self.next_pg(&pool).await,
            Db::Lite(pool) => self.next_lite(&pool).await,
        };
        match heard {
            Ok(changes) if self.lost => {
                self.lost = false;
                self.changes.publish(Change::new(Kind::Everything, ""));
                changes.into_iter().for_each(|c| self.changes.publish(c));
                Ok(Followed::Resumed)
            }
            Ok(changes) => {
                let n = changes.len();
                changes.into_iter().for_each(|c| self.changes.publish(c));
                Ok(Followed::Heard(n))
            }
            Err(e) => {
                self.lost = true;
                self.listening = None;
                Err(e)
            }
        }
    }

    async fn next_pg(&mut self, pool: &Arc<PgPool>) -> Result<Vec<Change>> {
        let lost = |why: &str| {
            StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                why.to_owned(),
            )))
        };
        let listener = match &mut self.listening {
            Some(l) => l,
            None => {
                let options = pool.options().await?;
                // A pool of one, for sqlx's listener: the connection is its alone.
                let single = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with(options);
                let mut l = sqlx::postgres::PgListener::connect_with(&single).await?;
                // Not reconnected behind this follower's back: a gap must be known, to be announced.
                l.eager_reconnect(false);
                l.listen(CHANNEL).await?;
                // Following from now; after a loss, `lost` stands and `next` announces it.
                self.listening = Some(l);
                return Ok(Vec::new());
            }
        };
        // `try_recv` answers `None` when the connection was lost (sqlx would reconnect at the next call, silently).
        let first = match tokio::time::timeout(PG_HEARTBEAT, listener.try_recv()).await {
            Ok(received) => received?.ok_or_else(|| lost("the listening connection was lost"))?,
            Err(_) => {
                // Quiet for a while: the connection must still answer.
                match tokio::time::timeout(PG_CHECK, sqlx::query("SELECT 1").execute(&mut *listener)).await {
                    Ok(Ok(_)) => return Ok(Vec::new()),
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => return Err(lost("the listening connection stopped answering")),
                }
            }
        };
        let mut heard = self.changes.heard(first.payload());
        // Whatever else arrived with it.
        while let Some(n) = listener.next_buffered() {
            heard.extend(self.changes.heard(n.payload()));
        }
        Ok(heard)
    }

    /// Reads the feed rows written since the last read, on a blocking thread (SQLite may wait for its lock), after a
    /// pause of [`LITE_POLL`]; prunes the feed once a minute. The first call starts from the last number the feed
    /// ever gave out.
    async fn next_lite(&mut self, pool: &Arc<LitePool>) -> Result<Vec<Change>> {
        let pool = pool.clone();
        let Some(last) = self.last else {
            let last = crate::blocking(move || {
                pool.with(|c| {
                    Ok(c.query_row(
                        "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'change_feed'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .unwrap_or(0))
                })
            })
            .await?;
            self.last = Some(last);
            return Ok(Vec::new());
        };
        tokio::time::sleep(LITE_POLL).await;
        let prune = (self.pruned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)))
            .then(|| format_instant(self.clock.now() - LITE_KEEP));
        if prune.is_some() {
            self.pruned = Some(std::time::Instant::now());
        }
        let (rows, oldest) = crate::blocking(move || {
            pool.with(|c| {
                let mut s = c.prepare_cached("SELECT seq, payload FROM change_feed WHERE seq > ?1 ORDER BY seq")?;
                let rows = s
                    .query_map([last], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let oldest: Option<i64> = c.query_row("SELECT MIN(seq) FROM change_feed", [], |r| r.get(0))?;
                if let Some(before) = prune {
                    c.execute("DELETE FROM change_feed WHERE at < ?1", [before])?;
                }
                Ok((rows, oldest))
            })
        })
        .await?;
        // Numbers are never reused, and a rolled-back insert gives its number back: rows after `last` that are gone
        // were pruned before they were read, and their announcements missed.
        if oldest.is_some_and(|o| o > last + 1) {
            self.lost = true;
        }
        if let Some((seq, _)) = rows.last() {
            self.last = Some(*seq);
        }
        Ok(rows.iter().flat_map(|(_, p)| self.changes.heard(p)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_is_heard_only_from_another_process_and_only_if_it_reads() {
        let (here, there) = (Changes::default(), Changes::default());
        let sent = vec![
            Change::new(Kind::Escalation, "ward-7"),
            Change::new(Kind::Set, "ward-7"),
            Change::new(Kind::Everything, ""),
        ];
        let payloads = there.payloads(&sent);
        assert_eq!(payloads.len(), 1, "one notification for a transaction's changes");
        assert_eq!(here.heard(&payloads[0]), sent);
        assert_eq!(there.heard(&payloads[0]), vec![], "a process's own are told already");
        assert_eq!(here.heard("nonsense"), vec![]);
        assert_eq!(here.heard(""), vec![]);
        let credentials = format!("{}\nc ward-7\nx ward-9\ne ward-9", there.origin);
        assert_eq!(
            here.heard(&credentials),
            vec![Change::new(Kind::Escalation, "ward-9")],
            "credentials never cross, and a line that does not read is passed over"
        );
    }

    #[test]
    fn many_changes_are_split_into_notifications_within_postgresqls_limit() {
        let (here, there) = (Changes::default(), Changes::default());
        let sent: Vec<Change> = (0..2_000)
            .map(|i| Change::new(Kind::Board, &format!("place-{i}")))
            .collect();
        let payloads = there.payloads(&sent);
        assert!(payloads.len() > 1 && payloads.iter().all(|p| p.len() <= 8_000));
        let heard: Vec<Change> = payloads.iter().flat_map(|p| here.heard(p)).collect();
        assert_eq!(heard, sent);
    }
}
