//! Patients.

use remit_domain::adt::StayClass;
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{PregnancyRecord, PregnancyStatus};
use remit_domain::patient::{Patient, Sex};
use remit_domain::place::PlaceCode;
use remit_domain::staff::PersonName;
use remit_domain::time::{format_instant, parse_date};

use crate::db::{Row, query, query_built};
use crate::error::on_unique;
use crate::kept::Versions;
use crate::obs::{SCALE2_COLUMNS, Scale2, scale2_from_row};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

const PATIENT_COLUMNS: &str = "nhs_number, given_name, family_name, date_of_birth, sex, place_code, bed";

fn patient_from_row(r: &Row) -> Result<Patient> {
    Ok(Patient {
        nhs_number: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        given_name: stored("given name", PersonName::parse(&col::<String>(r, "given_name")?))?,
        family_name: stored("family name", PersonName::parse(&col::<String>(r, "family_name")?))?,
        date_of_birth: stored(
            "date of birth",
            parse_date("date_of_birth", &col::<String>(r, "date_of_birth")?),
        )?,
        sex: stored("sex", Sex::parse(&col::<String>(r, "sex")?))?,
        place: stored("place", PlaceCode::parse(&col::<String>(r, "place_code")?))?,
        bed: col(r, "bed")?,
    })
}

/// A patient as a clinical request about them needs them: who and where they are, the store's id, the name of
/// their place, the current SpO2 scale 2 prescription, and whether the person asking has an open delegated task for
/// them.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub id: i64,
    pub patient: Patient,
    pub place_name: String,
    pub scale2: Option<Scale2>,
    /// The activities of the reader's open delegated tasks for this patient.
    pub task_activities: Vec<String>,
    /// Pregnancy as recorded (whether it still holds on a given day is `PregnancyRecord::until`'s to say).
    pub pregnancy: Option<PregnancyRecord>,
    /// When they were discharged from `place_name`, if they are not in a stay now.
    pub discharged_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl PatientRecord {
    /// Whether the reader's open tasks open this patient to `activity`: a task reaches its patient for the delegated
    /// activity only, and for reading the record the work needs.
    pub fn task_opens(&self, activity: &str) -> bool {
        if activity == "record.read" {
            return !self.task_activities.is_empty();
        }
        // A task to take observations reaches recording that they could not be done.
        let asked = if activity == "vitals.missed" {
            "vitals.record"
        } else {
            activity
        };
        self.task_activities.iter().any(|a| a == activity || a == asked)
    }
}

/// The pregnancy recorded in a row read with `pregnancy` and `pregnancy_until` columns.
fn pregnancy_from_row(r: &Row) -> Result<Option<PregnancyRecord>> {
    let Some(status) = col::<Option<String>>(r, "pregnancy")? else {
        return Ok(None);
    };
    let until = col::<Option<String>>(r, "pregnancy_until")?
        .map(|u| stored("pregnancy until", parse_date("pregnancy_until", &u)))
        .transpose()?;
    Ok(Some(PregnancyRecord {
        status: stored("pregnancy", PregnancyStatus::parse(&status))?,
        until,
    }))
}

/// The patients' records a store has read, by NHS number and reader (see `kept`).
pub(crate) type Records = crate::kept::Kept<(String, i64), PatientRecord>;

impl Store {
    /// The patient with what a clinical request about them needs (see [`PatientRecord`]); `reader` is the staff id
    /// of the person asking. With the `versions` the request's profile was read under, a record read under the same
    /// versions is used again (see `kept`), as the database stood when the request began; without, it is read now.
    pub async fn patient_record(
        &self,
        nhs: &NhsNumber,
        reader: i64,
        versions: Option<Versions>,
    ) -> Result<PatientRecord> {
        let Some(versions) = versions else {
            return self.read_patient_record(nhs, reader).await;
        };
        let now = self.now();
        let key = (nhs.as_str().to_owned(), reader);
        if let Some(kept) = self.shared.records.get(&key, versions, now) {
            return Ok(kept);
        }
        let record = self.read_patient_record(nhs, reader).await?;
        self.shared.records.keep(key, versions, now, None, &record);
        Ok(record)
    }

