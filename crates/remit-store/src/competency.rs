//! The competency catalogue and staff members' competency records (sign-offs that expire).

use chrono::{Months, NaiveDate};
use remit_domain::staff::CompetencyId;
use remit_domain::time::{format_instant, parse_date};
use serde::Serialize;

use crate::error::on_unique;
use crate::{Result, Store, StoreError, WriteTx, col, stored};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Competency {
    pub id: CompetencyId,
    pub title: String,
    pub validity_months: u32,
}

impl Competency {
    /// A sign-off on `signed_off_on` lasts until the same day `validity_months` later.
    pub fn expiry_from(&self, signed_off_on: NaiveDate) -> NaiveDate {
        signed_off_on
            .checked_add_months(Months::new(self.validity_months))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// One sign-off of one competency for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompetencyRecord {
    pub competency: CompetencyId,
    pub signed_off_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub assessor: Option<String>,
    pub evidence: String,
    pub revoked: bool,
    pub revoke_reason: Option<String>,
}

impl CompetencyRecord {
    /// Valid on the day of expiry and not after; never once revoked.
    pub fn is_valid_on(&self, today: NaiveDate) -> bool {
        !self.revoked && self.signed_off_on <= today && today <= self.expires_on
    }
}

impl Store {
    pub async fn competency_catalogue(&self) -> Result<Vec<Competency>> {
        let rows = sqlx::query("SELECT id, title, validity_months FROM competency ORDER BY id")
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

    pub(crate) async fn competency_records_of(&self, staff_id: i64) -> Result<Vec<CompetencyRecord>> {
        let rows = sqlx::query(
            "SELECT r.competency_id, r.signed_off_on, r.expires_on, a.username AS assessor, r.evidence, \
             r.revoked_at, r.revoke_reason FROM competency_record r LEFT JOIN staff a ON a.id = r.assessor_id \
             WHERE r.staff_id = $1 ORDER BY r.competency_id, r.signed_off_on",
        )
        .bind(staff_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let revoked_at: Option<String> = col(r, "revoked_at")?;
                Ok(CompetencyRecord {
                    competency: stored("competency", CompetencyId::parse(&col::<String>(r, "competency_id")?))?,
                    signed_off_on: stored(
                        "sign-off date",
                        parse_date("signed_off_on", &col::<String>(r, "signed_off_on")?),
                    )?,
                    expires_on: stored("expiry", parse_date("expires_on", &col::<String>(r, "expires_on")?))?,
                    assessor: col(r, "assessor")?,
                    evidence: col(r, "evidence")?,
                    revoked: revoked_at.is_some(),
                    revoke_reason: col(r, "revoke_reason")?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    pub async fn upsert_competency(&mut self, c: &Competency) -> Result<()> {
        sqlx::query(
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
        sqlx::query(
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
