//! What a registrant records towards revalidation (practice hours outside the roster, feedback, reflective accounts,
//! the reflective discussion, the confirmation), the shifts they have worked, and the registrations renewing soon.
//! CPD is in `competency`.

use chrono::{DateTime, NaiveDate, Utc};
use remit_domain::revalidation::EvidenceKind;
use remit_domain::staff::{Registration, Username};
use remit_domain::time::{format_instant, parse_date, parse_instant};

use crate::db::query;
use crate::{Result, Store, WriteTx, col, stored};

/// A piece of evidence to record.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub kind: EvidenceKind,
    pub date: NaiveDate,
    /// Practice hours only; 0 for the other kinds.
    pub minutes: i64,
    pub note: String,
    /// The other registrant of a reflective discussion, or the confirmer, as given.
    pub with_whom: Option<String>,
}

/// A piece of evidence as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub id: i64,
    pub staff: String,
    pub kind: EvidenceKind,
    pub date: NaiveDate,
    /// Practice hours, to the minute; 0 for the other kinds.
    pub hours: f64,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_whom: Option<String>,
    pub recorded_by: String,
}

/// A registration with whose it is.
#[derive(Debug, Clone)]
pub struct Held {
    pub username: Username,
    pub name: String,
    pub registration: Registration,
}

impl Store {
    /// A person's revalidation evidence, newest first.
    pub async fn revalidation_evidence(&self, staff: &Username) -> Result<Vec<Evidence>> {
        let rows = query(
            "SELECT e.id, s.username, e.kind, e.done_on, e.minutes, e.note, e.with_whom, e.recorded_by \
             FROM revalidation_evidence e JOIN staff s ON s.id = e.staff_id WHERE s.username = $1 \
             ORDER BY e.done_on DESC, e.id DESC",
        )
        .bind(staff.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let minutes: i64 = col(r, "minutes")?;
                Ok(Evidence {
                    id: col(r, "id")?,
                    staff: col(r, "username")?,
                    kind: stored("evidence kind", EvidenceKind::parse(&col::<String>(r, "kind")?))?,
                    date: stored("evidence date", parse_date("date", &col::<String>(r, "done_on")?))?,
                    hours: minutes as f64 / 60.0,
                    note: col(r, "note")?,
                    with_whom: col(r, "with_whom")?,
                    recorded_by: col(r, "recorded_by")?,
                })
            })
            .collect()
    }

    /// The shifts a person worked that began on or after `since` and had ended by now: each one's start and end.
    pub async fn shifts_worked(
        &self,
        staff: &Username,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        let rows = query(
            "SELECT d.starts_at, d.ends_at FROM duty d JOIN staff s ON s.id = d.staff_id \
             WHERE s.username = $1 AND d.starts_at >= $2 AND d.ends_at IS NOT NULL AND d.ends_at <= $3 \
             ORDER BY d.starts_at",
        )
        .bind(staff.as_str())
        .bind(format_instant(since))
        .bind(format_instant(self.now()))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let at = |c: &str| -> Result<DateTime<Utc>> {
                    stored("duty time", parse_instant("duty", &col::<String>(r, c)?))
                };
                Ok((at("starts_at")?, at("ends_at")?))
            })
            .collect()
    }

    /// The registrations of active staff that expire on or before `by` (those lapsed already included), soonest
    /// first.
    pub async fn registrations_renewing(&self, by: NaiveDate) -> Result<Vec<Held>> {
        let rows = query(
            "SELECT s.username, s.name, r.regulator, r.number, r.expires_on, r.annotations FROM registration r \
             JOIN staff s ON s.id = r.staff_id WHERE s.status = 'active' AND r.expires_on <= $1 \
             ORDER BY r.expires_on, s.username",
        )
        .bind(by.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Held {
                    username: stored("username", Username::parse(&col::<String>(r, "username")?))?,
                    name: col(r, "name")?,
                    registration: crate::staff::registration_from_parts(
                        &col::<String>(r, "regulator")?,
                        col(r, "number")?,
                        &col::<String>(r, "expires_on")?,
                        &col::<String>(r, "annotations")?,
                    )?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    /// Records a piece of revalidation evidence; answers its id.
    pub async fn add_evidence(&mut self, staff_id: i64, e: &NewEvidence, by: &str) -> Result<i64> {
        let row = query(
            "INSERT INTO revalidation_evidence (staff_id, kind, done_on, minutes, note, with_whom, recorded_at, \
             recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(staff_id)
        .bind(e.kind.as_str())
        .bind(e.date.to_string())
        .bind(e.minutes)
        .bind(&e.note)
        .bind(e.with_whom.as_deref())
        .bind(format_instant(self.now()))
        .bind(by)
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }
}
