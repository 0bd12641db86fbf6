//! The competency catalogue and staff members' competency records (sign-offs that expire).

use chrono::NaiveDate;
use remit_domain::audit::AuditDraft;
pub use remit_domain::competency::{Competency, CompetencyRecord};
use remit_domain::revalidation::CpdMethod;
use remit_domain::staff::CompetencyId;
use remit_domain::time::{format_instant, parse_date};

use crate::db::{Row, query};
use crate::error::on_unique;
use crate::{Result, Store, StoreError, WriteTx, col, stored};

impl Store {
    pub async fn competency_catalogue(&self) -> Result<Vec<Competency>> {
        let rows = query("SELECT id, title, validity_months FROM competency ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let months: i64 = col(r, "validity_months")?;
                Ok(Competency {
                    id: stored("competency", CompetencyId::parse(&col::<String>(r, "id")?))?,
                    title: col(r, "title")?,
                    validity_months: u32::try_from(months)
                        .map_err(|_| StoreError::Corrupt("competency validity out of range".into()))?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    pub async fn upsert_competency(&mut self, c: &Competency) -> Result<()> {
        query(
            "INSERT INTO competency (id, title, validity_months) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, validity_months = excluded.validity_months",
        )
        .bind(c.id.as_str())
        .bind(&c.title)
        .bind(i64::from(c.validity_months))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a sign-off with its expiry (normally `competency.expiry_from(signed_off_on)`).
    pub async fn insert_competency_record(
        &mut self,
        staff_id: i64,
        competency: &Competency,
        signed_off_on: NaiveDate,
        expires_on: NaiveDate,
        assessor_id: Option<i64>,
        evidence: &str,
    ) -> Result<NaiveDate> {
        query(
            "INSERT INTO competency_record (staff_id, competency_id, signed_off_on, expires_on, assessor_id, \
             evidence, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(staff_id)
        .bind(competency.id.as_str())
        .bind(signed_off_on.to_string())
        .bind(expires_on.to_string())
        .bind(assessor_id)
        .bind(evidence)
        .bind(format_instant(self.now()))
        .execute(self.conn())
        .await
        .map_err(|e| on_unique(e, || "this sign-off is already recorded".into()))?;
        Ok(expires_on)
    }
}

/// A competency record with whose it is, for listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StaffCompetency {
    pub staff: String,
    pub name: String,
    #[serde(flatten)]
    pub record: CompetencyRecord,
    /// `valid`, `expired`, `revoked` or `not-yet-valid`, as of the day listed.
    pub status: &'static str,
    /// Days from the day listed to expiry (negative once expired).
    pub days_to_expiry: i64,
}

/// A CPD entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CpdEntry {
    pub id: i64,
    pub staff: String,
    pub date: NaiveDate,
    /// Hours, to the minute.
    pub hours: f64,
    pub activity: String,
    pub reflection: String,
    /// Learning with others (a course, a workshop, a conference), as the NMC counts participatory hours.
    pub participatory: bool,
    /// How it was done, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<CpdMethod>,
}

/// A CPD entry to record.
#[derive(Debug, Clone)]
pub struct NewCpdEntry {
    pub date: NaiveDate,
    pub minutes: i64,
    pub activity: String,
    pub reflection: String,
    pub participatory: bool,
    pub method: Option<CpdMethod>,
}

/// An enrolment to record: on a programme (of a route of the pack, or named), with its provider and dates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewEnrolment {
    pub route: Option<String>,
    pub programme: String,
    pub provider: String,
    pub starts_on: NaiveDate,
    pub expected_end: NaiveDate,
}

/// A staff member's enrolment on a programme.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrolment {
    pub id: i64,
    pub staff: String,
    pub route: Option<String>,
    pub programme: String,
    pub provider: String,
    pub starts_on: NaiveDate,
    pub expected_end: NaiveDate,
    pub recorded_by: String,
}

/// A competency record from a row with `competency_id`, `signed_off_on`, `expires_on`, `assessor` (a username),
/// `evidence`, `revoked_at` and `revoke_reason`.
fn record_from_row(r: &Row) -> Result<CompetencyRecord> {
    record_from_parts(RecordParts {
        competency_id: col(r, "competency_id")?,
        signed_off_on: col(r, "signed_off_on")?,
        expires_on: col(r, "expires_on")?,
        assessor: col(r, "assessor")?,
        evidence: col(r, "evidence")?,
        revoked_at: col(r, "revoked_at")?,
        revoke_reason: col(r, "revoke_reason")?,
    })
}

/// A competency record's stored columns, however they were selected.
pub(crate) struct RecordParts {
    pub competency_id: String,
    pub signed_off_on: String,
    pub expires_on: String,
    pub assessor: Option<String>,
    pub evidence: String,
    pub revoked_at: Option<String>,
    pub revoke_reason: Option<String>,
}

pub(crate) fn record_from_parts(p: RecordParts) -> Result<CompetencyRecord> {
    Ok(CompetencyRecord {
        competency: stored("competency", CompetencyId::parse(&p.competency_id))?,
        signed_off_on: stored("sign-off date", parse_date("signed_off_on", &p.signed_off_on))?,
        expires_on: stored("expiry", parse_date("expires_on", &p.expires_on))?,
        assessor: p.assessor,
        evidence: p.evidence,
        revoked: p.revoked_at.is_some(),
        revoke_reason: p.revoke_reason,
    })
}

fn status_on(r: &CompetencyRecord, today: NaiveDate) -> &'static str {
    if r.revoked {
        "revoked"
    } else if r.signed_off_on > today {
        "not-yet-valid"
    } else if today > r.expires_on {
        "expired"
    } else {
        "valid"
    }
}

impl Store {
    /// Brings the stored catalogue in line with the policy pack's, as one audited command when anything differs.
    /// Competencies the pack no longer lists stay stored (records refer to them) but nothing new is signed off.
    pub async fn sync_competencies(&self, catalogue: &[Competency], actor: &str) -> Result<usize> {
        let stored = self.competency_catalogue().await?;
        let changed: Vec<Competency> = catalogue.iter().filter(|c| !stored.contains(c)).cloned().collect();
        if changed.is_empty() {
            return Ok(0);
        }
        let n = changed.len();
        let ids: Vec<String> = changed.iter().map(|c| c.id.to_string()).collect();
        let draft = AuditDraft::permit(actor, "competency.catalogue", "catalogue:competencies").with_payload(&ids);
        self.command(draft, move |tx| {
            Box::pin(async move {
                for c in &changed {
                    tx.upsert_competency(c).await?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(n)
    }

    /// Every competency record, optionally for one person, with its status today.
    pub async fn competency_records(
        &self,
        staff: Option<&remit_domain::staff::Username>,
    ) -> Result<Vec<StaffCompetency>> {
        let today = self.now().date_naive();
        let rows = query(
            "SELECT s.username, s.name, r.competency_id, r.signed_off_on, r.expires_on, a.username AS assessor, \
             r.evidence, r.revoked_at, r.revoke_reason FROM competency_record r JOIN staff s ON s.id = r.staff_id \
             LEFT JOIN staff a ON a.id = r.assessor_id WHERE ($1 IS NULL OR s.username = $1) \
             ORDER BY s.username, r.competency_id, r.signed_off_on",
        )
        .bind(staff.map(|s| s.as_str()))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let record = record_from_row(r)?;
                Ok(StaffCompetency {
                    staff: col(r, "username")?,
                    name: col(r, "name")?,
                    status: status_on(&record, today),
                    days_to_expiry: (record.expires_on - today).num_days(),
                    record,
                })
            })
            .collect()
    }

    /// Competencies valid today that expire within `days` and have not been renewed: the latest sign-off of each
    /// person's each competency, soonest first.
    pub async fn competencies_expiring(&self, days: i64) -> Result<Vec<StaffCompetency>> {
        let mut latest: std::collections::BTreeMap<(String, String), StaffCompetency> = Default::default();
        for c in self.competency_records(None).await? {
            if c.record.revoked {
                continue;
            }
            let key = (c.staff.clone(), c.record.competency.to_string());
            let newer = latest
                .get(&key)
                .is_none_or(|old| c.record.expires_on > old.record.expires_on);
            if newer {
                latest.insert(key, c);
            }
        }
        let mut out: Vec<_> = latest
            .into_values()
            .filter(|c| c.status == "valid" && c.days_to_expiry <= days)
            .collect();
        out.sort_by(|a, b| {
            a.record
                .expires_on
                .cmp(&b.record.expires_on)
                .then(a.staff.cmp(&b.staff))
        });
        Ok(out)
    }

    /// Enrolments on programmes, of one person or everyone, those ending soonest first.
    pub async fn enrolments(&self, staff: Option<&remit_domain::staff::Username>) -> Result<Vec<Enrolment>> {
        let rows = query(
            "SELECT e.id, s.username, e.route, e.programme, e.provider, e.starts_on, e.expected_end, e.recorded_by \
             FROM enrolment e JOIN staff s ON s.id = e.staff_id WHERE ($1 IS NULL OR s.username = $1) \
             ORDER BY e.expected_end, e.id",
        )
        .bind(staff.map(|s| s.as_str()))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Enrolment {
                    id: col(r, "id")?,
                    staff: col(r, "username")?,
                    route: col(r, "route")?,
                    programme: col(r, "programme")?,
                    provider: col(r, "provider")?,
                    starts_on: stored(
                        "enrolment start",
                        parse_date("starts_on", &col::<String>(r, "starts_on")?),
                    )?,
                    expected_end: stored(
                        "enrolment end",
                        parse_date("expected_end", &col::<String>(r, "expected_end")?),
                    )?,
                    recorded_by: col(r, "recorded_by")?,
                })
            })
            .collect()
    }