    /// The record, read in one query.
    async fn read_patient_record(&self, nhs: &NhsNumber, reader: i64) -> Result<PatientRecord> {
        let sql = format!(
            "SELECT p.id, p.nhs_number, p.given_name, p.family_name, p.date_of_birth, p.sex, p.place_code, p.bed, \
             p.pregnancy, p.pregnancy_until, p.discharged_at, pl.name AS place_name, {SCALE2_COLUMNS}, \
             (SELECT string_agg(t.activity, ',') FROM task t WHERE t.patient_id = p.id AND t.delegatee_id = $2 \
              AND t.status IN ('requested', 'accepted', 'in-progress', 'awaiting-countersignature')) AS task_activities \
             FROM patient p JOIN place pl ON pl.code = p.place_code \
             LEFT JOIN scale2 x ON x.id = (SELECT MAX(c.id) FROM scale2 c WHERE c.patient_id = p.id \
              AND c.ended_at IS NULL) \
             LEFT JOIN staff xs ON xs.id = x.prescribed_by \
             WHERE p.nhs_number = $1"
        );
        let row = query_built(sql)
            .bind(nhs.as_str())
            .bind(reader)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no patient with NHS number `{nhs}`")))?;
        Ok(PatientRecord {
            id: col(&row, "id")?,
            patient: patient_from_row(&row)?,
            place_name: col(&row, "place_name")?,
            scale2: scale2_from_row(&row)?,
            task_activities: col::<Option<String>>(&row, "task_activities")?
                .map(|a| a.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            pregnancy: pregnancy_from_row(&row)?,
            discharged_at: col::<Option<String>>(&row, "discharged_at")?
                .map(|t| stored("discharged at", remit_domain::time::parse_instant("discharged_at", &t)))
                .transpose()?,
        })
    }

    /// The id of an existing patient, or a not-found error naming the number.
    pub async fn patient_id(&self, nhs: &NhsNumber) -> Result<i64> {
        let row = query("SELECT id FROM patient WHERE nhs_number = $1")
            .bind(nhs.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no patient with NHS number `{nhs}`")))?;
        col(&row, "id")
    }

    /// Patients, by place and bed, optionally in one place only.
    pub async fn list_patients(&self, place: Option<&PlaceCode>) -> Result<Vec<Patient>> {
        let sql = format!(
            "SELECT {PATIENT_COLUMNS} FROM patient WHERE ($1 IS NULL OR place_code = $1) AND discharged_at IS NULL \
             ORDER BY place_code, bed, family_name"
        );
        let rows = query_built(sql)
            .bind(place.map(PlaceCode::as_str))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(patient_from_row).collect()
    }

    pub async fn patient(&self, nhs: &NhsNumber) -> Result<Patient> {
        let sql = format!("SELECT {PATIENT_COLUMNS} FROM patient WHERE nhs_number = $1");
        let row = query_built(sql)
            .bind(nhs.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no patient with NHS number `{nhs}`")))?;
        patient_from_row(&row)
    }
}

impl WriteTx {
    /// Adds a patient, in their place from now (an inpatient stay begins).
    pub async fn insert_patient(&mut self, p: &Patient) -> Result<i64> {
        let id = self.insert_patient_row(p).await?;
        // On the place's board from now.
        self.announce(crate::changes::Kind::Board, p.place.as_str());
        self.begin_stay(id, StayClass::Inpatient, &p.place, p.bed.as_deref(), None)
            .await?;
        Ok(id)
    }

    /// The patient's row alone.
    pub(crate) async fn insert_patient_row(&mut self, p: &Patient) -> Result<i64> {
        let row = query(
            "INSERT INTO patient (nhs_number, given_name, family_name, date_of_birth, sex, place_code, bed, \
             created_at, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(p.nhs_number.as_str())
        .bind(p.given_name.as_str())
        .bind(p.family_name.as_str())
        .bind(p.date_of_birth.to_string())
        .bind(p.sex.as_str())
        .bind(p.place.as_str())
        .bind(p.bed.as_deref())
        .bind(format_instant(self.now()))
        .fetch_one(self.conn())
        .await
        .map_err(|e| match &e {
            e if e.is_foreign_key_violation() => StoreError::NotFound(format!("no place `{}`", p.place)),
            _ => on_unique(e, || {
                format!("a patient with NHS number `{}` already exists", p.nhs_number)
            }),
        })?;
        col(&row, "id")
    }

    /// Records a patient's pregnancy status (`None`: not pregnant), replacing what was recorded.
    pub async fn set_pregnancy(&mut self, patient_id: i64, p: Option<&PregnancyRecord>) -> Result<()> {
        query("UPDATE patient SET pregnancy = $1, pregnancy_until = $2 WHERE id = $3")
            .bind(p.map(|p| p.status.as_str()))
            .bind(p.and_then(|p| p.until).map(|u| u.to_string()))
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
