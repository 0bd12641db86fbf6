//! The ward's pages: the board, the patient's chart and history, recording a set (with the live score), observations
//! missed, pregnancy status, the scale 2 prescription and the escalation inbox.

use crate::AppState;
use crate::http::auth::{Actor, Claimed};
use crate::http::error::{AppError, render};
use crate::http::gate::Opened;
use crate::http::pages::{Banner, PageQuery, just_saved, named, refused_page};
use crate::observations::chart::{ValuesTable, chart_html, values_table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use remit_domain::clinical::Prescription;
use remit_domain::news2::Spo2Scale;
use remit_domain::obs::{EscalationLevel, NotScored, Readings, frequency_text};
use remit_domain::place::PlaceCode;
use remit_domain::time::{london_date, uk_short_text};
use remit_services::obs::{EscalationNotice, RecordSet, Recorded};
use remit_services::scope::Outcome;
use remit_services::{obs, scope};
use remit_store::obs::{EscalationFilter, SetVersions, SetView, WardBoard};
use remit_store::patient::PatientRecord;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The NHS.UK tag colour for a score's risk: red, orange, yellow as the NEWS2 chart shades them; white for a low
/// score above zero, grey for zero.
fn risk_class(total: u8, risk: &str) -> &'static str {
    match risk {
        "high" => "nhsuk-tag--red",
        "medium" => "nhsuk-tag--orange",
        "low-medium" => "nhsuk-tag--yellow",
        _ if total > 0 => "nhsuk-tag--white",
        _ => "nhsuk-tag--grey",
    }
}

fn risk_text(risk: &str, complete: bool) -> String {
    let r = match risk {
        "not-scored" => return "NEWS2 does not apply: for the registered nurse's judgement".to_owned(),
        "high" => "High risk",
        "medium" => "Medium risk",
        "low-medium" => "Low–medium risk (a single red score)",
        _ => "Low risk",
    };
    if complete {
        r.to_owned()
    } else {
        format!("{r} — incomplete set")
    }
}

fn minutes_text(m: i64) -> String {
    if m >= 60 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

struct BoardRow {
    nhs: String,
    name: String,
    bed: String,
    score: Option<u8>,
    risk_class: &'static str,
    risk_text: String,
    trend: String,
    due: String,
    overdue: bool,
    /// Why the observations were recorded as not done since the latest set.
    missed: Option<String>,
    escalation: Option<String>,
    /// What the escalation says beyond its score, and the sepsis prompt where it applies.
    escalation_notes: Vec<String>,
    /// Nobody on duty here could acknowledge the escalation: who it goes to instead.
    unanswerable: Option<String>,
    tasks: i64,
}

/// A patient who left with work open, or came with tasks delegated before they came (see
/// `remit_store::adt::Handover`).
struct HandoverRow {
    nhs: String,
    name: String,
    what: String,
    open: String,
}

#[derive(Template)]
#[template(path = "ward.html")]
struct WardPage<'a> {
    actor: &'a Actor,
    place_name: String,
    rows: Vec<BoardRow>,
    handover: Vec<HandoverRow>,
}

pub(crate) async fn ward_board(
    State(state): State<AppState>,
    claimed: Claimed,
    Path(place): Path<String>,
) -> Result<Html<String>, AppError> {
    let code = PlaceCode::parse(&place)?;
    let store = &state.store;
    let now = store.now();
    let routes = state.pack.escalation();
    // One statement (on PostgreSQL, one round trip), which also confirms who is reading; read again only after
    // moving the cascade along for an escalation here that waited too long.
    let reader = claimed.staff_id();
    let no_place = || remit_store::StoreError::NotFound(format!("no place `{code}`"));
    let read = || async { store.ward_board(code.as_str(), reader).await?.ok_or_else(no_place) };
    let Some(first) = store.ward_board(code.as_str(), reader).await? else {
        // Nothing read confirms the reader: a query does, before they learn the place does not exist.
        claimed.confirm_by_query(&state).await?;
        return Err(no_place().into());
    };
    let actor = claimed.confirm(&state, first.versions).await?;
    let due = |board: &WardBoard, now| {
        board
            .patients
            .iter()
            .filter_map(|p| p.escalation.as_ref())
            .any(|e| obs::cascade_due(routes, (&e.state, e.level, e.stage, &e.notified_at), now))
    };
    let board = obs::swept_after(store, routes, first, read, due).await?;
    let mine: BTreeSet<String> = board
        .patients
        .iter()
        .filter(|p| p.readers_task)
        .map(|p| p.patient.to_string())
        .collect();
    let pairs: Vec<_> = board
        .patients
        .iter()
        .map(|p| (p.patient.clone(), code.to_string()))
        .collect();
    let readable = scope::readable_among(
        &state.pack,
        &actor.profile,
        std::slice::from_ref(&board.place),
        &mine,
        now.date_naive(),
        &pairs,
    )?;
    // Whether anyone on duty here could acknowledge an escalation: asked only when the board shows one, and once
    // for the place (the question depends on the patient only through their place).
    let waiting = |p: &&remit_store::obs::BoardPatient| p.escalation.as_ref().is_some_and(|e| e.state == "open");
    let unanswerable = match board.patients.iter().find(waiting) {
        Some(p)
            if !obs::anyone_leads(
                store,
                &state.pack,
                &board.place,
                (
                    &p.patient,
                    p.escalation.as_ref().map_or(EscalationLevel::Ward, |e| e.level),
                ),
                board.versions,
            )
            .await? =>
        {
            let told = obs::told_when_no_one_can_acknowledge(store, &state.pack).await?;
            let names: Vec<String> = told.iter().map(|r| r.name.clone()).collect();
            let grades: Vec<String> = routes
                .no_one_to_acknowledge
                .iter()
                .map(|g| routes.group_title(g))
                .collect();
            Some(if names.is_empty() {
                format!(
                    "Nobody on duty here can acknowledge this escalation, and nobody is on duty as {}: find \
                     someone who can, now.",
                    grades.join(" or ")
                )
            } else {
                format!(
                    "Nobody on duty here can acknowledge this escalation: it has gone to {} ({}).",
                    names.join(" and "),
                    grades.join(" or ")
                )
            })
        }
        _ => None,
    };
    let mut rows = Vec::new();
    for po in board.patients.iter().filter(|p| readable.contains(&p.patient)) {
        let trend = match (po.latest.and_then(|l| l.total), po.previous_total) {
            (Some(now), Some(before)) if now > before => format!("rising ({before} → {now})"),
            (Some(now), Some(before)) if now < before => format!("falling ({before} → {now})"),
            (Some(now), Some(_)) => format!("steady ({now})"),
            _ => "—".into(),
        };
        let due = remit_domain::time::parse_instant("due", &po.next_due_at).ok();
        let (due_text, overdue) = match due {
            Some(d) if d < now => (format!("overdue by {}", minutes_text((now - d).num_minutes())), true),
            Some(d) => (format!("due in {}", minutes_text((d - now).num_minutes())), false),
            None => ("—".into(), false),
        };
        let esc = po.escalation.as_ref().map(|e| {
            format!(
                "{} ({}), {}",
                level_text(e.level),
                e.score.map_or_else(|| "no NEWS2".to_owned(), |s| format!("NEWS2 {s}")),
                if e.state == "open" {
                    "not yet acknowledged"
                } else {
                    "acknowledged, awaiting review"
                }
            )
        });
        let mut escalation_notes = Vec::new();
        if let Some(e) = &po.escalation {
            escalation_notes.extend(e.about.clone());
            if e.score.is_some()
                && let Some(prompt) = e.level.sepsis_prompt()
            {
                escalation_notes.push(prompt.to_owned());
            }
        }
        rows.push(BoardRow {
            nhs: po.patient.to_string(),
            name: po.name.clone(),
            bed: po.bed.clone().unwrap_or_else(|| "—".into()),
            score: po.latest.and_then(|l| l.total),
            risk_class: po.latest.map_or("nhsuk-tag--grey", |l| match (l.total, l.risk) {
                (Some(total), Some(risk)) => risk_class(total, risk.as_str()),
                _ => "nhsuk-tag--grey",
            }),
            risk_text: po.latest.map_or_else(
                || "No observations yet".into(),
                |l| match (l.risk, l.not_scored) {
                    (_, Some(n)) => n.sentence().to_owned(),
                    (Some(risk), None) => risk_text(risk.as_str(), l.complete),
                    (None, None) => risk_text("not-scored", l.complete),
                },
            ),
            trend,
            due: due_text,
            overdue,
            missed: po.missed.clone(),
            escalation: esc,
            escalation_notes,
            unanswerable: unanswerable
                .clone()
                .filter(|_| po.escalation.as_ref().is_some_and(|e| e.state == "open")),
            tasks: po.open_tasks,
        });
    }
    let handover = handover_rows(&state, &actor, &board.place, &mine).await?;
    render(&WardPage {
        actor: &actor,
        place_name: board.place.name,
        rows,
        handover,
    })
}

