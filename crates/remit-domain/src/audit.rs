//! The audit chain: each entry carries the hash of the one before, so that an edit, deletion, insertion or
//! reordering of any entry is detected by recomputing the chain.
//!
//! `hash(n) = SHA-256(hash(n-1) || canonical(n))`, with `hash(0)` 32 zero bytes. The canonical encoding is a fixed
//! tag followed by every field as a 4-byte big-endian length and its UTF-8 bytes, so no two different entries
//! encode alike.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// Whether the action was carried out or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Permit,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Permit => "permit",
            Decision::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "permit" => Some(Decision::Permit),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// What a command asks to be written to the log; the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    /// Who acted: `staff:alex.ap`, `cli:root`, `system`.
    pub actor: String,
    /// The activity or command, such as `staff.add` or `vitals.record`.
    pub action: String,
    /// What it was done to: `staff:alex.ap`, `patient:9990001375`.
    pub target: String,
    pub decision: Decision,
    /// For a refusal, every reason in words; empty for a permitted action.
    pub reasons: Vec<String>,
    /// Hex SHA-256 of the request's canonical payload: proves what was asked without keeping it in clear.
    pub payload_digest: String,
}

impl AuditDraft {
    pub fn permit(actor: impl Into<String>, action: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            decision: Decision::Permit,
            reasons: Vec::new(),
            payload_digest: digest_payload(&serde_json::Value::Null),
        }
    }

    pub fn deny(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        reasons: Vec<String>,
    ) -> Self {
        Self {
            decision: Decision::Deny,
            reasons,
            ..Self::permit(actor, action, target)
        }
    }

    /// The same request, refused for these reasons.
    pub fn refused(self, reasons: Vec<String>) -> Self {
        Self {
            decision: Decision::Deny,
            reasons,
            ..self
        }
    }

    /// Records a digest of what was asked.
    pub fn with_payload(mut self, payload: &impl Serialize) -> Self {
        self.payload_digest = digest_payload(payload);
        self
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// The storage form of the instant (`time::format_instant`).
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub payload_digest: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Gives a draft its place after `prev_hash` as entry `seq`.
    pub fn seal(draft: AuditDraft, seq: i64, at: String, prev_hash: &[u8; 32]) -> Self {
        let mut entry = Self {
            seq,
            at,
            actor: draft.actor,
            action: draft.action,
            target: draft.target,
            decision: draft.decision,
            reasons: draft.reasons,
            payload_digest: draft.payload_digest,
            prev_hash: hex::encode(prev_hash),
            hash: String::new(),
        };
        entry.hash = hex::encode(entry.compute_hash(prev_hash));
        entry
    }

    /// The hash this entry should carry when it follows `prev_hash`.
    pub fn compute_hash(&self, prev_hash: &[u8; 32]) -> [u8; 32] {
        self.view().compute_hash(prev_hash)
    }

    /// The entry as the verifier reads it.
    pub fn view(&self) -> EntryView<'_> {
        EntryView {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            decision: self.decision.as_str(),
            reasons: &self.reasons,
            payload_digest: &self.payload_digest,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// A stored entry's fields, borrowed from wherever they were read (a database row), so that verifying a long chain
/// copies nothing. The decision is the stored text: one that is neither `permit` nor `deny` cannot hash alike.
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub decision: &'a str,
    pub reasons: &'a [String],
    pub payload_digest: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

impl EntryView<'_> {
    /// The hash these fields should carry when they follow `prev_hash`.
    pub fn compute_hash(&self, prev_hash: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev_hash);
        h.update(b"remit-audit-v1");
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u32).to_be_bytes());
            h.update(bytes);
        };
        field(self.seq.to_string().as_bytes());
        field(self.at.as_bytes());
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.target.as_bytes());
        field(self.decision.as_bytes());
        field(self.reasons.len().to_string().as_bytes());
        for r in self.reasons {
            field(r.as_bytes());
        }
        field(self.payload_digest.as_bytes());
        h.finalize().into()
    }
}

/// Hex SHA-256 of a payload's JSON. serde_json writes struct fields in declaration order and maps in key order, so
/// the same request always gives the same digest.
pub fn digest_payload(payload: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Where and why the chain stops matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first entry that does not match (by its expected position).
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry {}: {}", self.seq, self.reason)
    }
}

