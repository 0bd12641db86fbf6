//! Observation sets, SpO2 scale 2 prescriptions and NEWS2 escalations.
//!
//! A set is never overwritten: each correction is a new version of it (`set_id` names the set, `version` counts),
//! the earlier one kept as `superseded` with the new version saying who changed it, when and why. A set marked
//! entered in error keeps its values and says who marked it and why. Escalations are tied to the set that raised
//! them and keep every notice, acknowledgement and review as an event.

use chrono::{DateTime, Utc};
use remit_domain::news2::{Consciousness, Monitoring, Risk, Spo2Scale};
use remit_domain::nhs::NhsNumber;
use remit_domain::obs::{EscalationLevel, Missing, NotScored, OxygenDevice, PartialScores, Readings};
use remit_domain::place::{Place, PlaceCode, PlaceKind};
use remit_domain::time::{format_instant, parse_instant};
use serde::Serialize;

use crate::db::{Row, query, query_built};
use crate::kept::{Versions, versions_of};
use crate::{Result, Store, StoreError, WriteTx, col, stored};

pub use remit_domain::obs::{NewSet, SetView};

/// Which versions of a patient's sets a read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetVersions {
    /// The current version of each set: the chart.
    Current,
    /// Every version, and the sets entered in error: the history.
    All,
}

/// Which version a new one replaces, and why.
#[derive(Debug, Clone)]
pub struct Amends<'a> {
    pub set_id: i64,
    pub version: i64,
    pub reason: &'a str,
}

/// A current SpO2 scale 2 prescription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scale2 {
    pub id: i64,
    pub target_low: u8,
    pub target_high: u8,
    pub reason: String,
    pub prescribed_by: String,
    pub prescribed_at: String,
}

/// An escalation as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationView {
    pub id: i64,
    pub patient: NhsNumber,
    pub patient_name: String,
    pub bed: Option<String>,
    pub place: String,
    pub set_id: i64,
    pub version_id: i64,
    pub level: EscalationLevel,
    /// The NEWS2 total it carries; `None` when raised by a set NEWS2 did not score.
    pub score: Option<u8>,
    /// What it says beyond its score: why there is none, or what was missing from its set.
    pub about: Option<String>,
    pub state: String,
    pub raised_at: String,
    /// Steps taken along the cascade of the wait in progress (acknowledgement, then review).
    pub stage: u8,
    /// When the wait in progress began, or its last step fell due: its clock.
    pub notified_at: String,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub reviewed_at: Option<String>,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
    /// Set only on escalations that an earlier version of remit superseded by a new one (now a worse set raises the
    /// open escalation again instead).
    pub superseded_by: Option<i64>,
    pub note: Option<String>,
    pub history: Vec<EscalationEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationEvent {
    pub at: String,
    pub actor: String,
    pub what: String,
    pub note: Option<String>,
}

/// A patient and where their observations stand, for the ward board and the overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientObs {
    pub patient: NhsNumber,
    pub name: String,
    pub place: String,
    pub bed: Option<String>,
    /// The latest current set, if any.
    pub latest: Option<SetView>,
    /// The NEWS2 total of the set before it, for the trend.
    pub previous_total: Option<u8>,
    /// When the next set is due: from the latest set, or from admission when there is none.
    pub next_due_at: String,
}

/// A ward board: the place and its patients, read in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardBoard {
    pub place: Place,
    pub patients: Vec<BoardPatient>,
    /// The versions read in the same statement: they confirm a reader taken from what the store keeps
    /// ([`crate::Store::kept_token_holder`]) with no round trip of its own.
    pub versions: Versions,
}

/// A patient as the ward board shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardPatient {
    pub patient: NhsNumber,
    pub name: String,
    pub bed: Option<String>,
    /// The latest current set, if there is one.
    pub latest: Option<BoardSet>,
    /// The NEWS2 total of the set before it, for the trend.
    pub previous_total: Option<u8>,
    /// When the next set is due: from the latest set, or from admission when there is none.
    pub next_due_at: String,
    /// Delegated tasks still open for the patient, and whether any is the reader's.
    pub open_tasks: i64,
    pub readers_task: bool,
    /// The patient's newest escalation still open here.
    pub escalation: Option<BoardEscalation>,
    /// Why observations were recorded as not done since the latest set, the newest such record.
    pub missed: Option<String>,
}

/// The latest set as the ward board shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardSet {
    /// `None` (with `risk`) where NEWS2 does not apply.
    pub total: Option<u8>,
    pub risk: Option<Risk>,
    pub complete: bool,
    pub not_scored: Option<NotScored>,
    pub monitoring: Monitoring,
}

/// An open escalation as the ward board shows it, with what the cascade needs to know whether it is due to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardEscalation {
    pub id: i64,
    pub level: EscalationLevel,
    pub score: Option<u8>,
    pub about: Option<String>,
    pub state: String,
    pub raised_at: String,
    pub stage: u8,
    pub notified_at: String,
}

/// A set version's columns, from `obs_set o` alone: the people's names and the patient's NHS number are read by
/// subqueries rather than joins, which made planning a chart's or board's query (on PostgreSQL, for every read) cost
/// more than running it.
macro_rules! set_fields {
    () => {
        "o.id, COALESCE(o.set_id, o.id) AS set_key, o.version, \
         (SELECT p.nhs_number FROM patient p WHERE p.id = o.patient_id) AS nhs_number, o.state, o.taken_at, \
         o.recorded_at, (SELECT r.username FROM staff r WHERE r.id = o.recorded_by) AS recorded_by, \
         (SELECT s.username FROM staff s WHERE s.id = o.supervisor_id) AS supervisor, o.respiration_rate, o.spo2, \
         o.spo2_scale, o.on_oxygen, o.oxygen_flow_tenths, o.oxygen_device, o.systolic_bp, o.diastolic_bp, o.pulse, \
         o.consciousness, o.temperature_tenths, o.missing, o.scores, o.total, o.risk, o.monitoring, o.complete, \
         o.not_scored, o.next_due_at, o.change_reason, (SELECT c.username FROM staff c WHERE c.id = o.changed_by) AS changed_by, \
         o.changed_at"
    };
}

const SET_COLUMNS: &str = concat!(set_fields!(), " FROM obs_set o");

