//! Competencies: a catalogue of what can be signed off, and records of sign-offs that expire.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::staff::CompetencyId;

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
