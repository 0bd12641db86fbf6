//! X-ray requests, exposures and reports; diagnoses and prescriptions.

use remit_domain::clinical::{Diagnosis, Prescription};
use remit_domain::imaging::{
    DrlComparison, DrlPer, DrlReview, ExposureRecord, Pregnancy, Repeat, RequestStatus, Stage,
};
use remit_domain::nhs::NhsNumber;
use remit_domain::time::format_instant;
use serde::Serialize;

use crate::db::{Row, query, query_built};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

pub use remit_domain::imaging::{ExposureView, ReportView, RequestView};

/// A referral to store (ids resolved, examination checked against the catalogue).
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub patient_id: i64,
    pub department: String,
    pub examination: String,
    pub region: String,
    pub clinical_info: String,
    pub referrer_id: i64,
}

/// One exposure in a dose history or an operator's activity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoseRow {
    pub request: i64,
    pub patient: String,
    pub examination: String,
    pub exposed_at: String,
    pub operator: String,
    pub dap: f64,
    pub drl_dap: f64,
    /// Whether the DRL is per projection or per examination, and for the first the projections above it.
    pub drl_per: String,
    pub drl_exceeded: bool,
    pub drl_over: Vec<String>,
    pub repeats: usize,
    /// The patient's total DAP up to and including this exposure (dose history only).
    pub cumulative_dap: f64,
}

const REQUEST_COLUMNS: &str = "r.id, p.nhs_number, p.given_name, p.family_name, r.department, r.examination, \
     r.region, r.clinical_info, r.status, f.username AS referrer, r.referred_at, pr.username AS practitioner, \
     r.decided_at, r.decision_note, r.pregnancy_answer, pg.username AS pregnancy_by, r.pregnancy_at, r.returned_reason, \
     o.username AS operator, sv.username AS supervisor, x.exposed_at, x.projections, x.kv, x.mas_hundredths, x.dap, \
     x.sid_cm, x.repeats, x.drl_dap, x.drl_exceeded, x.drl_per, x.drl_over, x.projection_dap, dr.username AS drl_reviewer, x.drl_reviewed_at, x.drl_review, rp.username AS reporter, rr.reported_at, rr.findings, \
     rr.conclusion FROM imaging_request r JOIN patient p ON p.id = r.patient_id JOIN staff f ON f.id = r.referrer_id \
     LEFT JOIN staff pr ON pr.id = r.practitioner_id LEFT JOIN staff pg ON pg.id = r.pregnancy_by \
     LEFT JOIN imaging_exposure x ON x.request_id = r.id LEFT JOIN staff o ON o.id = x.operator_id \
     LEFT JOIN staff sv ON sv.id = x.supervisor_id LEFT JOIN staff dr ON dr.id = x.drl_reviewed_by \
     LEFT JOIN imaging_report rr ON rr.request_id = r.id \
     LEFT JOIN staff rp ON rp.id = rr.reporter_id";

fn milli(v: i64) -> f64 {
    v as f64 / 1000.0
}

/// A JSON list stored in a column, empty where the column is null.
fn json_list<T: serde::de::DeserializeOwned>(text: Option<String>, name: &str) -> Result<Vec<T>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
        .map(Option::unwrap_or_default)
}

