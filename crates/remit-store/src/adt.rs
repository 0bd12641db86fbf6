//! Admissions, transfers and discharges: patients' stays (FHIR `Encounter`), moves that take open escalations with
//! the patient, discharges that close nothing, merges, and the record of each HL7 v2 message applied.

use chrono::{DateTime, Utc};
use remit_domain::adt::{Details, Stay, StayClass, StayStatus};
use remit_domain::nhs::NhsNumber;
use remit_domain::patient::Patient;
use remit_domain::place::PlaceCode;
use remit_domain::staff::PersonName;
use remit_domain::time::{format_instant, parse_instant};

use crate::db::{Row, query, query_built};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

/// Escalations not yet reviewed, and tasks not yet done or cancelled: the work that must not be closed silently.
const OPEN_ESCALATION: &str = "state IN ('open', 'acknowledged')";
const OPEN_TASK: &str = "status IN ('requested', 'accepted', 'in-progress', 'awaiting-countersignature')";

const STAY_COLUMNS: &str = "en.id, p.nhs_number, en.status, en.class, en.place_code, pl.name AS place_name, en.bed, \
                            en.visit_number, en.started_at, en.ended_at";

fn stay_from_row(r: &Row) -> Result<Stay> {
    let class: String = col(r, "class")?;
    Ok(Stay {
        id: col(r, "id")?,
        nhs_number: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        status: stored("stay status", StayStatus::parse(&col::<String>(r, "status")?))?,
        class: StayClass::parse(&class).ok_or_else(|| StoreError::Corrupt(format!("stay class `{class}`")))?,
        place: stored("place", PlaceCode::parse(&col::<String>(r, "place_code")?))?,
        place_name: col(r, "place_name")?,
        bed: col(r, "bed")?,
        visit_number: col(r, "visit_number")?,
        started_at: stored(
            "started at",
            parse_instant("started_at", &col::<String>(r, "started_at")?),
        )?,
        ended_at: col::<Option<String>>(r, "ended_at")?
            .map(|t| stored("ended at", parse_instant("ended_at", &t)))
            .transpose()?,
    })
}

/// A patient who left a place with work still open, or came to it with tasks delegated before they came: listed for
/// the nurse in charge, so that nothing is closed or lost silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub nhs_number: NhsNumber,
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub bed: Option<String>,
    /// When they were discharged; `None` for a patient who came to the place.
    pub discharged_at: Option<DateTime<Utc>>,
    pub placed_at: DateTime<Utc>,
    /// Escalations not yet reviewed.
    pub escalations: i64,
    /// Open tasks (for a patient who came: those delegated before they came).
    pub tasks: i64,
}

/// A patient as an ADT message finds them, read in its transaction.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: i64,
    pub place: PlaceCode,
    pub discharged: bool,
    /// The stay in progress, if any, and its class.
    pub stay: Option<(i64, StayClass)>,
}

/// What a discharge or cancelled admission left open, for the acknowledgement and the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOpen {
    pub escalations: i64,
    pub tasks: i64,
}