/// Who left this place with work open, and who came with tasks delegated before they came: for the nurse in
/// charge, of the patients the reader may read.
async fn handover_rows(
    state: &AppState,
    actor: &Actor,
    place: &remit_domain::place::Place,
    mine: &BTreeSet<String>,
) -> Result<Vec<HandoverRow>, AppError> {
    let list = state.store.handover(&place.code).await?;
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<_> = list
        .iter()
        .map(|h| (h.nhs_number.clone(), place.code.to_string()))
        .collect();
    let readable = scope::readable_among(
        &state.pack,
        &actor.profile,
        std::slice::from_ref(place),
        mine,
        state.store.now().date_naive(),
        &pairs,
    )?;
    let plural = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    Ok(list
        .into_iter()
        .filter(|h| readable.contains(&h.nhs_number))
        .map(|h| {
            let mut open = Vec::new();
            if h.escalations > 0 && h.discharged_at.is_some() {
                open.push(plural(h.escalations, "escalation"));
            }
            if h.tasks > 0 {
                open.push(plural(h.tasks, "task"));
            }
            HandoverRow {
                nhs: h.nhs_number.to_string(),
                name: format!("{} {}", h.given_name, h.family_name),
                what: match h.discharged_at {
                    Some(at) => format!("Discharged {}", remit_domain::time::uk_short(at)),
                    None => format!(
                        "Came here {}{}",
                        remit_domain::time::uk_short(h.placed_at),
                        h.bed.map(|b| format!(", bed {b}")).unwrap_or_default()
                    ),
                },
                open: format!("{} still open", open.join(" and ")),
            }
        })
        .collect())
}

fn level_text(l: EscalationLevel) -> &'static str {
    match l {
        EscalationLevel::Ward => "Ward response",
        EscalationLevel::SingleRed => "Single red score: inform the medical team",
        EscalationLevel::Urgent => "URGENT response",
        EscalationLevel::Emergency => "EMERGENCY response",
    }
}

struct HistoryRow {
    /// This version's id.
    id: i64,
    set_id: i64,
    version: i64,
    state: String,
    taken_at: String,
    recorded: String,
    total: String,
    risk: String,
    summary: String,
    change: Option<String>,
}

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage<'a> {
    actor: &'a Actor,
    banner: Banner,
    /// What the reader has just done to the chart.
    notice: Option<String>,
    nhs: String,
    name: String,
    chart: String,
    /// The chart's values as a table.
    values: ValuesTable,
    history: Vec<HistoryRow>,
    escalations: Vec<EscalationNotice>,
    scale2: Option<String>,
    /// Pregnancy as recorded, while it holds, in words.
    pregnancy: Option<String>,
    /// Whether the reader may record pregnancy status (the form is shown to them).
    may_record_pregnancy: bool,
    /// What the delegation form offers, to those who may delegate work for this patient.
    delegation: Option<DelegationForm>,
    /// Whether the reader may prescribe for this patient (the link is shown to them).
    may_prescribe: bool,
    /// When the next set is due, and how often, from the newest current set.
    next_due: Option<String>,
}

/// The choices of the delegation form: colleagues on duty where the patient is, and the work that can be delegated.
struct DelegationForm {
    colleagues: Vec<(String, String)>,
    activities: Vec<(String, String)>,
}

/// Sets shown on a patient's NEWS2 chart (a chart page's columns), and versions listed in its history.
const CHART_SETS: usize = crate::observations::chart::SLOTS;
const HISTORY_ROWS: i64 = 50;

/// The set the chart says its reader has just marked entered in error.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustWithdrawn {
    entered_in_error: Option<i64>,
    /// A break-glass reason, which the gate reads.
    #[serde(rename = "break_glass")]
    _break_glass: Option<serde::de::IgnoredAny>,
}

