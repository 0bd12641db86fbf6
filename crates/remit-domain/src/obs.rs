//! A set of observations as it is taken at the bedside: the seven NEWS2 parameters, any of which may be missing for a
//! stated reason (could not be obtained, or the patient refused), plus diastolic blood pressure and oxygen delivery.
//! A complete set is scored by [`crate::news2`]; an incomplete one is scored on what was obtained, marked
//! incomplete, and due again sooner. The escalation a score calls for (Chart 4) and the next due time follow.

use crate::nhs::NhsNumber;
use crate::time::format_instant;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{InvalidValue, echo};
use crate::news2::{
    self, Consciousness, Monitoring, ParameterScores, Risk, Spo2Scale, VitalSigns, air_or_oxygen_score,
    consciousness_score, pulse_score, respiration_rate_score, spo2_score, systolic_bp_score, temperature_score,
};
use crate::staff::named_enum;

named_enum!(
    /// A NEWS2 parameter that is measured (air or oxygen is always known, so it is not among them).
    Param, "parameter", {
        RespirationRate => "respiration_rate",
        Spo2 => "spo2",
        SystolicBp => "systolic_bp",
        Pulse => "pulse",
        Consciousness => "consciousness",
        Temperature => "temperature",
    }
);

impl Param {
    /// The name people read.
    pub fn title(self) -> &'static str {
        match self {
            Param::RespirationRate => "Respiration rate",
            Param::Spo2 => "SpO2",
            Param::SystolicBp => "Systolic blood pressure",
            Param::Pulse => "Pulse",
            Param::Consciousness => "Consciousness",
            Param::Temperature => "Temperature",
        }
    }
}

named_enum!(
    /// Why a parameter is missing from a set.
    Absence, "absence", {
        NotObtained => "not-obtained",
        Refused => "refused",
    }
);

named_enum!(
    /// How oxygen is given (only when the patient is on oxygen).
    OxygenDevice, "oxygen_device", {
        NasalCannula => "nasal-cannula",
        SimpleMask => "simple-mask",
        VenturiMask => "venturi-mask",
        ReservoirMask => "reservoir-mask",
        HighFlow => "high-flow",
        Cpap => "cpap",
        Niv => "niv",
        Other => "other",
    }
);

impl Absence {
    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            Absence::NotObtained => "not obtained",
            Absence::Refused => "refused",
        }
    }
}

/// A parameter that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub parameter: Param,
    pub absence: Absence,
    pub reason: String,
}

/// What was observed. Each of the six measured parameters is either present or listed in `missing` with a reason,
/// never both and never neither.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Readings {
    pub respiration_rate: Option<u8>,
    pub spo2: Option<u8>,
    pub on_oxygen: bool,
    /// Tenths of a litre a minute, 0–600 (0.0–60.0 L/min); only on oxygen.
    pub oxygen_flow_tenths: Option<u16>,
    pub oxygen_device: Option<OxygenDevice>,
    pub systolic_bp: Option<u16>,
    pub diastolic_bp: Option<u16>,
    pub pulse: Option<u16>,
    #[serde(serialize_with = "ser_consciousness")]
    pub consciousness: Option<Consciousness>,
    pub temperature_tenths: Option<u16>,
    pub missing: Vec<Missing>,
}

fn ser_consciousness<S: serde::Serializer>(c: &Option<Consciousness>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(c.as_str()),
        None => s.serialize_none(),
    }
}

/// The score of a set, complete or not, or why it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Each parameter's score; `None` for a parameter that is missing, and for all of them when NEWS2 does not
    /// apply.
    pub parameters: PartialScores,
    /// The sum of the scores obtained (for an incomplete set, a lower bound of the true score); `None` when NEWS2
    /// does not apply to the patient.
    pub total: Option<u8>,
    pub complete: bool,
    /// Chart 3's risk; `None` when NEWS2 does not apply.
    pub risk: Option<Risk>,
    pub monitoring: Monitoring,
    /// The escalation this set calls for, if any.
    pub escalation: Option<EscalationLevel>,
    /// Why NEWS2 does not apply to this patient, when it does not.
    pub not_scored: Option<NotScored>,
}

/// Why a set is given no NEWS2 score: the RCP says NEWS2 is not for under-16s or in pregnancy (a paediatric or
/// maternity early warning chart is used there). The readings are kept and the registered nurse judges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotScored {
    /// Under 16 on the day the set was taken.
    Under16,
    /// Recorded as pregnant.
    Pregnant,
    /// Recorded as up to six weeks after giving birth.
    Postpartum,
}

impl NotScored {
    pub const ALL: [NotScored; 3] = [Self::Under16, Self::Pregnant, Self::Postpartum];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Under16 => "under-16",
            Self::Pregnant => "pregnant",
            Self::Postpartum => "postpartum",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The sentence people read.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Under16 => "NEWS2 does not apply: under 16 — use the paediatric early warning chart",
            Self::Pregnant => "NEWS2 does not apply: pregnant — use the maternity early warning chart",
            Self::Postpartum => {
                "NEWS2 does not apply: within six weeks of giving birth — use the maternity early warning chart"
            }
        }
    }

    /// Whether NEWS2 applies to a patient born on `born`, with `pregnancy` recorded, for a set taken on `taken_on`.
    /// Under 16 means before the 16th birthday (29 February counts as 1 March in other years).
    pub fn of(born: NaiveDate, pregnancy: Option<&PregnancyRecord>, taken_on: NaiveDate) -> Option<Self> {
        if taken_on < sixteenth_birthday(born) {
            return Some(Self::Under16);
        }
        match pregnancy {
            Some(p) if p.until.is_none_or(|until| taken_on <= until) => Some(match p.status {
                PregnancyStatus::Pregnant => Self::Pregnant,
                PregnancyStatus::Postpartum => Self::Postpartum,
            }),
            _ => None,
        }
    }
}

