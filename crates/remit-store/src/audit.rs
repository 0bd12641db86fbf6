//! Appending to and verifying the hash-chained audit log.

use chrono::{DateTime, Utc};
use remit_domain::audit::{AuditDraft, AuditEntry, ChainBreak, ChainVerifier, Decision};
use remit_domain::time::format_instant;
use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::{Result, Store, StoreError, col};

/// The audit chain's head as a transaction holds it: taken once (`UPDATE … RETURNING` locks the row until the
/// transaction ends, so concurrent appenders queue up instead of forking the chain), advanced in memory by every
/// entry appended, and written back once with [`Head::store`] before the commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    seq: i64,
    hash: [u8; 32],
    moved: bool,
}

impl Head {
    /// Takes the head row for the rest of the transaction.
    pub(crate) async fn take(tx: &mut Transaction<'static, Any>) -> Result<Self> {
        let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut **tx)
            .await?;
        Ok(Self {
            seq: col(&head, "seq")?,
            hash: hash_bytes(&col::<String>(&head, "hash")?, "the audit head hash")?,
            moved: false,
        })
    }

    /// Appends `draft` as the next entry. The head moves on only once the entry is written.
    pub(crate) async fn append(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        draft: AuditDraft,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry> {
        let entry = AuditEntry::seal(draft, self.seq + 1, format_instant(now), &self.hash);
        let hash = hash_bytes(&entry.hash, "a sealed entry's hash")?;
        sqlx::query(
            "INSERT INTO audit_entry (seq, at, actor, action, target, decision, reasons, payload_digest, prev_hash, \
             hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(entry.seq)
        .bind(&entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(entry.decision.as_str())
        .bind(serde_json::to_string(&entry.reasons).unwrap_or_else(|_| "[]".into()))
        .bind(&entry.payload_digest)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut **tx)
        .await?;
        self.seq = entry.seq;
        self.hash = hash;
        self.moved = true;
        Ok(entry)
    }

    /// Writes the head back, if any entry was appended.
    pub(crate) async fn store(self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        if self.moved {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.seq)
                .bind(hex::encode(self.hash))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// A hash as the log stores it (64 hex digits), as bytes.
fn hash_bytes(hex_text: &str, what: &str) -> Result<[u8; 32]> {
    hex::decode(hex_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{what} is not 32 bytes of hex")))
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
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

/// Entries read per page by [`Store::verify_audit`].
const VERIFY_PAGE: i64 = 4096;

/// An entry as a page of the verification reads it (the columns of [`ENTRY_COLUMNS`], in order).
#[derive(Deserialize)]
struct PageEntry(
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

impl PageEntry {
    fn into_entry(self) -> AuditEntry {
        let PageEntry(seq, at, actor, action, target, decision, reasons, payload_digest, prev_hash, hash) = self;
        AuditEntry {
            seq,
            at,
            actor,
            action,
            target,
            decision: Decision::parse(&decision).unwrap_or(Decision::Deny),
            reasons: read_reasons(&reasons),
            payload_digest,
            prev_hash,
            hash,
        }
    }
}

/// The stored reasons list; an unreadable one is given a value that cannot hash alike.
fn read_reasons(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_else(|_| vec![format!("unreadable: {stored}")])
}

const ENTRY_COLUMNS: &str = "seq, at, actor, action, target, decision, reasons, payload_digest, prev_hash, hash";

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

impl Store {
    /// Recomputes the whole chain in sequence order and checks its end against the head row.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        let mut verifier = ChainVerifier::default();
        // Pages of entries as one JSON row each: one row crossing from the database per page rather than per entry
        // (on SQLite each row is a hop between threads, which cost more than hashing the entry).
        let sql = match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT json_group_array(json_array(seq, at, actor, action, target, decision, reasons, \
                 payload_digest, prev_hash, hash) ORDER BY seq) AS page, MAX(seq) AS last \
                 FROM (SELECT * FROM audit_entry WHERE seq > $1 ORDER BY seq LIMIT $2)"
            }
            crate::Backend::Postgres => {
                "SELECT json_agg(json_build_array(seq, at, actor, action, target, decision, reasons, \
                 payload_digest, prev_hash, hash) ORDER BY seq)::text AS page, MAX(seq) AS last \
                 FROM (SELECT * FROM audit_entry WHERE seq > $1 ORDER BY seq LIMIT $2) AS p"
            }
        };
        let mut broken = None;
        let mut after = 0_i64;
        'pages: loop {
            let row = sqlx::query(sql)
                .bind(after)
                .bind(VERIFY_PAGE)
                .fetch_one(self.pool())
                .await?;
            let Some(last) = col::<Option<i64>>(&row, "last")? else {
                break;
            };
            let page: String = col(&row, "page")?;
            let entries: Vec<PageEntry> = serde_json::from_str(&page)
                .map_err(|e| StoreError::Corrupt(format!("audit entries after {after} do not read: {e}")))?;
            for e in entries {
                if let Err(b) = verifier.push(&e.into_entry()) {
                    broken = Some(b);
                    break 'pages;
                }
            }
            after = last;
        }
        if broken.is_none() {
            let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(self.pool())
                .await?;
            broken = match head {
                Some(h) => verifier.finish(col(&h, "seq")?, &col::<String>(&h, "hash")?).err(),
                None => Some(ChainBreak {
                    seq: verifier.count() + 1,
                    reason: "the log's head record is missing".into(),
                }),
            };
        }
        Ok(AuditVerification {
            verified: verifier.count(),
            head_hash: hex::encode(verifier.head()),
            outcome: broken.map_or(VerifyOutcome::Intact, VerifyOutcome::Broken),
        })
    }

    /// The newest entries first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_entry ORDER BY seq DESC LIMIT $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// One entry by its sequence number.
    pub async fn audit_entry(&self, seq: i64) -> Result<Option<AuditEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_entry WHERE seq = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// The head as recorded: the number of entries and the last hash.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let h = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok((col(&h, "seq")?, col(&h, "hash")?))
    }
}
