//! Appending to and verifying the hash-chained audit log.

use chrono::{DateTime, Utc};
use remit_domain::audit::{AuditDraft, AuditEntry, ChainBreak, ChainVerifier, Decision, EntryView};
use remit_domain::time::format_instant;

use crate::db::{Row, query, query_built};
use crate::kept::versions_of;
use crate::{Result, Store, StoreError, Versions, WriteTx, col};

/// An entry's columns, in the order they are written and [`Verification::push`] reads them (a macro, so that constant
/// queries can be built from it with `concat!`).
macro_rules! entry_columns {
    () => {
        "seq, at, actor, action, target, decision, reasons, payload_digest, prev_hash, hash"
    };
}

/// The audit chain's head as a transaction holds it: taken once (`UPDATE … RETURNING` locks the row until the
/// transaction ends, so concurrent appenders queue up instead of forking the chain), advanced in memory by every
/// entry appended, and written back once with [`Head::store`] before the commit, with the entries appended since it
/// was taken: a group commit's entries go in a few statements, not one each.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    seq: i64,
    hash: [u8; 32],
    /// Entries sealed and not yet written, in sequence order.
    pending: Vec<AuditEntry>,
}

/// The most entries one statement writes. The sizes used are powers of two up to it, so that few distinct statements
/// are prepared.
const ENTRIES_PER_STATEMENT: usize = 32;

impl Head {
    /// Takes the head row for the rest of the transaction, and reads the version counters with it (for the
    /// commands decided on what the store kept: see [`crate::Store::under`]).
    pub(crate) async fn take(tx: &mut WriteTx) -> Result<(Self, Versions)> {
        let head = query(concat!(
            "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash, ",
            versions_columns!()
        ))
        .fetch_one(tx.conn())
        .await?;
        let taken = Self {
            seq: col(&head, "seq")?,
            hash: hash_bytes(&col::<String>(&head, "hash")?, "the audit head hash")?,
            pending: Vec::new(),
        };
        Ok((taken, versions_of(&head)?))
    }

    /// Seals `draft` as the next entry, to be written with the head.
    pub(crate) fn append(&mut self, draft: AuditDraft, now: DateTime<Utc>) -> Result<AuditEntry> {
        let entry = AuditEntry::seal(draft, self.seq + 1, format_instant(now), &self.hash);
        self.hash = hash_bytes(&entry.hash, "a sealed entry's hash")?;
        self.seq = entry.seq;
        self.pending.push(entry.clone());
        Ok(entry)
    }

    /// Writes the entries appended and the head, if any entry was.
    pub(crate) async fn store(self, tx: &mut WriteTx) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut rest = self.pending.as_slice();
        while !rest.is_empty() {
            let n = ENTRIES_PER_STATEMENT.min(1 << rest.len().ilog2());
            let (these, later) = rest.split_at(n);
            insert_entries(tx, these).await?;
            rest = later;
        }
        query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(hex::encode(self.hash))
            .execute(tx.conn())
            .await?;
        Ok(())
    }
}

/// Writes entries in one statement.
async fn insert_entries(tx: &mut WriteTx, entries: &[AuditEntry]) -> Result<()> {
    let mut sql = String::from(concat!("INSERT INTO audit_entry (", entry_columns!(), ") VALUES "));
    for i in 0..entries.len() {
        let p = i * 10;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8,
            p + 9,
            p + 10
        ));
    }
    let mut q = query_built(sql);
    for entry in entries {
        q = q
            .bind(entry.seq)
            .bind(entry.at.as_str())
            .bind(entry.actor.as_str())
            .bind(entry.action.as_str())
            .bind(entry.target.as_str())
            .bind(entry.decision.as_str())
            .bind(serde_json::to_string(&entry.reasons).unwrap_or_else(|_| "[]".into()))
            .bind(entry.payload_digest.as_str())
            .bind(entry.prev_hash.as_str())
            .bind(entry.hash.as_str());
    }
    q.execute(tx.conn()).await?;
    Ok(())
}

/// A hash as the log stores it (64 hex digits), as bytes.
fn hash_bytes(hex_text: &str, what: &str) -> Result<[u8; 32]> {
    hex::decode(hex_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{what} is not 32 bytes of hex")))
}

fn entry_from_row(row: &Row) -> Result<AuditEntry> {
    let decision: String = col(row, "decision")?;
    let reasons: String = col(row, "reasons")?;
    Ok(AuditEntry {
        seq: col(row, "seq")?,
        at: col(row, "at")?,
        actor: col(row, "actor")?,
        action: col(row, "action")?,
        target: col(row, "target")?,
        // An unreadable decision or reasons list still gets verified: it is given a value that cannot hash alike.
        decision: Decision::parse(&decision).unwrap_or(Decision::Deny),
        reasons: read_reasons(&reasons),
        payload_digest: col(row, "payload_digest")?,
        prev_hash: col(row, "prev_hash")?,
        hash: col(row, "hash")?,
    })
}

/// The stored reasons list; an unreadable one is given a value that cannot hash alike.
fn read_reasons(stored: &str) -> Vec<String> {
    if stored == "[]" {
        return Vec::new();
    }
    serde_json::from_str(stored).unwrap_or_else(|_| vec![format!("unreadable: {stored}")])
}

const ENTRY_COLUMNS: &str = entry_columns!();

/// Which entries a page of the audit log shows: those of one actor, action or target (exactly), or all.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Intact,
    Broken(ChainBreak),
}

#[derive(Debug, Clone)]
pub struct AuditVerification {
    /// Entries that matched before the first break (all of them when intact).
    pub verified: i64,
    /// The hash of the last matching entry, hex.
    pub head_hash: String,
    pub outcome: VerifyOutcome,
}