fn opt_int<T: TryFrom<i64>>(r: &Row, name: &str) -> Result<Option<T>> {
    col::<Option<i64>>(r, name)?
        .map(|v| T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: `{v}` is out of range"))))
        .transpose()
}

/// A scale 2 prescription's columns, from `scale2 x` and its prescriber `staff xs` (read by [`scale2_from_row`]).
pub(crate) const SCALE2_COLUMNS: &str = "x.id AS scale2_id, x.target_low AS scale2_low, x.target_high AS scale2_high, \
     x.reason AS scale2_reason, xs.username AS scale2_by, x.prescribed_at AS scale2_at";

/// The prescription in a row read with [`SCALE2_COLUMNS`]; none where they are null (an outer join found none).
pub(crate) fn scale2_from_row(r: &Row) -> Result<Option<Scale2>> {
    let Some(id) = col::<Option<i64>>(r, "scale2_id")? else {
        return Ok(None);
    };
    Ok(Some(Scale2 {
        id,
        target_low: opt_int(r, "scale2_low")?.unwrap_or(0),
        target_high: opt_int(r, "scale2_high")?.unwrap_or(0),
        reason: col(r, "scale2_reason")?,
        prescribed_by: col(r, "scale2_by")?,
        prescribed_at: col(r, "scale2_at")?,
    }))
}

/// "Given Family", from a row's `given_name` and `family_name` columns.
fn person_name(r: &Row) -> Result<String> {
    Ok(format!(
        "{} {}",
        col::<String>(r, "given_name")?,
        col::<String>(r, "family_name")?
    ))
}

/// Why a set was not scored, from a column holding the stored form.
fn not_scored_of(r: &Row, name: &str) -> Result<Option<NotScored>> {
    col::<Option<String>>(r, name)?
        .map(|n| NotScored::parse(&n).ok_or_else(|| StoreError::Corrupt(format!("{name}: `{n}`"))))
        .transpose()
}

fn set_from_row(r: &Row) -> Result<SetView> {
    let missing: Vec<Missing> = serde_json::from_str(&col::<String>(r, "missing")?)
        .map_err(|e| StoreError::Corrupt(format!("obs_set.missing: {e}")))?;
    let scores: PartialScores = serde_json::from_str(&col::<String>(r, "scores")?)
        .map_err(|e| StoreError::Corrupt(format!("obs_set.scores: {e}")))?;
    let consciousness = match col::<Option<String>>(r, "consciousness")? {
        Some(c) => Some(Consciousness::parse(&c).ok_or_else(|| StoreError::Corrupt(format!("consciousness: `{c}`")))?),
        None => None,
    };
    let oxygen_device = match col::<Option<String>>(r, "oxygen_device")? {
        Some(d) => Some(stored("oxygen device", OxygenDevice::parse(&d))?),
        None => None,
    };
    let risk: String = col(r, "risk")?;
    let monitoring: String = col(r, "monitoring")?;
    let not_scored = not_scored_of(r, "not_scored")?;
    Ok(SetView {
        id: col(r, "id")?,
        set_id: col(r, "set_key")?,
        version: col(r, "version")?,
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        state: col(r, "state")?,
        taken_at: col(r, "taken_at")?,
        recorded_at: col(r, "recorded_at")?,
        recorded_by: col(r, "recorded_by")?,
        supervisor: col(r, "supervisor")?,
        spo2_scale: opt_int(r, "spo2_scale")?.unwrap_or(1),
        readings: Readings {
            respiration_rate: opt_int(r, "respiration_rate")?,
            spo2: opt_int(r, "spo2")?,
            on_oxygen: col::<i64>(r, "on_oxygen")? == 1,
            oxygen_flow_tenths: opt_int(r, "oxygen_flow_tenths")?,
            oxygen_device,
            systolic_bp: opt_int(r, "systolic_bp")?,
            diastolic_bp: opt_int(r, "diastolic_bp")?,
            pulse: opt_int(r, "pulse")?,
            consciousness,
            temperature_tenths: opt_int(r, "temperature_tenths")?,
            missing,
        },
        scores,
        total: match not_scored {
            None => Some(opt_int(r, "total")?.unwrap_or(0)),
            Some(_) => None,
        },
        risk: match not_scored {
            None => Some(Risk::parse(&risk).ok_or_else(|| StoreError::Corrupt(format!("risk: `{risk}`")))?),
            Some(_) => None,
        },
        monitoring: Monitoring::parse(&monitoring)
            .ok_or_else(|| StoreError::Corrupt(format!("monitoring: `{monitoring}`")))?,
        complete: col::<i64>(r, "complete")? == 1,
        not_scored,
        next_due_at: col(r, "next_due_at")?,
        change_reason: col(r, "change_reason")?,
        changed_by: col(r, "changed_by")?,
        changed_at: col(r, "changed_at")?,
    })
}

/// An escalation's columns, a row for each of its events (one row of nulls where it has none), from `escalation e`,
/// its patient `p` and its events `x`: one statement reads escalations with their history.
const ESCALATION_COLUMNS: &str = "e.id, p.nhs_number, p.given_name, p.family_name, p.bed, e.place_code, e.set_id, \
     e.version_id, e.level, e.score, e.scored, e.about, e.state, e.raised_at, e.stage, e.notified_at, e.acknowledged_at, \
     (SELECT a.username FROM staff a WHERE a.id = e.acknowledged_by) AS acknowledged_by, e.reviewed_at, \
     (SELECT v.username FROM staff v WHERE v.id = e.reviewed_by) AS reviewed_by, e.review_note, e.superseded_by, \
     e.note, x.at AS event_at, x.actor AS event_actor, x.what AS event_what, x.note AS event_note \
     FROM escalation e JOIN patient p ON p.id = e.patient_id LEFT JOIN escalation_event x ON x.escalation_id = e.id";

/// The order of rows read with [`ESCALATION_COLUMNS`] under a list's order: each escalation's events together, oldest
/// first, as [`escalations_from_rows`] needs them.
const ESCALATION_ORDER: &str = "ORDER BY e.raised_at DESC, e.id DESC, x.id";

/// The `WHERE` conditions of a filter over `escalation e JOIN patient p`, with their arguments: only those asked
/// for, not `$1 IS NULL OR …`, which PostgreSQL would plan anew every time.
fn escalation_conditions(f: &EscalationFilter) -> (String, Vec<&str>) {
    let mut conditions = vec![if f.open {
        "e.state IN ('open', 'acknowledged')"
    } else {
        "TRUE"
    }];
    let mut args = Vec::new();
    if let Some(place) = &f.place {
        args.push(place.as_str());
        conditions.push("e.place_code = $1");
    }
    if let Some(patient) = &f.patient {
        args.push(patient.as_str());
        // The second argument when a place came first.
        conditions.push(if args.len() == 1 {
            "p.nhs_number = $1"
        } else {
            "p.nhs_number = $2"
        });
    }
    (conditions.join(" AND "), args)
}

/// Escalations with their history from rows read with [`ESCALATION_COLUMNS`] in [`ESCALATION_ORDER`].
fn escalations_from_rows(rows: &[Row]) -> Result<Vec<EscalationView>> {
    let mut out: Vec<EscalationView> = Vec::new();
    for r in rows {
        let id: i64 = col(r, "id")?;
        if out.last().is_none_or(|e| e.id != id) {
            out.push(escalation_from_row(r)?);
        }
        if let (Some(at), Some(e)) = (col::<Option<String>>(r, "event_at")?, out.last_mut()) {
            e.history.push(EscalationEvent {
                at,
                actor: col(r, "event_actor")?,
                what: col(r, "event_what")?,
                note: col(r, "event_note")?,
            });
        }
    }
    Ok(out)
}

/// An escalation's score from its `score` and `scored` columns: none for one raised by a set NEWS2 did not score.
fn scored_score(r: &Row) -> Result<Option<u8>> {
    Ok(match col::<i64>(r, "scored")? {
        0 => None,
        _ => Some(opt_int(r, "score")?.unwrap_or(0)),
    })
}

fn escalation_from_row(r: &Row) -> Result<EscalationView> {
    Ok(EscalationView {
        id: col(r, "id")?,
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        patient_name: person_name(r)?,
        bed: col(r, "bed")?,
        place: col(r, "place_code")?,
        set_id: col(r, "set_id")?,
        version_id: col(r, "version_id")?,
        level: stored("escalation level", EscalationLevel::parse(&col::<String>(r, "level")?))?,
        score: scored_score(r)?,
        about: col(r, "about")?,
        state: col(r, "state")?,
        raised_at: col(r, "raised_at")?,
        stage: opt_int(r, "stage")?.unwrap_or(0),
        notified_at: col(r, "notified_at")?,
        acknowledged_at: col(r, "acknowledged_at")?,
        acknowledged_by: col(r, "acknowledged_by")?,
        reviewed_at: col(r, "reviewed_at")?,
        reviewed_by: col(r, "reviewed_by")?,
        review_note: col(r, "review_note")?,
        superseded_by: col(r, "superseded_by")?,
        note: col(r, "note")?,
        history: Vec::new(),
    })
}

/// Observations recorded as not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissedObs {
    pub patient: NhsNumber,
    pub patient_name: String,
    pub bed: Option<String>,
    pub at: String,
    pub by: String,
    pub reason: String,
}

/// Which escalations to list.
#[derive(Debug, Clone, Default)]
pub struct EscalationFilter {
    /// Only those not yet closed or superseded.
    pub open: bool,
    pub place: Option<String>,
    pub patient: Option<NhsNumber>,
}

/// What a new escalation is.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub patient_id: i64,
    pub place: String,
    pub set_id: i64,
    pub version_id: i64,
    pub level: EscalationLevel,
    /// `None` for a set NEWS2 did not score.
    pub score: Option<u8>,
    pub about: Option<String>,
    pub raised_at: DateTime<Utc>,
}

/// A set version just stored, with the patient's open escalation as it stood: read by the same statement, since
/// every set that scores may raise one (on PostgreSQL, one round trip of the writer's fewer for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSet {
    pub version_id: i64,
    pub set_id: i64,
    /// The patient's newest escalation still open (unacknowledged or awaiting review).
    pub open_escalation: Option<OpenEscalation>,
}

/// An escalation still open, as a new set compares itself with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenEscalation {
    pub id: i64,
    pub level: EscalationLevel,
    pub score: Option<u8>,
    /// Acknowledged, and waiting for review.
    pub acknowledged: bool,
}

/// An open escalation, as the recording path needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveEscalation {
    pub id: i64,
    pub set_id: i64,
    pub level: EscalationLevel,
    pub score: Option<u8>,
}