fn request_from_row(r: &Row) -> Result<RequestView> {
    let exposure = match col::<Option<String>>(r, "operator")? {
        Some(operator) => Some(ExposureView {
            operator,
            supervisor: col(r, "supervisor")?,
            exposed_at: col(r, "exposed_at")?,
            projections: serde_json::from_str(&col::<String>(r, "projections")?)
                .map_err(|e| StoreError::Corrupt(format!("projections: {e}")))?,
            kv: col::<i64>(r, "kv")? as u32,
            mas: col::<i64>(r, "mas_hundredths")? as f64 / 100.0,
            dap: milli(col(r, "dap")?),
            sid_cm: col::<i64>(r, "sid_cm")? as u32,
            repeats: serde_json::from_str(&col::<String>(r, "repeats")?)
                .map_err(|e| StoreError::Corrupt(format!("repeats: {e}")))?,
            drl_dap: milli(col(r, "drl_dap")?),
            // Exposures recorded before DRLs were compared per projection were compared with the whole examination.
            drl_per: col::<Option<String>>(r, "drl_per")?.unwrap_or_else(|| "examination".to_owned()),
            drl_exceeded: col::<i64>(r, "drl_exceeded")? == 1,
            drl_over: json_list(col(r, "drl_over")?, "drl_over")?,
            projection_dap: json_list::<i64>(col(r, "projection_dap")?, "projection_dap")?
                .into_iter()
                .map(milli)
                .collect(),
            drl_review: match col::<Option<String>>(r, "drl_reviewer")? {
                Some(by) => Some(DrlReview {
                    by,
                    at: col(r, "drl_reviewed_at")?,
                    note: col(r, "drl_review")?,
                }),
                None => None,
            },
        }),
        None => None,
    };
    let report = match col::<Option<String>>(r, "reporter")? {
        Some(reporter) => Some(ReportView {
            reporter,
            reported_at: col(r, "reported_at")?,
            findings: col(r, "findings")?,
            conclusion: col(r, "conclusion")?,
        }),
        None => None,
    };
    Ok(RequestView {
        id: col(r, "id")?,
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        patient_name: format!(
            "{} {}",
            col::<String>(r, "given_name")?,
            col::<String>(r, "family_name")?
        ),
        department: col(r, "department")?,
        examination: col(r, "examination")?,
        region: col(r, "region")?,
        clinical_info: col(r, "clinical_info")?,
        status: stored("request status", RequestStatus::parse(&col::<String>(r, "status")?))?,
        referrer: col(r, "referrer")?,
        referred_at: col(r, "referred_at")?,
        practitioner: col(r, "practitioner")?,
        decided_at: col(r, "decided_at")?,
        decision_note: col(r, "decision_note")?,
        pregnancy: col::<Option<String>>(r, "pregnancy_answer")?
            .map(|p| stored("pregnancy", Pregnancy::parse(&p)))
            .transpose()?,
        pregnancy_by: col(r, "pregnancy_by")?,
        pregnancy_at: col(r, "pregnancy_at")?,
        returned_reason: col(r, "returned_reason")?,
        exposure,
        report,
    })
}

fn dose_from_row(r: &Row) -> Result<DoseRow> {
    let repeats: Vec<Repeat> = serde_json::from_str(&col::<String>(r, "repeats")?)
        .map_err(|e| StoreError::Corrupt(format!("repeats: {e}")))?;
    Ok(DoseRow {
        request: col(r, "request_id")?,
        patient: col(r, "nhs_number")?,
        examination: col(r, "examination")?,
        exposed_at: col(r, "exposed_at")?,
        operator: col(r, "username")?,
        dap: milli(col(r, "dap")?),
        drl_dap: milli(col(r, "drl_dap")?),
        drl_per: col::<Option<String>>(r, "drl_per")?.unwrap_or_else(|| "examination".to_owned()),
        drl_exceeded: col::<i64>(r, "drl_exceeded")? == 1,
        drl_over: json_list(col(r, "drl_over")?, "drl_over")?,
        repeats: repeats.len(),
        cumulative_dap: 0.0,
    })
}

const DOSE_COLUMNS: &str = "x.request_id, p.nhs_number, r.examination, x.exposed_at, o.username, x.dap, x.drl_dap, \
     x.drl_exceeded, x.drl_per, x.drl_over, x.repeats FROM imaging_exposure x JOIN imaging_request r ON r.id = x.request_id \
     JOIN patient p ON p.id = r.patient_id JOIN staff o ON o.id = x.operator_id";