impl Serialize for NotScored {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sentence())
    }
}

fn sixteenth_birthday(born: NaiveDate) -> NaiveDate {
    let year = born.year() + 16;
    NaiveDate::from_ymd_opt(year, born.month(), born.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

named_enum!(
    /// Pregnancy as recorded on a patient's record, for whether NEWS2 applies.
    PregnancyStatus, "pregnancy", {
        Pregnant => "pregnant",
        Postpartum => "postpartum",
    }
);

/// A patient recorded as pregnant or recently delivered, until a date (inclusive) or, for a pregnancy, until it is
/// recorded otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PregnancyRecord {
    #[serde(serialize_with = "ser_status")]
    pub status: PregnancyStatus,
    pub until: Option<NaiveDate>,
}

fn ser_status<S: serde::Serializer>(p: &PregnancyStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// How long after giving birth NEWS2 is not used (the RCP: the maternity chart applies up to six weeks).
pub const POSTPARTUM_DAYS: i64 = 42;

impl PregnancyRecord {
    /// A status as recorded on `today`: `pregnant` with an optional end, `postpartum` until the end given, at most
    /// six weeks from today (the person recording it knows the birth: six weeks after it). An end before today is
    /// refused.
    pub fn new(status: PregnancyStatus, until: Option<NaiveDate>, today: NaiveDate) -> Result<Self, InvalidValue> {
        if let Some(u) = until
            && u < today
        {
            return Err(InvalidValue::new("until", format!("`{u}` is in the past")));
        }
        let until = match status {
            PregnancyStatus::Pregnant => until,
            PregnancyStatus::Postpartum => {
                let latest = today + Duration::days(POSTPARTUM_DAYS);
                match until {
                    Some(u) if u > latest => {
                        return Err(InvalidValue::new(
                            "until",
                            format!(
                                "`{u}` is more than six weeks from today: NEWS2 is not used up to six weeks after birth"
                            ),
                        ));
                    }
                    Some(u) => Some(u),
                    None => {
                        return Err(InvalidValue::new(
                            "until",
                            "give the last day NEWS2 is not used: six weeks after the birth (at most six weeks from \
                             today)",
                        ));
                    }
                }
            }
        };
        Ok(Self { status, until })
    }
}

/// Parameter scores with gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartialScores {
    pub respiration_rate: Option<u8>,
    pub spo2: Option<u8>,
    pub air_or_oxygen: Option<u8>,
    pub systolic_bp: Option<u8>,
    pub pulse: Option<u8>,
    pub consciousness: Option<u8>,
    pub temperature: Option<u8>,
}

impl PartialScores {
    fn filled(&self) -> ParameterScores {
        ParameterScores {
            respiration_rate: self.respiration_rate.unwrap_or(0),
            spo2: self.spo2.unwrap_or(0),
            air_or_oxygen: self.air_or_oxygen.unwrap_or(0),
            systolic_bp: self.systolic_bp.unwrap_or(0),
            pulse: self.pulse.unwrap_or(0),
            consciousness: self.consciousness.unwrap_or(0),
            temperature: self.temperature.unwrap_or(0),
        }
    }

    /// The score of one parameter by its name (`air_or_oxygen` included).
    pub fn get(&self, name: &str) -> Option<u8> {
        match name {
            "respiration_rate" => self.respiration_rate,
            "spo2" => self.spo2,
            "air_or_oxygen" => self.air_or_oxygen,
            "systolic_bp" => self.systolic_bp,
            "pulse" => self.pulse,
            "consciousness" => self.consciousness,
            "temperature" => self.temperature,
            _ => None,
        }
    }
}

/// The rows of the chart, in the order of the RCP observation chart.
pub const CHART_ROWS: [&str; 7] = [
    "respiration_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
];

/// The response a score calls for (Chart 4), from the lowest to the highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EscalationLevel {
    /// Total 1–4: inform the registered nurse.
    Ward,
    /// A single parameter scoring 3: the registered nurse informs the medical team.
    SingleRed,
    /// Total 5–6.
    Urgent,
    /// Total 7 or more.
    Emergency,
}

impl EscalationLevel {
    pub const ALL: [EscalationLevel; 4] = [Self::Ward, Self::SingleRed, Self::Urgent, Self::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ward => "ward",
            Self::SingleRed => "single-red",
            Self::Urgent => "urgent",
            Self::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| InvalidValue::new("level", format!("`{}` is not an escalation level", echo(s))))
    }

    /// The level a scored set calls for: none for a total of 0.
    pub fn of(total: u8, risk: Risk) -> Option<Self> {
        match risk {
            Risk::High => Some(Self::Emergency),
            Risk::Medium => Some(Self::Urgent),
            Risk::LowMedium => Some(Self::SingleRed),
            Risk::Low if total > 0 => Some(Self::Ward),
            Risk::Low => None,
        }
    }

    /// Whether the medical team must review the patient (everything above a ward-level response).
    pub fn needs_medical_review(self) -> bool {
        self != Self::Ward
    }

    /// The sepsis prompt for an escalation at this level: every level above a ward response is a NEWS2 of 5 or
    /// more or a single parameter scoring 3, which NICE NG51 (1.1.4, 1.2) asks to be screened for sepsis.
    pub fn sepsis_prompt(self) -> Option<&'static str> {
        (self != Self::Ward).then_some(SEPSIS_PROMPT)
    }

    /// The clinical response, in the words of Chart 4.
    pub fn response(self) -> &'static str {
        match self {
            Self::Ward => {
                "Inform the registered nurse, who assesses the patient and decides on the frequency of \
                 monitoring and whether to escalate."
            }
            Self::SingleRed => {
                "The registered nurse informs the medical team caring for the patient, who review and \
                 decide whether to escalate care."
            }
            Self::Urgent => {
                "Urgent response: the registered nurse immediately informs the medical team; urgent \
                 assessment by a clinician competent in the assessment of acutely ill patients; provide clinical care \
                 in an environment with monitoring facilities."
            }
            Self::Emergency => {
                "Emergency response: the registered nurse immediately informs the medical team (at \
                 least specialist registrar level); emergency assessment by a team with critical-care competencies, \
                 including airway management; consider transfer to a level 2 or 3 care facility."
            }
        }
    }
}