/// An escalation waiting for acknowledgement or review, as the cascade needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: i64,
    /// Where its patient is.
    pub place: String,
    pub level: EscalationLevel,
    pub state: String,
    pub stage: u8,
    pub notified_at: DateTime<Utc>,
}

/// The join that finds each patient's (`p`) latest current set (`o`), read from the end of `obs_set_current`. On
/// PostgreSQL it is a `LATERAL` subquery, which the planner can only run patient by patient: joined on
/// `o.id = (SELECT …)`, with statistics that said the table was small (taken before the rows came), it hashed the
/// whole `obs_set` table instead. SQLite has no `LATERAL`, and looks the set up by its id.
macro_rules! latest_set {
    (postgres) => {
        "LEFT JOIN LATERAL (SELECT l.* FROM obs_set l WHERE l.patient_id = p.id AND l.state = 'current' \
         ORDER BY l.taken_at DESC, l.id DESC LIMIT 1) o ON TRUE"
    };
    (sqlite) => {
        "LEFT JOIN obs_set o ON o.id = (SELECT l.id FROM obs_set l WHERE l.patient_id = p.id \
         AND l.state = 'current' ORDER BY l.taken_at DESC, l.id DESC LIMIT 1)"
    };
}

/// The columns of an open escalation the board shows, from `escalation y`.
macro_rules! board_escalation_columns {
    () => {
        "y.id, y.level, y.score, y.scored, y.about, y.state, y.raised_at, y.stage, y.notified_at"
    };
}

/// The board's open escalations in a dialect: a `WITH` clause (none on PostgreSQL) and the join that gives each
/// patient (`p`) their newest escalation still open at the place (`$1`) as `e`. On PostgreSQL a `LATERAL` subquery
/// reads it for each patient from their range of `escalation_open`: joined instead to the place's open escalations
/// numbered once, as on SQLite, the planner compared every patient with every escalation (a nested loop: 1,120
/// comparisons for a ward of 35 patients with 32 open, a fifth of the board's time; BENCHMARKS.md, round 24). SQLite
/// has no `LATERAL`, and numbers the place's open escalations once (`MATERIALIZED`), not again for every patient.
macro_rules! board_escalations {
    (postgres, with) => {
        ""
    };
    (postgres, join) => {
        concat!(
            " LEFT JOIN LATERAL (SELECT ",
            board_escalation_columns!(),
            " FROM escalation y WHERE y.patient_id = p.id AND y.place_code = $1 \
             AND y.state IN ('open', 'acknowledged') ORDER BY y.raised_at DESC, y.id DESC LIMIT 1) e ON TRUE"
        )
    };
    (sqlite, with) => {
        concat!(
            "WITH e AS MATERIALIZED (SELECT * FROM (SELECT y.patient_id, ",
            board_escalation_columns!(),
            ", ROW_NUMBER() OVER (PARTITION BY y.patient_id ORDER BY y.raised_at DESC, y.id DESC) AS newest \
             FROM escalation y WHERE y.place_code = $1 AND y.state IN ('open', 'acknowledged')) w \
             WHERE w.newest = 1) "
        )
    };
    (sqlite, join) => {
        " LEFT JOIN e ON e.patient_id = p.id"
    };
}

/// The ward board's statement ([`Store::ward_board`]) in a dialect: `$1` the place, `$2` the reader. Its text is
/// built once, not on every board.
macro_rules! ward_board {
    ($dialect:ident) => {
        concat!(
            board_escalations!($dialect, with),
            "SELECT pl.name AS place_name, pl.kind AS place_kind, p.nhs_number, p.given_name, \
             p.family_name, p.bed, p.created_at, o.id AS latest_id, o.total, o.risk, o.complete, o.not_scored, \
             o.monitoring, o.next_due_at, \
             (SELECT m.reason FROM obs_missed m WHERE m.patient_id = p.id AND m.at > COALESCE(o.recorded_at, '') \
              ORDER BY m.at DESC, m.id DESC LIMIT 1) AS missed_reason, \
             (SELECT CASE WHEN x.not_scored IS NULL THEN x.total END FROM obs_set x WHERE x.patient_id = p.id \
              AND x.state = 'current' ORDER BY x.taken_at DESC, x.id DESC LIMIT 1 OFFSET 1) AS previous_total, \
             (SELECT COUNT(*) FROM task t WHERE t.patient_id = p.id AND t.status IN ('requested', 'accepted', \
              'in-progress', 'awaiting-countersignature')) AS open_tasks, \
             (SELECT COUNT(*) FROM task t WHERE t.patient_id = p.id AND t.delegatee_id = $2 AND t.status IN \
              ('requested', 'accepted', 'in-progress', 'awaiting-countersignature')) AS readers_tasks, \
             e.id AS escalation_id, e.level, e.score, e.scored, e.about, e.state AS escalation_state, e.raised_at, \
             e.stage, e.notified_at, ",
            versions_columns!(),
            " FROM place pl LEFT JOIN patient p ON p.place_code = pl.code AND p.discharged_at IS NULL ",
            latest_set!($dialect),
            board_escalations!($dialect, join),
            " WHERE pl.code = $1 ORDER BY p.bed, p.family_name, p.id"
        )
    };
}

const WARD_BOARD_POSTGRES: &str = ward_board!(postgres);
const WARD_BOARD_SQLITE: &str = ward_board!(sqlite);

impl Store {
    /// The ward board's statement for this store's database.
    fn ward_board_sql(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Postgres => WARD_BOARD_POSTGRES,
            crate::Backend::Sqlite => WARD_BOARD_SQLITE,
        }
    }

    /// [`latest_set`] for this store's database.
    fn latest_set(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Postgres => latest_set!(postgres),
            crate::Backend::Sqlite => latest_set!(sqlite),
        }
    }
}

/// The statement of [`Store::obs_for_patient`]: `$1` the patient, then (`since`) `$2` the earliest instant, then the
/// limit. Only the conditions asked for are named (see there).
fn patient_sets_sql(versions: SetVersions, since: bool) -> String {
    let state = match versions {
        // Every row: the table's `CHECK` allows no other state.
        SetVersions::All => "",
        SetVersions::Current => " AND o.state = 'current'",
    };
    let (since, limit) = match since {
        true => (" AND o.taken_at >= $2", "$3"),
        false => ("", "$2"),
    };
    format!(
        "SELECT {SET_COLUMNS} WHERE o.patient_id = $1{state}{since} ORDER BY o.taken_at DESC, o.id DESC LIMIT {limit}"
    )
}