/// A verification in progress: stored entries are pushed in sequence order, as borrowed from the rows they were
/// read from, until the first that breaks the chain.
#[derive(Default)]
struct Verification {
    verifier: ChainVerifier,
    broken: Option<ChainBreak>,
}

impl Verification {
    /// Checks the next entry, given its sequence number and a reader of its text columns by their place in
    /// [`ENTRY_COLUMNS`] (1 to 9); answers whether to go on (false from the first break).
    fn push<'r>(&mut self, seq: i64, text: impl Fn(usize) -> Result<&'r str>) -> Result<bool> {
        let (at, actor, action, target, decision) = (text(1)?, text(2)?, text(3)?, text(4)?, text(5)?);
        let (reasons, payload_digest, prev_hash, hash) = (text(6)?, text(7)?, text(8)?, text(9)?);
        let reasons = read_reasons(reasons);
        let entry = EntryView {
            seq,
            at,
            actor,
            action,
            target,
            decision,
            reasons: &reasons,
            payload_digest,
            prev_hash,
            hash,
        };
        match self.verifier.push(&entry) {
            Ok(()) => Ok(true),
            Err(b) => {
                self.broken = Some(b);
                Ok(false)
            }
        }
    }

    /// Checks the chain's end against the head row, read in the same snapshot as the entries.
    fn finish(mut self, head: Option<(i64, String)>) -> AuditVerification {
        if self.broken.is_none() {
            self.broken = match head {
                Some((seq, hash)) => self.verifier.finish(seq, &hash).err(),
                None => Some(ChainBreak {
                    seq: self.verifier.count() + 1,
                    reason: "the log's head record is missing".into(),
                }),
            };
        }
        AuditVerification {
            verified: self.verifier.count(),
            head_hash: hex::encode(self.verifier.head()),
            outcome: self.broken.map_or(VerifyOutcome::Intact, VerifyOutcome::Broken),
        }
    }
}

const VERIFY_ENTRIES: &str = concat!("SELECT ", entry_columns!(), " FROM audit_entry ORDER BY seq");
const HEAD_ROW: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

/// Verifies an SQLite database's chain on a read-only connection of its own, in one read transaction (one
/// snapshot), reading each row's text in place: through sqlx every row would be copied and handed from the
/// connection's thread to the caller's, which costs more than hashing the entry.
fn verify_sqlite(path: &std::path::Path) -> Result<AuditVerification> {
    use rusqlite::{Connection, OpenFlags, OptionalExtension};
    let mut conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    let mut verification = Verification::default();
    {
        let mut entries = tx.prepare(VERIFY_ENTRIES)?;
        let mut rows = entries.query([])?;
        while let Some(row) = rows.next()? {
            let seq = row.get(0)?;
            let text = |i: usize| -> Result<&str> {
                row.get_ref(i)?
                    .as_str()
                    .map_err(|_| StoreError::Corrupt(format!("audit entry {seq}: column {i} is not text")))
            };
            if !verification.push(seq, text)? {
                break;
            }
        }
    }
    let head = tx.query_row(HEAD_ROW, [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(verification.finish(head))
}

/// Verifies a PostgreSQL database's chain on a connection of its own in one repeatable-read transaction (one
/// snapshot), streaming the rows and reading their text in place.
async fn verify_postgres(pool: &crate::db::PgPool) -> Result<AuditVerification> {
    use futures_util::TryStreamExt;
    use sqlx::{Connection, Executor, Row};
    let mut conn = pool.connect_single().await?;
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
    let mut verification = Verification::default();
    {
        let mut rows = sqlx::query(VERIFY_ENTRIES).fetch(&mut conn);
        while let Some(row) = rows.try_next().await? {
            let text = |i: usize| row.try_get::<&str, _>(i).map_err(StoreError::from);
            if !verification.push(row.try_get(0)?, text)? {
                break;
            }
        }
    }
    // After a break the rest of the rows are left unread, and the head is not needed.
    let head = if verification.broken.is_some() {
        None
    } else {
        sqlx::query_as::<_, (i64, String)>(HEAD_ROW)
            .fetch_optional(&mut conn)
            .await?
    };
    // The transaction only read; closing the connection ends it.
    conn.close().await?;
    Ok(verification.finish(head))
}

impl Store {
    /// Recomputes the whole chain in sequence order, in one snapshot, and checks its end against the head row.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        match &self.shared.db {
            crate::db::Db::Lite(pool) => {
                let path = pool.path().to_owned();
                // The blocking thread only ends early if it panicked or the runtime is shutting down.
                tokio::task::spawn_blocking(move || verify_sqlite(&path))
                    .await
                    .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
            }
            crate::db::Db::Pg(pool) => verify_postgres(pool).await,
        }
    }

    /// The newest entries first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_entry ORDER BY seq DESC LIMIT $1");
        let rows = query_built(sql).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Entries newest first, `limit` at most, older than `before` (a sequence number) when given, and only those
    /// whose actor, action and target are the ones given (each when given): a page of the log.
    pub async fn audit_page(&self, filter: &AuditFilter, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entry WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
        );
        let rows = query_built(sql)
            .bind(filter.actor.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.target.as_deref())
            .bind(before)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// One entry by its sequence number.
    pub async fn audit_entry(&self, seq: i64) -> Result<Option<AuditEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_entry WHERE seq = $1");
        let row = query_built(sql).bind(seq).fetch_optional(self.pool()).await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// The head as recorded: the number of entries and the last hash.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let h = query(HEAD_ROW).fetch_one(self.pool()).await?;
        Ok((col(&h, "seq")?, col(&h, "hash")?))
    }
}