impl Serialize for EscalationLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How often a patient must be observed at least, by the monitoring the last set called for. NEWS2 gives minimum
/// frequencies; remit takes the stricter end of each (4-hourly for "4–6-hourly") and, for "continuous", expects a
/// recorded set every 15 minutes.
pub fn monitoring_interval(m: Monitoring) -> Duration {
    match m {
        Monitoring::TwelveHourly => Duration::hours(12),
        Monitoring::FourToSixHourly => Duration::hours(4),
        Monitoring::Hourly => Duration::hours(1),
        Monitoring::Continuous => Duration::minutes(15),
    }
}

/// How often the next observations are due, in words: "at least every 4 hours", or within the hour for an
/// incomplete or unscored set.
pub fn frequency_text(m: Monitoring, complete: bool, scored: bool) -> &'static str {
    if !scored {
        return "within the hour, unless the registered nurse decides otherwise";
    }
    if !complete {
        return "within the hour: the set is incomplete";
    }
    match m {
        Monitoring::TwelveHourly => "at least every 12 hours",
        Monitoring::FourToSixHourly => "at least every 4 hours (Chart 4: 4–6-hourly)",
        Monitoring::Hourly => "at least hourly",
        Monitoring::Continuous => "continuous monitoring: a set at least every 15 minutes",
    }
}

/// An incomplete set is repeated within this time at most: what could not be measured must be tried again soon.
pub const INCOMPLETE_RECHECK: Duration = Duration::hours(1);

/// Chart 4's response to a complete set scoring 0.
pub const ROUTINE: &str = "Continue routine monitoring.";

/// The sepsis prompt (NICE NG51: NEWS2 of 5 or more, or a single parameter scoring 3, in a patient who might have an
/// infection).
pub const SEPSIS_PROMPT: &str = "Could this be sepsis? NEWS2 is 5 or more, or a single parameter scores 3: if the \
     patient might have an infection, carry out a sepsis screen now (NICE NG51).";

impl Assessment {
    /// The sepsis prompt, when the set calls for one: a NEWS2 of 5 or more or a single parameter scoring 3 (for an
    /// incomplete set, on what was obtained, which can only be an underestimate).
    pub fn sepsis_prompt(&self) -> Option<&'static str> {
        let total = self.total?;
        let red = [
            self.parameters.respiration_rate,
            self.parameters.spo2,
            self.parameters.air_or_oxygen,
            self.parameters.systolic_bp,
            self.parameters.pulse,
            self.parameters.consciousness,
            self.parameters.temperature,
        ]
        .contains(&Some(3));
        (total >= 5 || red).then_some(SEPSIS_PROMPT)
    }

    /// When the next set is due after one taken at `taken_at`.
    pub fn next_due(&self, taken_at: DateTime<Utc>) -> DateTime<Utc> {
        let interval = monitoring_interval(self.monitoring);
        let interval = if self.complete {
            interval
        } else {
            interval.min(INCOMPLETE_RECHECK)
        };
        taken_at + interval
    }
}

/// The fields of a set as the API and the CLI receive it (besides `missing`, the list of what was not obtained).
pub const SET_FIELDS: [&str; 11] = [
    "respiration_rate",
    "spo2",
    "spo2_scale",
    "on_oxygen",
    "oxygen_flow",
    "oxygen_device",
    "systolic_bp",
    "diastolic_bp",
    "pulse",
    "consciousness",
    "temperature",
];