pub(crate) async fn patient_page(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    query: PageQuery<JustWithdrawn>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number.clone();
    let notice = match just_saved(query)?.entered_in_error {
        Some(version) => {
            let set = state.store.obs_version(version).await?;
            let me = actor.profile.staff.username.as_str();
            if set.patient != nhs || set.state != "entered-in-error" || set.changed_by.as_deref() != Some(me) {
                return Err(AppError::NotFound(format!(
                    "no set {version} of this patient's marked in error by you"
                )));
            }
            Some(format!(
                "Set {} marked entered in error ({}): it no longer counts.",
                set.set_id,
                set.change_reason.unwrap_or_default()
            ))
        }
        None => None,
    };
    let id = record.id;
    let filter = EscalationFilter {
        open: true,
        place: None,
        patient: Some(nhs.clone()),
    };
    // Two independent reads, together (on PostgreSQL each is a round trip or more).
    let (all, mut escalations) = tokio::try_join!(
        state.store.obs_for_patient(id, None, HISTORY_ROWS, SetVersions::All),
        obs::notices_with(&state.store, &state.pack, &filter, obs::Recipients::Omitted),
    )?;
    crate::delivery::annotate(&state, &mut escalations).await?;
    // The chart's sets are the newest current ones. Both lists are in the same order, so when the history holds
    // enough current sets the chart's are its first; otherwise (many corrected sets) they are read on their own.
    let mut current: Vec<SetView> = all
        .iter()
        .filter(|s| s.state == "current")
        .take(CHART_SETS)
        .cloned()
        .collect();
    if current.len() < CHART_SETS && all.len() as i64 == HISTORY_ROWS {
        current = state
            .store
            .obs_for_patient(id, None, CHART_SETS as i64, SetVersions::Current)
            .await?;
    }
    let history = all
        .iter()
        .map(|s| HistoryRow {
            id: s.id,
            set_id: s.set_id,
            version: s.version,
            state: s.state.clone(),
            taken_at: uk_short_text(&s.taken_at),
            recorded: format!("{} by {}", uk_short_text(&s.recorded_at), s.recorded_by),
            total: s.total.map_or_else(|| "—".to_owned(), |t| t.to_string()),
            risk: s.risk.map_or("not scored", |r| r.as_str()).to_owned(),
            summary: if let Some(n) = s.not_scored {
                n.sentence().to_owned()
            } else if s.complete {
                "complete".into()
            } else {
                let m: Vec<String> = s
                    .readings
                    .missing
                    .iter()
                    .map(|m| format!("{} {} ({})", m.parameter.title(), m.absence.as_str(), m.reason))
                    .collect();
                format!("incomplete: {}", m.join("; "))
            },
            change: s.change_reason.as_ref().map(|r| {
                format!(
                    "{} by {}: {r}",
                    if s.state == "entered-in-error" {
                        "Entered in error"
                    } else {
                        "Amended"
                    },
                    s.changed_by.as_deref().unwrap_or("?")
                )
            }),
        })
        .collect();
    let scale2 = record.scale2.as_ref().map(|s| {
        format!(
            "SpO2 scale 2, target {}–{}% (prescribed by {})",
            s.target_low, s.target_high, s.prescribed_by
        )
    });
    let today = london_date(state.store.now());
    let pregnancy = record
        .pregnancy
        .filter(|p| p.until.is_none_or(|u| u >= today))
        .map(|p| {
            format!(
                "Recorded as {}{}: NEWS2 does not apply",
                match p.status {
                    remit_domain::obs::PregnancyStatus::Pregnant => "pregnant",
                    remit_domain::obs::PregnancyStatus::Postpartum => "within six weeks of giving birth",
                },
                p.until
                    .map_or_else(String::new, |u| format!(" until {}", remit_domain::time::uk_date(u)))
            )
        });
    let mut ask = scope::Ask::new(actor.profile.staff.username.clone(), "record.pregnancy-status");
    ask.patient = Some(nhs.clone());
    // Asked of the profile and record this request has already read (no query of its own while nothing changed).
    let facts = scope::Facts::load_with(&state.store, &state.pack, &ask, Some(&actor.principal)).await?;
    let may_record_pregnancy = facts.decide(&state.pack, &ask).permitted();
    let asked = |activity: &str| {
        let mut ask = scope::Ask::new(actor.profile.staff.username.clone(), activity);
        ask.patient = Some(nhs.clone());
        facts.decide(&state.pack, &ask).permitted()
    };
    let may_prescribe = asked("medicines.prescribe");
    let delegation = if asked("task.delegate") {
        // Those on duty where the patient is (not the whole staff list read for every chart).
        let colleagues = state
            .store
            .profiles_on_duty_at(
                record.patient.place.as_str(),
                state.store.now(),
                actor.principal.versions,
            )
            .await?
            .into_iter()
            .filter(|p| p.staff.username != actor.profile.staff.username)
            .map(|p| (p.staff.username.to_string(), p.staff.name.to_string()))
            .collect();
        let activities = remit_services::tasks::delegable(&state.pack)
            .into_iter()
            .map(|a| (a.id.clone(), a.title.clone()))
            .collect();
        Some(DelegationForm { colleagues, activities })
    } else {
        None
    };
    let next_due = current.first().map(|s| {
        format!(
            "{} ({})",
            uk_short_text(&s.next_due_at),
            frequency_text(s.monitoring, s.complete, s.total.is_some())
        )
    });
    let page = render(&PatientPage {
        actor: &actor,
        banner: Banner::of_record(&record, london_date(state.store.now())),
        notice,
        nhs: nhs.to_string(),
        name: record.patient.display_name(),
        chart: chart_html(&current).map_err(|e| AppError::Internal(format!("chart: {e}")))?,
        values: values_table(&current),
        history,
        escalations,
        scale2,
        pregnancy,
        may_record_pregnancy,
        delegation,
        may_prescribe,
        next_due,
    })?;
    Ok(page.into_response())
}

/// The values of the set form, as typed.
#[derive(Deserialize, Default, Clone)]
pub(crate) struct SetForm {
    #[serde(default)]
    respiration_rate: String,
    #[serde(default)]
    spo2: String,
    #[serde(default)]
    on_oxygen: String,
    #[serde(default)]
    oxygen_flow: String,
    #[serde(default)]
    oxygen_device: String,
    #[serde(default)]
    systolic_bp: String,
    #[serde(default)]
    diastolic_bp: String,
    #[serde(default)]
    pulse: String,
    #[serde(default)]
    consciousness: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    supervisor: String,
    #[serde(default)]
    missing_reason: String,
    /// Why a set is being corrected (the correction form only).
    #[serde(default)]
    change_reason: String,
    /// For each measured parameter, why it was not measured: blank (it was), `not-obtained` or `refused`.
    #[serde(default)]
    respiration_rate_absence: String,
    #[serde(default)]
    spo2_absence: String,
    #[serde(default)]
    systolic_bp_absence: String,
    #[serde(default)]
    pulse_absence: String,
    #[serde(default)]
    temperature_absence: String,
}

/// A measured field of the set form.
struct FormField<'a> {
    name: &'static str,
    label: &'static str,
    min: &'static str,
    max: &'static str,
    step: &'static str,
    value: &'a str,
    absence: &'a str,
}