impl Store {
    /// One version of a set.
    pub async fn obs_version(&self, id: i64) -> Result<SetView> {
        let sql = format!("SELECT {SET_COLUMNS} WHERE o.id = $1");
        let row = query_built(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no observation set {id}")))?;
        set_from_row(&row)
    }

    /// How many set versions are stored (the load harness checks its acknowledged sets against it).
    pub async fn count_obs_sets(&self) -> Result<i64> {
        col(
            &query("SELECT COUNT(*) AS n FROM obs_set")
                .fetch_one(self.pool())
                .await?,
            "n",
        )
    }

    /// Every version of the set `set_id`, oldest first.
    pub async fn obs_history(&self, set_id: i64) -> Result<Vec<SetView>> {
        let sql = format!("SELECT {SET_COLUMNS} WHERE o.id = $1 OR o.set_id = $1 ORDER BY o.version");
        let rows = query_built(sql).bind(set_id).fetch_all(self.pool()).await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound(format!("no observation set {set_id}")));
        }
        rows.iter().map(set_from_row).collect()
    }

    /// A patient's sets, newest first, taken at or after `since`, at most `limit`: the current version of each, or
    /// every version and the sets entered in error too.
    ///
    /// The statement names only the conditions asked for: every version is every row (the table's `CHECK` allows no
    /// other state), and no `since` is no bound. A condition that excludes nothing is not free on PostgreSQL: without
    /// statistics the planner takes each one to exclude rows, expects the patient to have fewer sets than the limit,
    /// and then reads their whole history through a bitmap and sorts it, where the index (`obs_set_patient`,
    /// `obs_set_current`) gives the newest rows in order (BENCHMARKS.md, round 24). With fewer conditions its estimate
    /// is less wrong; it still depends on the table's size until statistics are taken.
    pub async fn obs_for_patient(
        &self,
        patient_id: i64,
        since: Option<DateTime<Utc>>,
        limit: i64,
        versions: SetVersions,
    ) -> Result<Vec<SetView>> {
        let sql = patient_sets_sql(versions, since.is_some());
        let rows = match since {
            Some(since) => query_built(sql).bind(patient_id).bind(format_instant(since)),
            None => query_built(sql).bind(patient_id),
        }
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(set_from_row).collect()
    }

    /// The patient's current SpO2 scale 2 prescription, if any.
    pub async fn scale2(&self, patient_id: i64) -> Result<Option<Scale2>> {
        let sql = format!(
            "SELECT {SCALE2_COLUMNS} FROM scale2 x JOIN staff xs ON xs.id = x.prescribed_by \
             WHERE x.patient_id = $1 AND x.ended_at IS NULL ORDER BY x.id DESC LIMIT 1"
        );
        let row = query_built(sql).bind(patient_id).fetch_optional(self.pool()).await?;
        Ok(match row {
            Some(r) => scale2_from_row(&r)?,
            None => None,
        })
    }

    /// Patients (in one place, or all) with their latest current set and when the next is due, by place and bed:
    /// one statement, each patient's latest set found at the end of `obs_set_current` ([`latest_set`]).
    pub async fn patients_obs(&self, place: Option<&str>) -> Result<Vec<PatientObs>> {
        const COLUMNS: &str = concat!(
            "SELECT p.nhs_number AS patient_nhs, p.given_name, p.family_name, p.place_code, p.bed, p.created_at, \
             (SELECT CASE WHEN x.not_scored IS NULL THEN x.total END FROM obs_set x WHERE x.patient_id = p.id \
              AND x.state = 'current' ORDER BY x.taken_at DESC, x.id DESC LIMIT 1 OFFSET 1) AS previous_total, ",
            set_fields!(),
            " FROM patient p "
        );
        let latest = self.latest_set();
        const ORDER: &str = " ORDER BY p.place_code, p.bed, p.family_name";
        // A statement for each case rather than `$1 IS NULL OR …`, which PostgreSQL would plan anew every time.
        let rows = match place {
            Some(place) => {
                query_built(format!(
                    "{COLUMNS}{latest} WHERE p.discharged_at IS NULL AND p.place_code = $1{ORDER}"
                ))
                .bind(place)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                query_built(format!("{COLUMNS}{latest} WHERE p.discharged_at IS NULL{ORDER}"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let latest = match col::<Option<i64>>(r, "id")? {
                Some(_) => Some(set_from_row(r)?),
                // A patient with no bed (seen in a department) has no schedule until a set is recorded.
                None if col::<Option<String>>(r, "bed")?.is_none() => continue,
                None => None,
            };
            let next_due_at = match &latest {
                Some(s) => s.next_due_at.clone(),
                None => col(r, "created_at")?,
            };
            out.push(PatientObs {
                patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "patient_nhs")?))?,
                name: person_name(r)?,
                place: col(r, "place_code")?,
                bed: col(r, "bed")?,
                latest,
                previous_total: opt_int(r, "previous_total")?,
                next_due_at,
            });
        }
        Ok(out)
    }

    /// The board of `place` as `reader` sees it, in one statement (on PostgreSQL, one round trip): each patient
    /// there with a bed or a set, their latest current set and the one before, their open tasks (and whether one is
    /// the reader's), and their newest escalation still open there. `None` for a place that does not exist. The
    /// latest sets are read from the end of `obs_set_current`, and each patient's open escalation from their range of
    /// `escalation_open` (on SQLite, from the place's open escalations numbered once: [`board_escalations`]): each
    /// part's cost is bounded by the patients there and their open escalations, not by their histories or the
    /// planner's statistics.
    pub async fn ward_board(&self, place: &str, reader: i64) -> Result<Option<WardBoard>> {
        let rows = query(self.ward_board_sql())
            .bind(place)
            .bind(reader)
            .fetch_all(self.pool())
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut board = WardBoard {
            place: Place {
                code: stored("place", PlaceCode::parse(place))?,
                name: col(first, "place_name")?,
                kind: stored("place kind", PlaceKind::parse(&col::<String>(first, "place_kind")?))?,
            },
            patients: Vec::with_capacity(rows.len()),
            versions: versions_of(first)?,
        };
        for r in &rows {
            // The place's one row when nobody is there.
            let Some(nhs) = col::<Option<String>>(r, "nhs_number")? else {
                continue;
            };
            let latest = match col::<Option<i64>>(r, "latest_id")? {
                Some(_) => {
                    let risk: String = col(r, "risk")?;
                    let monitoring: String = col(r, "monitoring")?;
                    let not_scored = not_scored_of(r, "not_scored")?;
                    let scored = not_scored.is_none();
                    Some(BoardSet {
                        total: scored.then(|| opt_int(r, "total")).transpose()?.map(|t| t.unwrap_or(0)),
                        risk: match scored {
                            true => {
                                Some(Risk::parse(&risk).ok_or_else(|| StoreError::Corrupt(format!("risk: `{risk}`")))?)
                            }
                            false => None,
                        },
                        complete: col::<i64>(r, "complete")? == 1,
                        not_scored,
                        monitoring: Monitoring::parse(&monitoring)
                            .ok_or_else(|| StoreError::Corrupt(format!("monitoring: `{monitoring}`")))?,
                    })
                }
                // A patient with no bed (seen in a department) has no schedule until a set is recorded.
                None if col::<Option<String>>(r, "bed")?.is_none() => continue,
                None => None,
            };
            let next_due_at = match latest {
                Some(_) => col(r, "next_due_at")?,
                None => col(r, "created_at")?,
            };
            let escalation = match col::<Option<String>>(r, "level")? {
                Some(level) => Some(BoardEscalation {
                    id: col(r, "escalation_id")?,
                    level: stored("escalation level", EscalationLevel::parse(&level))?,
                    score: scored_score(r)?,
                    about: col(r, "about")?,
                    state: col(r, "escalation_state")?,
                    raised_at: col(r, "raised_at")?,
                    stage: opt_int(r, "stage")?.unwrap_or(0),
                    notified_at: col(r, "notified_at")?,
                }),
                None => None,
            };
            board.patients.push(BoardPatient {
                patient: stored("nhs number", NhsNumber::parse(&nhs))?,
                name: person_name(r)?,
                bed: col(r, "bed")?,
                latest,
                previous_total: opt_int(r, "previous_total")?,
                next_due_at,
                open_tasks: col(r, "open_tasks")?,
                readers_task: col::<i64>(r, "readers_tasks")? > 0,
                escalation,
                missed: col(r, "missed_reason")?,
            });
        }
        Ok(Some(board))
    }

    /// One escalation with its history.
    pub async fn escalation(&self, id: i64) -> Result<EscalationView> {
        let sql = format!("SELECT {ESCALATION_COLUMNS} WHERE e.id = $1 {ESCALATION_ORDER}");
        let rows = query_built(sql).bind(id).fetch_all(self.pool()).await?;
        escalations_from_rows(&rows)?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("no escalation {id}")))
    }

    /// Escalations, newest first, each with its history: one statement, so the history is as of the list.
    pub async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<EscalationView>> {
        let (conditions, args) = escalation_conditions(f);
        let sql = format!("SELECT {ESCALATION_COLUMNS} WHERE {conditions} {ESCALATION_ORDER}");
        let rows = args
            .iter()
            .fold(query_built(sql), |q, a| q.bind(*a))
            .fetch_all(self.pool())
            .await?;
        escalations_from_rows(&rows)
    }

    /// Escalations waiting for acknowledgement or review, with the clock of that wait: the cascade's work list.
    pub async fn waiting(&self) -> Result<Vec<Waiting>> {
        let rows = query(
            "SELECT id, place_code, level, state, stage, notified_at FROM escalation WHERE state IN ('open', 'acknowledged') \
             ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Waiting {
                    id: col(r, "id")?,
                    place: col(r, "place_code")?,
                    level: stored("escalation level", EscalationLevel::parse(&col::<String>(r, "level")?))?,
                    state: col(r, "state")?,
                    stage: opt_int(r, "stage")?.unwrap_or(0),
                    notified_at: stored(
                        "notified_at",
                        parse_instant("notified_at", &col::<String>(r, "notified_at")?),
                    )?,
                })
            })
            .collect()
    }

    /// One record of observations not done, by its id.
    pub async fn missed_record(&self, id: i64) -> Result<MissedObs> {
        let row = query(
            "SELECT p.nhs_number, p.given_name, p.family_name, p.bed, m.at, s.username, m.reason \
             FROM obs_missed m JOIN patient p ON p.id = m.patient_id JOIN staff s ON s.id = m.recorded_by \
             WHERE m.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no record {id} of observations not done")))?;
        missed_from_row(&row)
    }

    /// Observations recorded as not done at `place` since `since`, newest first: patient, who, when and why.
    pub async fn missed_obs(&self, place: &str, since: DateTime<Utc>) -> Result<Vec<MissedObs>> {
        let rows = query(
            "SELECT p.nhs_number, p.given_name, p.family_name, p.bed, m.at, s.username, m.reason \
             FROM obs_missed m JOIN patient p ON p.id = m.patient_id JOIN staff s ON s.id = m.recorded_by \
             WHERE p.place_code = $1 AND m.at >= $2 ORDER BY m.at DESC, m.id DESC",
        )
        .bind(place)
        .bind(format_instant(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(missed_from_row).collect()
    }
}

/// The patient's latest open or acknowledged escalation as `id level state score` (score -1 where none was given),
/// the patient's id being the parameter named: the end of one range of `escalation_open`.
macro_rules! open_escalation {
    ($patient:literal) => {
        concat!(
            "SELECT e.id || ' ' || e.level || ' ' || e.state || ' ' || CASE WHEN e.scored = 1 THEN e.score ELSE -1 \
             END FROM escalation e WHERE e.patient_id = ",
            $patient,
            " AND e.state IN ('open', 'acknowledged') ORDER BY e.id DESC LIMIT 1"
        )
    };
}

/// The columns of a first version that [`insert_values`] binds, in its order; `INSERT_SET` and
/// [`WriteTx::insert_sets_together`] write the rest themselves.
macro_rules! first_version_columns {
    () => {
        "patient_id, taken_at, recorded_at, recorded_by, supervisor_id, respiration_rate, spo2, spo2_scale, on_oxygen, \
         oxygen_flow_tenths, oxygen_device, systolic_bp, diastolic_bp, pulse, consciousness, temperature_tenths, \
         missing, scores, total, risk, monitoring, complete, next_due_at, not_scored"
    };
}

/// A set version's insert, answering its id and the patient's open escalation (`open_escalation!`). Its values:
/// the 24 of `first_version_columns!` (`insert_values`), then the set's id and version and the change's reason,
/// author and time.
const INSERT_SET: &str = concat!(
    "INSERT INTO obs_set (",
    first_version_columns!(),
    ", set_id, version, change_reason, changed_by, changed_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, 'current') \
     RETURNING id, (",
    open_escalation!("$1"),
    ") AS open_escalation"
);

/// The open escalation a set's insert read, from `id level state score` (score -1 where none was given).
fn open_escalation(what: &str) -> Result<OpenEscalation> {
    let corrupt = || StoreError::Corrupt(format!("an open escalation read as `{what}`"));
    let mut parts = what.split(' ');
    let (Some(id), Some(level), Some(state), Some(score), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt());
    };
    let id: i64 = id.parse().map_err(|_| corrupt())?;
    let score: i64 = score.parse().map_err(|_| corrupt())?;
    Ok(OpenEscalation {
        id,
        level: stored("escalation level", EscalationLevel::parse(level))?,
        score: u8::try_from(score).ok(),
        acknowledged: state == "acknowledged",
    })
}