impl Readings {
    /// Checks that each measured parameter is present or missing with a reason, and that oxygen delivery and
    /// diastolic pressure make sense.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if Param::ALL.iter().all(|p| !self.is_present(*p)) {
            return Err(InvalidValue::new(
                "set",
                "nothing was obtained, so this is not a set: record that the observations were not done and why \
                 (`remit obs missed`, or \"Observations not done\" on the record page); the patient stays overdue \
                 and the registered nurse is told",
            ));
        }
        if self.consciousness.is_none() && self.missing.iter().any(|m| m.parameter == Param::Consciousness) {
            return Err(InvalidValue::new(
                "consciousness",
                "cannot be left out: consciousness (ACVPU) can always be assessed — a sleeping patient is woken, \
                 one who cannot be roused is U (unresponsive)",
            ));
        }
        for p in Param::ALL {
            let present = self.is_present(*p);
            let missing: Vec<&Missing> = self.missing.iter().filter(|m| m.parameter == *p).collect();
            match (present, missing.len()) {
                (true, 0) | (false, 1) => {}
                (true, _) => {
                    return Err(InvalidValue::new(
                        p.as_str(),
                        "is recorded and also listed as missing: give one or the other",
                    ));
                }
                (false, 0) if *p == Param::Consciousness => {
                    return Err(InvalidValue::new(
                        p.as_str(),
                        "is missing: assess it (alert, new-confusion, voice, pain or unresponsive)",
                    ));
                }
                (false, 0) => {
                    return Err(InvalidValue::new(
                        p.as_str(),
                        "is missing: record it, or list it under missing with a reason (not-obtained or refused)",
                    ));
                }
                (false, _) => return Err(InvalidValue::new(p.as_str(), "is listed as missing more than once")),
            }
        }
        for m in &self.missing {
            if m.reason.trim().is_empty() {
                return Err(InvalidValue::new(
                    m.parameter.as_str(),
                    "is missing without a reason: say why it could not be recorded",
                ));
            }
            if m.reason.chars().count() > 500 {
                return Err(InvalidValue::new("reason", "is longer than 500 characters"));
            }
        }
        if !self.on_oxygen {
            if self.oxygen_flow_tenths.is_some_and(|f| f > 0) {
                return Err(InvalidValue::new(
                    "oxygen_flow",
                    "is above 0 but the patient is recorded as breathing air",
                ));
            }
            if self.oxygen_device.is_some() {
                return Err(InvalidValue::new(
                    "oxygen_device",
                    "is given but the patient is recorded as breathing air",
                ));
            }
        } else if self.oxygen_flow_tenths == Some(0) {
            return Err(InvalidValue::new(
                "oxygen_flow",
                "is 0 but the patient is recorded as on oxygen",
            ));
        }
        if let Some(f) = self.oxygen_flow_tenths
            && f > 600
        {
            return Err(InvalidValue::new(
                "oxygen_flow",
                format!("`{}` is outside the accepted 0–60 L/min", tenths(f)),
            ));
        }
        if let Some(d) = self.diastolic_bp {
            if d > 300 {
                return Err(InvalidValue::new(
                    "diastolic_bp",
                    format!("`{d}` is outside the accepted 0–300"),
                ));
            }
            match self.systolic_bp {
                Some(s) if d >= s => {
                    return Err(InvalidValue::new(
                        "diastolic_bp",
                        format!("`{d}` is not below the systolic pressure `{s}`"),
                    ));
                }
                None => {
                    return Err(InvalidValue::new(
                        "diastolic_bp",
                        "is given without a systolic pressure",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn is_present(&self, p: Param) -> bool {
        match p {
            Param::RespirationRate => self.respiration_rate.is_some(),
            Param::Spo2 => self.spo2.is_some(),
            Param::SystolicBp => self.systolic_bp.is_some(),
            Param::Pulse => self.pulse.is_some(),
            Param::Consciousness => self.consciousness.is_some(),
            Param::Temperature => self.temperature_tenths.is_some(),
        }
    }

    /// The complete NEWS2 set, when nothing is missing.
    pub fn vital_signs(&self, scale: Spo2Scale) -> Option<VitalSigns> {
        Some(VitalSigns {
            respiration_rate: self.respiration_rate?,
            spo2: self.spo2?,
            spo2_scale: scale,
            on_oxygen: self.on_oxygen,
            systolic_bp: self.systolic_bp?,
            pulse: self.pulse?,
            consciousness: self.consciousness?,
            temperature_tenths: self.temperature_tenths?,
        })
    }

    /// Scores the set for a patient NEWS2 applies to (see [`Readings::assess_for`]).
    pub fn assess(&self, scale: Spo2Scale) -> Assessment {
        self.assess_for(scale, None)
    }

    /// Scores the set. A complete set is scored by the NEWS2 engine as it is; an incomplete one by the same rules
    /// over what was obtained, so its total and risk can only be an underestimate and it is marked so, and it is
    /// always put in front of the registered nurse (at least a ward-level escalation). Where NEWS2 does not apply
    /// (`not_scored`), no score is given: the set goes to the registered nurse for clinical judgement and is due
    /// again within the hour.
    pub fn assess_for(&self, scale: Spo2Scale, not_scored: Option<NotScored>) -> Assessment {
        let complete = self.vital_signs(scale).is_some();
        if let Some(why) = not_scored {
            return Assessment {
                parameters: PartialScores::default(),
                total: None,
                complete,
                risk: None,
                monitoring: Monitoring::Hourly,
                escalation: Some(EscalationLevel::Ward),
                not_scored: Some(why),
            };
        }
        if let Some(v) = self.vital_signs(scale) {
            let s = v.score();
            let p = s.parameters;
            return Assessment {
                parameters: PartialScores {
                    respiration_rate: Some(p.respiration_rate),
                    spo2: Some(p.spo2),
                    air_or_oxygen: Some(p.air_or_oxygen),
                    systolic_bp: Some(p.systolic_bp),
                    pulse: Some(p.pulse),
                    consciousness: Some(p.consciousness),
                    temperature: Some(p.temperature),
                },
                total: Some(s.score),
                complete: true,
                risk: Some(s.risk),
                monitoring: s.monitoring,
                escalation: EscalationLevel::of(s.score, s.risk),
                not_scored: None,
            };
        }
        let parameters = PartialScores {
            respiration_rate: self.respiration_rate.map(respiration_rate_score),
            spo2: self.spo2.map(|v| spo2_score(v, scale, self.on_oxygen)),
            air_or_oxygen: Some(air_or_oxygen_score(self.on_oxygen)),
            systolic_bp: self.systolic_bp.map(systolic_bp_score),
            pulse: self.pulse.map(pulse_score),
            consciousness: self.consciousness.map(consciousness_score),
            temperature: self.temperature_tenths.map(temperature_score),
        };
        let filled = parameters.filled();
        let (risk, monitoring) = news2::risk_of(&filled);
        // What could not be measured is tried again within the hour: never less often than hourly.
        let monitoring = match monitoring {
            Monitoring::TwelveHourly | Monitoring::FourToSixHourly => Monitoring::Hourly,
            stricter => stricter,
        };
        let total = filled.total();
        Assessment {
            parameters,
            total: Some(total),
            complete: false,
            risk: Some(risk),
            monitoring,
            // An incomplete set is never routine: at least the registered nurse is told.
            escalation: EscalationLevel::of(total, risk).or(Some(EscalationLevel::Ward)),
            not_scored: None,
        }
    }

    /// The parameters not obtained, in words: "Temperature (refused: asleep); Pulse (not obtained: …)".
    pub fn missing_text(&self) -> String {
        self.missing
            .iter()
            .map(|m| format!("{} ({}: {})", m.parameter.title(), m.absence.words(), m.reason))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// What a set calls for, in words: Chart 4's response, or for an incomplete set that response with what is
    /// missing and the lower bound, or why NEWS2 does not apply. Only a complete set scoring 0 reads "continue
    /// routine monitoring".
    pub fn response(&self, a: &Assessment) -> String {
        if let Some(why) = a.not_scored {
            return format!(
                "{}. The registered nurse is told and judges the patient's condition clinically; repeat the \
                 observations within the hour unless they decide otherwise.",
                why.sentence()
            );
        }
        let chart4 = a.escalation.map_or(ROUTINE, EscalationLevel::response);
        if a.complete {
            return chart4.to_owned();
        }
        format!(
            "Incomplete set — not obtained: {}. NEWS2 is at least {}. {chart4} Repeat the set within the hour.",
            self.missing_text(),
            a.total.unwrap_or(0)
        )
    }

    /// What an escalation raised by this set says beyond its score: why there is no score, or what is missing.
    pub fn escalation_about(&self, a: &Assessment) -> Option<String> {
        if let Some(why) = a.not_scored {
            return Some(format!("{}: the registered nurse judges this set", why.sentence()));
        }
        (!a.complete).then(|| {
            format!(
                "Incomplete set: {} not obtained; NEWS2 is at least {}",
                self.missing
                    .iter()
                    .map(|m| m.parameter.title())
                    .collect::<Vec<_>>()
                    .join(", "),
                a.total.unwrap_or(0)
            )
        })
    }

    /// Parses a set as the API and the CLI receive it: the NEWS2 fields (each optional when listed under
    /// `missing`), plus `diastolic_bp`, `oxygen_flow` (L/min) and `oxygen_device`. Unknown keys are refused.
    /// Returns the readings and the requested SpO2 scale, if one was named.
    pub fn from_json(obj: &Map<String, Value>) -> Result<(Self, Option<Spo2Scale>), InvalidValue> {
        if let Some(k) = obj
            .keys()
            .find(|k| !SET_FIELDS.contains(&k.as_str()) && k.as_str() != "missing")
        {
            return Err(InvalidValue::new(
                "set",
                format!(
                    "`{}` is not a field of an observation set (fields: {}, missing)",
                    echo(k),
                    SET_FIELDS.join(", ")
                ),
            ));
        }
        let int = |name: &'static str, max: i64| -> Result<Option<i64>, InvalidValue> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    let n = v.as_i64().ok_or_else(|| {
                        InvalidValue::new(name, format!("`{}` is not a whole number", echo(&v.to_string())))
                    })?;
                    if !(0..=max).contains(&n) {
                        return Err(InvalidValue::new(
                            name,
                            format!("`{n}` is outside the accepted 0–{max}"),
                        ));
                    }
                    Ok(Some(n))
                }
            }
        };
        let scale = match int("spo2_scale", 2)? {
            None => None,
            Some(1) => Some(Spo2Scale::One),
            Some(2) => Some(Spo2Scale::Two),
            Some(n) => return Err(InvalidValue::new("spo2_scale", format!("`{n}` is not 1 or 2"))),
        };
        let on_oxygen = match obj.get("on_oxygen") {
            Some(Value::Bool(b)) => *b,
            None | Some(Value::Null) => {
                return Err(InvalidValue::new(
                    "on_oxygen",
                    "is missing: say whether the patient is breathing air (false) or on oxygen (true)",
                ));
            }
            Some(v) => {
                return Err(InvalidValue::new(
                    "on_oxygen",
                    format!("`{}` is not true or false", echo(&v.to_string())),
                ));
            }
        };
        let consciousness = match obj.get("consciousness") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Consciousness::parse(s).ok_or_else(|| {
                InvalidValue::new(
                    "consciousness",
                    format!(
                        "`{}` is not one of alert, new-confusion, voice, pain, unresponsive",
                        echo(s)
                    ),
                )
            })?),
            Some(v) => {
                return Err(InvalidValue::new(
                    "consciousness",
                    format!(
                        "`{}` is not one of alert, new-confusion, voice, pain, unresponsive",
                        echo(&v.to_string())
                    ),
                ));
            }
        };
        let temperature_tenths = match obj.get("temperature") {
            None | Some(Value::Null) => None,
            Some(v) => Some(news2::temperature(v)?),
        };
        let oxygen_flow_tenths = match obj.get("oxygen_flow") {
            None | Some(Value::Null) => None,
            Some(v) => Some(flow(v)?),
        };
        let oxygen_device = match obj.get("oxygen_device") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(OxygenDevice::parse(s)?),
            Some(v) => return Err(OxygenDevice::parse(&v.to_string()).unwrap_err()),
        };
        let missing = match obj.get("missing") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(missing_from_json).collect::<Result<_, _>>()?,
            Some(v) => {
                return Err(InvalidValue::new(
                    "missing",
                    format!("`{}` is not a list", echo(&v.to_string())),
                ));
            }
        };
        let readings = Readings {
            respiration_rate: int("respiration_rate", 80)?.map(|n| n as u8),
            spo2: int("spo2", 100)?.map(|n| n as u8),
            on_oxygen,
            oxygen_flow_tenths,
            oxygen_device,
            systolic_bp: int("systolic_bp", 300)?.map(|n| n as u16),
            diastolic_bp: int("diastolic_bp", 300)?.map(|n| n as u16),
            pulse: int("pulse", 300)?.map(|n| n as u16),
            consciousness,
            temperature_tenths,
            missing,
        };
        readings.validate()?;
        Ok((readings, scale))
    }
}