impl Store {
    /// A stay by id.
    pub async fn stay(&self, id: i64) -> Result<Stay> {
        let sql = format!(
            "SELECT {STAY_COLUMNS} FROM encounter en JOIN patient p ON p.id = en.patient_id \
             JOIN place pl ON pl.code = en.place_code WHERE en.id = $1"
        );
        let row = query_built(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no encounter `{id}`")))?;
        stay_from_row(&row)
    }

    /// A patient's stays, newest first, optionally with one status only.
    pub async fn stays(&self, nhs: &NhsNumber, status: Option<StayStatus>) -> Result<Vec<Stay>> {
        let sql = format!(
            "SELECT {STAY_COLUMNS} FROM encounter en JOIN patient p ON p.id = en.patient_id \
             JOIN place pl ON pl.code = en.place_code \
             WHERE p.nhs_number = $1 AND ($2 IS NULL OR en.status = $2) ORDER BY en.started_at DESC, en.id DESC"
        );
        let rows = query_built(sql)
            .bind(nhs.as_str())
            .bind(status.map(StayStatus::as_str))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(stay_from_row).collect()
    }

    /// The digest and acknowledgement text of a message applied before, by its sender and control id.
    pub async fn hl7_applied(&self, sender: &str, control_id: &str) -> Result<Option<(String, String)>> {
        let row = query("SELECT digest, ack_text FROM hl7_message WHERE sender = $1 AND control_id = $2")
            .bind(sender)
            .bind(control_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((col(&r, "digest")?, col(&r, "ack_text")?))).transpose()
    }

    /// Who left `place` with work open, and who came to it with tasks delegated before they came.
    pub async fn handover(&self, place: &PlaceCode) -> Result<Vec<Handover>> {
        let sql = format!(
            "SELECT p.nhs_number, p.given_name, p.family_name, p.bed, p.discharged_at, p.placed_at, \
             (SELECT COUNT(*) FROM escalation e WHERE e.patient_id = p.id AND e.{OPEN_ESCALATION}) AS escalations, \
             (SELECT COUNT(*) FROM task t WHERE t.patient_id = p.id AND t.{OPEN_TASK} \
              AND (p.discharged_at IS NOT NULL OR t.created_at < p.placed_at)) AS tasks \
             FROM patient p WHERE p.place_code = $1 AND (p.discharged_at IS NOT NULL OR p.placed_at > p.created_at) \
             ORDER BY (p.discharged_at IS NULL), p.discharged_at DESC, p.placed_at DESC"
        );
        let rows = query_built(sql).bind(place.as_str()).fetch_all(self.pool()).await?;
        let mut out = Vec::new();
        for r in &rows {
            let discharged_at = col::<Option<String>>(r, "discharged_at")?
                .map(|t| stored("discharged at", parse_instant("discharged_at", &t)))
                .transpose()?;
            let escalations: i64 = col(r, "escalations")?;
            let tasks: i64 = col(r, "tasks")?;
            // Escalations travel with a patient who moves: only a departure leaves them behind.
            let open = if discharged_at.is_some() {
                escalations + tasks
            } else {
                tasks
            };
            if open == 0 {
                continue;
            }
            out.push(Handover {
                nhs_number: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
                given_name: stored("given name", PersonName::parse(&col::<String>(r, "given_name")?))?,
                family_name: stored("family name", PersonName::parse(&col::<String>(r, "family_name")?))?,
                bed: col(r, "bed")?,
                discharged_at,
                placed_at: stored("placed at", parse_instant("placed_at", &col::<String>(r, "placed_at")?))?,
                escalations,
                tasks,
            });
        }
        Ok(out)
    }
}

impl WriteTx {
    /// The patient with this NHS number, as this transaction sees them.
    pub async fn find_patient(&mut self, nhs: &NhsNumber) -> Result<Option<Found>> {
        let row = query(
            "SELECT p.id, p.place_code, p.discharged_at, en.id AS stay, en.class \
             FROM patient p LEFT JOIN encounter en ON en.patient_id = p.id AND en.status = 'in-progress' \
             WHERE p.nhs_number = $1",
        )
        .bind(nhs.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            let stay = match col::<Option<i64>>(&r, "stay")? {
                None => None,
                Some(id) => {
                    let class: String = col(&r, "class")?;
                    let class =
                        StayClass::parse(&class).ok_or_else(|| StoreError::Corrupt(format!("stay class `{class}`")))?;
                    Some((id, class))
                }
            };
            Ok(Found {
                id: col(&r, "id")?,
                place: stored("place", PlaceCode::parse(&col::<String>(&r, "place_code")?))?,
                discharged: col::<Option<String>>(&r, "discharged_at")?.is_some(),
                stay,
            })
        })
        .transpose()
    }