/// How many values [`insert_values`] binds for a set.
const SET_VALUES: usize = 24;

/// Binds a set's values, in the order of `first_version_columns!`.
fn insert_values(q: crate::db::Query, s: &NewSet) -> Result<crate::db::Query> {
    let r = &s.readings;
    let a = &s.assessment;
    let missing = serde_json::to_string(&r.missing).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let scores = serde_json::to_string(&a.parameters).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(q.bind(s.patient_id)
        .bind(format_instant(s.taken_at))
        .bind(format_instant(s.recorded_at))
        .bind(s.recorded_by)
        .bind(s.supervisor_id)
        .bind(r.respiration_rate.map(i64::from))
        .bind(r.spo2.map(i64::from))
        .bind(match s.scale {
            Spo2Scale::One => 1i64,
            Spo2Scale::Two => 2,
        })
        .bind(i64::from(r.on_oxygen))
        .bind(r.oxygen_flow_tenths.map(i64::from))
        .bind(r.oxygen_device.map(OxygenDevice::as_str))
        .bind(r.systolic_bp.map(i64::from))
        .bind(r.diastolic_bp.map(i64::from))
        .bind(r.pulse.map(i64::from))
        .bind(r.consciousness.map(Consciousness::as_str))
        .bind(r.temperature_tenths.map(i64::from))
        .bind(missing)
        .bind(scores)
        .bind(i64::from(a.total.unwrap_or(0)))
        .bind(a.risk.unwrap_or(Risk::Low).as_str())
        .bind(a.monitoring.as_str())
        .bind(i64::from(a.complete))
        .bind(format_instant(s.next_due_at))
        .bind(a.not_scored.map(NotScored::as_str)))
}

/// The open escalation a set's insert answered, if any.
fn open_escalation_of(row: &Row) -> Result<Option<OpenEscalation>> {
    match col::<Option<String>>(row, "open_escalation")? {
        Some(what) => Ok(Some(open_escalation(&what)?)),
        None => Ok(None),
    }
}

impl WriteTx {
    /// Stores a set (a first version, or with `amends` a new version of an existing set): the new version's id, the
    /// set's id, and the patient's open escalation.
    pub async fn insert_set(&mut self, s: &NewSet, amends: Option<&Amends<'_>>) -> Result<StoredSet> {
        let q = insert_values(query(INSERT_SET), s)?
            .bind(amends.map(|m| m.set_id))
            .bind(amends.map_or(1, |m| m.version + 1))
            .bind(amends.map(|m| m.reason))
            .bind(amends.map(|_| s.recorded_by))
            .bind(amends.map(|_| format_instant(s.recorded_at)));
        let row = q.fetch_one(self.conn()).await?;
        let id: i64 = col(&row, "id")?;
        Ok(StoredSet {
            version_id: id,
            set_id: amends.map_or(id, |m| m.set_id),
            open_escalation: open_escalation_of(&row)?,
        })
    }