fn missing_from_json(v: &Value) -> Result<Missing, InvalidValue> {
    let obj = v
        .as_object()
        .ok_or_else(|| InvalidValue::new("missing", "each entry is an object: {parameter, absence, reason}"))?;
    if let Some(k) = obj
        .keys()
        .find(|k| !["parameter", "absence", "reason"].contains(&k.as_str()))
    {
        return Err(InvalidValue::new(
            "missing",
            format!(
                "`{}` is not a field of a missing parameter (parameter, absence, reason)",
                echo(k)
            ),
        ));
    }
    let text = |name: &'static str| -> Result<&str, InvalidValue> {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| InvalidValue::new("missing", format!("each entry needs `{name}` as text")))
    };
    Ok(Missing {
        parameter: Param::parse(text("parameter")?)?,
        absence: Absence::parse(text("absence")?)?,
        reason: text("reason")?.trim().to_owned(),
    })
}

/// An oxygen flow in L/min with at most one decimal place, as tenths.
pub fn flow(v: &Value) -> Result<u16, InvalidValue> {
    let bad = |why: &str| InvalidValue::new("oxygen_flow", format!("`{}` {why}", echo(&v.to_string())));
    let Some(x) = v.as_f64() else {
        return Err(bad("is not a number of litres a minute"));
    };
    let t = (x * 10.0).round();
    if (x * 10.0 - t).abs() > 1e-6 {
        return Err(bad("has more than one decimal place"));
    }
    if !(0.0..=600.0).contains(&t) {
        return Err(bad("is outside the accepted 0–60 L/min"));
    }
    Ok(t as u16)
}