impl SetForm {
    /// The measured fields, with what was typed and whether each was marked not measured.
    fn fields(&self) -> [FormField<'_>; 5] {
        fn f<'a>(
            name: &'static str,
            label: &'static str,
            (min, max, step): (&'static str, &'static str, &'static str),
            value: &'a str,
            absence: &'a str,
        ) -> FormField<'a> {
            FormField {
                name,
                label,
                min,
                max,
                step,
                value,
                absence,
            }
        }
        [
            f(
                "respiration_rate",
                "Respiration rate (breaths/min)",
                ("0", "80", "1"),
                &self.respiration_rate,
                &self.respiration_rate_absence,
            ),
            f("spo2", "SpO2 (%)", ("0", "100", "1"), &self.spo2, &self.spo2_absence),
            f(
                "systolic_bp",
                "Systolic BP (mmHg)",
                ("0", "300", "1"),
                &self.systolic_bp,
                &self.systolic_bp_absence,
            ),
            f(
                "pulse",
                "Pulse (beats/min)",
                ("0", "300", "1"),
                &self.pulse,
                &self.pulse_absence,
            ),
            f(
                "temperature",
                "Temperature (°C)",
                ("25", "45", "0.1"),
                &self.temperature,
                &self.temperature_absence,
            ),
        ]
    }

    /// The form filled with a set's readings, to correct them.
    fn of(r: &Readings) -> Self {
        let n = |v: Option<u16>| v.map_or_else(String::new, |v| v.to_string());
        let tenths = |v: Option<u16>| v.map_or_else(String::new, remit_domain::obs::tenths);
        let mut form = SetForm {
            respiration_rate: n(r.respiration_rate.map(u16::from)),
            spo2: n(r.spo2.map(u16::from)),
            on_oxygen: if r.on_oxygen { "yes" } else { "no" }.to_owned(),
            oxygen_flow: tenths(r.oxygen_flow_tenths),
            oxygen_device: r.oxygen_device.map_or_else(String::new, |d| d.as_str().to_owned()),
            systolic_bp: n(r.systolic_bp),
            diastolic_bp: n(r.diastolic_bp),
            pulse: n(r.pulse),
            consciousness: r.consciousness.map_or_else(String::new, |c| c.as_str().to_owned()),
            temperature: tenths(r.temperature_tenths),
            ..SetForm::default()
        };
        for m in &r.missing {
            let absence = m.absence.as_str().to_owned();
            match m.parameter {
                remit_domain::obs::Param::RespirationRate => form.respiration_rate_absence = absence,
                remit_domain::obs::Param::Spo2 => form.spo2_absence = absence,
                remit_domain::obs::Param::SystolicBp => form.systolic_bp_absence = absence,
                remit_domain::obs::Param::Pulse => form.pulse_absence = absence,
                remit_domain::obs::Param::Temperature => form.temperature_absence = absence,
                remit_domain::obs::Param::Consciousness => {}
            }
        }
        // One reason box on the form: where the set's parameters were missed for different reasons, each is kept,
        // named, rather than the last one standing for all.
        let reasons: BTreeSet<&str> = r.missing.iter().map(|m| m.reason.as_str()).collect();
        form.missing_reason = match reasons.len() {
            0 => String::new(),
            1 => reasons.into_iter().collect(),
            _ => r
                .missing
                .iter()
                .map(|m| format!("{}: {}", m.parameter.title(), m.reason))
                .collect::<Vec<_>>()
                .join("; "),
        };
        form
    }

    /// The form as the JSON set the parser reads: each measured parameter given, or marked not obtained or refused
    /// (with the reason given once for all of them). A blank value not so marked is an error naming it.
    fn readings(&self) -> Result<Readings, AppError> {
        let mut o = Map::new();
        let mut missing = Vec::new();
        let num = |s: &str| -> Value {
            let t = s.trim();
            t.parse::<i64>()
                .map(Value::from)
                .or_else(|_| t.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(t.to_owned()))
        };
        let mut blank = Vec::new();
        for f in self.fields() {
            match (f.value.trim(), f.absence.trim()) {
                ("", "") => blank.push(f.name),
                (v, "") => {
                    o.insert(f.name.into(), num(v));
                }
                (v, absence) => {
                    if !v.is_empty() {
                        o.insert(f.name.into(), num(v));
                    }
                    missing.push((f.name, absence));
                }
            }
        }
        if !blank.is_empty() {
            return Err(AppError::Unprocessable(format!(
                "{}: not recorded — enter a value, or mark it not obtained or refused and say why",
                blank.join(", ")
            )));
        }
        if !self.consciousness.trim().is_empty() {
            o.insert(
                "consciousness".into(),
                Value::String(self.consciousness.trim().to_owned()),
            );
        }
        if !self.diastolic_bp.trim().is_empty() {
            o.insert("diastolic_bp".into(), num(&self.diastolic_bp));
        }
        let on_oxygen = self.on_oxygen == "yes";
        o.insert("on_oxygen".into(), Value::Bool(on_oxygen));
        if on_oxygen && !self.oxygen_flow.trim().is_empty() {
            o.insert("oxygen_flow".into(), num(&self.oxygen_flow));
        }
        if on_oxygen && !self.oxygen_device.trim().is_empty() {
            o.insert(
                "oxygen_device".into(),
                Value::String(self.oxygen_device.trim().to_owned()),
            );
        }
        if !missing.is_empty() {
            let reason = self.missing_reason.trim();
            if reason.is_empty() {
                let names: Vec<&str> = missing.iter().map(|(p, _)| *p).collect();
                return Err(AppError::Unprocessable(format!(
                    "{}: marked not measured — say why in the reason box",
                    names.join(", ")
                )));
            }
            let list: Vec<Value> = missing
                .iter()
                .map(|(p, absence)| serde_json::json!({"parameter": p, "absence": absence, "reason": reason}))
                .collect();
            o.insert("missing".into(), Value::Array(list));
        }
        Ok(Readings::from_json(&o)?.0)
    }
}

/// The record form's fields an error may name, and how its labels say them.
const FIELD_NAMES: [(&str, &str); 12] = [
    ("respiration_rate", "respiration rate"),
    ("spo2", "SpO2"),
    ("on_oxygen", "air or oxygen"),
    ("oxygen_flow", "oxygen flow"),
    ("systolic_bp", "systolic blood pressure"),
    ("diastolic_bp", "diastolic blood pressure"),
    ("pulse", "pulse"),
    ("consciousness", "consciousness (ACVPU)"),
    ("temperature", "temperature"),
    ("missing_reason", "why values were not measured"),
    ("supervisor", "supervising colleague"),
    ("change_reason", "why the set is corrected"),
];

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage<'a> {
    actor: &'a Actor,
    banner: Banner,
    nhs: String,
    name: String,
    form: SetForm,
    error: Option<String>,
    reasons: Vec<String>,
    supervisors: Vec<(String, String)>,
    needs_supervisor: bool,
    recorded: Option<Recorded>,
    /// Why NEWS2 does not apply to the patient today, if it does not.
    not_scored: Option<&'static str>,
    notice: Option<String>,
    /// The version this page corrects, when it corrects a set rather than records a new one.
    correcting: Option<i64>,
}