impl Store {
    pub async fn imaging_request(&self, id: i64) -> Result<RequestView> {
        let sql = format!("SELECT {REQUEST_COLUMNS} WHERE r.id = $1");
        let row = query_built(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no imaging request {id}")))?;
        request_from_row(&row)
    }

    /// A worklist, oldest first.
    pub async fn imaging_worklist(&self, stage: Stage) -> Result<Vec<RequestView>> {
        let filter = match stage {
            Stage::AwaitingJustification => "r.status IN ('referred', 'returned')",
            Stage::AwaitingExposure => "r.status = 'justified'",
            Stage::AwaitingReport => "r.status = 'exposed'",
            Stage::DrlExceeded => "x.drl_exceeded = 1 AND x.drl_reviewed_at IS NULL",
        };
        let sql = format!("SELECT {REQUEST_COLUMNS} WHERE {filter} ORDER BY r.referred_at, r.id");
        let rows = query_built(sql).fetch_all(self.pool()).await?;
        rows.iter().map(request_from_row).collect()
    }

    /// A patient's exposures, oldest first, with the running total of DAP.
    pub async fn dose_history(&self, patient_id: i64) -> Result<Vec<DoseRow>> {
        let sql = format!("SELECT {DOSE_COLUMNS} WHERE r.patient_id = $1 ORDER BY x.exposed_at, x.id");
        let rows = query_built(sql).bind(patient_id).fetch_all(self.pool()).await?;
        let mut total_milli: i64 = 0;
        rows.iter()
            .map(|r| {
                let mut d = dose_from_row(r)?;
                total_milli += col::<i64>(r, "dap")?;
                d.cumulative_dap = milli(total_milli);
                Ok(d)
            })
            .collect()
    }

    /// An operator's exposures, newest first.
    pub async fn operator_activity(&self, staff_id: i64) -> Result<Vec<DoseRow>> {
        let sql = format!("SELECT {DOSE_COLUMNS} WHERE x.operator_id = $1 ORDER BY x.exposed_at DESC, x.id DESC");
        let rows = query_built(sql).bind(staff_id).fetch_all(self.pool()).await?;
        rows.iter().map(dose_from_row).collect()
    }
}

impl WriteTx {
    pub async fn insert_request(&mut self, r: &NewRequest) -> Result<i64> {
        let now = format_instant(self.now());
        let row = query(
            "INSERT INTO imaging_request (patient_id, department, examination, region, clinical_info, status, \
             referrer_id, referred_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'referred', $6, $7, $7) RETURNING id",
        )
        .bind(r.patient_id)
        .bind(&r.department)
        .bind(&r.examination)
        .bind(&r.region)
        .bind(&r.clinical_info)
        .bind(r.referrer_id)
        .bind(&now)
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }

    /// A practitioner's decision: justified (with a note) or rejected (with the reason).
    pub async fn decide_request(
        &mut self,
        id: i64,
        from: &[RequestStatus],
        to: RequestStatus,
        practitioner_id: i64,
        note: &str,
    ) -> Result<()> {
        let now = format_instant(self.now());
        let done = query_built(status_update(
            from,
            ", practitioner_id = $4, decided_at = $2, decision_note = $5",
        ))
        .bind(to.as_str())
        .bind(&now)
        .bind(id)
        .bind(practitioner_id)
        .bind(note)
        .execute(self.conn())
        .await?;
        changed(done, id)
    }

    /// Records the pregnancy enquiry's answer; "could be", "is pregnant" and "declined" return the request.
    pub async fn record_pregnancy(
        &mut self,
        id: i64,
        answer: Pregnancy,
        by: i64,
        returned: Option<&str>,
    ) -> Result<()> {
        let now = format_instant(self.now());
        let to = if returned.is_some() {
            RequestStatus::Returned
        } else {
            RequestStatus::Justified
        };
        let done = query_built(status_update(
            &[RequestStatus::Justified],
            ", pregnancy = $4, pregnancy_by = $5, pregnancy_at = $2, returned_reason = COALESCE($6, returned_reason), \
             pregnancy_answer = $7",
        ))
        .bind(to.as_str())
        .bind(&now)
        .bind(id)
        .bind(answer.legacy())
        .bind(by)
        .bind(returned)
        .bind(answer.as_str())
        .execute(self.conn())
        .await?;
        changed(done, id)
    }