/// Tenths as a decimal (`375` → `37.5`).
pub fn tenths(t: u16) -> String {
    format!("{}.{}", t / 10, t % 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn full() -> Map<String, Value> {
        json!({"respiration_rate": 18, "spo2": 97, "on_oxygen": false, "systolic_bp": 120, "diastolic_bp": 80,
               "pulse": 80, "consciousness": "alert", "temperature": 37.0})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn a_complete_set_scores_as_the_engine_does() {
        let (r, scale) = Readings::from_json(&full()).unwrap();
        assert_eq!(scale, None);
        let a = r.assess(Spo2Scale::One);
        assert!(a.complete);
        assert_eq!((a.total, a.risk, a.escalation), (Some(0), Some(Risk::Low), None));
        assert_eq!(r.response(&a), ROUTINE);
        assert_eq!(a.sepsis_prompt(), None);
        assert_eq!(
            a.next_due(DateTime::UNIX_EPOCH),
            DateTime::UNIX_EPOCH + Duration::hours(12)
        );
    }

    #[test]
    fn a_missing_parameter_needs_a_reason_and_makes_the_set_incomplete() {
        let mut o = full();
        o.remove("temperature");
        let e = Readings::from_json(&o).unwrap_err();
        assert_eq!(e.field(), "temperature");
        o.insert(
            "missing".into(),
            json!([{"parameter": "temperature", "absence": "refused", "reason": " "}]),
        );
        assert!(
            Readings::from_json(&o)
                .unwrap_err()
                .to_string()
                .contains("without a reason")
        );
        o.insert(
            "missing".into(),
            json!([{"parameter": "temperature", "absence": "refused", "reason": "asleep, declined"}]),
        );
        let (r, _) = Readings::from_json(&o).unwrap();
        let a = r.assess(Spo2Scale::One);
        assert!(!a.complete);
        assert_eq!(a.parameters.temperature, None);
        assert_eq!(a.total, Some(0));
        // An incomplete set is never routine: the registered nurse is told, with what is missing.
        assert_eq!(a.escalation, Some(EscalationLevel::Ward));
        let said = r.response(&a);
        assert!(!said.contains(ROUTINE), "{said}");
        assert!(
            said.contains("Temperature (refused: asleep, declined)") && said.contains("at least 0"),
            "{said}"
        );
        assert_eq!(
            r.escalation_about(&a).as_deref(),
            Some("Incomplete set: Temperature not obtained; NEWS2 is at least 0")
        );
        // 12-hourly monitoring, but an incomplete set is repeated within the hour.
        assert_eq!(
            a.next_due(DateTime::UNIX_EPOCH),
            DateTime::UNIX_EPOCH + Duration::hours(1)
        );
        o.insert("temperature".into(), json!(37.0));
        assert!(
            Readings::from_json(&o)
                .unwrap_err()
                .to_string()
                .contains("also listed as missing")
        );
    }

    #[test]
    fn an_incomplete_set_still_escalates_on_what_it_found() {
        let mut o = full();
        o.remove("respiration_rate");
        o.insert("consciousness".into(), json!("new-confusion"));
        o.insert(
            "missing".into(),
            json!([{"parameter": "respiration_rate", "absence": "not-obtained", "reason": "agitated"}]),
        );
        let (r, _) = Readings::from_json(&o).unwrap();
        let a = r.assess(Spo2Scale::One);
        assert_eq!((a.total, a.risk), (Some(3), Some(Risk::LowMedium)));
        assert_eq!(a.sepsis_prompt(), Some(SEPSIS_PROMPT));
        assert_eq!(a.escalation, Some(EscalationLevel::SingleRed));
    }

    #[test]
    fn oxygen_and_diastolic_must_make_sense() {
        let mut o = full();
        o.insert("oxygen_flow".into(), json!(2));
        assert_eq!(Readings::from_json(&o).unwrap_err().field(), "oxygen_flow");
        o.insert("on_oxygen".into(), json!(true));
        o.insert("oxygen_device".into(), json!("nasal-cannula"));
        let (r, _) = Readings::from_json(&o).unwrap();
        assert_eq!(r.oxygen_flow_tenths, Some(20));
        o.insert("oxygen_flow".into(), json!(0));
        assert_eq!(Readings::from_json(&o).unwrap_err().field(), "oxygen_flow");
        o.insert("oxygen_flow".into(), json!(60.1));
        assert_eq!(Readings::from_json(&o).unwrap_err().field(), "oxygen_flow");
        o.insert("oxygen_flow".into(), json!(2));
        o.insert("oxygen_device".into(), json!("snorkel"));
        assert_eq!(Readings::from_json(&o).unwrap_err().field(), "oxygen_device");
        let mut o = full();
        o.insert("diastolic_bp".into(), json!(120));
        assert!(Readings::from_json(&o).unwrap_err().to_string().contains("not below"));
        let mut o = full();
        o.insert("colour".into(), json!("red"));
        assert_eq!(Readings::from_json(&o).unwrap_err().field(), "set");
    }

    #[test]
    fn an_empty_set_is_not_a_set_and_consciousness_is_always_assessed() {
        let gone = |p: &str| json!({"parameter": p, "absence": "not-obtained", "reason": "off the ward"});
        let mut o = full();
        for p in [
            "respiration_rate",
            "spo2",
            "systolic_bp",
            "diastolic_bp",
            "pulse",
            "consciousness",
            "temperature",
        ] {
            o.remove(p);
        }
        o.insert(
            "missing".into(),
            json!([
                gone("respiration_rate"),
                gone("spo2"),
                gone("systolic_bp"),
                gone("pulse"),
                gone("consciousness"),
                gone("temperature")
            ]),
        );
        let e = Readings::from_json(&o).unwrap_err();
        assert_eq!(e.field(), "set");
        assert!(e.to_string().contains("remit obs missed"), "{e}");
        // Consciousness alone listed as missing: refused, it can always be assessed.
        let mut o = full();
        o.remove("consciousness");
        o.insert("missing".into(), json!([gone("consciousness")]));
        let e = Readings::from_json(&o).unwrap_err();
        assert_eq!(e.field(), "consciousness");
        assert!(e.to_string().contains("can always be assessed"), "{e}");
        o.remove("missing");
        assert!(Readings::from_json(&o).unwrap_err().to_string().contains("assess it"));
        // Only consciousness obtained: a set (incomplete), scored on it.
        let mut o = json!({"on_oxygen": false, "consciousness": "voice"})
            .as_object()
            .unwrap()
            .clone();
        o.insert(
            "missing".into(),
            json!([
                gone("respiration_rate"),
                gone("spo2"),
                gone("systolic_bp"),
                gone("pulse"),
                gone("temperature")
            ]),
        );
        let (r, _) = Readings::from_json(&o).unwrap();
        let a = r.assess(Spo2Scale::One);
        assert_eq!((a.total, a.escalation), (Some(3), Some(EscalationLevel::SingleRed)));
    }

    #[test]
    fn news2_applies_from_the_sixteenth_birthday_and_not_in_pregnancy() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let born = d("2010-06-15");
        assert_eq!(NotScored::of(born, None, d("2026-06-14")), Some(NotScored::Under16));
        assert_eq!(NotScored::of(born, None, d("2026-06-15")), None);
        // A leap-day birthday counts from 1 March in a year without one.
        let leap = d("2008-02-29");
        assert_eq!(NotScored::of(leap, None, d("2024-02-28")), Some(NotScored::Under16));
        assert_eq!(NotScored::of(leap, None, d("2024-02-29")), None);
        assert_eq!(NotScored::of(d("2009-02-28"), None, d("2025-02-28")), None);
        let today = d("2026-12-06");
        let adult = d("1990-01-01");
        let pregnant = PregnancyRecord::new(PregnancyStatus::Pregnant, None, today).unwrap();
        assert_eq!(NotScored::of(adult, Some(&pregnant), today), Some(NotScored::Pregnant));
        assert!(PregnancyRecord::new(PregnancyStatus::Postpartum, None, today).is_err());
        let after = PregnancyRecord::new(PregnancyStatus::Postpartum, Some(d("2027-01-17")), today).unwrap();
        assert_eq!(after.until, Some(d("2027-01-17")));
        assert_eq!(
            NotScored::of(adult, Some(&after), d("2027-01-17")),
            Some(NotScored::Postpartum)
        );
        assert_eq!(NotScored::of(adult, Some(&after), d("2027-01-18")), None);
        assert!(PregnancyRecord::new(PregnancyStatus::Postpartum, Some(d("2027-01-18")), today).is_err());
        assert!(PregnancyRecord::new(PregnancyStatus::Pregnant, Some(d("2026-12-05")), today).is_err());
        // Not scored: readings kept, no total or risk, the nurse told, due within the hour.
        let (r, _) = Readings::from_json(&full()).unwrap();
        let a = r.assess_for(Spo2Scale::One, Some(NotScored::Under16));
        assert_eq!((a.total, a.risk), (None, None));
        assert_eq!(a.parameters, PartialScores::default());
        assert_eq!(a.escalation, Some(EscalationLevel::Ward));
        assert_eq!(a.sepsis_prompt(), None);
        assert_eq!(
            a.next_due(DateTime::UNIX_EPOCH),
            DateTime::UNIX_EPOCH + Duration::hours(1)
        );
        assert!(
            r.response(&a)
                .starts_with("NEWS2 does not apply: under 16 — use the paediatric early warning chart")
        );
        let json = serde_json::to_value(a).unwrap();
        assert!(json["total"].is_null() && json["risk"].is_null(), "{json}");
    }

    #[test]
    fn sepsis_is_prompted_at_5_or_a_single_3() {
        let scored = |o: Map<String, Value>| Readings::from_json(&o).unwrap().0.assess(Spo2Scale::One);
        let mut o = full();
        o.insert("pulse".into(), json!(115)); // 2
        o.insert("temperature".into(), json!(38.5)); // 1
        o.insert("respiration_rate".into(), json!(21)); // 2
        let a = scored(o.clone());
        assert_eq!((a.total, a.sepsis_prompt()), (Some(5), Some(SEPSIS_PROMPT)));
        o.insert("respiration_rate".into(), json!(20)); // 0: total 3
        assert_eq!(scored(o.clone()).sepsis_prompt(), None);
        o.insert("systolic_bp".into(), json!(90)); // 3: a single red
        assert_eq!(scored(o).sepsis_prompt(), Some(SEPSIS_PROMPT));
        for l in EscalationLevel::ALL {
            assert_eq!(l.sepsis_prompt().is_some(), l != EscalationLevel::Ward);
        }
    }

    #[test]
    fn escalation_levels_follow_chart_4() {
        assert_eq!(EscalationLevel::of(0, Risk::Low), None);
        assert_eq!(EscalationLevel::of(1, Risk::Low), Some(EscalationLevel::Ward));
        assert_eq!(EscalationLevel::of(4, Risk::Low), Some(EscalationLevel::Ward));
        assert_eq!(
            EscalationLevel::of(3, Risk::LowMedium),
            Some(EscalationLevel::SingleRed)
        );
        assert_eq!(EscalationLevel::of(5, Risk::Medium), Some(EscalationLevel::Urgent));
        assert_eq!(EscalationLevel::of(7, Risk::High), Some(EscalationLevel::Emergency));
        assert!(EscalationLevel::Ward < EscalationLevel::SingleRed);
        assert!(EscalationLevel::Urgent < EscalationLevel::Emergency);
        assert!(!EscalationLevel::Ward.needs_medical_review());
    }

    #[test]
    fn next_due_follows_the_monitoring() {
        let t = DateTime::UNIX_EPOCH;
        for (m, d) in [
            (Monitoring::TwelveHourly, Duration::hours(12)),
            (Monitoring::FourToSixHourly, Duration::hours(4)),
            (Monitoring::Hourly, Duration::hours(1)),
            (Monitoring::Continuous, Duration::minutes(15)),
        ] {
            let a = Assessment {
                parameters: PartialScores::default(),
                total: Some(0),
                complete: true,
                risk: Some(Risk::Low),
                monitoring: m,
                escalation: None,
                not_scored: None,
            };
            assert_eq!(a.next_due(t), t + d);
            let incomplete = Assessment { complete: false, ..a };
            assert_eq!(incomplete.next_due(t), t + d.min(INCOMPLETE_RECHECK));
        }
    }

    proptest! {
        /// Taking parameters away never raises the total: an incomplete set's score is a lower bound.
        #[test]
        fn an_incomplete_total_is_a_lower_bound(
            rr in 0u8..=80, spo2 in 0u8..=100, o2: bool, sbp in 0u16..=300, pulse in 0u16..=300,
            c in 0usize..5, t in 250u16..=450, drop in proptest::collection::vec(0usize..6, 0..6),
        ) {
            let mut r = Readings {
                respiration_rate: Some(rr), spo2: Some(spo2), on_oxygen: o2, systolic_bp: Some(sbp),
                pulse: Some(pulse), consciousness: Some(Consciousness::ALL[c]), temperature_tenths: Some(t),
                ..Readings::default()
            };
            let whole = r.assess(Spo2Scale::One);
            for i in drop {
                let p = Param::ALL[i];
                match p {
                    Param::RespirationRate => r.respiration_rate = None,
                    Param::Spo2 => r.spo2 = None,
                    Param::SystolicBp => r.systolic_bp = None,
                    Param::Pulse => r.pulse = None,
                    Param::Consciousness => r.consciousness = None,
                    Param::Temperature => r.temperature_tenths = None,
                }
            }
            let part = r.assess(Spo2Scale::One);
            prop_assert!(part.total <= whole.total);
            prop_assert!(part.risk <= whole.risk);
            // Never less than a ward-level escalation for an incomplete set.
            if !part.complete {
                prop_assert!(part.escalation >= Some(EscalationLevel::Ward));
            }
            prop_assert_eq!(part.complete, r.vital_signs(Spo2Scale::One).is_some());
        }
    }
}

/// A set to store (ids already resolved, already scored).
#[derive(Debug, Clone)]
pub struct NewSet {
    pub patient_id: i64,
    pub taken_at: DateTime<Utc>,
    /// When it was entered (the command's time, except for history seeded for the demo).
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: i64,
    pub supervisor_id: Option<i64>,
    pub readings: Readings,
    pub scale: Spo2Scale,
    pub assessment: Assessment,
    pub next_due_at: DateTime<Utc>,
}

/// One version of a set as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetView {
    /// This version's id.
    pub id: i64,
    /// The set's id (its first version's).
    pub set_id: i64,
    pub version: i64,
    pub patient: NhsNumber,
    pub state: String,
    pub taken_at: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub supervisor: Option<String>,
    pub spo2_scale: u8,
    pub readings: Readings,
    pub scores: PartialScores,
    /// The NEWS2 total (a lower bound for an incomplete set); `None` where NEWS2 does not apply.
    pub total: Option<u8>,
    pub risk: Option<Risk>,
    pub monitoring: Monitoring,
    pub complete: bool,
    /// Why NEWS2 does not apply to the patient, when it does not (the sentence people read).
    pub not_scored: Option<NotScored>,
    pub next_due_at: String,
    pub change_reason: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Option<String>,
}

impl SetView {
    /// The first version [`WriteTx::insert_set`] stored as `id` (set `set_id`) from `s`: what reading it back would
    /// give, without the read.
    pub fn inserted(
        s: &NewSet,
        id: i64,
        set_id: i64,
        patient: &NhsNumber,
        recorded_by: &str,
        supervisor: Option<&str>,
    ) -> Self {
        let a = &s.assessment;
        Self {
            id,
            set_id,
            version: 1,
            patient: patient.clone(),
            state: "current".to_owned(),
            taken_at: format_instant(s.taken_at),
            recorded_at: format_instant(s.recorded_at),
            recorded_by: recorded_by.to_owned(),
            supervisor: supervisor.map(str::to_owned),
            spo2_scale: match s.scale {
                Spo2Scale::One => 1,
                Spo2Scale::Two => 2,
            },
            readings: s.readings.clone(),
            scores: a.parameters,
            total: a.total,
            risk: a.risk,
            monitoring: a.monitoring,
            complete: a.complete,
            not_scored: a.not_scored,
            next_due_at: format_instant(s.next_due_at),
            change_reason: None,
            changed_by: None,
            changed_at: None,
        }
    }
}