/// Recomputes the chain one entry at a time, in stored order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: [u8; 32],
    count: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev: GENESIS,
            count: 0,
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, entry: &EntryView<'_>) -> Result<(), ChainBreak> {
        let expected = self.count + 1;
        let fail = |reason: String| ChainBreak { seq: expected, reason };
        if entry.seq != expected {
            return Err(fail(format!(
                "expected entry {expected} but found entry {}: entries were deleted, inserted or reordered",
                entry.seq
            )));
        }
        if !hex_is(entry.prev_hash, &self.prev) {
            return Err(fail(
                "its link to the entry before does not match: an entry was deleted, inserted or rewritten".into(),
            ));
        }
        let hash = entry.compute_hash(&self.prev);
        if !hex_is(entry.hash, &hash) {
            return Err(fail("its contents do not match its hash: the entry was altered".into()));
        }
        self.prev = hash;
        self.count = expected;
        Ok(())
    }

    pub fn count(&self) -> i64 {
        self.count
    }

    pub fn head(&self) -> [u8; 32] {
        self.prev
    }

    /// Checks the end of the chain against the separately kept head (count and hash), which catches the removal of
    /// the newest entries.
    pub fn finish(&self, head_count: i64, head_hash: &str) -> Result<(), ChainBreak> {
        if head_count != self.count || head_hash != hex::encode(self.prev) {
            let seq = self.count.min(head_count) + 1;
            return Err(ChainBreak {
                seq,
                reason: format!(
                    "the log ends at entry {} but its head records {head_count} entries: entries were removed or \
                     the head was altered",
                    self.count
                ),
            });
        }
        Ok(())
    }
}

/// Whether `text` is the lowercase hex of `bytes` (as the log stores hashes), without allocating.
fn hex_is(text: &str, bytes: &[u8; 32]) -> bool {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(bytes, &mut buf).is_ok() && text.as_bytes() == buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let draft = if seq % 3 == 0 {
                    AuditDraft::deny(
                        "staff:alex.ap",
                        "medicines.prescribe",
                        "patient:9990001375",
                        vec![format!("reason {seq}"), "another".into()],
                    )
                } else {
                    AuditDraft::permit("cli:root", "staff.add", format!("staff:user{seq}"))
                };
                let e = AuditEntry::seal(draft, seq, format!("2026-11-25T10:00:{:02}.000000Z", seq % 60), &prev);
                prev = hex::decode(&e.hash).unwrap().try_into().unwrap();
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry]) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in entries {
            v.push(&e.view())?;
        }
        Ok(v.count())
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(10);
        assert_eq!(verify(&c), Ok(10));
        let mut v = ChainVerifier::default();
        c.iter().for_each(|e| v.push(&e.view()).unwrap());
        assert!(v.finish(10, &c[9].hash).is_ok());
        assert_eq!(v.finish(11, &c[9].hash).unwrap_err().seq, 11);
    }

    #[test]
    fn reasons_cannot_be_shifted_between_fields() {
        let a = AuditEntry::seal(
            AuditDraft::deny("a", "b", "c", vec!["x y".into()]),
            1,
            "t".into(),
            &GENESIS,
        );
        let b = AuditEntry::seal(
            AuditDraft::deny("a", "b", "c", vec!["x".into(), "y".into()]),
            1,
            "t".into(),
            &GENESIS,
        );
        assert_ne!(a.hash, b.hash);
    }

    proptest! {
        #[test]
        fn any_edit_is_found_at_its_entry(n in 2i64..30, pick in 0usize..30, field in 0usize..6) {
            let mut c = chain(n);
            let i = pick % c.len();
            match field {
                0 => c[i].actor.push('x'),
                1 => c[i].action = "other".into(),
                2 => c[i].target.push('1'),
                3 => c[i].decision = if c[i].decision == Decision::Permit { Decision::Deny } else { Decision::Permit },
                4 => c[i].reasons.push("added".into()),
                _ => c[i].at = "2000-01-01T00:00:00.000000Z".into(),
            }
            prop_assert_eq!(verify(&c).unwrap_err().seq, i as i64 + 1);
        }

        #[test]
        fn a_deletion_insertion_or_swap_is_found(n in 3i64..30, pick in 0usize..30, kind in 0usize..3) {
            let mut c = chain(n);
            let i = pick % (c.len() - 1);
            match kind {
                0 => { c.remove(i); }
                1 => { let mut forged = c[i].clone(); forged.target = "forged".into(); c.insert(i, forged); }
                _ => c.swap(i, i + 1),
            }
            let brk = verify(&c).unwrap_err();
            prop_assert_eq!(brk.seq, i as i64 + 1);
        }
    }
}