    /// Records the exposure and moves the request on to await its report.
    pub async fn insert_exposure(
        &mut self,
        id: i64,
        operator_id: i64,
        supervisor_id: Option<i64>,
        e: &ExposureRecord,
        (drl_dap, drl_per, compared): (u32, DrlPer, &DrlComparison),
    ) -> Result<()> {
        let now = format_instant(self.now());
        let done = query_built(status_update(&[RequestStatus::Justified], ""))
            .bind(RequestStatus::Exposed.as_str())
            .bind(&now)
            .bind(id)
            .execute(self.conn())
            .await?;
        changed(done, id)?;
        let projections = serde_json::to_string(&e.projections).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let repeats = serde_json::to_string(&e.repeats).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        query(
            "INSERT INTO imaging_exposure (request_id, operator_id, supervisor_id, exposed_at, projections, kv, \
             mas_hundredths, dap, sid_cm, repeats, drl_dap, drl_exceeded, drl_per, drl_over, projection_dap) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id)
        .bind(operator_id)
        .bind(supervisor_id)
        .bind(&now)
        .bind(projections)
        .bind(i64::from(e.kv))
        .bind(i64::from(e.mas_hundredths))
        .bind(i64::from(e.dap))
        .bind(i64::from(e.sid_cm))
        .bind(repeats)
        .bind(i64::from(drl_dap))
        .bind(i64::from(compared.exceeded))
        .bind(drl_per.as_str())
        .bind(serde_json::to_string(&compared.projections_over).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(
            (!e.projection_dap.is_empty())
                .then(|| serde_json::to_string(&e.projection_dap))
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        )
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the review of request `id`'s exposure above its DRL; a conflict where there is no such exposure
    /// waiting for review (none, within its DRL, or reviewed already).
    pub async fn review_drl(&mut self, id: i64, reviewer_id: i64, note: &str) -> Result<()> {
        let done = query(
            "UPDATE imaging_exposure SET drl_reviewed_by = $1, drl_reviewed_at = $2, drl_review = $3 \
             WHERE request_id = $4 AND drl_exceeded = 1 AND drl_reviewed_at IS NULL",
        )
        .bind(reviewer_id)
        .bind(format_instant(self.now()))
        .bind(note)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "imaging request {id} has no exposure above its DRL waiting for review"
            )));
        }
        Ok(())
    }