impl RecordPage<'_> {
    fn fields(&self) -> [FormField<'_>; 5] {
        self.form.fields()
    }

    /// "raised", or "raised again" for an escalation the saved set raised again.
    fn raised(&self) -> &'static str {
        let again = self
            .recorded
            .as_ref()
            .and_then(|r| r.escalation.as_ref())
            .and_then(|e| e.history.last())
            .is_some_and(|h| h.what.starts_with("raised again"));
        if again { "raised again" } else { "raised" }
    }

    /// Whether the saved set is at high risk.
    fn high(&self) -> bool {
        self.recorded
            .as_ref()
            .is_some_and(|r| r.set.risk == Some(remit_domain::news2::Risk::High))
    }

    /// The oxygen devices the form offers, as stored and in words.
    fn devices(&self) -> Vec<(&'static str, String)> {
        remit_domain::obs::OxygenDevice::ALL
            .iter()
            .map(|d| (d.as_str(), d.as_str().replace('-', " ")))
            .collect()
    }

    /// The form's fields the error names (its message begins with them, `pulse, temperature: …`), for the error
    /// summary's links and `aria-invalid`.
    fn invalid(&self) -> Vec<&'static str> {
        let Some(e) = &self.error else {
            return Vec::new();
        };
        let named = e.split_once(':').map_or("", |(head, _)| head);
        let named: Vec<&str> = named.split(',').map(str::trim).collect();
        FIELD_NAMES
            .into_iter()
            .map(|(f, _)| f)
            .filter(|f| named.contains(f))
            .collect()
    }

    /// A field of the form in the words of its label, for the error summary's links.
    fn field_words(&self, field: &str) -> &'static str {
        FIELD_NAMES
            .into_iter()
            .find(|(f, _)| *f == field)
            .map_or("the field", |(_, words)| words)
    }

    /// Whether the error names `field`.
    fn is_invalid(&self, field: &str) -> bool {
        self.invalid().contains(&field)
    }

    /// What the saved set scored, in words.
    fn headline(&self) -> String {
        let Some(r) = &self.recorded else {
            return String::new();
        };
        match (r.set.total, r.set.risk, r.set.not_scored) {
            (_, _, Some(n)) => n.sentence().to_owned(),
            (Some(total), Some(risk), None) => format!(
                "NEWS2 {total} — {} risk{}",
                risk.as_str(),
                if r.set.complete {
                    ""
                } else {
                    " (incomplete set: at least this)"
                }
            ),
            _ => "no NEWS2".to_owned(),
        }
    }

    /// When the next set is due after the saved one, and how often.
    fn next_due(&self) -> String {
        let Some(r) = &self.recorded else {
            return String::new();
        };
        format!(
            "by {} ({})",
            uk_short_text(&r.set.next_due_at),
            frequency_text(r.set.monitoring, r.set.complete, r.set.total.is_some())
        )
    }
}

/// Registered colleagues on duty where the patient is, who could supervise: their profiles as of the request's
/// versions.
async fn supervisors(
    state: &AppState,
    place: &str,
    versions: remit_store::Versions,
) -> Result<Vec<(String, String)>, AppError> {
    let now = state.store.now();
    Ok(state
        .store
        .profiles_on_duty_at(place, now, versions)
        .await?
        .into_iter()
        .filter(|p| p.is_registered(now.date_naive()) && p.staff.level.is_some_and(|l| l.get() >= 5))
        .map(|p| (p.staff.username.to_string(), p.staff.name.to_string()))
        .collect())
}

/// What the record page says above the form.
#[derive(Default)]
struct Said {
    error: Option<String>,
    notice: Option<String>,
    reasons: Vec<String>,
    recorded: Option<Recorded>,
    /// The page is the correction of this version.
    correcting: Option<i64>,
}

