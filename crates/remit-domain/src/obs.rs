//! A set of observations as it is taken at the bedside: the seven NEWS2 parameters, any of which may be missing for a
//! stated reason (could not be obtained, or the patient refused), plus diastolic blood pressure and oxygen delivery.
//! A complete set is scored by [`crate::news2`]; an incomplete one is scored on what was obtained, marked
//! incomplete, and due again sooner. The escalation a score calls for (Chart 4) and the next due time follow.

use chrono::{DateTime, Duration, Utc};
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

/// The score of a set, complete or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Each parameter's score; `None` for a parameter that is missing.
    pub parameters: PartialScores,
    /// The sum of the scores obtained (for an incomplete set, a lower bound of the true score).
    pub total: u8,
    pub complete: bool,
    pub risk: Risk,
    pub monitoring: Monitoring,
    /// The escalation this score calls for, if any.
    pub escalation: Option<EscalationLevel>,
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

    /// Who it goes to first.
    pub fn addressed_to(self) -> &'static str {
        match self {
            Self::Ward => "the registered nurse on duty",
            _ => "the registered nurse on duty, who informs the medical team",
        }
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

/// An incomplete set is repeated within this time at most: what could not be measured must be tried again soon.
pub const INCOMPLETE_RECHECK: Duration = Duration::hours(1);

impl Assessment {
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

impl Readings {
    /// Checks that each measured parameter is present or missing with a reason, and that oxygen delivery and
    /// diastolic pressure make sense.
    pub fn validate(&self) -> Result<(), InvalidValue> {
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

    /// Scores the set. A complete set is scored by the NEWS2 engine as it is; an incomplete one by the same rules
    /// over what was obtained, so its total and risk can only be an underestimate and it is marked so.
    pub fn assess(&self, scale: Spo2Scale) -> Assessment {
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
                total: s.score,
                complete: true,
                risk: s.risk,
                monitoring: s.monitoring,
                escalation: EscalationLevel::of(s.score, s.risk),
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
        let total = filled.total();
        Assessment {
            parameters,
            total,
            complete: false,
            risk,
            monitoring,
            escalation: EscalationLevel::of(total, risk),
        }
    }

    /// Parses a set as the API and the CLI receive it: the NEWS2 fields (each optional when listed under
    /// `missing`), plus `diastolic_bp`, `oxygen_flow` (L/min) and `oxygen_device`. Unknown keys are refused.
    /// Returns the readings and the requested SpO2 scale, if one was named.
    pub fn from_json(obj: &Map<String, Value>) -> Result<(Self, Option<Spo2Scale>), InvalidValue> {
        const KNOWN: [&str; 11] = [
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
        if let Some(k) = obj
            .keys()
            .find(|k| !KNOWN.contains(&k.as_str()) && k.as_str() != "missing")
        {
            return Err(InvalidValue::new(
                "set",
                format!(
                    "`{}` is not a field of an observation set (fields: {}, missing)",
                    echo(k),
                    KNOWN.join(", ")
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
        assert_eq!((a.total, a.risk, a.escalation), (0, Risk::Low, None));
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
        assert_eq!(a.total, 0);
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
        assert_eq!((a.total, a.risk), (3, Risk::LowMedium));
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
                total: 0,
                complete: true,
                risk: Risk::Low,
                monitoring: m,
                escalation: None,
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
            prop_assert_eq!(part.complete, r.vital_signs(Spo2Scale::One).is_some());
        }
    }
}