    /// Records the report and closes the request.
    pub async fn insert_report(&mut self, id: i64, reporter_id: i64, findings: &str, conclusion: &str) -> Result<()> {
        let now = format_instant(self.now());
        let done = query_built(status_update(&[RequestStatus::Exposed], ""))
            .bind(RequestStatus::Reported.as_str())
            .bind(&now)
            .bind(id)
            .execute(self.conn())
            .await?;
        changed(done, id)?;
        query(
            "INSERT INTO imaging_report (request_id, reporter_id, reported_at, findings, conclusion) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(reporter_id)
        .bind(&now)
        .bind(findings)
        .bind(conclusion)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn insert_diagnosis(&mut self, patient_id: i64, by: i64, d: &Diagnosis) -> Result<i64> {
        let row = query(
            "INSERT INTO diagnosis (patient_id, recorded_by, recorded_at, text, snomed) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(patient_id)
        .bind(by)
        .bind(format_instant(self.now()))
        .bind(&d.text)
        .bind(d.snomed.as_deref())
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }

    pub async fn insert_prescription(&mut self, patient_id: i64, by: i64, p: &Prescription) -> Result<i64> {
        let row = query(
            "INSERT INTO prescription (patient_id, prescriber_id, prescribed_at, medicine, dose, route, frequency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(patient_id)
        .bind(by)
        .bind(format_instant(self.now()))
        .bind(&p.medicine)
        .bind(&p.dose)
        .bind(p.route.as_str())
        .bind(&p.frequency)
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }
}

/// A recorded diagnosis or prescription: who recorded it for whom, and when.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded<T> {
    pub id: i64,
    pub patient: NhsNumber,
    pub by: String,
    pub at: String,
    #[serde(flatten)]
    pub content: T,
}

const PRESCRIPTION_COLUMNS: &str = "r.id, p.nhs_number, s.username, r.prescribed_at AS at, r.medicine, r.dose, \
     r.route, r.frequency FROM prescription r JOIN patient p ON p.id = r.patient_id \
     JOIN staff s ON s.id = r.prescriber_id";

const DIAGNOSIS_COLUMNS: &str = "d.id, p.nhs_number, s.username, d.recorded_at AS at, d.text, d.snomed \
     FROM diagnosis d JOIN patient p ON p.id = d.patient_id JOIN staff s ON s.id = d.recorded_by";

fn recorded<T>(row: &Row, content: T) -> Result<Recorded<T>> {
    Ok(Recorded {
        id: col(row, "id")?,
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(row, "nhs_number")?))?,
        by: col(row, "username")?,
        at: col(row, "at")?,
        content,
    })
}

fn prescription_from_row(row: &Row) -> Result<Recorded<Prescription>> {
    let rx = Prescription::parse(
        &col::<String>(row, "medicine")?,
        &col::<String>(row, "dose")?,
        &col::<String>(row, "route")?,
        &col::<String>(row, "frequency")?,
    );
    recorded(row, stored("prescription", rx)?)
}

fn diagnosis_from_row(row: &Row) -> Result<Recorded<Diagnosis>> {
    let d = Diagnosis {
        text: col(row, "text")?,
        snomed: col(row, "snomed")?,
    };
    recorded(row, d)
}

impl Store {
    /// One prescription by its id.
    pub async fn prescription(&self, id: i64) -> Result<Recorded<Prescription>> {
        let row = query_built(format!("SELECT {PRESCRIPTION_COLUMNS} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no prescription {id}")))?;
        prescription_from_row(&row)
    }

    /// A patient's prescriptions, oldest first.
    pub async fn prescriptions_of(&self, patient: &NhsNumber) -> Result<Vec<Recorded<Prescription>>> {
        let rows = query_built(format!(
            "SELECT {PRESCRIPTION_COLUMNS} WHERE p.nhs_number = $1 ORDER BY r.id"
        ))
        .bind(patient.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(prescription_from_row).collect()
    }

    /// One diagnosis by its id.
    pub async fn diagnosis(&self, id: i64) -> Result<Recorded<Diagnosis>> {
        let row = query_built(format!("SELECT {DIAGNOSIS_COLUMNS} WHERE d.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no diagnosis {id}")))?;
        diagnosis_from_row(&row)
    }

    /// A patient's diagnoses, oldest first.
    pub async fn diagnoses_of(&self, patient: &NhsNumber) -> Result<Vec<Recorded<Diagnosis>>> {
        let rows = query_built(format!(
            "SELECT {DIAGNOSIS_COLUMNS} WHERE p.nhs_number = $1 ORDER BY d.id"
        ))
        .bind(patient.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(diagnosis_from_row).collect()
    }

    /// A patient's imaging requests, oldest first.
    pub async fn imaging_requests_of(&self, patient: &NhsNumber) -> Result<Vec<RequestView>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} WHERE p.nhs_number = $1 ORDER BY r.id");
        let rows = query_built(sql).bind(patient.as_str()).fetch_all(self.pool()).await?;
        rows.iter().map(request_from_row).collect()
    }
}

/// `UPDATE` of a request's status guarded by the states it may move from: `$1` the new status, `$2` now, `$3` the id;
/// `extra` sets more columns with further parameters. `from` holds only the fixed names of `RequestStatus`.
fn status_update(from: &[RequestStatus], extra: &str) -> String {
    let states: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!(
        "UPDATE imaging_request SET status = $1, updated_at = $2{extra} WHERE id = $3 AND status IN ({})",
        states.join(", ")
    )
}

fn changed(rows: u64, id: i64) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "imaging request {id} is no longer in the state this step needs: it was changed meanwhile"
        )))
    }
}