/// A form's work as its page answers it: done (handed back), or what the page says instead — a refusal (403, every
/// reason) or bad input (422, what is wrong); any other failure is the server's.
fn undone<T>(o: Result<Outcome<T>, remit_store::StoreError>) -> Result<Result<T, (StatusCode, Said)>, AppError> {
    match o {
        Ok(Outcome::Done(v)) => Ok(Ok(v)),
        Ok(Outcome::Refused(reasons)) => Ok(Err((
            StatusCode::FORBIDDEN,
            Said {
                reasons,
                ..Said::default()
            },
        ))),
        Err(remit_store::StoreError::Invalid(m)) => Ok(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            Said {
                error: Some(m),
                ..Said::default()
            },
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn record_page(
    state: &AppState,
    actor: &Actor,
    record: &PatientRecord,
    form: SetForm,
    said: Said,
) -> Result<Response, AppError> {
    let Said {
        error,
        notice,
        reasons,
        recorded,
        correcting,
    } = said;
    // The page names the patient, and what NEWS2 depends on (age, pregnancy): for those who may read the record,
    // as the gate opened it.
    let patient = &record.patient;
    let today = london_date(state.store.now());
    let not_scored = NotScored::of(patient.date_of_birth, record.pregnancy.as_ref(), today).map(NotScored::sentence);
    let needs_supervisor = actor.profile.staff.level.is_some_and(|l| l.get() <= 3);
    render(&RecordPage {
        actor,
        banner: Banner::of_record(record, today),
        nhs: patient.nhs_number.to_string(),
        name: patient.display_name(),
        form,
        error,
        reasons,
        supervisors: supervisors(state, patient.place.as_str(), actor.principal.versions).await?,
        needs_supervisor,
        recorded,
        not_scored,
        notice,
        correcting,
    })
    .map(IntoResponse::into_response)
}

/// What the record page says it has just saved, by id: the page a form post redirects to (post/redirect/get), so
/// that reloading it shows the answer again and records nothing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustSaved {
    /// A set's version, just recorded.
    recorded: Option<i64>,
    /// A record of observations not done, just made.
    not_done: Option<i64>,
    /// A break-glass reason, which the gate reads.
    #[serde(rename = "break_glass")]
    _break_glass: Option<serde::de::IgnoredAny>,
}

pub(crate) async fn new_set_page(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    query: PageQuery<JustSaved>,
) -> Result<Response, AppError> {
    let saved = just_saved(query)?;
    let mut said = Said::default();
    if let Some(version) = saved.recorded {
        said.recorded = Some(obs::recorded(&state.store, &record, version).await?);
    }
    if let Some(id) = saved.not_done {
        let m = state.store.missed_record(id).await?;
        if m.patient != record.patient.nhs_number {
            return Err(AppError::NotFound(format!(
                "no record {id} of observations not done for this patient"
            )));
        }
        said.notice = Some(format!(
            "Recorded: observations not done ({}). The patient stays overdue and the registered nurse sees why.",
            m.reason
        ));
    }
    record_page(&state, &actor, &record, SetForm::default(), said).await
}

pub(crate) async fn record_set(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    Form(form): Form<SetForm>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number.clone();
    let readings = match form.readings() {
        Ok(r) => r,
        Err(e) => {
            let said = Said {
                error: Some(e.to_string()),
                ..Said::default()
            };
            let page = record_page(&state, &actor, &record, form, said).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let supervisor = named(&form.supervisor)?;
    let r = RecordSet {
        patient: nhs.clone(),
        by: actor.profile.staff.username.clone(),
        supervisor,
        taken_at: None,
        readings,
        scale: None,
    };
    match obs::record(
        &state.store,
        &state.pack,
        &r,
        &actor.audit_name(),
        Some(&actor.principal),
    )
    .await?
    {
        Outcome::Refused(reasons) => {
            let said = Said {
                reasons,
                ..Said::default()
            };
            let page = record_page(&state, &actor, &record, form, said).await?;
            Ok((StatusCode::FORBIDDEN, page).into_response())
        }
        Outcome::Done(done) => {
            let to = format!("/patients/{nhs}/observations/new?recorded={}", done.set.id);
            Ok(axum::response::Redirect::to(&to).into_response())
        }
    }
}

/// The set a correction page is about, its patient's record opened to the reader (audited if refused), and that the
/// version is the set's current one.
async fn set_to_correct(
    state: &AppState,
    actor: &Actor,
    version: i64,
) -> Result<Result<(SetView, PatientRecord), Response>, AppError> {
    let set = state.store.obs_version(version).await?;
    let bg = crate::http::gate::BreakGlass(None);
    let record = match crate::http::gate::open_record(state, actor, &set.patient, &bg).await? {
        Outcome::Done(r) => r,
        Outcome::Refused(reasons) => return Ok(Err(refused_page(actor, "Correct a set", &reasons)?)),
    };
    if set.state != "current" {
        return Err(AppError::Conflict(format!(
            "set version {version} is {}, not current: correct the set's current version",
            set.state
        )));
    }
    Ok(Ok((set, record)))
}

/// The record form filled with a set's current readings, to correct them.
pub(crate) async fn correct_page(
    State(state): State<AppState>,
    actor: Actor,
    Path(version): Path<i64>,
) -> Result<Response, AppError> {
    let (set, record) = match set_to_correct(&state, &actor, version).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let mut form = SetForm::of(&set.readings);
    form.supervisor = set.supervisor.clone().unwrap_or_default();
    let said = Said {
        correcting: Some(version),
        ..Said::default()
    };
    record_page(&state, &actor, &record, form, said).await
}

/// A correction: the corrected values become a new version of the set, re-scored; the page the set's recording
/// answers with follows (post/redirect/get).
pub(crate) async fn correct(
    State(state): State<AppState>,
    actor: Actor,
    Path(version): Path<i64>,
    Form(form): Form<SetForm>,
) -> Result<Response, AppError> {
    let (set, record) = match set_to_correct(&state, &actor, version).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let again = |said: Said| Said {
        correcting: Some(version),
        ..said
    };
    let readings = match form.readings() {
        Ok(r) => r,
        Err(e) => {
            let said = again(Said {
                error: Some(e.to_string()),
                ..Said::default()
            });
            let page = record_page(&state, &actor, &record, form, said).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let supervisor = named(&form.supervisor)?;
    let a = obs::Amendment {
        version,
        by: actor.profile.staff.username.clone(),
        supervisor,
        readings,
        reason: form.change_reason.clone(),
    };
    let (status, said) = match undone(obs::amend(&state.store, &state.pack, &a, &actor.audit_name()).await)? {
        Ok(done) => {
            let to = format!("/patients/{}/observations/new?recorded={}", set.patient, done.set.id);
            return Ok(axum::response::Redirect::to(&to).into_response());
        }
        Err(failed) => failed,
    };
    let page = record_page(&state, &actor, &record, form, again(said)).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// A set marked entered in error from its correction page (recorded against the wrong patient, or never taken): it
/// no longer counts; the chart follows, saying so.
pub(crate) async fn entered_in_error(
    State(state): State<AppState>,
    actor: Actor,
    Path(version): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, AppError> {
    let (set, record) = match set_to_correct(&state, &actor, version).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let by = actor.profile.staff.username.clone();
    let o = obs::entered_in_error(
        &state.store,
        &state.pack,
        version,
        &by,
        &form.reason,
        &actor.audit_name(),
    )
    .await;
    let (status, said) = match undone(o)? {
        Ok(_) => {
            let to = format!("/patients/{}?entered_in_error={version}", set.patient);
            return Ok(axum::response::Redirect::to(&to).into_response());
        }
        Err(failed) => failed,
    };
    let said = Said {
        correcting: Some(version),
        ..said
    };
    let page = record_page(&state, &actor, &record, SetForm::of(&set.readings), said).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub(crate) struct MissedForm {
    #[serde(default)]
    reason: String,
}

/// Observations not done: recorded with the reason, then the record page saying so.
pub(crate) async fn record_missed(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    Form(form): Form<MissedForm>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number.clone();
    let by = actor.profile.staff.username.clone();
    let blank = SetForm::default();
    let o = obs::missed(&state.store, &state.pack, &nhs, &by, &form.reason, &actor.audit_name()).await;
    match undone(o)? {
        Ok(id) => {
            let to = format!("/patients/{nhs}/observations/new?not_done={id}");
            Ok(axum::response::Redirect::to(&to).into_response())
        }
        Err((status, said)) => {
            let page = record_page(&state, &actor, &record, blank, said).await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct PregnancyForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    until: String,
}

/// Pregnancy status from the patient page: recorded, then back to the patient's page; a refusal or bad input is
/// shown with its reasons.
pub(crate) async fn record_pregnancy(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    Form(form): Form<PregnancyForm>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number;
    let until = match form.until.trim() {
        "" => None,
        u => Some(remit_domain::time::parse_date("until", u)?),
    };
    let c = obs::PregnancyChange {
        patient: nhs.clone(),
        by: actor.profile.staff.username.clone(),
        status: obs::parse_pregnancy(&form.status)?,
        until,
    };
    match obs::set_pregnancy(&state.store, &state.pack, &c, &actor.audit_name()).await? {
        Outcome::Refused(reasons) => refused_page(&actor, "Record pregnancy status", &reasons),
        Outcome::Done(_) => Ok(axum::response::Redirect::to(&format!("/patients/{nhs}")).into_response()),
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    actor: &'a Actor,
    escalations: Vec<EscalationNotice>,
    countersign: Vec<remit_services::tasks::TaskCard>,
    /// The escalations waiting for review that the reader may review (the form is shown to them).
    reviewable: BTreeSet<i64>,
    supervisees: Vec<String>,
    /// Observations recorded as not done where the reader is on duty, in the last 12 hours.
    missed: Vec<remit_store::obs::MissedObs>,
    message: Option<String>,
    reasons: Vec<String>,
}

impl InboxPage<'_> {
    /// How many of the reader's escalations wait for acknowledgement.
    fn to_acknowledge(&self) -> usize {
        obs::to_acknowledge(&self.escalations)
    }
}

async fn inbox_page(
    state: &AppState,
    actor: &Actor,
    message: Option<String>,
    reasons: Vec<String>,
) -> Result<Html<String>, AppError> {
    let me = actor.profile.staff.username.as_str();
    let mut escalations = obs::inbox(&state.store, &state.pack, me).await?;
    crate::delivery::annotate(state, &mut escalations).await?;
    let places = state.store.places().await?;
    let today = state.store.now().date_naive();
    let mut reviewable = BTreeSet::new();
    for n in escalations.iter().filter(|n| n.waiting_for == Some("review")) {
        let e = &n.escalation;
        let facts = remit_policy::PatientFacts {
            nhs_number: e.patient.clone(),
            place: PlaceCode::parse(&e.place)?,
            place_name: places
                .iter()
                .find(|p| p.code.as_str() == e.place)
                .map_or_else(String::new, |p| p.name.clone()),
        };
        if scope::may_act_on_escalation(&state.pack, &actor.profile, "escalation.review", &facts, e.level, today) {
            reviewable.insert(e.id);
        }
    }
    let countersign = state
        .store
        .list_tasks(&remit_store::task::TaskFilter {
            status: Some(remit_domain::task::TaskStatus::AwaitingCountersignature),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|t| t.supervisor.as_deref() == Some(me))
        .collect();
    let countersign =
        remit_services::tasks::cards(&state.store, &state.pack, &actor.profile.staff.username, countersign).await?;
    let supervisees = state
        .store
        .supervision_load()
        .await?
        .into_iter()
        .filter(|l| l.supervisor == me)
        .flat_map(|l| l.supervisees)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut missed = Vec::new();
    let since = state.store.now() - chrono::Duration::hours(12);
    for place in &actor.profile.on_duty {
        missed.extend(state.store.missed_obs(place.as_str(), since).await?);
    }
    render(&InboxPage {
        actor,
        reviewable,
        escalations,
        countersign,
        supervisees,
        missed,
        message,
        reasons,
    })
}

/// The escalation the inbox says its reader has just acknowledged or reviewed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustAcknowledged {
    acknowledged: Option<i64>,
    reviewed: Option<i64>,
}

pub(crate) async fn inbox(
    State(state): State<AppState>,
    actor: Actor,
    query: PageQuery<JustAcknowledged>,
) -> Result<Html<String>, AppError> {
    let saved = just_saved(query)?;
    let me = Some(actor.profile.staff.username.as_str());
    // Said only to the person who acknowledged or reviewed it, who may read the patient's record, and only while it
    // is still so: an escalation raised again since waits for acknowledgement again, and the open inbox (which
    // refreshes itself at this address) must go on showing it, not an error.
    let escalation = match saved.acknowledged.or(saved.reviewed) {
        Some(id) => match state.store.escalation(id).await {
            Ok(e) => Some(e),
            Err(remit_store::StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let message = match (escalation, saved.acknowledged.is_some()) {
        (Some(e), true) if e.acknowledged_by.as_deref() == me => {
            Some(format!("Escalation {} for {} acknowledged.", e.id, e.patient_name))
        }
        (Some(e), false) if e.reviewed_by.as_deref() == me => Some(format!(
            "Escalation {} for {} reviewed and closed.",
            e.id, e.patient_name
        )),
        _ => None,
    };
    inbox_page(&state, &actor, message, Vec::new()).await
}

pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let by = actor.profile.staff.username.clone();
    match obs::acknowledge(&state.store, &state.pack, id, &by, &actor.audit_name()).await? {
        Outcome::Refused(reasons) => {
            let page = inbox_page(&state, &actor, None, reasons).await?;
            Ok((StatusCode::FORBIDDEN, page).into_response())
        }
        Outcome::Done(n) => {
            let to = format!("/inbox?acknowledged={}", n.escalation.id);
            Ok(axum::response::Redirect::to(&to).into_response())
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    #[serde(default)]
    note: String,
}

/// The clinical review of an escalation, from the inbox: it closes the escalation.
pub(crate) async fn review(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let by = actor.profile.staff.username.clone();
    let reasons = match obs::review(&state.store, &state.pack, id, &by, &form.note, &actor.audit_name()).await {
        Ok(Outcome::Done(n)) => {
            let to = format!("/inbox?reviewed={}", n.escalation.id);
            return Ok(axum::response::Redirect::to(&to).into_response());
        }
        Ok(Outcome::Refused(reasons)) => (StatusCode::FORBIDDEN, reasons),
        Err(remit_store::StoreError::Invalid(m)) => (StatusCode::UNPROCESSABLE_ENTITY, vec![m]),
        Err(e) => return Err(e.into()),
    };
    let page = inbox_page(&state, &actor, None, reasons.1).await?;
    Ok((reasons.0, page).into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct PrescribeForm {
    #[serde(default)]
    medicine: String,
    #[serde(default)]
    dose: String,
    #[serde(default)]
    route: String,
    #[serde(default)]
    frequency: String,
}

#[derive(Template)]
#[template(path = "prescribe.html")]
struct PrescribePage<'a> {
    actor: &'a Actor,
    banner: Banner,
    nhs: String,
    name: String,
    form: PrescribeForm,
    error: Option<String>,
    reasons: Vec<String>,
    done: Option<String>,
}

/// The prescription the prescribe page says its reader has just made.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct JustPrescribed {
    prescribed: Option<i64>,
    /// A break-glass reason, which the gate reads.
    #[serde(rename = "break_glass")]
    _break_glass: Option<serde::de::IgnoredAny>,
}

pub(crate) async fn prescribe_page(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    query: PageQuery<JustPrescribed>,
) -> Result<Response, AppError> {
    let banner = Banner::of_record(&record, london_date(state.store.now()));
    let p = record.patient;
    let done = match just_saved(query)?.prescribed {
        Some(id) => {
            let found = state.store.prescription(id).await?;
            let rx = found.content;
            if found.patient != p.nhs_number || found.by != actor.profile.staff.username.as_str() {
                return Err(AppError::NotFound(format!(
                    "no prescription {id} of yours for this patient"
                )));
            }
            Some(format!(
                "Prescribed: {} {} {} {}.",
                rx.medicine,
                rx.dose,
                rx.route.as_str(),
                rx.frequency
            ))
        }
        None => None,
    };
    render(&PrescribePage {
        actor: &actor,
        banner,
        nhs: p.nhs_number.to_string(),
        name: p.display_name(),
        form: PrescribeForm::default(),
        error: None,
        reasons: Vec::new(),
        done,
    })
    .map(IntoResponse::into_response)
}

pub(crate) async fn prescribe(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    Form(form): Form<PrescribeForm>,
) -> Result<Response, AppError> {
    let banner = Banner::of_record(&record, london_date(state.store.now()));
    let p = record.patient;
    let nhs = p.nhs_number.clone();
    let mut page = PrescribePage {
        actor: &actor,
        banner,
        nhs: nhs.to_string(),
        name: p.display_name(),
        form,
        error: None,
        reasons: Vec::new(),
        done: None,
    };
    let f = &page.form;
    let rx = match Prescription::parse(&f.medicine, &f.dose, &f.route, &f.frequency) {
        Ok(rx) => rx,
        Err(e) => {
            page.error = Some(e.to_string());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    let by = actor.profile.staff.username.clone();
    match remit_services::imaging::prescribe(&state.store, &state.pack, &nhs, &by, &rx, &actor.audit_name()).await? {
        Outcome::Refused(reasons) => {
            page.reasons = reasons;
            Ok((StatusCode::FORBIDDEN, render(&page)?).into_response())
        }
        Outcome::Done(r) => {
            let to = format!("/patients/{nhs}/prescribe?prescribed={}", r.id);
            Ok(axum::response::Redirect::to(&to).into_response())
        }
    }
}

/// The live score the record form shows as values are typed (`POST /api/news2/score`): the same parser and
/// engine as recording, nothing stored.
pub fn live_score(
    set: &Map<String, Value>,
    scale: Spo2Scale,
    not_scored: Option<NotScored>,
) -> Result<Value, AppError> {
    let (r, _) = Readings::from_json(set)?;
    let a = r.assess_for(scale, not_scored);
    Ok(serde_json::json!({
        "total": a.total,
        "complete": a.complete,
        "risk": a.risk.map(|k| k.as_str()),
        "risk_text": a.risk.map(|k| risk_text(k.as_str(), a.complete)),
        "not_scored": a.not_scored,
        "monitoring": a.monitoring.as_str(),
        "frequency": frequency_text(a.monitoring, a.complete, a.total.is_some()),
        "response": r.response(&a),
        "sepsis": a.sepsis_prompt(),
        "parameters": a.parameters,
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::SetForm;

    fn typed() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,12}",
            "[ ]?-?[0-9]{0,4}(\\.[0-9]{0,3})?[eE]?[0-9]{0,3}[ ]?",
            proptest::sample::select(vec![
                "alert",
                "new-confusion",
                "voice",
                "pain",
                "unresponsive",
                "yes",
                "no",
                ""
            ])
            .prop_map(str::to_owned),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Whatever is typed into the set form, it reads as a set within range or as an error naming the field.
        #[test]
        fn the_set_form_at_random(
            f in proptest::collection::vec(typed(), 11),
            absent in proptest::collection::vec(
                proptest::sample::select(vec!["", "", "not-obtained", "refused", "snorkel"]), 5),
        ) {
            let form = SetForm {
                respiration_rate: f[0].clone(),
                spo2: f[1].clone(),
                on_oxygen: f[2].clone(),
                oxygen_flow: f[3].clone(),
                oxygen_device: String::new(),
                systolic_bp: f[4].clone(),
                diastolic_bp: f[5].clone(),
                pulse: f[6].clone(),
                consciousness: f[7].clone(),
                temperature: f[8].clone(),
                supervisor: f[9].clone(),
                missing_reason: f[10].clone(),
                change_reason: String::new(),
                respiration_rate_absence: absent[0].into(),
                spo2_absence: absent[1].into(),
                systolic_bp_absence: absent[2].into(),
                pulse_absence: absent[3].into(),
                temperature_absence: absent[4].into(),
            };
            match form.readings() {
                Ok(r) => {
                    prop_assert!(r.validate().is_ok(), "{r:?}");
                    // The correction form, filled with what was read, reads back the same.
                    let again = SetForm::of(&r).readings().map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(again, r);
                }
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(text.contains(':'), "the error names the field: {text}");
                }
            }
        }

        /// Values in range, typed as people type them, always read.
        #[test]
        fn values_in_range_read(rr in 0u8..=80, spo2 in 0u8..=100, sbp in 0u16..=300, pulse in 0u16..=300,
                                t in 250u16..=450, pad in "[ ]{0,2}") {
            let form = SetForm {
                respiration_rate: format!("{pad}{rr}{pad}"),
                spo2: spo2.to_string(),
                systolic_bp: sbp.to_string(),
                pulse: pulse.to_string(),
                consciousness: "alert".into(),
                temperature: format!("{}.{}", t / 10, t % 10),
                ..SetForm::default()
            };
            let r = form.readings();
            prop_assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn a_correction_keeps_each_reason_a_parameter_was_missed_for() {
        use remit_domain::obs::{Absence, Missing, Param, Readings};
        let missed = |parameter, absence, reason: &str| Missing {
            parameter,
            absence,
            reason: reason.into(),
        };
        let mut r = Readings {
            missing: vec![
                missed(Param::Pulse, Absence::Refused, "asleep"),
                missed(Param::Temperature, Absence::NotObtained, "probe broken"),
            ],
            ..Readings::default()
        };
        let form = SetForm::of(&r);
        assert_eq!(form.missing_reason, "Pulse: asleep; Temperature: probe broken");
        assert_eq!(
            (form.pulse_absence.as_str(), form.temperature_absence.as_str()),
            ("refused", "not-obtained")
        );
        r.missing[1].reason = "asleep".into();
        assert_eq!(SetForm::of(&r).missing_reason, "asleep");
    }

    #[test]
    fn each_parameter_is_measured_or_marked_and_consciousness_is_always_given() {
        let full = SetForm {
            respiration_rate: "18".into(),
            spo2: "97".into(),
            systolic_bp: "120".into(),
            pulse: "80".into(),
            consciousness: "alert".into(),
            temperature: "37.0".into(),
            ..SetForm::default()
        };
        assert!(full.readings().is_ok());
        // A blank value that is not marked: the field is named.
        let blank = SetForm {
            pulse: String::new(),
            ..full.clone()
        };
        assert!(blank.readings().err().unwrap().to_string().contains("pulse"));
        // Marked refused, with a reason: recorded as refused.
        let refused = SetForm {
            pulse_absence: "refused".into(),
            missing_reason: "declined, asleep".into(),
            ..blank.clone()
        };
        let r = refused.readings().unwrap();
        assert_eq!(r.missing.len(), 1);
        assert_eq!(r.missing[0].absence, remit_domain::obs::Absence::Refused);
        // Marked, without a reason: refused, naming the field.
        let no_reason = SetForm {
            pulse_absence: "not-obtained".into(),
            ..blank
        };
        assert!(no_reason.readings().err().unwrap().to_string().contains("pulse"));
        // Consciousness left blank: the set is refused, naming it.
        let no_acvpu = SetForm {
            consciousness: String::new(),
            ..full
        };
        assert!(no_acvpu.readings().err().unwrap().to_string().contains("consciousness"));
    }
}