    /// Starts a stay for a patient in `place` (the place must exist); their open escalations, if any, are seen there.
    /// Answers the stay's id and how many escalations moved.
    pub async fn begin_stay(
        &mut self,
        patient_id: i64,
        class: StayClass,
        place: &PlaceCode,
        bed: Option<&str>,
        visit_number: Option<&str>,
    ) -> Result<(i64, u64)> {
        let now = format_instant(self.now());
        let row = query(
            "INSERT INTO encounter (patient_id, status, class, place_code, bed, visit_number, started_at) \
             VALUES ($1, 'in-progress', $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(patient_id)
        .bind(class.as_str())
        .bind(place.as_str())
        .bind(bed)
        .bind(visit_number)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        let moved = self.arrive(patient_id, place, bed).await?;
        Ok((col(&row, "id")?, moved))
    }

    /// The patient arrives in `place` and `bed` from now, in a stay again: on its board, with their open escalations.
    /// Answers how many escalations moved.
    async fn arrive(&mut self, patient_id: i64, place: &PlaceCode, bed: Option<&str>) -> Result<u64> {
        query("UPDATE patient SET place_code = $1, bed = $2, placed_at = $3, discharged_at = NULL WHERE id = $4")
            .bind(place.as_str())
            .bind(bed)
            .bind(format_instant(self.now()))
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        self.carry_escalations(patient_id, place).await
    }

    /// The patient's open escalations are seen where they are now: answers how many moved.
    async fn carry_escalations(&mut self, patient_id: i64, place: &PlaceCode) -> Result<u64> {
        query_built(format!(
            "UPDATE escalation SET place_code = $1 WHERE patient_id = $2 AND place_code <> $1 AND {OPEN_ESCALATION}"
        ))
        .bind(place.as_str())
        .bind(patient_id)
        .execute(self.conn())
        .await
    }

    /// Corrects a patient's details.
    pub async fn update_details(&mut self, patient_id: i64, d: &Details) -> Result<()> {
        query("UPDATE patient SET given_name = $1, family_name = $2, date_of_birth = $3, sex = $4 WHERE id = $5")
            .bind(d.given_name.as_str())
            .bind(d.family_name.as_str())
            .bind(d.date_of_birth.to_string())
            .bind(d.sex.as_str())
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Moves a patient (and their stay in progress) to `place` and `bed`; their open escalations go with them, to be
    /// seen by the new place's staff. Answers how many escalations moved.
    pub async fn move_patient(&mut self, patient_id: i64, place: &PlaceCode, bed: Option<&str>) -> Result<u64> {
        let now = format_instant(self.now());
        // A new bed in the same place is not a new arrival.
        query(
            "UPDATE patient SET placed_at = CASE WHEN place_code = $1 THEN placed_at ELSE $3 END, place_code = $1, \
             bed = $2 WHERE id = $4",
        )
        .bind(place.as_str())
        .bind(bed)
        .bind(now)
        .bind(patient_id)
        .execute(self.conn())
        .await?;
        query("UPDATE encounter SET place_code = $1, bed = $2 WHERE patient_id = $3 AND status = 'in-progress'")
            .bind(place.as_str())
            .bind(bed)
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        self.carry_escalations(patient_id, place).await
    }

    /// Ends a patient's stay in progress (`Finished` for a discharge, `EnteredInError` for a cancelled admission) and
    /// takes them off their place's board. Nothing of theirs is closed: what is left open is answered, and stays in
    /// the place they left for its staff to finish.
    pub async fn end_stay(&mut self, patient_id: i64, status: StayStatus) -> Result<LeftOpen> {
        let now = format_instant(self.now());
        query("UPDATE encounter SET status = $1, ended_at = $2 WHERE patient_id = $3 AND status = 'in-progress'")
            .bind(status.as_str())
            .bind(now.clone())
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        // The bed is someone else's now: nothing shows them in it.
        query("UPDATE patient SET discharged_at = $1, placed_at = $1, bed = NULL WHERE id = $2")
            .bind(now)
            .bind(patient_id)
            .execute(self.conn())
            .await?;
        self.left_open(patient_id).await
    }

    async fn left_open(&mut self, patient_id: i64) -> Result<LeftOpen> {
        let row = query_built(format!(
            "SELECT (SELECT COUNT(*) FROM escalation WHERE patient_id = $1 AND {OPEN_ESCALATION}) AS escalations, \
             (SELECT COUNT(*) FROM task WHERE patient_id = $1 AND {OPEN_TASK}) AS tasks"
        ))
        .bind(patient_id)
        .fetch_one(self.conn())
        .await?;
        Ok(LeftOpen {
            escalations: col(&row, "escalations")?,
            tasks: col(&row, "tasks")?,
        })
    }

    /// Takes back a patient's discharge: their latest finished stay is in progress again, in `place` and `bed` (the
    /// place it was in when none is given). Answers the place, or `None` when they have no finished stay.
    pub async fn resume_stay(
        &mut self,
        patient_id: i64,
        place: Option<(&PlaceCode, Option<&str>)>,
    ) -> Result<Option<PlaceCode>> {
        let Some(row) = query(
            "SELECT id, place_code, bed FROM encounter WHERE patient_id = $1 AND status = 'finished' \
             ORDER BY ended_at DESC, id DESC LIMIT 1",
        )
        .bind(patient_id)
        .fetch_optional(self.conn())
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = col(&row, "id")?;
        let (code, bed) = match place {
            Some((p, b)) => (p.clone(), b.map(str::to_owned)),
            None => (
                stored("place", PlaceCode::parse(&col::<String>(&row, "place_code")?))?,
                col(&row, "bed")?,
            ),
        };
        query("UPDATE encounter SET status = 'in-progress', ended_at = NULL, place_code = $1, bed = $2 WHERE id = $3")
            .bind(code.as_str())
            .bind(bed.as_deref())
            .bind(id)
            .execute(self.conn())
            .await?;
        self.arrive(patient_id, &code, bed.as_deref()).await?;
        Ok(Some(code))
    }

    /// Merges the record of `retired` into `survivor`: everything recorded about either is the survivor's, and the
    /// retired number is gone. When the survivor is not known, the retired record simply takes the surviving number.
    /// Answers the place the retired record was in.
    pub async fn merge_patients(&mut self, survivor: &NhsNumber, retired: &NhsNumber) -> Result<PlaceCode> {
        let Some(old) = self.find_patient(retired).await? else {
            return Err(StoreError::NotFound(format!(
                "no patient with NHS number `{retired}` (MRG-1) to merge"
            )));
        };
        let Some(new) = self.find_patient(survivor).await? else {
            query("UPDATE patient SET nhs_number = $1 WHERE id = $2")
                .bind(survivor.as_str())
                .bind(old.id)
                .execute(self.conn())
                .await?;
            return Ok(old.place);
        };
        // One stay in progress at most: the survivor's stands; the other ends where it was.
        if new.stay.is_some() && old.stay.is_some() {
            query("UPDATE encounter SET status = 'finished', ended_at = $1 WHERE patient_id = $2 AND status = 'in-progress'")
                .bind(format_instant(self.now()))
                .bind(old.id)
                .execute(self.conn())
                .await?;
        }
        for table in [
            "task",
            "obs_set",
            "obs_missed",
            "scale2",
            "escalation",
            "imaging_request",
            "diagnosis",
            "prescription",
            "encounter",
        ] {
            query_built(format!("UPDATE {table} SET patient_id = $1 WHERE patient_id = $2"))
                .bind(new.id)
                .bind(old.id)
                .execute(self.conn())
                .await?;
        }
        if new.stay.is_none() && old.stay.is_some() {
            // The survivor is where the retired record was.
            let row = query("SELECT place_code, bed, placed_at FROM patient WHERE id = $1")
                .bind(old.id)
                .fetch_one(self.conn())
                .await?;
            query("UPDATE patient SET place_code = $1, bed = $2, placed_at = $3, discharged_at = NULL WHERE id = $4")
                .bind(col::<String>(&row, "place_code")?)
                .bind(col::<Option<String>>(&row, "bed")?)
                .bind(col::<Option<String>>(&row, "placed_at")?)
                .bind(new.id)
                .execute(self.conn())
                .await?;
        }
        // A pregnancy recorded on either record holds for the person.
        query(
            "UPDATE patient SET pregnancy = (SELECT pregnancy FROM patient WHERE id = $1), \
             pregnancy_until = (SELECT pregnancy_until FROM patient WHERE id = $1) \
             WHERE id = $2 AND pregnancy IS NULL",
        )
        .bind(old.id)
        .bind(new.id)
        .execute(self.conn())
        .await?;
        // Open escalations are seen where the survivor is.
        query_built(format!(
            "UPDATE escalation SET place_code = (SELECT place_code FROM patient WHERE id = $1) \
             WHERE patient_id = $1 AND {OPEN_ESCALATION}"
        ))
        .bind(new.id)
        .execute(self.conn())
        .await?;
        query("DELETE FROM patient WHERE id = $1")
            .bind(old.id)
            .execute(self.conn())
            .await?;
        Ok(old.place)
    }

    /// Records a message applied, so that a replay is not applied again.
    pub async fn record_hl7(
        &mut self,
        sender: &str,
        control_id: &str,
        digest: &str,
        event: &str,
        ack_text: &str,
    ) -> Result<()> {
        query(
            "INSERT INTO hl7_message (sender, control_id, digest, event, received_at, ack_text) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(sender)
        .bind(control_id)
        .bind(digest)
        .bind(event)
        .bind(format_instant(self.now()))
        .bind(ack_text)
        .execute(self.conn())
        .await
        .map_err(|e| {
            crate::error::on_unique(e, || {
                format!("message `{control_id}` from {sender} was applied already")
            })
        })?;
        Ok(())
    }

    /// Adds a patient admitted by a message, with their stay.
    pub async fn admit_new_patient(
        &mut self,
        p: &Patient,
        class: StayClass,
        visit_number: Option<&str>,
    ) -> Result<i64> {
        let id = self.insert_patient_row(p).await?;
        self.begin_stay(id, class, &p.place, p.bed.as_deref(), visit_number)
            .await?;
        Ok(id)
    }
}