    /// Stores the first versions of several sets, each for a different patient, in one statement (on PostgreSQL one
    /// round trip of the writer's instead of one for each), as [`WriteTx::insert_set`] stores each: the same row,
    /// and the patient's open escalation read as the statement began. Answers in the order given. Patients must
    /// differ, since a set reads its own patient's open escalation, which the set before it, for the same patient,
    /// could have raised.
    pub(crate) async fn insert_sets_together(&mut self, sets: &[&NewSet]) -> Result<Vec<StoredSet>> {
        let mut patients: Vec<i64> = sets.iter().map(|s| s.patient_id).collect();
        patients.sort_unstable();
        if patients.windows(2).any(|w| w[0] == w[1]) {
            return Err(StoreError::Invalid(
                "sets stored together must be for different patients".into(),
            ));
        }
        use std::fmt::Write as _;
        let mut sql = String::from(concat!(
            "INSERT INTO obs_set (set_id, version, state, ",
            first_version_columns!(),
            ", change_reason, changed_by, changed_at) VALUES "
        ));
        for i in 0..sets.len() {
            sql.push_str(if i == 0 {
                "(NULL, 1, 'current'"
            } else {
                ", (NULL, 1, 'current'"
            });
            for n in 1..=SET_VALUES {
                // Writing to a `String` cannot fail.
                let _ = write!(sql, ", ${}", i * SET_VALUES + n);
            }
            sql.push_str(", NULL, NULL, NULL)");
        }
        sql.push_str(concat!(
            " RETURNING id, patient_id, (",
            open_escalation!("obs_set.patient_id"),
            ") AS open_escalation"
        ));
        let mut q = query_built(sql);
        for s in sets {
            q = insert_values(q, s)?;
        }
        let rows = q.fetch_all(self.conn()).await?;
        let mut stored = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = col(row, "id")?;
            let set = StoredSet {
                version_id: id,
                set_id: id,
                open_escalation: open_escalation_of(row)?,
            };
            stored.insert(col::<i64>(row, "patient_id")?, set);
        }
        sets.iter()
            .map(|s| {
                stored.remove(&s.patient_id).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "sets stored together: none came back for patient {}",
                        s.patient_id
                    ))
                })
            })
            .collect()
    }

    /// Marks a current version as superseded or entered in error. A version that is no longer current is a
    /// conflict (someone else changed the set first).
    pub async fn retire_version(&mut self, version_id: i64, state: &str, by: i64, reason: Option<&str>) -> Result<()> {
        let done = query(
            "UPDATE obs_set SET state = $1, change_reason = COALESCE($2, change_reason), \
             changed_by = CASE WHEN $2 IS NULL THEN changed_by ELSE $3 END, \
             changed_at = CASE WHEN $2 IS NULL THEN changed_at ELSE $4 END WHERE id = $5 AND state = 'current'",
        )
        .bind(state)
        .bind(reason)
        .bind(by)
        .bind(format_instant(self.now()))
        .bind(version_id)
        .execute(self.conn())
        .await?;
        if done != 1 {
            return Err(StoreError::Conflict(format!(
                "observation set version {version_id} is no longer the current version"
            )));
        }
        Ok(())
    }

    /// Records a scale 2 prescription, ending any current one.
    pub async fn prescribe_scale2(&mut self, patient_id: i64, low: u8, high: u8, reason: &str, by: i64) -> Result<i64> {
        self.end_scale2(patient_id, by, "replaced by a new prescription")
            .await?;
        let row = query(
            "INSERT INTO scale2 (patient_id, target_low, target_high, reason, prescribed_by, prescribed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(patient_id)
        .bind(i64::from(low))
        .bind(i64::from(high))
        .bind(reason)
        .bind(by)
        .bind(format_instant(self.now()))
        .fetch_one(self.conn())
        .await?;
        col(&row, "id")
    }

    /// Ends the current scale 2 prescription; returns whether there was one.
    pub async fn end_scale2(&mut self, patient_id: i64, by: i64, reason: &str) -> Result<bool> {
        let done = query(
            "UPDATE scale2 SET ended_by = $1, ended_at = $2, end_reason = $3 WHERE patient_id = $4 \
             AND ended_at IS NULL",
        )
        .bind(by)
        .bind(format_instant(self.now()))
        .bind(reason)
        .bind(patient_id)
        .execute(self.conn())
        .await?;
        Ok(done > 0)
    }

    /// Raises an escalation, addressed at once.
    pub async fn raise_escalation(&mut self, e: &NewEscalation, actor: &str, what: &str) -> Result<i64> {
        let now = format_instant(e.raised_at);
        let row = query(
            "INSERT INTO escalation (patient_id, place_code, set_id, version_id, level, score, scored, about, state, \
             raised_at, stage, notified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, 0, $9) RETURNING id",
        )
        .bind(e.patient_id)
        .bind(&e.place)
        .bind(e.set_id)
        .bind(e.version_id)
        .bind(e.level.as_str())
        .bind(i64::from(e.score.unwrap_or(0)))
        .bind(i64::from(e.score.is_some()))
        .bind(e.about.as_deref())
        .bind(&now)
        .fetch_one(self.conn())
        .await?;
        let id: i64 = col(&row, "id")?;
        self.escalation_event_at(id, e.raised_at, actor, what, None).await?;
        Ok(id)
    }

    /// Raises an open escalation again for a worse set: it carries the set's score, level (never lower than it had)
    /// and what it says, and waits again for acknowledgement. One that was acknowledged is unacknowledged, its
    /// clock started again; one not yet acknowledged keeps its clock and its place in the cascade (nobody has
    /// answered it yet), its new level's times applying from now on.
    pub async fn raise_again(&mut self, id: i64, e: &NewEscalation, actor: &str, what: &str) -> Result<()> {
        let now = format_instant(e.raised_at);
        let done = query(
            "UPDATE escalation SET set_id = $1, version_id = $2, level = $3, score = $4, scored = $5, about = $6, \
             state = 'open', acknowledged_at = NULL, acknowledged_by = NULL, \
             stage = CASE WHEN state = 'acknowledged' THEN 0 ELSE stage END, \
             notified_at = CASE WHEN state = 'acknowledged' THEN $7 ELSE notified_at END \
             WHERE id = $8 AND state IN ('open', 'acknowledged')",
        )
        .bind(e.set_id)
        .bind(e.version_id)
        .bind(e.level.as_str())
        .bind(i64::from(e.score.unwrap_or(0)))
        .bind(i64::from(e.score.is_some()))
        .bind(e.about.as_deref())
        .bind(&now)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done != 1 {
            return Err(StoreError::Conflict(format!("escalation {id} is no longer open")));
        }
        self.escalation_event_at(id, e.raised_at, actor, what, None).await
    }

    /// Sets what an open escalation says beyond its score (a later set the nurse must judge).
    pub async fn escalation_about(&mut self, id: i64, about: &str) -> Result<()> {
        query("UPDATE escalation SET about = $1 WHERE id = $2")
            .bind(about)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records that a patient's observations were not done, and why.
    pub async fn record_missed(&mut self, patient_id: i64, by: i64, reason: &str) -> Result<i64> {
        let row =
            query("INSERT INTO obs_missed (patient_id, at, recorded_by, reason) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(patient_id)
                .bind(format_instant(self.now()))
                .bind(by)
                .bind(reason)
                .fetch_one(self.conn())
                .await?;
        col(&row, "id")
    }

    /// Appends to an escalation's history.
    pub async fn escalation_event(&mut self, id: i64, actor: &str, what: &str, note: Option<&str>) -> Result<()> {
        let now = self.now();
        self.escalation_event_at(id, now, actor, what, note).await
    }

    /// Appends to an escalation's history, dated `at` (a cascade step, when it fell due).
    pub async fn escalation_event_at(
        &mut self,
        id: i64,
        at: DateTime<Utc>,
        actor: &str,
        what: &str,
        note: Option<&str>,
    ) -> Result<()> {
        query("INSERT INTO escalation_event (escalation_id, at, actor, what, note) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(format_instant(at))
            .bind(actor)
            .bind(what)
            .bind(note)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Moves an escalation from one of `from` states to `to`, setting the columns of that move. A state that moved
    /// meanwhile is a conflict.
    pub async fn move_escalation(&mut self, id: i64, from: &[&str], to: &str, set: EscalationChange<'_>) -> Result<()> {
        let now = format_instant(set.at.unwrap_or(self.now()));
        let placeholders: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
        // `from` holds only the fixed state names of this module.
        let sql = format!(
            "UPDATE escalation SET state = $1, \
             acknowledged_at = CASE WHEN $2 IS NULL THEN acknowledged_at ELSE $3 END, \
             stage = CASE WHEN $2 IS NULL THEN stage ELSE 0 END, \
             notified_at = CASE WHEN $2 IS NULL THEN notified_at ELSE $3 END, \
             acknowledged_by = COALESCE($2, acknowledged_by), \
             reviewed_at = CASE WHEN $4 IS NULL THEN reviewed_at ELSE $3 END, \
             reviewed_by = COALESCE($4, reviewed_by), review_note = COALESCE($5, review_note) \
             WHERE id = $6 AND state IN ({})",
            placeholders.join(", ")
        );
        let done = query_built(sql)
            .bind(to)
            .bind(set.acknowledged_by)
            .bind(&now)
            .bind(set.reviewed_by)
            .bind(set.review_note)
            .bind(id)
            .execute(self.conn())
            .await?;
        if done != 1 {
            return Err(StoreError::Conflict(format!(
                "escalation {id} is no longer {}",
                from.join(" or ")
            )));
        }
        Ok(())
    }

    /// Points an escalation at the newest version of its set, with a note for the people responding.
    pub async fn follow_correction(
        &mut self,
        id: i64,
        version_id: i64,
        score: Option<u8>,
        note: Option<&str>,
    ) -> Result<()> {
        query(
            "UPDATE escalation SET version_id = $1, score = $2, scored = $3, note = COALESCE($4, note) WHERE id = $5",
        )
        .bind(version_id)
        .bind(i64::from(score.unwrap_or(0)))
        .bind(i64::from(score.is_some()))
        .bind(note)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Escalations raised by (any version of) a set that are still open.
    pub async fn live_escalations_of_set(&mut self, set_id: i64) -> Result<Vec<LiveEscalation>> {
        let rows = query(
            "SELECT id, set_id, level, score, scored FROM escalation WHERE set_id = $1 \
             AND state IN ('open', 'acknowledged')",
        )
        .bind(set_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LiveEscalation {
                    id: col(r, "id")?,
                    set_id: col(r, "set_id")?,
                    level: stored("escalation level", EscalationLevel::parse(&col::<String>(r, "level")?))?,
                    score: scored_score(r)?,
                })
            })
            .collect()
    }

    /// Moves an escalation one or more steps along the cascade of the wait it is in (`state`, at `level`), its clock
    /// now the moment the last step fell due. Returns false when it moved on meanwhile (acknowledged, reviewed,
    /// raised again, or stepped by another sweep).
    pub async fn escalation_step(
        &mut self,
        id: i64,
        (state, level): (&str, EscalationLevel),
        from: (u8, DateTime<Utc>),
        to: (u8, DateTime<Utc>),
    ) -> Result<bool> {
        let done = query(
            "UPDATE escalation SET stage = $1, notified_at = $2 WHERE id = $3 AND stage = $4 AND notified_at = $5 \
             AND state = $6 AND level = $7",
        )
        .bind(i64::from(to.0))
        .bind(format_instant(to.1))
        .bind(id)
        .bind(i64::from(from.0))
        .bind(format_instant(from.1))
        .bind(state)
        .bind(level.as_str())
        .execute(self.conn())
        .await?;
        Ok(done == 1)
    }
}

/// The columns a move of an escalation sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscalationChange<'a> {
    pub acknowledged_by: Option<i64>,
    pub reviewed_by: Option<i64>,
    pub review_note: Option<&'a str>,
    /// When the move happened, if not now (history seeded for the demo).
    pub at: Option<DateTime<Utc>>,
}

fn missed_from_row(r: &Row) -> Result<MissedObs> {
    Ok(MissedObs {
        patient: stored("nhs number", NhsNumber::parse(&col::<String>(r, "nhs_number")?))?,
        patient_name: person_name(r)?,
        bed: col(r, "bed")?,
        at: col(r, "at")?,
        by: col(r, "username")?,
        reason: col(r, "reason")?,
    })
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use crate::db::query_built;

    /// The store migrated and holding the test trust.
    async fn seeded(store: &Store) {
        store.migrate().await.expect("migrate");
        store
            .seed_demo("test", &crate::demo::test_catalogue())
            .await
            .expect("seed");
    }

    /// The patient [`HISTORY`] is for.
    async fn history_patient(store: &Store) -> i64 {
        crate::col(
            &query_built("SELECT MIN(id) AS id FROM patient WHERE place_code = 'ward-7'".into())
                .fetch_one(store.pool())
                .await
                .expect("the patient"),
            "id",
        )
        .expect("an id")
    }

    /// A long history for one patient on Ward 7, most of it current and some superseded: 400 rows, inserted after the
    /// statistics were taken (as in a new or restored database before its first ANALYZE, or a busy day's sets
    /// before autovacuum catches up).
    const HISTORY: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) \
        INSERT INTO obs_set (version, patient_id, state, taken_at, recorded_at, recorded_by, spo2_scale, on_oxygen, \
        missing, scores, total, risk, monitoring, complete, next_due_at) \
        SELECT 1, (SELECT MIN(id) FROM patient WHERE place_code = 'ward-7'), \
        CASE WHEN n.i % 5 = 0 THEN 'superseded' ELSE 'current' END, \
        '2026-01-01T00:00:00.' || (100000 + n.i) || 'Z', '2026-01-01T00:00:00Z', (SELECT MIN(id) FROM staff), 1, 0, \
        '[]', '{}', n.i % 7, 'low', '12-hourly', 1, '2026-01-02T00:00:00Z' FROM n";

    /// A statement's plan, one line a step: `sql` with its arguments bound by `bind`.
    async fn plan_of(store: &Store, sql: &str, bind: impl FnOnce(crate::db::Query) -> crate::db::Query) -> Vec<String> {
        let (explain, column) = match store.backend() {
            crate::Backend::Postgres => ("EXPLAIN", "QUERY PLAN"),
            crate::Backend::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
        };
        bind(query_built(format!("{explain} {sql}")))
            .fetch_all(store.pool())
            .await
            .expect("explain")
            .iter()
            .map(|r| crate::col::<String>(r, column).expect("a plan line"))
            .collect()
    }

    /// The board's plan.
    async fn board_plan(store: &Store) -> Vec<String> {
        plan_of(store, store.ward_board_sql(), |q| q.bind("ward-7").bind(0i64)).await
    }

    /// The board finds each patient's latest sets at the end of `obs_set_current` whatever the statistics say, and
    /// never reads and sorts a patient's whole history. Without that index, PostgreSQL with statistics taken before
    /// the history planned a bitmap scan of every set the patient had and a sort of them: 21 ms a board after 15 s
    /// of the load harness, growing with every set (BENCHMARKS.md, round 20).
    async fn the_board_reads_the_end_of_each_history(store: Store) {
        seeded(&store).await;
        if store.backend() == crate::Backend::Postgres {
            query_built("ANALYZE".into())
                .execute(store.pool())
                .await
                .expect("analyze");
        }
        query_built(HISTORY.into())
            .execute(store.pool())
            .await
            .expect("the history");
        let plan = board_plan(&store).await;
        let text = plan.join("\n");
        // Both the latest set (`l`) and the one before it (`x`) are read from the index, and `obs_set` is never
        // scanned or sorted: no sequential or bitmap scan of it, no use of the index that holds every version, no
        // sort on PostgreSQL above a read of it, no temporary tree on SQLite.
        let from_index = plan.iter().filter(|s| s.contains("obs_set_current")).count();
        assert!(
            from_index >= 2,
            "the latest sets are not both read from `obs_set_current`:\n{text}"
        );
        // A line of SQLite's plan that reads sets (`l`, `x`) or joins the latest (`o`).
        let sqlite_reads_sets = |line: &str| {
            ["SEARCH l ", "SEARCH x ", "SEARCH o ", "SCAN l", "SCAN x", "SCAN o"]
                .iter()
                .any(|s| line.trim_start().starts_with(s))
        };
        for (i, step) in plan.iter().enumerate() {
            let scans = step.contains("Seq Scan on obs_set")
                || step.contains("Bitmap Heap Scan on obs_set")
                || step.contains("obs_set_patient")
                || ["SCAN l", "SCAN x", "SCAN o"]
                    .iter()
                    .any(|s| step.trim_start().starts_with(s));
            // PostgreSQL: a sort whose input (below its key) reads sets. SQLite: a temporary tree for the ORDER BY
            // of the step just above it, when that step reads sets.
            let sorts_history = (step.contains("Sort  ")
                && plan[i + 1..]
                    .iter()
                    .take(3)
                    .any(|next| next.contains("on obs_set ") || next.contains("obs_set_current")))
                || (step.contains("TEMP B-TREE") && i > 0 && sqlite_reads_sets(&plan[i - 1]));
            assert!(
                !scans && !sorts_history,
                "the board reads a patient's history in full: `{}`\n{text}",
                step.trim()
            );
        }
        // And the board answers from the history's end: the newest current set (the 399th; the 400th is superseded)
        // and the current one before it, each with its own total.
        let board = store.ward_board("ward-7", 0).await.expect("board").expect("ward 7");
        let with_history: Vec<_> = board.patients.iter().filter(|p| p.latest.is_some()).collect();
        assert_eq!(with_history.len(), 1, "one patient has the history");
        let patient = with_history[0];
        assert_eq!(
            (patient.latest.as_ref().and_then(|l| l.total), patient.previous_total),
            (Some(0), Some(6)), // 399 % 7 and 398 % 7
            "the latest current set and the one before"
        );
        // And it shows the newest still open here: not a closed one, nor one raised later at another place, nor an
        // older open one.
        query_built(CLOSED_ESCALATIONS.into())
            .execute(store.pool())
            .await
            .expect("closed escalations");
        let raise = |place: &str, state: &str, at: &str| {
            query_built(format!(
                "INSERT INTO escalation (patient_id, place_code, set_id, version_id, level, score, scored, state, \
                 raised_at, stage, notified_at) SELECT o.patient_id, '{place}', o.id, o.id, 'urgent', 5, 1, \
                 '{state}', '{at}', 0, '{at}' FROM obs_set o WHERE o.taken_at LIKE '2026-01-01T00:00:00.1%' \
                 ORDER BY o.id LIMIT 1"
            ))
        };
        for (place, state, at) in [
            ("ward-7", "open", "2026-01-01T00:00:05.000000Z"),
            ("ward-7", "acknowledged", "2026-01-01T00:00:07.000000Z"),
            ("ward-9", "open", "2026-01-01T00:00:09.000000Z"),
            ("ward-7", "closed", "2026-01-01T00:00:11.000000Z"),
            ("ward-7", "open", "2026-01-01T00:00:06.000000Z"),
        ] {
            raise(place, state, at)
                .execute(store.pool())
                .await
                .expect("an escalation");
        }
        // Each patient's open escalation is read from their own range of `escalation_open` on PostgreSQL: not by
        // comparing every patient with every open escalation of the place.
        if store.backend() == crate::Backend::Postgres {
            let text = board_plan(&store).await.join("\n");
            assert!(
                text.contains("escalation_open") && !text.contains("CTE Scan"),
                "the board does not read each patient's open escalation from `escalation_open`:\n{text}"
            );
        }
        let board = store.ward_board("ward-7", 0).await.expect("board").expect("ward 7");
        let shown: Vec<_> = board
            .patients
            .iter()
            .filter_map(|p| p.escalation.as_ref())
            .map(|e| (e.state.as_str(), e.raised_at.as_str()))
            .collect();
        // Acknowledged and waiting for review is still open.
        assert_eq!(shown, [("acknowledged", "2026-01-01T00:00:07.000000Z")]);
    }

    /// A chart or history gives a patient's newest sets, in order, from the end of a long history: every version, or
    /// only the current ones, and from a start when one is given.
    async fn a_chart_gives_the_newest_sets(store: Store) {
        seeded(&store).await;
        query_built(HISTORY.into())
            .execute(store.pool())
            .await
            .expect("the history");
        let patient = history_patient(&store).await;
        // The 400th set is superseded, the 399th current.
        let newest = |versions| store.obs_for_patient(patient, None, 50, versions);
        let all = newest(super::SetVersions::All).await.expect("every version");
        let current = newest(super::SetVersions::Current).await.expect("the current versions");
        assert_eq!(all.len(), 50);
        assert_eq!(
            (all[0].state.as_str(), all[0].total, all[1].state.as_str(), all[1].total),
            ("superseded", Some(1), "current", Some(0)) // 400 % 7 and 399 % 7
        );
        assert_eq!(current.len(), 50);
        assert!(current.iter().all(|s| s.state == "current"));
        assert_eq!((current[0].total, current[1].total), (Some(0), Some(6))); // 399 % 7 and 398 % 7
        // A start still bounds the read: the sets from the 391st on (taken_at 2026-01-01T00:00:00.100391Z).
        let since = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00.100391Z")
            .expect("an instant")
            .with_timezone(&chrono::Utc);
        let recent = store
            .obs_for_patient(patient, Some(since), 50, super::SetVersions::All)
            .await
            .expect("since");
        assert_eq!(recent.len(), 10, "the 391st to the 400th");
    }

    /// Closed escalations for the patient with the history, as after a long stay: each needs a set to point at.
    const CLOSED_ESCALATIONS: &str = "INSERT INTO escalation (patient_id, place_code, set_id, version_id, level, score, \
        state, raised_at, stage, notified_at) SELECT o.patient_id, 'ward-7', o.id, o.id, 'urgent', 5, 'closed', \
        o.taken_at, 0, o.taken_at FROM obs_set o WHERE o.taken_at LIKE '2026-01-01T00:00:00.1%'";

    /// Holds a plan to reading the open escalation from the end of `escalation_open`: no probe of each state, no
    /// sort, no scan.
    fn reads_the_end_of_escalation_open(plan: &[String], whose: &str) {
        let text = plan.join("\n");
        assert!(
            text.contains("escalation_open")
                && !text.contains("TEMP B-TREE")
                && !text.contains("Sort")
                && !text.contains("escalation_patient")
                && !text.contains("Seq Scan"),
            "{whose}: the open escalation is not read from the end of `escalation_open`:\n{text}"
        );
    }

    /// Recording a set reads the patient's latest open or acknowledged escalation from the end of one range of
    /// `escalation_open`, however many closed ones they have: no probe of each state and no sort. On SQLite each of
    /// those built a temporary b-tree on every set recorded.
    async fn a_set_finds_the_open_escalation_at_the_end_of_its_index(store: Store) {
        seeded(&store).await;
        for step in [HISTORY, CLOSED_ESCALATIONS] {
            query_built(step.into()).execute(store.pool()).await.expect(step);
        }
        if store.backend() == crate::Backend::Postgres {
            query_built("ANALYZE".into())
                .execute(store.pool())
                .await
                .expect("analyze");
        }
        let patient = history_patient(&store).await;
        // The patient's latest open or acknowledged escalation among many closed ones, as the insert reads it.
        let raise = |state: &'static str| {
            query_built(format!(
                "INSERT INTO escalation (patient_id, place_code, set_id, version_id, level, score, scored, state, \
                 raised_at, stage, notified_at) SELECT o.patient_id, 'ward-7', o.id, o.id, 'single-red', 3, 0, \
                 '{state}', o.taken_at, 0, o.taken_at FROM obs_set o WHERE o.patient_id = $1 ORDER BY o.id LIMIT 1"
            ))
            .bind(patient)
        };
        for state in ["acknowledged", "closed", "open", "closed"] {
            raise(state).execute(store.pool()).await.expect(state);
        }
        let latest: String = crate::col(
            &query_built(format!("SELECT ({}) AS latest", open_escalation!("$1")))
                .bind(patient)
                .fetch_one(store.pool())
                .await
                .expect("the open escalation"),
            "latest",
        )
        .expect("one");
        let read = super::open_escalation(&latest).expect("read");
        assert_eq!(
            (read.level.as_str(), read.score, read.acknowledged),
            ("single-red", None, false),
            "the newest open one, unscored: `{latest}`"
        );
        assert!(
            super::INSERT_SET.contains(open_escalation!("$1")),
            "a set's insert reads the open escalation as planned here"
        );
        let plan = plan_of(&store, open_escalation!("$1"), |q| q.bind(patient)).await;
        reads_the_end_of_escalation_open(&plan, "a set's insert");
        // As sets stored together read it, for each row's own patient.
        let correlated = format!(
            "SELECT ({}) AS latest FROM obs_set WHERE obs_set.id = $1",
            open_escalation!("obs_set.patient_id")
        );
        let set: i64 = crate::col(
            &query_built("SELECT MAX(id) AS id FROM obs_set WHERE patient_id = $1".into())
                .bind(patient)
                .fetch_one(store.pool())
                .await
                .expect("a set"),
            "id",
        )
        .expect("an id");
        let plan = plan_of(&store, &correlated, |q| q.bind(set)).await;
        reads_the_end_of_escalation_open(&plan, "sets stored together");
        let read: String = crate::col(
            &query_built(correlated)
                .bind(set)
                .fetch_one(store.pool())
                .await
                .expect("read"),
            "latest",
        )
        .expect("one");
        assert_eq!(read, latest, "the same escalation, read for the row's patient");
    }

    #[test]
    fn an_open_escalation_is_read_whole_or_not_at_all() {
        let read = super::open_escalation("7 urgent acknowledged -1").expect("read");
        assert_eq!(
            (read.id, read.level.as_str(), read.score, read.acknowledged),
            (7, "urgent", None, true)
        );
        let read = super::open_escalation("12 ward open 5").expect("read");
        assert_eq!((read.id, read.score, read.acknowledged), (12, Some(5), false));
        for bad in [
            "",
            "7 urgent open",
            "7 urgent open 5 more",
            "x urgent open 5",
            "7 loud open 5",
            "7 urgent open x",
        ] {
            assert!(super::open_escalation(bad).is_err(), "`{bad}` was read");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_set_finds_the_open_escalation_at_the_end_of_its_index_on_sqlite() {
        crate::on_sqlite(|store, _| a_set_finds_the_open_escalation_at_the_end_of_its_index(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_set_finds_the_open_escalation_at_the_end_of_its_index_on_postgres() {
        crate::on_postgres("remit_open_plan", "the open escalation's plan", |store, _| {
            a_set_finds_the_open_escalation_at_the_end_of_its_index(store)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chart_gives_the_newest_sets_on_sqlite() {
        crate::on_sqlite(|store, _| a_chart_gives_the_newest_sets(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chart_gives_the_newest_sets_on_postgres() {
        crate::on_postgres("remit_chart_sets", "the chart's sets", |store, _| {
            a_chart_gives_the_newest_sets(store)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_board_reads_the_end_of_each_history_on_sqlite() {
        crate::on_sqlite(|store, _| the_board_reads_the_end_of_each_history(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_board_reads_the_end_of_each_history_on_postgres() {
        crate::on_postgres("remit_board_plan", "the board's plan", |store, _| {
            the_board_reads_the_end_of_each_history(store)
        })
        .await;
    }
}