    /// CPD entries, optionally for one person, newest first.
    pub async fn cpd_entries(&self, staff: Option<&remit_domain::staff::Username>) -> Result<Vec<CpdEntry>> {
        let rows = query(
            "SELECT c.id, s.username, c.done_on, c.minutes, c.activity, c.reflection, c.participatory, c.method \
             FROM cpd_entry c \
             JOIN staff s ON s.id = c.staff_id WHERE ($1 IS NULL OR s.username = $1) ORDER BY c.done_on DESC, c.id DESC",
        )
        .bind(staff.map(|s| s.as_str()))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let minutes: i64 = col(r, "minutes")?;
                Ok(CpdEntry {
                    id: col(r, "id")?,
                    staff: col(r, "username")?,
                    date: stored("cpd date", parse_date("date", &col::<String>(r, "done_on")?))?,
                    hours: minutes as f64 / 60.0,
                    activity: col(r, "activity")?,
                    reflection: col(r, "reflection")?,
                    participatory: col::<i64>(r, "participatory")? != 0,
                    method: col::<Option<String>>(r, "method")?
                        .map(|m| stored("cpd method", CpdMethod::parse(&m)))
                        .transpose()?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    /// Records an enrolment on a programme; answers its id.
    pub async fn add_enrolment(&mut self, staff_id: i64, e: &NewEnrolment, by: &str) -> Result<i64> {
        let row = query(
            "INSERT INTO enrolment (staff_id, route, programme, provider, starts_on, expected_end, recorded_at, \
             recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(staff_id)
        .bind(e.route.as_deref())
        .bind(&e.programme)
        .bind(&e.provider)
        .bind(e.starts_on.to_string())
        .bind(e.expected_end.to_string())
        .bind(remit_domain::time::format_instant(self.now()))
        .bind(by)
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }

    /// Revokes a person's current sign-offs of a competency; says how many.
    pub async fn revoke_competency(
        &mut self,
        staff_id: i64,
        competency: &CompetencyId,
        by: &str,
        reason: &str,
    ) -> Result<u64> {
        let today = self.now().date_naive().to_string();
        let done = query(
            "UPDATE competency_record SET revoked_at = $4, revoked_by = $5, revoke_reason = $6 \
             WHERE staff_id = $1 AND competency_id = $2 AND revoked_at IS NULL AND expires_on >= $3",
        )
        .bind(staff_id)
        .bind(competency.as_str())
        .bind(&today)
        .bind(format_instant(self.now()))
        .bind(by)
        .bind(reason)
        .execute(self.conn())
        .await?;
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "there is no current `{competency}` sign-off to revoke"
            )));
        }
        Ok(done)
    }

    pub async fn add_cpd(&mut self, staff_id: i64, c: &NewCpdEntry, by: &str) -> Result<i64> {
        let row = query(
            "INSERT INTO cpd_entry (staff_id, done_on, minutes, activity, reflection, participatory, method, \
             recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(staff_id)
        .bind(c.date.to_string())
        .bind(c.minutes)
        .bind(&c.activity)
        .bind(&c.reflection)
        .bind(i64::from(c.participatory))
        .bind(c.method.map(|m| m.as_str()))
        .bind(format_instant(self.now()))
        .bind(by)
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }
}
